//! Step 1: the journal of a new operation, with its money and its card rows.

use super::*;

/// Step 1 of the protocol: see the module documentation. The caller writes `Begun::plan` to the
/// card and calls [`settle`] with what the card reads back.
pub async fn begin(
    client: &mut Client,
    begin: &Begin<'_>,
    request: &Request,
) -> Result<BeginReport, DbError> {
    let transaction = Transaction::new(client);
    // A new operation's journal is the last statement: COMMIT goes in the same write.
    transaction.commit_behind(JOURNAL);
    transaction.commit_behind(JOURNAL_ISSUING);
    transaction.commit_behind(RECHARGE_JOURNAL);
    transaction.commit_behind(REFUND_JOURNAL);
    // A method refused by the journal's trigger (sql/V107) is a refusal in words, not a failed
    // request; the transaction is rolled back, so nothing it did (a pending operation settled
    // first) is reported.
    let no_longer_taken = |method| BeginReport {
        resolved: None,
        outcome: BeginOutcome::Refused(Refusal::PaymentMethodNoLongerTaken(method)),
    };
    let report = match begin_in(&transaction, begin, request).await {
        Err(DbError::Query(error)) if owner_changed(&error) => {
            drop(transaction);
            return owner_changed_report(client, begin.customer_id).await;
        }
        Err(DbError::Query(error)) => match crate::db::method_no_longer_taken(&error) {
            Some(method) => return Ok(no_longer_taken(method)),
            None => return Err(DbError::Query(error)),
        },
        other => other?,
    };
    if let Err(error) = transaction.commit().await {
        if owner_changed(&error) {
            return owner_changed_report(client, begin.customer_id).await;
        }
        return match crate::db::method_no_longer_taken(&error) {
            Some(method) => Ok(no_longer_taken(method)),
            None => Err(error.into()),
        };
    }
    Ok(report)
}

/// Whether `error` is the journal's refusal of a recharge or a refund for an owner the customer
/// no longer has (SQLSTATE MD410, sql/V112, V119).
fn owner_changed(error: &tokio_postgres::Error) -> bool {
    error
        .as_db_error()
        .is_some_and(|server| server.code().code() == "MD410")
}

/// A recharge or refund refused for an owner the customer no longer has: the transaction was
/// rolled back (nothing of it written, a pending operation it settled first included), and who
/// owns the customer now, with the balance, read after it, is the answer.
async fn owner_changed_report(client: &Client, customer_id: i64) -> Result<BeginReport, DbError> {
    let row = client
        .query_one(
            "SELECT c.name, customer_owner_seen(c.id) AS owner_seen, a.balance
             FROM customer c JOIN account a ON a.customer_id = c.id WHERE c.id = $1",
            &[&customer_id],
        )
        .await?;
    Ok(BeginReport {
        resolved: None,
        outcome: BeginOutcome::Refused(Refusal::OwnerChanged {
            owner: row.get("name"),
            owner_seen: row.get("owner_seen"),
            balance: row.get("balance"),
        }),
    })
}

/// A new operation's journal row with its audit row, in one statement: the last of [`begin`].
const JOURNAL: &str = "WITH operation AS (
         INSERT INTO card_operation (customer_id, card_id, replaced_card_id, kind,
             purchase_seq, volume_litres, issue_record_before, issue_record_after,
             purchase_record_before, purchase_record_after, transaction_id,
             idempotency_key, operator_id, plan, payment_method_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                 $14::text::jsonb, $15)
         RETURNING id
     ), audited AS (
         INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
         SELECT $13, $16, 'card_operation', id,
                jsonb_build_object('customer_id', $1::bigint, 'card_no', $17::bigint)
         FROM operation
     )
     SELECT id FROM operation";

/// What a refund's begin asks of the server once the card decided it, in one statement (the
/// five were one round trip each): the owner the confirmation named (sql/V119's check, SQLSTATE
/// MD410, asked before anything), when the counter first read a meter write-back at or past
/// purchase $3 from any of the customer's cards (a meter that loaded it: no refund), what the
/// purchase was paid (none: not a settled purchase of the customer's) and whether the payout's
/// method $4 (NULL: onto the balance) is one the customer's type takes.
const REFUND_FACTS: &str = "SELECT (SELECT true FROM customer_owner_unchanged($1, $2)) AS owner,
            seen.meter_loaded_seq, seen.meter_read_at,
            (SELECT -t.amount FROM card_operation op
             JOIN ledger_transaction t ON t.id = op.transaction_id
             WHERE op.customer_id = $1 AND op.kind = 'recharge' AND op.state = 'done'
               AND op.purchase_seq = $3) AS paid,
            $4::text IS NULL OR EXISTS (
                SELECT 1 FROM customer c
                JOIN customer_type_payment_method tm ON tm.customer_type_id = c.customer_type_id
                JOIN payment_method m ON m.code = tm.payment_method_code
                WHERE c.id = $1 AND m.code = $4 AND m.enabled) AS method_allowed
     FROM (SELECT) AS always
     LEFT JOIN LATERAL (
         SELECT meter_loaded_seq, meter_read_at FROM card
         WHERE customer_id = $1 AND meter_loaded_seq >= $3
         ORDER BY meter_loaded_seq DESC, meter_read_at LIMIT 1) seen ON true";

