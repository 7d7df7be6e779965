//! A card-meter customer on a fresh database, and the books checks every card journal test
//! ends with: card and ledger agree, no payment lost, no credit doubled.

use deadpool_postgres::Object;
use meterdesk::db::customer_changes::{self, OpenOutcome, Opening};
use meterdesk::domain::card_records::MacKey;
use meterdesk::domain::customer_rules::{BasicInfo, PersonalInfo};
use rust_decimal::Decimal;

use super::card_rig::KEY;
use super::pg::{TestDb, fresh_db};

pub const CLERK: i64 = 1;
pub const SUPERVISOR: i64 = 2;

/// A card meter, the manual's stepped prepaid prices (1.00/m³ to 50, 2.00 to
/// 100, 3.00 above, accumulated over 12 months from 1 January) and a card-meter customer type
/// that takes cash.
const FIXTURE: &str = "
    INSERT INTO meter_type (name, payment_model, takes_card, caliber, manufacturer)
        VALUES ('Card DN15', 'prepayment', true, 'DN15', 'Acme');
    INSERT INTO price_scheme (name, kind, billing_mode, vat_rate, accumulation_cycle_months,
                              start_date)
        VALUES ('prepaid stepped', 'prepaid', 'stepped', 0.09, 12, '2024-01-01');
    INSERT INTO price_version (price_scheme_id, effective_from) VALUES (1, '2024-01-01');
    INSERT INTO price_tier (price_version_id, tier_no, upper_bound_m3, unit_price)
        VALUES (1, 1, 50, 1.00), (1, 2, 100, 2.00), (1, 3, NULL, 3.00);
    INSERT INTO customer_type (name, nature, business_model, counts_water_usage, charges,
                               price_scheme_id)
        VALUES ('Card residents', 'personal', 'meter_prepaid', true, true, 1);
    INSERT INTO customer_type_meter_type (customer_type_id, meter_type_id, meter_payment_model)
        VALUES (1, 1, 'prepayment');
    INSERT INTO customer_type_payment_method (customer_type_id, payment_method_code)
        VALUES (1, 'cash');
    INSERT INTO meter (meter_no, meter_type_id) VALUES ('WM-0042', 1);
";

/// A department, and in it the clerk (operator 1) and the supervisor (operator 2).
pub const OPERATORS: &str = "
    INSERT INTO department (name) VALUES ('Hall 1');
    INSERT INTO operator (login, full_name, department_id) VALUES
        ('clerk', 'Clerk One', 1),
        ('super', 'Super Visor', 1);
    INSERT INTO operator_role (operator_id, role_code) VALUES (1, 'clerk'), (2, 'supervisor');
";

pub struct CardCustomer {
    pub db: TestDb,
    pub client: Object,
    pub customer_id: i64,
    pub customer_no: u32,
}

pub fn key() -> MacKey {
    KEY.parse().unwrap()
}

/// A fresh database with the fixture and one card-meter customer on meter WM-0042.
pub async fn card_customer() -> CardCustomer {
    let db = fresh_db().await;
    let mut client = db.pool.get().await.expect("connect to the test database");
    client
        .batch_execute(&format!("{OPERATORS}{FIXTURE}"))
        .await
        .expect("load the fixture");
    let (customer_id, customer_no) = open_customer(&mut client, 1, 1, "fixture-open").await;
    CardCustomer {
        db,
        client,
        customer_id,
        customer_no,
    }
}

/// Opens a personal customer of type `customer_type_id` on meter `meter_id`; returns its id
/// and number.
pub async fn open_customer(
    client: &mut Object,
    customer_type_id: i64,
    meter_id: i64,
    key: &str,
) -> (i64, u32) {
    let info = BasicInfo::Personal(PersonalInfo {
        name: "张伟".into(),
        id_document_no: None,
        mobile: "13800138000".into(),
        address: "建国路88号".into(),
        household_size: None,
        email: None,
        remark: None,
    });
    open_customer_as(client, customer_type_id, meter_id, key, &info).await
}

