//! A desk for readings and bills: a postpaid and a system-prepaid customer on a fresh database,
//! with a clerk and a supervisor who can sign in.

use deadpool_postgres::Object;
use meterdesk::db::Pool;

use meterdesk::domain::customer_rules::{BasicInfo, StatisticalInfo};

use super::card_desk::{OPERATORS, open_customer, open_customer_as};
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

/// A customer of a statistical type that does not charge (no price scheme, as a district
/// meter's), opened on a new postpayment meter (initial reading 0).
pub struct NonCharging {
    pub customer_id: i64,
    pub meter_id: i64,
    pub account_id: i64,
}

/// Opens a [`NonCharging`] customer of business model `model` (`postpaid` or
/// `system_prepaid`), counting water usage or not, on a new meter `meter_no`.
pub async fn non_charging(
    desk: &mut Desk,
    model: &str,
    counts_water_usage: bool,
    meter_no: &str,
) -> NonCharging {
    let row = desk
        .owner
        .query_one(
            "WITH kind AS (
                 INSERT INTO customer_type (name, nature, business_model, counts_water_usage,
                                            charges)
                 VALUES ('Statistical ' || $1, 'statistical', $2, $3, false) RETURNING id
             ), allowed AS (
                 INSERT INTO customer_type_meter_type (customer_type_id, meter_type_id,
                                                       meter_payment_model)
                 SELECT id, 1, 'postpayment' FROM kind
             ), meter AS (
                 INSERT INTO meter (meter_no, meter_type_id, initial_electronic_reading)
                 VALUES ($1, 1, 0) RETURNING id
             )
             SELECT (SELECT id FROM kind) AS type_id, (SELECT id FROM meter) AS meter_id",
            &[&meter_no, &model, &counts_water_usage],
        )
        .await
        .unwrap();
    let meter_id: i64 = row.get("meter_id");
    let info = BasicInfo::Statistical(StatisticalInfo {
        label: format!("District meter {meter_no}"),
        location: "朝阳区 pumping station 3".into(),
        remark: None,
    });
    let (customer_id, _) = open_customer_as(
        &mut desk.owner,
        row.get("type_id"),
        meter_id,
        &format!("open-{meter_no}"),
        &info,
    )
    .await;
    let account_id = desk
        .owner
        .query_one(
            "SELECT id FROM account WHERE customer_id = $1",
            &[&customer_id],
        )
        .await
        .unwrap()
        .get("id");
    NonCharging {
        customer_id,
        meter_id,
        account_id,
    }
}
