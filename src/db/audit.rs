//! The audit log as the audit viewer reads it: keyset pages, newest first, of the rows a
//! filter keeps, each with its operator's login and the customer number it concerns.
//!
//! The order is `(at, id)` descending: `at` is when the writing transaction began, and the id
//! breaks ties. A page is found by keyset, never OFFSET, so a page deep in millions of rows
//! costs what the first does: it reads `audit_log_at` backwards from the cursor. Only the
//! conditions a filter names are in the statement, so each is planned for what it asks.

use std::collections::BTreeMap;

use crate::db::CachingClient;
use chrono::{DateTime, NaiveDate, Utc};

use super::DbError;
use super::card_ops::OperationState;
use super::customers::{Page, PageAt, Params};
use super::rows::{from_columns, read_all};

/// What the viewer is asked to keep; `None` keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The operator's login, in any case.
    pub operator: Option<String>,
    /// The customer number: the customer's own rows and those of its card operations.
    pub customer_no: Option<i64>,
    /// An action (`card.recharge`), or a prefix of actions (`card.`, `card`: every `card.…`).
    pub kind: Option<String>,
    /// From this moment on.
    pub from: Option<DateTime<Utc>>,
    /// Before this moment.
    pub until: Option<DateTime<Utc>>,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// None: the system itself, or a sign-in attempt for a name that is no operator.
    pub operator: Option<String>,
    pub action: String,
    pub entity: Option<String>,
    pub entity_id: Option<i64>,
    /// What the counter calls that thing, read now: a customer's number, a meter's number, an
    /// operator's login, a type's, scheme's or department's name. None where its id is its
    /// name (a card operation, a system card) or it is gone: the id is shown then.
    pub entity_key: Option<String>,
    /// The customer the row concerns: a customer's own row, or one of its card operations.
    pub customer_no: Option<i64>,
    /// That customer's business model, read now: a deposit into a system-prepaid account is
    /// what the counter calls a recharge.
    pub business_model: Option<String>,
    /// The row's `detail`, as stored.
    pub detail: serde_json::Value,
    /// The names, read now, of the departments an operator's entry names by id in its detail
    /// (`department_id`, at any depth): the entry shows the name, as the operators' list does.
    pub department_names: BTreeMap<i64, String>,
    /// The cycles (their first day), read now, of the bills an entry names by id (`bills`, a
    /// payment's): the entry names each as the bills screen does, not by an id no clerk sees
    /// (s39: "修改后 · 账单：[6]").
    pub bill_cycles: BTreeMap<i64, NaiveDate>,
    /// An entry of a card operation: that operation's state now. Its entry is written when the
    /// write is journaled, before the card is touched; an opening whose card then refused the
    /// write is `Failed`, and its entry alone would read as a card opened.
    pub operation_state: Option<OperationState>,
    /// Why that operation failed (`card_operation.failure_reason`).
    pub failure_reason: Option<String>,
}

/// A row's place in the order of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCursor {
    at: DateTime<Utc>,
    id: i64,
}

impl AuditRow {
    pub fn cursor(&self) -> AuditCursor {
        AuditCursor {
            at: self.at,
            id: self.id,
        }
    }
}

/// What the kind filter matches: one action, or every action under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Exact(String),
    Prefix(String),
}

impl Kind {
    /// `card.recharge` is one action; `card.` and `card` are every `card.…` action.
    fn of(typed: &str) -> Kind {
        let typed = typed.trim().to_ascii_lowercase();
        match typed.split_once('.') {
            Some((_, rest)) if !rest.is_empty() => Kind::Exact(typed),
            Some(_) => Kind::Prefix(typed),
            None => Kind::Prefix(format!("{typed}.")),
        }
    }
}

