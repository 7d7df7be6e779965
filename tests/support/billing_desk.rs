//! A desk for readings and bills: a postpaid and a system-prepaid customer on a fresh database,
//! with a clerk and a supervisor who can sign in.

use deadpool_postgres::Object;
use meterdesk::db::Pool;

use super::card_desk::{OPERATORS, open_customer};
use super::pg::{TestDb, fresh_db, give_password};

/// The manual's stepped postpaid prices (1.00/m³ to 50, 2.00 to 100, 3.00
/// above, accumulated over 12 months, settled every 3, from 2025-01-01, VAT 9 %); a fixed
/// prepaid price of 2.50/m³; a postpaid and a system-prepaid customer type; two meters.
const FIXTURE: &str = "
    INSERT INTO meter_type (name, payment_model, takes_card, caliber, manufacturer)
        VALUES ('Plain DN15', 'postpayment', false, 'DN15', 'Acme');
    INSERT INTO price_scheme (name, kind, billing_mode, vat_rate, accumulation_cycle_months,
                              settlement_cycle_months, start_date)
        VALUES ('postpaid stepped', 'postpaid', 'stepped', 0.09, 12, 3, '2025-01-01');
    INSERT INTO price_version (price_scheme_id, effective_from) VALUES (1, '2025-01-01');
    INSERT INTO price_tier (price_version_id, tier_no, upper_bound_m3, unit_price)
        VALUES (1, 1, 50, 1.00), (1, 2, 100, 2.00), (1, 3, NULL, 3.00);
    INSERT INTO price_scheme (name, kind, billing_mode, vat_rate, start_date)
        VALUES ('prepaid fixed', 'prepaid', 'fixed', 0.09, '2025-01-01');
    INSERT INTO price_version (price_scheme_id, effective_from) VALUES (2, '2025-01-01');
    INSERT INTO price_tier (price_version_id, tier_no, upper_bound_m3, unit_price)
        VALUES (2, 1, NULL, 2.50);
    INSERT INTO customer_type (name, nature, business_model, counts_water_usage, charges,
                               price_scheme_id)
        VALUES ('Postpaid residents', 'personal', 'postpaid', true, true, 1),
               ('Prepaid residents', 'personal', 'system_prepaid', true, true, 2);
    INSERT INTO customer_type_meter_type (customer_type_id, meter_type_id, meter_payment_model)
        VALUES (1, 1, 'postpayment'), (2, 1, 'postpayment');
    INSERT INTO customer_type_payment_method (customer_type_id, payment_method_code)
        VALUES (1, 'cash'), (2, 'cash');
    INSERT INTO meter (meter_no, meter_type_id, initial_electronic_reading)
        VALUES ('PM-0001', 1, 100), ('PM-0002', 1, 0);
";

pub struct Desk {
    pub db: TestDb,
    pub owner: Object,
    pub clerk: Pool,
    pub supervisor: Pool,
    pub postpaid: i64,
    pub prepaid: i64,
    pub prepaid_no: i64,
}

pub async fn desk() -> Desk {
    let db = fresh_db().await;
    let mut owner = db.pool.get().await.unwrap();
    owner
        .batch_execute(&format!("{OPERATORS}{FIXTURE}"))
        .await
        .unwrap();
    give_password(&owner, 1).await;
    give_password(&owner, 2).await;
    let (postpaid, _) = open_customer(&mut owner, 1, 1, "open-postpaid").await;
    let (prepaid, prepaid_no) = open_customer(&mut owner, 2, 2, "open-prepaid").await;
    Desk {
        clerk: db.pool_of("clerk"),
        supervisor: db.pool_of("super"),
        db,
        owner,
        postpaid,
        prepaid,
        prepaid_no: i64::from(prepaid_no),
    }
}