/// A refund's money onto the balance (ledger_post's `card_refund` row under the operation's key),
/// its journal row on that money and the audit row, in one statement: the last of a refund's
/// [`begin`] (they were two round trips). The journal row's checks (card_operation_rules: the
/// money under its own key, the purchase it gives back) run as the row is inserted, after
/// ledger_post's statement, and see its row as they saw it from a statement of its own.
const REFUND_JOURNAL: &str = "WITH money AS MATERIALIZED (
         SELECT ledger_post($14, 'card_refund', $15, NULL, NULL, NULL, NULL,
                            'card-op:' || $9 || ':card_refund') AS id
     ), operation AS (
         INSERT INTO card_operation (customer_id, card_id, kind, purchase_seq, volume_litres,
             issue_record_before, issue_record_after, purchase_record_before,
             purchase_record_after, transaction_id, idempotency_key, operator_id, plan,
             payment_method_code)
         SELECT $1, $2, 'refund', $3, $4, $5, $6, $7, $8, money.id, $9, $10,
                $11::text::jsonb, $12
         FROM money
         RETURNING id
     ), audited AS (
         INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
         SELECT $10, 'card.refund', 'card_operation', id,
                jsonb_build_object('customer_id', $1::bigint, 'card_no', $13::bigint)
         FROM operation
     )
     SELECT id FROM operation";

/// A new card's row, its operation's journal row and the audit row, in one statement: the last
/// of an open's or a replacement's [`begin`] (the card's row was a round trip of its own). The
/// card's checks are its triggers' as before (the number card_no_seq just issued to the
/// session; journaled, at commit, by this open or replacement).
const JOURNAL_ISSUING: &str = "WITH card AS (
         INSERT INTO card (card_no, customer_id, generation, issued_by)
         VALUES ($16, $1, $17, $12)
         RETURNING id
     ), operation AS (
         INSERT INTO card_operation (customer_id, card_id, replaced_card_id, kind,
             purchase_seq, volume_litres, issue_record_before, issue_record_after,
             purchase_record_before, purchase_record_after, transaction_id,
             idempotency_key, operator_id, plan, payment_method_code)
         SELECT $1, card.id, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                $13::text::jsonb, $14
         FROM card
         RETURNING id
     ), audited AS (
         INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
         SELECT $12, $15, 'card_operation', id,
                jsonb_build_object('customer_id', $1::bigint, 'card_no', $16::bigint)
         FROM operation
     )
     SELECT id FROM operation";

/// A recharge's meter state noted, its receipt, the deposit paid at the counter, the purchase,
/// the operation and its audit entry, in one call that runs them in that order with the
/// operator's own rights (sql/V33, V77): the last statement of a recharge's [`begin`].
const RECHARGE_JOURNAL: &str = "SELECT operation_id, receipt_no FROM card_recharge_journal(
         $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
         $17::text::jsonb, $18, $19, $20)";

/// Everything [`begin_in`] reads, in one statement: the account locked, then the idempotency
/// key's operation locked, the card holder, the operator's permission and a recharge's sale
/// facts (sql/V77). No row: no such customer.
const BEGIN_FACTS: &str = "SELECT * FROM card_begin_facts($1, $2, $3, $4, $5)";

/// What [`begin_in`] decides from, read by [`BEGIN_FACTS`].
struct BeginFacts {
    holder: CardHolder,
    /// The idempotency key's operation, if this is a retry.
    seen: Option<i64>,
    /// Whether the operator may do the request, which only a new operation needs.
    permitted: bool,
    /// A recharge's (`None` for every other request).
    sale: Option<SaleFacts>,
}

impl BeginFacts {
    async fn read(
        tx: &Transaction<'_>,
        begin: &Begin<'_>,
        request: &Request,
    ) -> Result<Option<Self>, DbError> {
        let (recharge, method) = match request {
            Request::Recharge { payment, .. } => (
                true,
                match payment {
                    Payment::Method(method) => Some(method.as_str()),
                    Payment::Balance => None,
                },
            ),
            _ => (false, None),
        };
        let Some(row) = tx
            .query_opt(
                BEGIN_FACTS,
                &[
                    &begin.customer_id,
                    &begin.idempotency_key,
                    &request.kind().permission(),
                    &recharge,
                    &method,
                ],
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Self {
            holder: CardHolder::of(begin.customer_id, &row, begin.key)?,
            seen: row.get("seen"),
            permitted: row.get("permitted"),
            sale: recharge.then(|| SaleFacts::of(&row)).transpose()?,
        }))
    }
}

pub(super) async fn begin_in(
    tx: &Transaction<'_>,
    begin: &Begin<'_>,
    request: &Request,
) -> Result<BeginReport, DbError> {
    let refused = |refusal| {
        Ok(BeginReport {
            resolved: None,
            outcome: BeginOutcome::Refused(refusal),
        })
    };
    let Some(facts) = BeginFacts::read(tx, begin, request).await? else {
        return refused(Refusal::NoSuchCustomer);
    };
    if let Some(operation_id) = facts.seen {
        // Locked by the read: a retry, rare, reads its operation in a round trip of its own.
        let operation = journaled_operation(tx, operation_id).await?;
        if operation.customer_id != begin.customer_id || operation.kind != request.kind() {
            return refused(Refusal::KeyReused);
        }
        return retry(tx, &operation, begin).await;
    }
    let resolved = match facts.holder.pending {
        Some(pending) => Some(settle_in(tx, pending, begin.card, begin.key).await?),
        None => None,
    };
    let outcome = match &resolved {
        Some(settled) if settled.state == OperationState::Pending => {
            BeginOutcome::Refused(Refusal::Pending(settled.operation_id))
        }
        _ => {
            // Settling may have changed the facts (a card made active or void, a purchase, the
            // cycle's water when its money was reversed).
            let facts = match resolved {
                Some(_) => BeginFacts::read(tx, begin, request)
                    .await?
                    .ok_or_else(|| DbError::Inconsistent("customer vanished".into()))?,
                None => facts,
            };
            match start(
                tx,
                &facts.holder,
                begin,
                request,
                facts.permitted,
                &facts.sale,
            )
            .await?
            {
                Ok(begun) => BeginOutcome::Begun(Box::new(begun)),
                Err(refusal) => BeginOutcome::Refused(refusal),
            }
        }
    };
    Ok(BeginReport { resolved, outcome })
}

