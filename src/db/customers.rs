//! Customer queries (interim types; replaced by the search branch).

use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRow {
    pub id: i64,
    pub customer_no: i64,
    pub name: String,
    pub customer_type: String,
    pub meter_no: String,
    pub account_kind: String,
    pub balance: Decimal,
    pub card_state: Option<String>,
    pub phone: Option<String>,
    pub address: String,
    pub status: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cursor {
    pub name: String,
    pub customer_no: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PageAt {
    First,
    Last,
    After(Cursor),
    Before(Cursor),
    From(Cursor),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub rows: Vec<CustomerRow>,
    pub more_before: bool,
    pub more_after: bool,
}

impl CustomerRow {
    pub fn cursor(&self, _search: &crate::domain::search::CustomerSearch) -> Cursor {
        Cursor {
            name: self.name.clone(),
            customer_no: self.customer_no,
        }
    }
}

pub async fn page(
    _client: &impl tokio_postgres::GenericClient,
    _search: &crate::domain::search::CustomerSearch,
    _at: &PageAt,
    _size: usize,
) -> Result<Page, crate::db::DbError> {
    Ok(Page::default())
}
