//! `meterdesk check`: whether the books balance (issue 12, item 9). Each [`Check`] is one
//! query that counts what it looked at and lists what disagrees; nothing is written. The
//! rules are in docs/decisions.md ("The books always balance").

use crate::db::CachingClient;
use crate::domain::card_counter::{DebtEvidenceFault, check_debt_evidence};
use crate::domain::card_records::MacKey;

use super::DbError;

/// One rule, how many things it looked at, and each disagreement in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub rule: &'static str,
    pub checked: i64,
    pub disagreements: Vec<String>,
    /// What the rule found and could not check, each in words: neither passed nor failed.
    pub unchecked: Vec<String>,
}

/// The rules: (what is said, what is counted, the disagreements as one text each).
const RULES: [(&str, &str, &str); 8] = [
    (
        "every account's balance equals the sum of its ledger",
        "SELECT count(*) AS checked FROM account",
        "SELECT format('account %s (customer %s): balance %s, ledger sums to %s',
                       a.id, c.customer_no, a.balance, coalesce(l.total, 0)) AS disagreement
         FROM account a JOIN customer c ON c.id = a.customer_id
         LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_transaction
                    GROUP BY account_id) l ON l.account_id = a.id
         WHERE a.balance <> coalesce(l.total, 0) ORDER BY a.id",
    ),
    (
        "every bill is paid exactly when its payments (less their reversals) cover its amount, \
         and never paid beyond it",
        "SELECT count(*) AS checked FROM bill",
        "SELECT format('bill %s (%s, amount %s): payments net %s', b.id, b.status, b.amount,
                       coalesce(p.paid, 0)) AS disagreement
         FROM bill b
         LEFT JOIN (SELECT t.bill_id, sum(-t.amount) - coalesce(sum(r.amount), 0) AS paid
                    FROM ledger_transaction t
                    LEFT JOIN ledger_transaction r ON r.reverses_id = t.id
                    WHERE t.kind = 'bill_payment' GROUP BY t.bill_id) p ON p.bill_id = b.id
         WHERE (b.status = 'paid') <> (coalesce(p.paid, 0) = b.amount)
            OR coalesce(p.paid, 0) > b.amount
         ORDER BY b.id",
    ),
    (
        "every settled card recharge or refund has its ledger row, and a failed one its reversal",
        "SELECT count(*) AS checked FROM card_operation
         WHERE kind IN ('recharge', 'refund') AND state <> 'pending'",
        "SELECT format('card operation %s (%s, %s): %s', o.id, o.kind, o.state,
                       CASE WHEN t.id IS NULL THEN 'no ledger row' ELSE 'not reversed' END)
                    AS disagreement
         FROM card_operation o
         LEFT JOIN ledger_transaction t ON t.id = o.transaction_id
         WHERE o.kind IN ('recharge', 'refund')
           AND ((o.state = 'done' AND t.id IS NULL)
                OR (o.state = 'failed' AND t.id IS NOT NULL
                    AND NOT EXISTS (SELECT FROM ledger_transaction r WHERE r.reverses_id = t.id)))
         ORDER BY o.id",
    ),
    (
        "receipt numbers are unique and come from receipt_no_seq",
        "SELECT count(*) AS checked FROM receipt",
        "SELECT format('receipt %s: %s', receipt_no,
                       CASE WHEN copies > 1 THEN copies || ' receipts with this number'
                            ELSE 'above the sequence''s last number ' || last END) AS disagreement
         FROM (SELECT receipt_no, count(*) AS copies FROM receipt GROUP BY receipt_no) r,
              (SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS last
               FROM receipt_no_seq) s
         WHERE copies > 1 OR receipt_no > last ORDER BY receipt_no",
    ),
    (
        // Every receipt the desk writes carries the money it was written for, but a payment of
        // bills of 0.00 only (`bill_pay`, which keeps its receipt in `bill_payment_applied`);
        // one with nothing on it is an operator's psql's (its number issued to the session,
        // sql/V116).
        "every receipt carries a ledger row, or is a payment of bills of 0.00",
        "SELECT count(*) AS checked FROM receipt",
        "SELECT format('receipt %s (customer %s, operator %s): no ledger row is on it',
                       r.receipt_no, c.customer_no, coalesce(o.login, '-')) AS disagreement
         FROM receipt r
         LEFT JOIN customer c ON c.id = r.customer_id
         LEFT JOIN operator o ON o.id = r.operator_id
         WHERE NOT EXISTS (SELECT FROM ledger_transaction t WHERE t.receipt_no = r.receipt_no)
           AND NOT EXISTS (SELECT FROM bill_payment_applied p WHERE p.receipt_no = r.receipt_no)
         ORDER BY r.receipt_no",
    ),
    (
        "every receipt number on the ledger is a receipt of the account's customer",
        "SELECT count(*) AS checked FROM ledger_transaction WHERE receipt_no IS NOT NULL",
        "SELECT format('ledger row %s: receipt %s %s', t.id, t.receipt_no,
                       CASE WHEN r.receipt_no IS NULL THEN 'does not exist'
                            ELSE 'is another customer''s' END) AS disagreement
         FROM ledger_transaction t JOIN account a ON a.id = t.account_id
         LEFT JOIN receipt r ON r.receipt_no = t.receipt_no
         WHERE t.receipt_no IS NOT NULL
           AND (r.receipt_no IS NULL OR r.customer_id <> a.customer_id)
         ORDER BY t.id",
    ),
    (
        "every debt of water a meter loaded unpaid is its failed recharge's sum, owed by no \
         closed customer, and every payment of one paid its recharge, settled done with that \
         water",
        "SELECT (SELECT count(*) FROM card_recharge_owed)
                + (SELECT count(*) FROM ledger_transaction
                   WHERE kind = 'deposit' AND idempotency_key LIKE 'card-op:%:owed') AS checked",
        "SELECT format('debt of card operation %s: %s', w.operation_id,
                       CASE WHEN o.kind IS DISTINCT FROM 'recharge' THEN 'not a recharge'
                            WHEN t.amount IS DISTINCT FROM -w.amount
                                THEN 'owes ' || w.amount || ', its purchase was ' || -t.amount
                            WHEN o.customer_id <> w.customer_id
                                THEN 'another customer''s recharge'
                            ELSE 'owed by customer ' || c.customer_no
                                 || ', closed: its account moves no money' END) AS disagreement
         FROM card_recharge_owed w
         LEFT JOIN card_operation o ON o.id = w.operation_id
         LEFT JOIN ledger_transaction t ON t.id = o.transaction_id
         LEFT JOIN customer c ON c.id = w.customer_id
         WHERE o.kind IS DISTINCT FROM 'recharge' OR t.amount IS DISTINCT FROM -w.amount
            OR o.customer_id <> w.customer_id
            -- Still owed (`card_debts_owed`, sql/V234) by a customer closed since (sql/V222).
            OR (c.status = 'closed'
                AND EXISTS (SELECT FROM card_debts_owed() d
                            WHERE d.operation_id = w.operation_id))
         UNION ALL
         SELECT format('payment %s (%s, %s): %s', d.id, d.idempotency_key, d.amount,
                       CASE WHEN w.operation_id IS NULL THEN 'no debt recorded'
                            WHEN w.amount <> d.amount THEN 'the debt is ' || w.amount
                            ELSE 'its recharge is ' || o.state || ', not settled done with it'
                       END)
         FROM ledger_transaction d
         LEFT JOIN card_operation o
                ON o.idempotency_key = left(substr(d.idempotency_key, 9), -5)
         LEFT JOIN card_recharge_owed w ON w.operation_id = o.id
         LEFT JOIN ledger_transaction f ON f.id = o.transaction_id
         WHERE d.kind = 'deposit' AND d.idempotency_key LIKE 'card-op:%:owed'
           AND (w.operation_id IS NULL OR w.amount <> d.amount OR o.state <> 'done'
                OR f.idempotency_key IS DISTINCT FROM 'card-op:' || o.idempotency_key || ':found')
         ORDER BY 1",
    ),
    (
        // sql/V245: kept by the database's triggers, which only the owner can turn off.
        "every card purchase's water toward its cycle's tiers is what the books count",
        "SELECT count(*) AS checked FROM card_water",
        "SELECT format('card purchase %s (account %s): counts %s m³ toward its tiers, the books %s',
                       coalesce(k.transaction_id, b.transaction_id),
                       coalesce(k.account_id, b.account_id),
                       coalesce((k.litres * 0.001)::text, 'no'),
                       coalesce((b.litres * 0.001)::text, 'none')) AS disagreement
         FROM card_water k
         FULL JOIN card_water_in_the_books() b ON b.transaction_id = k.transaction_id
         WHERE k.transaction_id IS NULL OR b.transaction_id IS NULL OR k.litres <> b.litres
            OR k.account_id <> b.account_id OR k.bought_at <> b.bought_at
         ORDER BY 1",
    ),
];