/// The conditions of `filter`, with their parameters in `params`.
fn conditions(filter: &AuditFilter, params: &mut Params) -> Vec<String> {
    let mut conditions = Vec::new();
    if let Some(login) = &filter.operator {
        let login = params.bind(login.trim().to_owned());
        conditions.push(format!(
            "a.operator_id = (SELECT id FROM operator WHERE lower(login) = lower({login}))"
        ));
    }
    if let Some(customer_no) = filter.customer_no {
        // Two arms on `audit_log_entity`, which the planner ORs as two index scans.
        let customer = params.bind(customer_no);
        conditions.push(format!(
            "((a.entity = 'customer'
               AND a.entity_id = (SELECT id FROM customer WHERE customer_no = {customer}))
              OR (a.entity = 'card_operation'
                  AND a.entity_id IN (SELECT o.id FROM card_operation o
                                      JOIN customer c ON c.id = o.customer_id
                                      WHERE c.customer_no = {customer})))"
        ));
    }
    match filter.kind.as_deref().map(Kind::of) {
        Some(Kind::Exact(action)) => {
            let action = params.bind(action);
            conditions.push(format!("a.action = {action}"));
        }
        Some(Kind::Prefix(prefix)) => {
            let prefix = params.bind(prefix);
            conditions.push(format!("starts_with(a.action, {prefix})"));
        }
        None => {}
    }
    if let Some(from) = filter.from {
        let from = params.bind(from);
        conditions.push(format!("a.at >= {from}"));
    }
    if let Some(until) = filter.until {
        let until = params.bind(until);
        conditions.push(format!("a.at < {until}"));
    }
    conditions
}

/// The page of the rows `filter` keeps at `at`, at most `size` rows, newest first.
pub async fn page(
    client: &impl CachingClient,
    filter: &AuditFilter,
    at: &PageAt<AuditCursor>,
    size: usize,
) -> Result<Page<AuditRow>, DbError> {
    // Forward is the display order: newer to older.
    let seek = at.seek();
    let (forward, cursor, comparison) = (seek.forward, seek.cursor, seek.comparison(false));
    let rows = read(
        client,
        filter,
        cursor.map(|c| (c, comparison)),
        forward,
        size + 1,
    )
    .await?;
    at.page_of(rows, size, async |cursor| {
        Ok(!read(client, filter, Some((cursor, ">")), false, 1)
            .await?
            .is_empty())
    })
    .await
}