/// A request seen before: a pending operation is resolved from the card; if the card still holds
/// what it held before the write, the same plan is handed out again to be written.
pub(super) async fn retry(
    tx: &Transaction<'_>,
    operation: &Operation,
    begin: &Begin<'_>,
) -> Result<BeginReport, DbError> {
    let outcome = if operation.state != OperationState::Pending {
        BeginOutcome::Finished(operation.settled(false, None))
    } else {
        match operation.plan()?.resolve(begin.card) {
            Resolution::Failed => BeginOutcome::Begun(Box::new(operation.begun()?)),
            Resolution::Done => {
                BeginOutcome::Finished(settle_in(tx, operation.id, begin.card, begin.key).await?)
            }
            Resolution::Conflict => BeginOutcome::Refused(Refusal::Pending(operation.id)),
        }
    };
    Ok(BeginReport {
        resolved: None,
        outcome,
    })
}

/// What a recharge's price and payment are checked against, read with the facts of [`begin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SaleFacts {
    scheme: Option<PriceScheme>,
    /// The water bought in today's accumulation cycle, which the new water's tiers follow.
    accumulated: Decimal,
    /// The customer's type takes the payment method (paid from the balance: always).
    method_allowed: bool,
}

impl SaleFacts {
    /// From a row of `card_sale_facts` (sql/V77).
    pub(super) fn of(row: &Row) -> Result<Self, DbError> {
        Ok(Self {
            scheme: scheme_of(row)?,
            accumulated: row.get("accumulated"),
            method_allowed: row.get("method_allowed"),
        })
    }

    /// `quantity` at these prices on `today`, after the cycle's water.
    pub(super) fn price(&self, today: NaiveDate, quantity: Quantity) -> Result<Quote, Refusal> {
        price(self.scheme.as_ref(), today, self.accumulated, quantity)
    }
}

/// Checks, plans and journals a new operation (`permitted`: the operator may do `request`;
/// `sale`: a recharge's [`SaleFacts`]).
pub(super) async fn start(
    tx: &Transaction<'_>,
    holder: &CardHolder,
    begin: &Begin<'_>,
    request: &Request,
    permitted: bool,
    sale: &Option<SaleFacts>,
) -> Result<Result<Begun, Refusal>, DbError> {
    if !holder.meter_prepaid {
        return Ok(Err(Refusal::NotACardCustomer));
    }
    if holder.closed {
        return Ok(Err(Refusal::CustomerClosed));
    }
    if !permitted {
        return Ok(Err(Refusal::NotPermitted));
    }
    let content = CardContent::classify(begin.card, begin.key);
    // A recharge has it noted by its journal's call, or noted on its own if refused.
    if !matches!(request, Request::Recharge { .. }) {
        note_meter_state(tx, &content).await?;
    }
    let journal = Journal { tx, holder, begin };
    match request {
        Request::Open => journal.open(&content).await,
        Request::Replace { reason } => journal.replace(&content, *reason).await,
        Request::Recharge {
            quantity,
            payment,
            owner_seen,
        } => match sale {
            Some(sale) => {
                journal
                    .recharge(&content, *quantity, payment, *owner_seen, sale)
                    .await
            }
            None => Err(DbError::Inconsistent(
                "a recharge begun without its price".into(),
            )),
        },
        Request::Refund { payout, owner_seen } => match user_card(&content) {
            Ok(card) => journal.refund(card, payout, *owner_seen).await,
            Err(refusal) => Ok(Err(refusal)),
        },
        Request::Recycle => match user_card(&content) {
            Ok(card) => journal.recycle(card).await,
            Err(refusal) => Ok(Err(refusal)),
        },
    }
}

/// The plan that writes onto `card` the purchase the database settled without it (see
/// `plan_missing_purchase`), if it is `customer_id`'s active card and behind.
pub async fn missing_purchase(
    client: &impl CachingClient,
    customer_id: i64,
    card: &UserCard,
    key: &MacKey,
) -> Result<Option<Planned<PurchaseRecord>>, DbError> {
    Ok(card_holder(client, customer_id, key)
        .await?
        .and_then(|holder| holder.missing_purchase(card, key)))
}

/// Audits a purchase settled without its card and then written onto it (`written`), or found
/// missing on it and not written (the write failed): with the card and the customer.
pub async fn missing_purchase_written(
    client: &impl CachingClient,
    operator_id: i64,
    customer_id: i64,
    card_no: u32,
    sequence: u32,
    written: bool,
) -> Result<(), DbError> {
    let detail = serde_json::json!({ "purchase_seq": sequence, "written": written });
    audit_card(
        client,
        operator_id,
        "card.missing_purchase",
        i64::from(card_no),
        Some(customer_id),
        &detail,
    )
    .await
}