/// Opens a customer of type `customer_type_id` with `info` (of the type's nature) on meter
/// `meter_id`; returns its id and number.
pub async fn open_customer_as(
    client: &mut Object,
    customer_type_id: i64,
    meter_id: i64,
    key: &str,
    info: &BasicInfo,
) -> (i64, u32) {
    let opening = Opening {
        customer_type_id,
        info,
        meter_id,
    };
    let OpenOutcome::Opened(opened) = customer_changes::open_account(client, CLERK, key, &opening)
        .await
        .unwrap()
    else {
        panic!("the customer {key} did not open");
    };
    (opened.customer_id, opened.customer_no.value())
}

/// The books of one customer after any mix of card operations and faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Books {
    pub balance: Decimal,
    /// Money paid in at the counter (deposits).
    pub paid_in: Decimal,
    /// Money paid out at the counter (refunds).
    pub paid_out: Decimal,
    /// Litres of recharges journaled done and not refunded: what the meter may load.
    pub litres_sold: i64,
    pub pending: i64,
}

/// Reads the books and checks what must hold whatever happened: the balance is the ledger's
/// sum, every done recharge's purchase stands and every failed one's is reversed, a done
/// refund's card_refund stands and a failed one's is reversed, nothing is reversed twice, and
/// the money that stayed equals the balance plus the water sold.
pub async fn books(client: &Object, customer_id: i64) -> Books {
    let row = client
        .query_one(
            "SELECT a.balance,
                    (SELECT coalesce(sum(amount), 0) FROM ledger_transaction WHERE account_id = a.id)
                        AS ledger_sum,
                    (SELECT coalesce(sum(amount), 0) FROM ledger_transaction
                     WHERE account_id = a.id AND kind = 'deposit') AS paid_in,
                    (SELECT coalesce(-sum(amount), 0) FROM ledger_transaction
                     WHERE account_id = a.id AND kind = 'refund') AS paid_out,
                    (SELECT count(*) FROM card_operation
                     WHERE customer_id = a.customer_id AND state = 'pending') AS pending
             FROM account a WHERE a.customer_id = $1",
            &[&customer_id],
        )
        .await
        .unwrap();
    let balance: Decimal = row.get("balance");
    assert_eq!(
        balance,
        row.get::<_, Decimal>("ledger_sum"),
        "balance = sum of the ledger"
    );
    let wrong: i64 = client
        .query_one(
            "SELECT count(*) AS wrong FROM card_operation op
             JOIN ledger_transaction t ON t.id = op.transaction_id
             LEFT JOIN ledger_transaction r ON r.reverses_id = t.id
             WHERE op.customer_id = $1 AND op.kind IN ('recharge', 'refund')
               AND ((op.state = 'failed') <> (r.id IS NOT NULL))",
            &[&customer_id],
        )
        .await
        .unwrap()
        .get("wrong");
    assert_eq!(wrong, 0, "exactly the failed operations' money is reversed");
    let sold = client
        .query_one(
            "SELECT coalesce(sum(op.volume_litres), 0)::bigint AS litres_sold,
                    coalesce(sum(-t.amount), 0) AS water_money
             FROM card_operation op JOIN ledger_transaction t ON t.id = op.transaction_id
             WHERE op.customer_id = $1 AND op.kind = 'recharge' AND op.state <> 'failed'
               AND NOT EXISTS (SELECT 1 FROM card_operation refund
                               WHERE refund.customer_id = op.customer_id
                                 AND refund.kind = 'refund' AND refund.state <> 'failed'
                                 AND refund.purchase_seq = op.purchase_seq)",
            &[&customer_id],
        )
        .await
        .unwrap();
    let paid_in: Decimal = row.get("paid_in");
    let paid_out: Decimal = row.get("paid_out");
    // Water a clear card wiped from the meter is credited back onto the balance (sql/V23).
    let wiped: Decimal = client
        .query_one(
            "SELECT coalesce(sum(credited_amount), 0) AS wiped FROM system_card
             WHERE customer_id = $1",
            &[&customer_id],
        )
        .await
        .unwrap()
        .get("wiped");
    let water_money: Decimal = sold.get::<_, Decimal>("water_money") - wiped;
    assert_eq!(
        paid_in - paid_out,
        balance + water_money,
        "every payment is on the balance or in water sold (less water wiped and credited)"
    );
    Books {
        balance,
        paid_in,
        paid_out,
        litres_sold: sold.get("litres_sold"),
        pending: row.get("pending"),
    }
}