/// At most `limit` rows `filter` keeps beyond `cursor` (compared by `comparison` in the
/// log's `(at, id)` order), newest first when `forward`.
async fn read(
    client: &impl CachingClient,
    filter: &AuditFilter,
    cursor: Option<(&AuditCursor, &str)>,
    forward: bool,
    limit: usize,
) -> Result<Vec<AuditRow>, DbError> {
    let mut params = Params::default();
    let mut conditions = conditions(filter, &mut params);
    if let Some((cursor, comparison)) = cursor {
        // The planner seeks `audit_log_at` to the row comparison's first term by itself.
        let at = params.bind(cursor.at);
        let id = params.bind(cursor.id);
        conditions.push(format!("(a.at, a.id) {comparison} ({at}, {id})"));
    }
    let limit = params.bind(i64::try_from(limit).unwrap_or(i64::MAX));
    let order = if forward { "DESC" } else { "ASC" };
    let filter_sql = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT a.id, a.at, o.login AS operator, a.action, a.entity, a.entity_id,
                CASE a.entity
                    WHEN 'customer' THEN c.customer_no::text
                    WHEN 'meter' THEN (SELECT m.meter_no FROM meter m WHERE m.id = a.entity_id)
                    WHEN 'operator' THEN (SELECT w.login FROM operator w WHERE w.id = a.entity_id)
                    WHEN 'meter_type' THEN
                        (SELECT t.name FROM meter_type t WHERE t.id = a.entity_id)
                    WHEN 'customer_type' THEN
                        (SELECT t.name FROM customer_type t WHERE t.id = a.entity_id)
                    WHEN 'price_scheme' THEN
                        (SELECT s.name FROM price_scheme s WHERE s.id = a.entity_id)
                    WHEN 'department' THEN
                        (SELECT d.name FROM department d WHERE d.id = a.entity_id)
                    -- A role's key is its code, which its entries carry in their detail.
                    WHEN 'role' THEN seen.detail->>'role'
                END AS entity_key,
                c.customer_no, c.business_model, seen.detail::text AS detail,
                -- Compared as JSON: a stored id that is no number names nothing, refuses nothing.
                CASE a.entity WHEN 'operator' THEN
                    (SELECT jsonb_object_agg(d.id, d.name) FROM department d
                     WHERE to_jsonb(d.id) IN
                           (SELECT jsonb_path_query(seen.detail, 'strict $.**.department_id')))::text
                END AS department_names,
                -- The cycles, read now, of the bills an entry names by id (`bills`, an array
                -- at any depth: a payment's): the counter knows a bill by its cycle.
                (SELECT jsonb_object_agg(b.id, b.period_start) FROM bill b
                 WHERE to_jsonb(b.id) IN
                       (SELECT jsonb_array_elements(named.bills)
                        FROM jsonb_path_query(seen.detail, 'strict $.**.bills') named(bills)
                        WHERE jsonb_typeof(named.bills) = 'array'))::text AS bill_cycles,
                co.state AS operation_state, co.failure_reason
         FROM audit_log a
         -- The detail as this reader may read it (sql/V255): the customers' personal data
         -- masked for an operator whose roles serve no customer.
         CROSS JOIN LATERAL (SELECT audit_detail(a.id) AS detail) seen
         LEFT JOIN operator o ON o.id = a.operator_id
         LEFT JOIN card_operation co ON a.entity = 'card_operation' AND co.id = a.entity_id
         LEFT JOIN customer c ON c.id = CASE a.entity
             WHEN 'customer' THEN a.entity_id
             WHEN 'card_operation' THEN co.customer_id
         END
         {filter_sql}
         ORDER BY a.at {order}, a.id {order}
         LIMIT {limit}"
    );
    read_all(client, &sql, &params.refs(), |row| {
        let detail: String = row.get("detail");
        Ok(from_columns!(row => AuditRow {
            id, at, operator, action, entity, entity_id, entity_key, customer_no, business_model,
            detail: serde_json::from_str(&detail)
                .map_err(|error| DbError::Inconsistent(format!("audit detail: {error}")))?,
            department_names: row
                .get::<_, Option<&str>>("department_names")
                .map(serde_json::from_str)
                .transpose()
                .map_err(|error| DbError::Inconsistent(format!("department names: {error}")))?
                .unwrap_or_default(),
            bill_cycles: bill_cycles(row.get("bill_cycles"))?,
            operation_state: row
                .get::<_, Option<&str>>("operation_state")
                .map(OperationState::parse)
                .transpose()?,
            failure_reason,
        }))
    })
    .await
}

/// The `bill_cycles` column: bill ids and their cycles' first days, as JSON.
fn bill_cycles(column: Option<&str>) -> Result<BTreeMap<i64, NaiveDate>, DbError> {
    let inconsistent = |error: String| DbError::Inconsistent(format!("bill cycles: {error}"));
    let Some(text) = column else {
        return Ok(BTreeMap::new());
    };
    let days: BTreeMap<i64, String> =
        serde_json::from_str(text).map_err(|error| inconsistent(error.to_string()))?;
    days.into_iter()
        .map(|(id, day)| Ok((id, day.parse().map_err(|_| inconsistent(day))?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_one_action_or_every_action_under_a_prefix() {
        assert_eq!(
            Kind::of("card.recharge"),
            Kind::Exact("card.recharge".into())
        );
        assert_eq!(Kind::of(" Card. "), Kind::Prefix("card.".into()));
        assert_eq!(Kind::of("card"), Kind::Prefix("card.".into()));
    }
}