pub(super) fn user_card(content: &CardContent) -> Result<&UserCard, Refusal> {
    match content {
        CardContent::User(card) => Ok(card),
        CardContent::Blank => Err(Refusal::BlankCard),
        CardContent::Foreign { .. } => Err(Refusal::ForeignCard),
    }
}

/// The statement of [`note_meter_state`]: sql/V173's `card_meter_noted`, the only writer of a
/// card's meter columns, which keeps them moving forward within what was written for the
/// customer (a write-back seen before changes nothing: no new row version, no trigger).
const NOTE_METER_STATE: &str = "SELECT card_meter_noted($1, $2, $3)";

/// The card number and meter write-back `content` shows, as [`NOTE_METER_STATE`] takes them.
pub(super) fn write_back_of(content: &CardContent) -> Option<(i64, i64, i16)> {
    match content {
        CardContent::User(UserCard {
            issue,
            write_back: Some(write_back),
            ..
        }) => Some((
            i64::from(issue.card_number),
            i64::from(write_back.last_loaded_sequence),
            i16::from(write_back.registered_generation),
        )),
        _ => None,
    }
}

/// Keeps the highest meter write-back ever read from the card (the customer's details show
/// it; a refund at or below it is refused). Never lowered: a card showing an older write-back
/// is an older image of the card (replayed), not older news from the meter. `meter_read_at` is
/// when the highest one was first read.
pub(super) async fn note_meter_state(
    tx: &Transaction<'_>,
    content: &CardContent,
) -> Result<(), DbError> {
    if let Some((card_no, loaded, generation)) = write_back_of(content) {
        tx.execute(NOTE_METER_STATE, &[&card_no, &loaded, &generation])
            .await?;
    }
    Ok(())
}

/// A new operation's rows, in the transaction of [`begin`].
pub(super) struct Journal<'a> {
    tx: &'a Transaction<'a>,
    holder: &'a CardHolder,
    begin: &'a Begin<'a>,
}

/// The card an operation is journaled for.
#[derive(Debug, Clone, Copy)]
pub(super) enum CardOf {
    /// A card row the customer has.
    Row(i64),
    /// A new card of this generation, its row inserted with the operation's.
    Issued(u8),
}

/// The operation row to insert.
pub(super) struct NewOperation {
    kind: OperationKind,
    card: CardOf,
    card_no: u32,
    replaced_card_id: Option<i64>,
    plan: CardWritePlan,
    purchase_seq: Option<u32>,
    volume_litres: Option<u32>,
    transaction_id: Option<i64>,
    payment_method: Option<String>,
}

/// The journal entry of new card `card_no` written as `planned` (an open, a replace).
fn issued(kind: OperationKind, card_no: u32, planned: Planned<IssueRecord>) -> NewOperation {
    NewOperation::new(
        kind,
        CardOf::Issued(planned.record.generation),
        card_no,
        planned.plan,
    )
}

impl NewOperation {
    /// An operation that moves no money and writes no purchase of its own.
    pub(super) fn new(
        kind: OperationKind,
        card: CardOf,
        card_no: u32,
        plan: CardWritePlan,
    ) -> Self {
        Self {
            kind,
            card,
            card_no,
            replaced_card_id: None,
            plan,
            purchase_seq: None,
            volume_litres: None,
            transaction_id: None,
            payment_method: None,
        }
    }
}

