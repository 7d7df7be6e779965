//! The database's refusals as the clerk reads them (s36-c): a refusal the desk has words for
//! is said in them, in either language, and one it has none for is said without the server's
//! English ("数据库拒绝了此操作：…" then English, before). Each refusal here is the real
//! database's, met by a real statement, as the clerk's own session or the owner's; what the
//! desk makes of it is what every request's failure goes through (`Failure::from(DbError)`).

mod support;

use meterdesk::app::state::Failure;
use meterdesk::db::DbError;
use meterdesk::i18n::Lang;
use meterdesk::tools::demo;
use support::pg::fresh_db;

/// What the clerk reads of `error`, in English and Chinese.
fn said(error: tokio_postgres::Error) -> [String; 2] {
    let Failure::Error(problem) = Failure::from(DbError::from(error)) else {
        panic!("a refusal, not a lost connection")
    };
    [problem.text(Lang::En), problem.text(Lang::Zh)]
}

/// No Latin letter in the Chinese text but those of the identifiers named (SQLSTATE, a
/// constraint's name).
fn no_english(zh: &str, identifiers: &[&str]) {
    let rest = identifiers
        .iter()
        .fold(zh.to_owned(), |text, id| text.replace(id, ""));
    assert!(
        !rest.chars().any(|c| c.is_ascii_alphabetic()),
        "English in the Chinese text: {zh}"
    );
}

/// A customer closed by another desk while a clerk's change of it was on its way: the
/// database's trigger (`customer_closed_is_read_only`, SQLSTATE 55000) refuses the clerk's
/// session, and the desk says what was refused and that nothing was done.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_of_a_customer_closed_meanwhile_is_refused_in_the_desks_words() {
    let db = fresh_db().await;
    demo::load(&db.pool, 5, |_| {}).await.unwrap();
    let owner = db.pool.get().await.unwrap();
    let customer_id: i64 = owner
        .query_one(
            "UPDATE customer SET status = 'closed', closed_at = now()
             WHERE id = (SELECT min(id) FROM customer) RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let clerk = db.operator("refusals.clerk", &["clerk"]).await;
    let clerk = clerk.get().await.unwrap();
    let refused = clerk
        .execute(
            "UPDATE customer SET address = '东城区和平里2号' WHERE id = $1",
            &[&customer_id],
        )
        .await
        .expect_err("a closed customer is read-only");
    assert_eq!(refused.code().map(|c| c.code()), Some("55000"));
    let [en, zh] = said(refused);
    assert_eq!(
        en,
        "The customer is closed (perhaps by another desk just now): a closed customer is \
         read-only. Nothing was done."
    );
    assert_eq!(
        zh,
        "该用户已销户（可能是另一柜台刚办理的）：销户用户只能查看。未做任何操作。"
    );
}

/// A second unpaid bill for one cycle (two readings of one meter entered at the same moment
/// at two desks): the unique index `bill_open_per_cycle` refuses it, said in words.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_open_bill_of_a_cycle_is_refused_in_the_desks_words() {
    let db = fresh_db().await;
    demo::load(&db.pool, 60, |_| {}).await.unwrap();
    let owner = db.pool.get().await.unwrap();
    let refused = owner
        .batch_execute(
            "DO $$
             DECLARE columns text;
             BEGIN
                 SELECT string_agg(quote_ident(column_name), ', ') INTO columns
                 FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = 'bill'
                   AND column_name <> 'id' AND is_generated = 'NEVER';
                 EXECUTE format('INSERT INTO bill (%s) SELECT %s FROM bill
                                 WHERE status = ''unpaid'' ORDER BY id LIMIT 1',
                                columns, columns);
             END $$",
        )
        .await
        .expect_err("one open bill per cycle");
    let constraint = refused
        .as_db_error()
        .and_then(|server| server.constraint())
        .map(str::to_owned);
    assert_eq!(
        constraint.as_deref(),
        Some("bill_open_per_cycle"),
        "{refused:?}"
    );
    let [en, zh] = said(refused);
    assert_eq!(
        en,
        "This cycle already has an unpaid bill (another desk has just entered a reading for \
         it): the reading was not saved. Read the customer again."
    );
    assert_eq!(
        zh,
        "本结算周期已有一张未缴账单（另一柜台刚为它录入了读数）：读数未保存。请重新读取该用户。"
    );
}

/// A refusal the desk has no words for is said without the server's English: its SQLSTATE
/// and constraint, for the report, the server's text to the log. Before: "The database
/// refused this: database error: new row for relation \"customer\" violates check constraint
/// …".
#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_without_words_names_its_code_not_the_servers_english() {
    let db = fresh_db().await;
    demo::load(&db.pool, 5, |_| {}).await.unwrap();
    let owner = db.pool.get().await.unwrap();
    let refused = owner
        .execute(
            "UPDATE customer SET customer_no = 5 WHERE id = (SELECT min(id) FROM customer)",
            &[],
        )
        .await
        .expect_err("a customer number has 8 or 10 digits");
    let [en, zh] = said(refused);
    assert_eq!(
        en,
        "The database refused this; nothing done. The desk has no words for it, the server's \
         are in the log. Report it: SQLSTATE 23514, customer_customer_no_check."
    );
    assert_eq!(
        zh,
        "数据库拒绝了此操作（SQLSTATE 23514, customer_customer_no_check）；本柜台对这一拒绝没有说明，\
         服务器的原文已记入日志。未做任何操作：请将此消息报告管理员。"
    );
    no_english(&zh, &["SQLSTATE", "customer_customer_no_check"]);
    // Without a constraint: the code alone.
    let refused = owner
        .query_one("SELECT 1 / 0", &[])
        .await
        .expect_err("division by zero");
    let [en, _] = said(refused);
    assert!(en.ends_with("Report it: SQLSTATE 22012."), "{en}");
    assert!(!en.contains("division"), "{en}");
}