/// Runs every rule, in one snapshot (REPEATABLE READ, read only) so the rules see one moment
/// of the books.
pub async fn check(client: &mut tokio_postgres::Client) -> Result<Vec<Check>, DbError> {
    let transaction = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let mut checks = Vec::new();
    for (rule, count, disagreements) in RULES {
        checks.push(run(&transaction, rule, count, disagreements).await?);
    }
    transaction.commit().await?;
    Ok(checks)
}

async fn run(
    client: &impl CachingClient,
    rule: &'static str,
    count: &str,
    disagreements: &str,
) -> Result<Check, DbError> {
    let checked = client.query_one(count, &[]).await?.get("checked");
    let disagreements = client
        .query(disagreements, &[])
        .await?
        .iter()
        .map(|row| row.get("disagreement"))
        .collect();
    Ok(Check {
        rule,
        checked,
        disagreements,
        unchecked: Vec::new(),
    })
}

/// The rule the database cannot check (it holds no card key): every debt of water a meter
/// loaded unpaid was recorded from its recharge's purchase and a meter write-back saying that
/// purchase was the last loaded, both signed with `key` for the debt's card (sql/V173 keeps
/// the write-back). A debt recorded before it has none to check: it is said unchecked, not
/// failed as forged and not passed.
pub async fn check_debt_evidence_with(
    client: &impl CachingClient,
    key: &MacKey,
) -> Result<Check, DbError> {
    let rows = client
        .query(
            "SELECT w.operation_id, w.card_no, o.purchase_seq, o.purchase_record_after,
                    w.write_back
             FROM card_recharge_owed w JOIN card_operation o ON o.id = w.operation_id
             ORDER BY w.operation_id",
            &[],
        )
        .await?;
    let (rows, kept_none): (Vec<_>, Vec<_>) = rows
        .iter()
        .partition(|row| row.get::<_, Option<Vec<u8>>>("write_back").is_some());
    let unchecked = kept_none
        .iter()
        .map(|row| {
            format!(
                "debt of card operation {} (card {}): recorded before its meter write-back was \
                 kept (sql/V173), so there is none to check it against",
                row.get::<_, i64>("operation_id"),
                row.get::<_, i64>("card_no")
            )
        })
        .collect();
    let disagreements = rows
        .iter()
        .filter_map(|row| {
            let operation: i64 = row.get("operation_id");
            let card_no: i64 = row.get("card_no");
            let sequence: Option<i64> = row.get("purchase_seq");
            let purchase: Option<Vec<u8>> = row.get("purchase_record_after");
            let write_back: Vec<u8> = row.get("write_back");
            let fault = match (u32::try_from(card_no), sequence.map(u32::try_from)) {
                (Ok(card), Some(Ok(sequence))) => check_debt_evidence(
                    card,
                    sequence,
                    purchase.as_deref().unwrap_or_default(),
                    &write_back,
                    key,
                )
                .err()?,
                _ => DebtEvidenceFault::PurchaseNotSigned,
            };
            Some(format!(
                "debt of card operation {operation} (card {card_no}): {}",
                match fault {
                    DebtEvidenceFault::PurchaseNotSigned =>
                        "its purchase record is not signed by the card key".to_owned(),
                    DebtEvidenceFault::WriteBackNotSigned =>
                        "the meter write-back it was recorded from is not signed by the card key"
                            .to_owned(),
                    DebtEvidenceFault::NotLoadedLast { last } =>
                        format!("the meter write-back says purchase {last} was the last loaded"),
                }
            ))
        })
        .collect();
    Ok(Check {
        rule: "every debt of water a meter loaded unpaid was recorded from its purchase and a \
               meter write-back that loaded it last, signed with the card key",
        checked: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        disagreements,
        unchecked,
    })
}