impl Journal<'_> {
    pub(super) async fn next_card_no(&self) -> Result<u32, DbError> {
        let card_no: i64 = self
            .tx
            .query_one("SELECT card_no_next() AS card_no", &[])
            .await?
            .get("card_no");
        to_u32(card_no, "card_no_seq")
    }

    pub(super) async fn open(
        &self,
        content: &CardContent,
    ) -> Result<Result<Begun, Refusal>, DbError> {
        match &self.holder.card {
            Some(card) if card.active => return Ok(Err(Refusal::AlreadyHasCard)),
            Some(_) => return Ok(Err(Refusal::UseReplace)),
            None => {}
        }
        let planned = self.new_card(content, |card_no| {
            plan_open(
                content,
                card_no,
                self.holder.customer_no,
                self.holder.meter_no.clone(),
                self.begin.key,
            )
        });
        let (card_no, planned) = match planned.await? {
            Ok(planned) => planned,
            Err(refusal) => return Ok(Err(refusal)),
        };
        self.journal(issued(OperationKind::Open, card_no, planned))
            .await
            .map(Ok)
    }

    /// A new card written on the blank card `content` (an open, a replace): the next card
    /// number and what `plan` plans under it, or why not (not blank, the plan refused).
    async fn new_card<E: Into<Refusal>>(
        &self,
        content: &CardContent,
        plan: impl FnOnce(u32) -> Result<Planned<IssueRecord>, E>,
    ) -> Result<Result<(u32, Planned<IssueRecord>), Refusal>, DbError> {
        if let Err(refusal) = require_blank(content) {
            return Ok(Err(refusal));
        }
        let card_no = self.next_card_no().await?;
        Ok(plan(card_no)
            .map(|planned| (card_no, planned))
            .map_err(Into::into))
    }

    pub(super) async fn replace(
        &self,
        content: &CardContent,
        reason: LossReason,
    ) -> Result<Result<Begun, Refusal>, DbError> {
        let Some(old) = &self.holder.card else {
            return Ok(Err(Refusal::NoCardToReplace));
        };
        let carried = self.holder.last_purchase.as_ref();
        let planned = self.new_card(content, |card_no| {
            plan_replace(content, &old.issue, carried, card_no, self.begin.key)
        });
        let (card_no, planned) = match planned.await? {
            Ok(planned) => planned,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if old.active {
            // Void at once, whatever becomes of the new card.
            self.tx
                .execute(
                    "UPDATE card SET state = 'void', void_reason = $2, voided_at = now(),
                                     blacklisted = true
                     WHERE id = $1",
                    &[&old.card_id, &reason.as_str()],
                )
                .await?;
        }
        self.journal(NewOperation {
            replaced_card_id: Some(old.card_id),
            purchase_seq: carried.map(|purchase| purchase.sequence),
            volume_litres: carried.map(|purchase| purchase.volume_litres),
            ..issued(OperationKind::Replace, card_no, planned)
        })
        .await
        .map(Ok)
    }

    pub(super) async fn recharge(
        &self,
        content: &CardContent,
        quantity: Quantity,
        payment: &Payment,
        owner_seen: Option<i64>,
        sale: &SaleFacts,
    ) -> Result<Result<Begun, Refusal>, DbError> {
        let sold = match sell(self.holder, self.begin, content, quantity, payment, sale) {
            Ok(sold) => sold,
            Err(refusal) => {
                // The meter state is noted whatever the answer.
                note_meter_state(self.tx, content).await?;
                return Ok(Err(refusal));
            }
        };
        let arguments = JournalArguments::of(&sold, self.holder, self.begin, content, owner_seen)?;
        let row = self
            .tx
            .query_one(RECHARGE_JOURNAL, &arguments.params())
            .await?;
        Ok(Ok(
            sold.begun(row.get("operation_id"), row.get("receipt_no"))
        ))
    }

    pub(super) async fn refund(
        &self,
        card: &UserCard,
        payout: &Payment,
        owner_seen: Option<i64>,
    ) -> Result<Result<Begun, Refusal>, DbError> {
        // What the card alone decides, asked of no server: the active card, every purchase the
        // database settled on it (an older copy still showing a purchase refunded since is
        // brought up to date first), and the refund's plan.
        let decided = active_card(self.holder, card).and_then(|card_id| {
            if let Some(behind) = self.holder.behind(card, self.begin.key) {
                return Err(behind);
            }
            plan_refund(card, self.holder.active(), self.begin.key)
                .map(|planned| (card_id, planned))
                .map_err(Refusal::from)
        });
        let (card_id, planned) = match decided {
            Ok(decided) => decided,
            Err(refusal) => {
                // The owner the confirmation named is still asked first (sql/V119): SQLSTATE
                // MD410 if another desk transferred the customer since, answered as a
                // recharge's ([`owner_changed_report`]), before the card's refusal.
                if owner_seen.is_some() {
                    self.tx
                        .execute(
                            "SELECT customer_owner_unchanged($1, $2)",
                            &[&self.holder.customer_id, &owner_seen],
                        )
                        .await?;
                }
                return Ok(Err(refusal));
            }
        };
        let sequence = planned.record.sequence;
        let method = match payout {
            Payment::Method(method) => Some(method.as_str()),
            Payment::Balance => None,
        };
        // The owner check, when the counter last saw a meter load this purchase, what it was
        // paid and whether the payout's method is taken: one statement (REFUND_FACTS).
        let facts = self
            .tx
            .query_one(
                REFUND_FACTS,
                &[
                    &self.holder.customer_id,
                    &owner_seen,
                    &i64::from(sequence),
                    &method,
                ],
            )
            .await?;
        if let Some(loaded) = facts.get::<_, Option<i64>>("meter_loaded_seq") {
            let seen_at: DateTime<Utc> = facts.get("meter_read_at");
            self.older_card_image_refused(card, sequence, loaded, seen_at)
                .await?;
            return Ok(Err(Refusal::OlderCardImage { seen_at }));
        }
        let Some(paid) = facts.get::<_, Option<Money>>("paid") else {
            return Ok(Err(Refusal::UnknownPurchase));
        };
        if !facts.get::<_, bool>("method_allowed") {
            let method = method.unwrap_or_default().to_owned();
            return Ok(Err(Refusal::PaymentMethodNotAllowed(method)));
        }
        let amount = paid.to_decimal();
        // Onto the balance now, paid out only once the card shows the purchase cancelled: the
        // ledger row, the journal row on it and the audit entry, one statement.
        let new = NewOperation {
            purchase_seq: Some(sequence),
            volume_litres: Some(planned.record.volume_litres),
            payment_method: method.map(str::to_owned),
            ..NewOperation::new(
                OperationKind::Refund,
                CardOf::Row(card_id),
                card.issue.card_number,
                planned.plan,
            )
        };
        let columns = JournalColumns::of(&new)?;
        let purchase_seq = i64::from(sequence);
        let volume_litres = new.volume_litres.map(i64::from);
        let card_no = i64::from(new.card_no);
        let row = self
            .tx
            .query_one(
                REFUND_JOURNAL,
                &[
                    &self.holder.customer_id,
                    &card_id,
                    &purchase_seq,
                    &volume_litres,
                    &columns.issue_before,
                    &columns.issue_after,
                    &columns.purchase_before,
                    &columns.purchase_after,
                    &self.begin.idempotency_key,
                    &self.begin.operator_id,
                    &columns.plan,
                    &new.payment_method,
                    &card_no,
                    &self.holder.account_id,
                    &amount,
                ],
            )
            .await?;
        Ok(Ok(Begun {
            operation_id: row.get("id"),
            kind: new.kind,
            plan: new.plan,
            card_no: new.card_no,
            purchase: Some(PurchaseSummary {
                sequence,
                litres: planned.record.volume_litres,
                amount,
                receipt_no: None,
                quote: None,
            }),
        }))
    }

    /// A refund refused because the counter read a meter write-back (from any of the customer's
    /// cards) at or past purchase `sequence` (`loaded`, first read at `seen_at`): the meter has
    /// loaded it, whatever this card image shows. Audited with the card and the customer.
    async fn older_card_image_refused(
        &self,
        card: &UserCard,
        sequence: u32,
        loaded: i64,
        seen_at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.tx
            .execute(
                "INSERT INTO audit_log (operator_id, action, entity, entity_id, detail)
                 VALUES ($1, 'card.refund_refused', 'card', $2,
                         jsonb_build_object('customer_id', $3::bigint, 'card_no', $2::bigint,
                                            'reason', 'older_card_image',
                                            'purchase_seq', $4::bigint,
                                            'meter_loaded_seq', $5::bigint,
                                            'seen_at', $6::timestamptz))",
                &[
                    &self.begin.operator_id,
                    &i64::from(card.issue.card_number),
                    &self.holder.customer_id,
                    &i64::from(sequence),
                    &loaded,
                    &seen_at,
                ],
            )
            .await?;
        Ok(())
    }

    pub(super) async fn recycle(&self, card: &UserCard) -> Result<Result<Begun, Refusal>, DbError> {
        let Some(row) = self
            .tx
            .query_opt(
                "SELECT id, customer_id FROM card WHERE card_no = $1",
                &[&i64::from(card.issue.card_number)],
            )
            .await?
        else {
            return Ok(Err(Refusal::UnknownCard));
        };
        if row.get::<_, i64>("customer_id") != self.holder.customer_id {
            return Ok(Err(Refusal::AnotherCustomersCard));
        }
        let plan = match plan_recycle(card, self.holder.active(), self.begin.key) {
            Ok(plan) => plan,
            Err(refusal) => return Ok(Err(refusal.into())),
        };
        self.journal(NewOperation::new(
            OperationKind::Recycle,
            CardOf::Row(row.get("id")),
            card.issue.card_number,
            plan,
        ))
        .await
        .map(Ok)
    }

    pub(super) async fn journal(&self, new: NewOperation) -> Result<Begun, DbError> {
        let columns = JournalColumns::of(&new)?;
        let kind = new.kind.as_str();
        let purchase_seq = new.purchase_seq.map(i64::from);
        let volume_litres = new.volume_litres.map(i64::from);
        let permission = new.kind.permission();
        let card_no = i64::from(new.card_no);
        // The columns both statements take, from the operation's replaced card on.
        let operation: [&(dyn ToSql + Sync); 13] = [
            &new.replaced_card_id,
            &kind,
            &purchase_seq,
            &volume_litres,
            &columns.issue_before,
            &columns.issue_after,
            &columns.purchase_before,
            &columns.purchase_after,
            &new.transaction_id,
            &self.begin.idempotency_key,
            &self.begin.operator_id,
            &columns.plan,
            &new.payment_method,
        ];
        let customer_id: &(dyn ToSql + Sync) = &self.holder.customer_id;
        let row = match new.card {
            CardOf::Row(card_id) => {
                let mut params = vec![customer_id, &card_id as &(dyn ToSql + Sync)];
                params.extend(operation);
                params.extend([&permission as &(dyn ToSql + Sync), &card_no]);
                self.tx.query_one(JOURNAL, &params).await?
            }
            CardOf::Issued(generation) => {
                let generation = i16::from(generation);
                let mut params = vec![customer_id];
                params.extend(operation);
                params.extend([&permission as &(dyn ToSql + Sync), &card_no, &generation]);
                self.tx.query_one(JOURNAL_ISSUING, &params).await?
            }
        };
        let operation_id: i64 = row.get("id");
        Ok(Begun {
            operation_id,
            kind: new.kind,
            plan: new.plan,
            card_no: new.card_no,
            purchase: None,
        })
    }
}

/// A recharge that may be journaled: its operation, its price, what is paid and how.
pub(super) struct Sold<'m> {
    new: NewOperation,
    quote: Quote,
    amount: Decimal,
    /// The payment method paid with at the counter; `None`: from the balance.
    method: Option<&'m str>,
    sequence: u32,
}

impl Sold<'_> {
    /// The recharge as journaled under `operation_id`, paid on receipt `receipt_no`.
    fn begun(self, operation_id: i64, receipt_no: i64) -> Begun {
        Begun {
            operation_id,
            kind: self.new.kind,
            plan: self.new.plan,
            card_no: self.new.card_no,
            purchase: Some(PurchaseSummary {
                sequence: self.sequence,
                litres: self.quote.litres,
                amount: self.amount,
                receipt_no: Some(receipt_no),
                quote: Some(self.quote),
            }),
        }
    }
}

/// The active card on the reader, or why not.
fn active_card(holder: &CardHolder, card: &UserCard) -> Result<i64, Refusal> {
    match &holder.card {
        Some(known) if known.active && known.issue == card.issue => Ok(known.card_id),
        _ if card.issue.customer_number != holder.customer_no => Err(Refusal::AnotherCustomersCard),
        _ => Err(RechargeRefusal::NotTheActiveCard.into()),
    }
}

/// The card on the reader as one this customer may buy water on now: their active card,
/// with every purchase the database settled, and room for the next one.
fn rechargeable<'c>(
    holder: &CardHolder,
    content: &'c CardContent,
    key: &MacKey,
) -> Result<(&'c UserCard, i64), Refusal> {
    let card = user_card(content)?;
    let card_id = active_card(holder, card)?;
    // Never sell over a purchase the card has not received (settled without it).
    if let Some(behind) = holder.behind(card, key) {
        return Err(behind);
    }
    check_recharge(card, holder.active())?;
    Ok((card, card_id))
}

/// A recharge checked, priced and planned from facts already read (`holder`, `sale`): no
/// round trip.
pub(super) fn sell<'m>(
    holder: &CardHolder,
    begin: &Begin<'_>,
    content: &CardContent,
    quantity: Quantity,
    payment: &'m Payment,
    sale: &SaleFacts,
) -> Result<Sold<'m>, Refusal> {
    let (card, card_id) = rechargeable(holder, content, begin.key)?;
    let quote = sale.price(holder.today, quantity)?;
    let planned = plan_recharge(
        card,
        holder.active(),
        holder.last_sequence,
        quote.litres,
        unix_now(),
        begin.key,
    )?;
    let amount = quote.charge.amount.to_decimal();
    let method = match payment {
        Payment::Method(method) if !sale.method_allowed => {
            return Err(Refusal::PaymentMethodNotAllowed(method.clone()));
        }
        Payment::Method(method) => Some(method.as_str()),
        Payment::Balance if holder.balance < amount => {
            return Err(Refusal::BalanceTooLow);
        }
        Payment::Balance => None,
    };
    let new = NewOperation {
        purchase_seq: Some(planned.record.sequence),
        volume_litres: Some(quote.litres),
        ..NewOperation::new(
            OperationKind::Recharge,
            CardOf::Row(card_id),
            card.issue.card_number,
            planned.plan,
        )
    };
    Ok(Sold {
        new,
        quote,
        amount,
        method,
        sequence: planned.record.sequence,
    })
}

/// The arguments of `card_recharge_journal` (sql/V77) for a recharge sold, in its order: what
/// [`RECHARGE_JOURNAL`] and, behind the facts' digest, [`RECHARGE`] send.
struct JournalArguments<'m> {
    customer_id: i64,
    account_id: i64,
    card_id: i64,
    card_no: i64,
    operator_id: i64,
    idempotency_key: &'m str,
    amount: Decimal,
    volume: Decimal,
    single_price: Option<Decimal>,
    method: Option<&'m str>,
    purchase_seq: Option<i64>,
    volume_litres: Option<i64>,
    columns: JournalColumns,
    /// The card's meter write-back, noted by the journal's call first (sql/V77).
    meter_loaded_seq: Option<i64>,
    meter_generation: Option<i16>,
    /// The owner the screen showed, which the journal checks first (sql/V112).
    owner_seen: Option<i64>,
}

impl<'m> JournalArguments<'m> {
    fn of(
        sold: &Sold<'m>,
        holder: &CardHolder,
        begin: &Begin<'m>,
        content: &CardContent,
        owner_seen: Option<i64>,
    ) -> Result<Self, DbError> {
        let write_back = write_back_of(content);
        Ok(Self {
            customer_id: holder.customer_id,
            account_id: holder.account_id,
            card_id: match sold.new.card {
                CardOf::Row(card_id) => card_id,
                CardOf::Issued(_) => {
                    return Err(DbError::Inconsistent(
                        "a recharge of a card not yet issued".into(),
                    ));
                }
            },
            card_no: i64::from(sold.new.card_no),
            operator_id: begin.operator_id,
            idempotency_key: begin.idempotency_key,
            amount: sold.amount,
            volume: sold.quote.charge.volume.to_decimal(),
            single_price: match sold.quote.charge.tiers.as_slice() {
                [tier] => Some(tier.unit_price.to_decimal()),
                _ => None,
            },
            method: sold.method,
            purchase_seq: sold.new.purchase_seq.map(i64::from),
            volume_litres: sold.new.volume_litres.map(i64::from),
            columns: JournalColumns::of(&sold.new)?,
            meter_loaded_seq: write_back.map(|(_, loaded, _)| loaded),
            meter_generation: write_back.map(|(_, _, generation)| generation),
            owner_seen,
        })
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 20] {
        [
            &self.customer_id,
            &self.account_id,
            &self.card_id,
            &self.card_no,
            &self.operator_id,
            &self.idempotency_key,
            &self.amount,
            &self.volume,
            &self.single_price,
            &self.method,
            &self.purchase_seq,
            &self.volume_litres,
            &self.columns.issue_before,
            &self.columns.issue_after,
            &self.columns.purchase_before,
            &self.columns.purchase_after,
            &self.columns.plan,
            &self.meter_loaded_seq,
            &self.meter_generation,
            &self.owner_seen,
        ]
    }
}

/// A recharge's begin in one call (sql/V81): the account and the key's operation locked, the
/// holder's facts read again (sql/V182), and the journal of `card_recharge_journal` when they
/// are those of digest `$1`; else nothing journaled, and the answer says why (see
/// [`begin_decided`]).
const RECHARGE: &str = "SELECT * FROM card_recharge($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
         $11, $12, $13, $14, $15, $16, $17, $18::text::jsonb, $19, $20, $21)";

/// How often a recharge is decided again from fresh facts before the begin's own path (which
/// decides under the lock) takes it: another desk recharging the same customer between every
/// decision and its call.
const DECISIONS: usize = 3;

/// [`begin`] for a recharge decided from `decided_from`, the facts read before F2 with its
/// quote ([`recharge_facts`]): the plan is decided and signed here from them and the card, and
/// journaled in ONE round trip ([`RECHARGE`]) when the database finds the same holder's facts
/// under the lock. When they changed meanwhile, it answers the fresh facts and the recharge is
/// decided again from those. The sale's terms (the price, the payment method, the permission)
/// are not compared: the journal's own checks hold them, and refuse a recharge decided from
/// stale ones (sql/V182). What is rare takes [`begin`]'s path and answers exactly as it does: a
/// request seen before (its key's operation exists), a pending operation to resolve first,
/// every refusal (decided again under the lock), and a journal the database refused (its own
/// checks are the last word) — but the journal's refusal of an owner the customer no longer
/// has (`Request::Recharge::owner_seen`, sql/V112), answered at once. Any other request is
/// [`begin`]'s.
pub async fn begin_decided(
    client: &mut Client,
    begin: &Begin<'_>,
    request: &Request,
    decided_from: &RechargeFacts,
) -> Result<BeginReport, DbError> {
    let Request::Recharge {
        quantity,
        payment,
        owner_seen,
    } = request
    else {
        return self::begin(client, begin, request).await;
    };
    let content = CardContent::classify(begin.card, begin.key);
    let mut fresh: Option<RechargeFacts> = None;
    for _ in 0..DECISIONS {
        let facts = fresh.as_ref().unwrap_or(decided_from);
        let Some(sold) = facts.sold(begin, &content, *quantity, payment) else {
            break;
        };
        let arguments = JournalArguments::of(&sold, &facts.holder, begin, &content, *owner_seen)?;
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&facts.digest];
        params.extend(arguments.params());
        // One statement, its own transaction: no BEGIN before it nor COMMIT behind it (they
        // were two statements of the server's a recharge, in the same round trip). The
        // function's writes and the deferred checks are committed or refused with it.
        let answer = CachingClient::query_opt(&*client, RECHARGE, &params).await;
        let row = match answer {
            Ok(Some(row)) => row,
            // Another owner than the screen showed: refused, nothing written (sql/V112).
            Err(error) if owner_changed(&error) => {
                return owner_changed_report(client, begin.customer_id).await;
            }
            // No such customer, or refused by the journal's checks: the begin's answer.
            Ok(None) => break,
            Err(error) if error.as_db_error().is_some() => break,
            Err(error) => return Err(error.into()),
        };
        if let Some(operation_id) = row.get::<_, Option<i64>>("operation_id") {
            return Ok(BeginReport {
                resolved: None,
                outcome: BeginOutcome::Begun(Box::new(
                    sold.begun(operation_id, row.get("receipt_no")),
                )),
            });
        }
        if row.get::<_, bool>("seen") {
            break;
        }
        fresh = Some(RechargeFacts::of(begin.customer_id, &row, begin.key)?);
    }
    self::begin(client, begin, request).await
}

/// The journal's columns that the plan of a new operation makes.
pub(super) struct JournalColumns {
    issue_before: Option<Vec<u8>>,
    issue_after: Option<Vec<u8>>,
    purchase_before: Option<Vec<u8>>,
    purchase_after: Option<Vec<u8>>,
    /// JSON.
    plan: String,
}

impl JournalColumns {
    fn of(new: &NewOperation) -> Result<Self, DbError> {
        let (issue_before, issue_after) = records_of(&new.plan, Ef::Issue);
        let (purchase_before, purchase_after) = records_of(&new.plan, Ef::Purchase);
        let plan = serde_json::to_string(&new.plan)
            .map_err(|error| DbError::Inconsistent(format!("card write plan: {error}")))?;
        Ok(Self {
            issue_before,
            issue_after,
            purchase_before,
            purchase_after,
            plan,
        })
    }
}

pub(super) fn require_blank(content: &CardContent) -> Result<(), Refusal> {
    match content {
        CardContent::Blank => Ok(()),
        CardContent::User(_) => Err(NotBlank::UserCard.into()),
        CardContent::Foreign { .. } => Err(NotBlank::Foreign.into()),
    }
}

/// What the plan expects EF `ef` to hold before and after, as the journal's byte columns keep
/// them (`None`: not known or not written).
pub(super) fn records_of(plan: &CardWritePlan, ef: Ef) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let after = plan
        .writes()
        .filter(|write| write.ef == ef)
        .last()
        .map(|write| write.record);
    let before = if plan.decisive.ef == ef {
        Some(plan.decisive.before)
    } else if ef == Ef::Issue {
        plan.issue_record
    } else {
        None
    };
    // An operation that leaves the issue record alone still needs it there.
    let after = after.or(if ef == Ef::Issue {
        plan.issue_record
    } else {
        None
    });
    (before.map(Vec::from), after.map(Vec::from))
}

pub fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|since| u32::try_from(since.as_secs()).ok())
        .unwrap_or(u32::MAX)
}
