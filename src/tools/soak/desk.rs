//! One headless desk: an operator signed in through `Sessions::sign_in`, as the app signs in,
//! serving customers one visit after another through the `db` API the screens' requests call,
//! until the run's end. Every call is timed and its outcome tallied (`report`).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Object;
use fastrand::Rng;
use rust_decimal::Decimal;

use super::card::CardCustomer;
use super::report::{Kind, Outcome, Tally};
use crate::db::accounts::{self, BillsToPay, MoneyMove, MoveOutcome, Movement};
use crate::db::card_ops::{
    self, Begin, BeginOutcome, LossReason, OperationState, Payment, Quantity, RechargeFacts,
    Refusal, Request,
};
use crate::db::customer_changes::{self, ModifyOutcome, OpenOutcome, Opening, TransferOutcome};
use crate::db::customers::{self, PageAt};
use crate::db::readings::{self, NewReading, ReadingOutcome, ReadingRefusal, ReadingSource};
use crate::db::session::Sessions;
use crate::db::{DbError, customer_types, meters};
use crate::domain::card_records::{MacKey, MeterNumber};
use crate::domain::customer_rules::{
    BasicInfo, BusinessModel, EnterpriseInfo, Nature, PersonalInfo, StatisticalInfo,
};
use crate::domain::money::{Money, Volume};
use crate::domain::search::classify;
use crate::tools::demo::names;

/// Rows of a search page: the table on a 120×40 terminal.
const PAGE: usize = 40;
/// The card customers a desk keeps serving (the newest it opened).
const CARD_CUSTOMERS: usize = 4;
/// A clerk's pause between two requests: reading the screen, typing the next fields.
const THINK: std::ops::RangeInclusive<u64> = 2_000..=8_000;

/// Who sits at the desk.
pub struct Operator {
    pub login: String,
    pub password: String,
    pub supervisor: bool,
}

/// A customer who comes to the counter, as the clerk is told who they are.
pub struct Arrival {
    pub customer_no: i64,
    /// The mobile number's digits, when it has enough to be one.
    pub phone: Option<String>,
    pub name: String,
}

impl Arrival {
    pub fn new(customer_no: i64, phone: Option<&str>, name: String) -> Arrival {
        let digits = phone.map(|phone| phone.chars().filter(char::is_ascii_digit).collect());
        Arrival {
            customer_no,
            phone: digits.filter(|digits: &String| digits.len() >= 7),
            name,
        }
    }

    /// What the clerk types to find them.
    fn typed(&self, rng: &mut Rng) -> String {
        match (rng.u32(..10), &self.phone) {
            (0..5, _) | (5..7, None) => self.customer_no.to_string(),
            (5..7, Some(phone)) => phone.clone(),
            _ => self.name.chars().take(rng.usize(2..=3)).collect(),
        }
    }
}

pub struct Desk {
    sessions: Sessions,
    operator_id: i64,
    supervisor: bool,
    think: bool,
    rng: Rng,
    /// Every write's idempotency key starts with it: unique to the run and the desk.
    key_prefix: String,
    keys: u64,
    arrivals: Arc<[Arrival]>,
    cards: Vec<CardCustomer>,
    mac: MacKey,
    tally: Tally,
}

impl Desk {
    /// Signs `operator` in on a session of its own (`sessions`, not yet signed in), as the
    /// sign-in screen does: the connection as the operator's role, who that is, the audit row.
    pub async fn sign_in(
        sessions: Sessions,
        operator: &Operator,
        think: bool,
        key_prefix: String,
        seed: u64,
        arrivals: Arc<[Arrival]>,
    ) -> anyhow::Result<Desk> {
        if let Err(refusal) = sessions
            .sign_in(&operator.login, &operator.password)
            .await?
        {
            anyhow::bail!("soak operator {} was refused: {refusal:?}", operator.login);
        }
        let client = sessions.get().await.map_err(DbError::from)?;
        let signed_in = crate::db::operators::signed_in(&client)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{} is no operator", operator.login))?;
        crate::db::operators::record_sign_in(&client, signed_in.operator_id).await?;
        drop(client);
        Ok(Desk {
            sessions,
            operator_id: signed_in.operator_id,
            supervisor: operator.supervisor,
            think,
            rng: Rng::with_seed(seed),
            key_prefix,
            keys: 0,
            arrivals,
            cards: Vec::new(),
            mac: MacKey::demo(),
            tally: Tally::default(),
        })
    }

    /// Serves visits until `until`; a visit begun is finished (a card write is never left
    /// half-done by the run's end).
    pub async fn run(mut self, until: Instant) -> Tally {
        while Instant::now() < until {
            self.visit().await;
        }
        self.sessions.sign_out();
        self.tally
    }

    async fn visit(&mut self) {
        let roll = self.rng.u32(..100);
        if roll < 8 {
            self.open_account().await;
        } else if roll < 30 && !self.cards.is_empty() {
            self.card_visit().await;
        } else {
            self.counter_visit().await;
        }
    }

    fn next_key(&mut self) -> String {
        self.keys += 1;
        format!("{}-{}", self.key_prefix, self.keys)
    }

    async fn pause(&mut self) {
        if self.think {
            tokio::time::sleep(Duration::from_millis(self.rng.u64(THINK))).await;
        }
    }

    /// A customer found by name or by a number looked up before, their details, then what
    /// the customer came for.
    async fn counter_visit(&mut self) {
        let Some(row) = self.find_customer().await else {
            return;
        };
        self.pause().await;
        let details = self
            .find(Kind::Details, async |client| {
                customers::details(client, row.id).await
            })
            .await;
        if details.is_none() || row.status != "active" {
            return;
        }
        self.pause().await;
        let roll = self.rng.u32(..100);
        match row.business_model.as_str() {
            _ if roll < 12 => self.modify(row.id).await,
            _ if roll < 15 => self.transfer(row.id).await,
            "postpaid" => {
                self.reading(row.id).await;
                self.pause().await;
                self.deposit_paying_bills(row.id).await;
            }
            "system_prepaid" if roll < 40 => self.reading(row.id).await,
            "system_prepaid" => self.move_money(row.id, Movement::Deposit).await,
            _ => {}
        }
        if self.supervisor && row.business_model != "meter_prepaid" && roll.is_multiple_of(4) {
            self.pause().await;
            self.move_money(row.id, Movement::Refund).await;
        }
    }

    /// The table's search, as a clerk finds the customer at the counter (docs/decisions.md,
    /// "The soak's searches"): mostly by what the customer brings — the customer number (half
    /// the searches), the mobile number (a fifth) — else by the first two or three characters
    /// of the name; the customer's row is the one chosen when the page has it.
    async fn find_customer(&mut self) -> Option<customers::CustomerRow> {
        let (typed, wanted) = match self
            .arrivals
            .get(self.rng.usize(..self.arrivals.len().max(1)))
        {
            Some(arrival) => (arrival.typed(&mut self.rng), Some(arrival.customer_no)),
            // Nobody to come: the desk browses by surname.
            None => (names::surname(&mut self.rng).to_owned(), None),
        };
        let search = classify(&typed).ok()?;
        let sessions = &self.sessions;
        let page = timed(
            &mut self.tally,
            Kind::Search,
            async {
                customers::page_on(sessions.get().await?, &search, &PageAt::First, PAGE).await
            },
            |_| Outcome::Done,
        )
        .await?;
        let chosen = page
            .rows
            .iter()
            .position(|row| Some(row.customer_no) == wanted)
            .unwrap_or_else(|| self.rng.usize(..page.rows.len().max(1)));
        page.rows.into_iter().nth(chosen)
    }

    /// The wizard: the customer types, the meters in stock of the chosen type (another desk
    /// may take the same meter first), the new customer; a card customer's card is opened
    /// on a blank card next.
    async fn open_account(&mut self) {
        let Some(chosen) = self
            .pick("no customer type", async |client| {
                customer_types::customer_type_options(client).await
            })
            .await
        else {
            return;
        };
        self.pause().await;
        let Some(meter) = self
            .pick("no meter in stock", async |client| {
                meters::uninstalled_meters(client, &chosen.meter_type_ids, "", None, 20).await
            })
            .await
        else {
            return;
        };
        let info = new_owner(chosen.nature, &mut self.rng);
        self.pause().await;
        let key = self.next_key();
        let operator_id = self.operator_id;
        let opening = Opening {
            customer_type_id: chosen.id,
            info: &info,
            meter_id: meter.id,
        };
        let opened = self
            .on_session(
                Kind::OpenAccount,
                async |client| {
                    customer_changes::open_account(client, operator_id, &key, &opening).await
                },
                |outcome| match outcome {
                    OpenOutcome::Opened(_) => Outcome::Done,
                    refused => Outcome::Refused(variant(refused)),
                },
            )
            .await;
        let (Some(OpenOutcome::Opened(account)), BusinessModel::MeterPrepaid) =
            (opened, chosen.business_model)
        else {
            return;
        };
        let Ok(meter_number) = MeterNumber::new(&meter.meter_no) else {
            return;
        };
        self.pause().await;
        if self.cards.len() == CARD_CUSTOMERS {
            self.cards.remove(0);
        }
        self.cards
            .push(CardCustomer::new(account.customer_id, meter_number));
        let opened = self
            .card_operation(self.cards.len() - 1, Kind::CardOpen, Request::Open)
            .await;
        // A statistical meter's card is opened but never recharged: its type charges nothing,
        // so no counter sells it water (every recharge would be refused for no price).
        if !opened || chosen.price_scheme.is_none() {
            self.cards.pop();
        }
    }

    /// A card customer of this desk comes back, having used water and swiped the card on the
    /// meter: a recharge; a supervisor also refunds one before the meter loads it, or
    /// replaces a lost card (the new one is swiped on the meter at home).
    async fn card_visit(&mut self) {
        let index = self.rng.usize(..self.cards.len());
        let litres = self.rng.u32(..50_000);
        self.cards[index].use_and_swipe(litres, &self.mac);
        let roll = self.rng.u32(..100);
        if self.supervisor && roll < 25 {
            self.cards[index].lose_card();
            let request = Request::Replace {
                reason: LossReason::Lost,
            };
            if self.card_operation(index, Kind::CardReplace, request).await {
                self.cards[index].use_and_swipe(0, &self.mac);
            } else {
                self.cards.remove(index);
            }
            return;
        }
        let quantity = Quantity::Amount(Decimal::from(self.rng.u32(20..=200)));
        let payment = Payment::Method(CASH.to_owned());
        let Some(facts) = self.quote(index, quantity, &payment).await else {
            return;
        };
        let request = Request::Recharge {
            quantity,
            payment,
            owner_seen: Some(self.cards[index].owner_seen),
        };
        let recharged = self
            .card_operation_decided(index, Kind::CardRecharge, request, Some(&facts))
            .await;
        if recharged && self.supervisor && roll < 50 {
            self.pause().await;
            let request = Request::Refund {
                payout: Payment::Method(CASH.to_owned()),
                owner_seen: Some(self.cards[index].owner_seen),
            };
            self.card_operation(index, Kind::CardRefund, request).await;
        }
    }

    /// What the recharge form reads before its confirmation (`screens::card::QuoteRecharge`):
    /// the facts with the quote, and the meter's maximum credit. The facts, when the quote
    /// sells water.
    async fn quote(
        &mut self,
        index: usize,
        quantity: Quantity,
        payment: &Payment,
    ) -> Option<RechargeFacts> {
        self.pause().await;
        let (mac, customer_id) = (&self.mac, self.cards[index].customer_id);
        let sessions = &self.sessions;
        let read = async {
            let client = sessions.get().await?;
            let read =
                card_ops::read_recharge_quote(&client, customer_id, quantity, payment, Some(mac))
                    .await?;
            Ok(read.facts)
        };
        let quoted = |facts: &Option<RechargeFacts>| match facts.as_ref().map(|f| f.quote(quantity))
        {
            Some(Ok(_)) => Outcome::Done,
            Some(Err(refusal)) => Outcome::Refused(variant(&refusal)),
            None => Outcome::Refused("no such customer".to_owned()),
        };
        timed(&mut self.tally, Kind::CardQuote, read, quoted)
            .await
            .flatten()
            .filter(|facts| facts.quote(quantity).is_ok())
    }

    /// `cardflow`'s steps with the in-memory card for the reader: `card_ops::begin` on the card
    /// as read, the journaled plan written, `card_ops::settle` on the card read back. Whether
    /// it ended done.
    async fn card_operation(&mut self, index: usize, kind: Kind, request: Request) -> bool {
        self.card_operation_decided(index, kind, request, None)
            .await
    }

    /// [`Desk::card_operation`], a recharge decided from the facts of its quote
    /// (`card_ops::begin_decided`) when they are given, timed from F2: the card read, the
    /// begin, the write, the settle.
    async fn card_operation_decided(
        &mut self,
        index: usize,
        kind: Kind,
        request: Request,
        decided_from: Option<&RechargeFacts>,
    ) -> bool {
        self.pause().await;
        let key = self.next_key();
        let (sessions, mac, operator_id) = (&self.sessions, &self.mac, self.operator_id);
        let customer = &mut self.cards[index];
        let state = timed(
            &mut self.tally,
            kind,
            async {
                let begin = Begin {
                    customer_id: customer.customer_id,
                    operator_id,
                    idempotency_key: &key,
                    card: &customer.card,
                    key: mac,
                };
                let report = {
                    let mut client = sessions.get().await?;
                    match decided_from {
                        Some(facts) => {
                            card_ops::begin_decided(&mut client, &begin, &request, facts).await?
                        }
                        None => card_ops::begin(&mut client, &begin, &request).await?,
                    }
                };
                let begun = match report.outcome {
                    BeginOutcome::Begun(begun) => begun,
                    BeginOutcome::Refused(refusal) => return Ok(Err(refusal)),
                    BeginOutcome::Finished(settled) => return Ok(Ok(settled.state)),
                };
                let read_back = customer.write(&begun.plan);
                let mut client = sessions.get().await?;
                let settled =
                    card_ops::settle(&mut client, begun.operation_id, &read_back, mac).await?;
                Ok(Ok(settled.state))
            },
            |answer| match answer {
                Ok(OperationState::Done) => Outcome::Done,
                // The card was written and read back as planned: anything else is wrong.
                Ok(state) => Outcome::Failed(format!("card operation left {state:?}")),
                Err(refusal) => Outcome::Refused(variant(refusal)),
            },
        )
        .await;
        // Another desk transferred the customer: the next recharge or refund is for the owner
        // named.
        if let Some(Err(Refusal::OwnerChanged { owner_seen, .. })) = &state {
            self.cards[index].owner_seen = *owner_seen;
        }
        matches!(state, Some(Ok(OperationState::Done)))
    }

    /// A meter reading typed at the counter; an abnormal consumption is confirmed and sent
    /// again, as the clerk does.
    async fn reading(&mut self, customer_id: i64) {
        let Some(context) = self
            .find(Kind::FormRead, async |client| {
                readings::reading_context(client, customer_id).await
            })
            .await
        else {
            return;
        };
        self.pause().await;
        let used = Volume::from_litres(self.rng.u32(1_000..=30_000));
        let mut reading = NewReading {
            meter_id: context.meter_id,
            read_on: context.today,
            electronic: context.previous.electronic + used,
            mechanical: None,
            source: ReadingSource::Counter,
            rollover: false,
            abnormal_confirmed: false,
        };
        let key = self.next_key();
        for _ in 0..2 {
            let outcome = self
                .on_session(
                    Kind::Reading,
                    async |client| readings::enter_reading(client, &key, &reading).await,
                    |outcome| match outcome {
                        ReadingOutcome::Recorded { .. } => Outcome::Done,
                        ReadingOutcome::Refused(refusal) => Outcome::Refused(variant(refusal)),
                    },
                )
                .await;
            if !matches!(
                outcome,
                Some(ReadingOutcome::Refused(ReadingRefusal::Abnormal { .. }))
            ) {
                return;
            }
            self.pause().await;
            reading.abnormal_confirmed = true;
        }
    }

    /// The postpaid customer's bills, and a deposit that pays the unpaid ones in the same step
    /// (what the balance does not cover and some change), or a plain deposit.
    async fn deposit_paying_bills(&mut self, customer_id: i64) {
        let Some(bills) = self
            .find(Kind::FormRead, async |client| {
                readings::bills(client, customer_id).await
            })
            .await
        else {
            return;
        };
        let arrears = bills.arrears();
        let pays = (!arrears.is_zero()).then(|| BillsToPay {
            bill_ids: bills
                .bills
                .iter()
                .filter(|bill| bill.status == "unpaid")
                .map(|bill| bill.id)
                .collect(),
            total: arrears,
        });
        let short = (arrears.to_decimal() - bills.balance.to_decimal()).max(Decimal::ZERO);
        let extra = Money::from_cents(self.rng.i64(100..=5_000));
        let amount = Money::round_half_up(short) + extra;
        self.pause().await;
        self.money_move(
            Kind::DepositPayingBills,
            customer_id,
            Movement::Deposit,
            amount,
            pays,
        )
        .await;
    }

    /// A system-prepaid recharge (a deposit) or a supervisor's refund of part of the balance.
    async fn move_money(&mut self, customer_id: i64, movement: Movement) {
        let kind = match movement {
            Movement::Deposit => Kind::SystemRecharge,
            Movement::Refund => Kind::AccountRefund,
        };
        let amount = Money::from_cents(self.rng.i64(100..=30_000));
        self.money_move(kind, customer_id, movement, amount, None)
            .await;
    }

    /// The account screen: the account (balance, the methods its type takes), then the
    /// movement confirmed and its receipt read back, as `MoveMoney` does. A refund takes at
    /// most the balance, as the form allows.
    async fn money_move(
        &mut self,
        kind: Kind,
        customer_id: i64,
        movement: Movement,
        amount: Money,
        pays: Option<BillsToPay>,
    ) {
        let Some(account) = self
            .find(Kind::FormRead, async |client| {
                accounts::account(client, customer_id).await
            })
            .await
        else {
            return;
        };
        let amount = match movement {
            Movement::Deposit => amount,
            Movement::Refund if account.balance.to_decimal() < amount.to_decimal() => {
                account.balance
            }
            Movement::Refund => amount,
        };
        let Some(method) = account.payment_methods.first() else {
            return;
        };
        if amount.is_zero() {
            return;
        }
        let change = MoneyMove {
            customer_id,
            movement,
            amount,
            method: method.code.clone(),
            pays,
        };
        self.pause().await;
        let key = self.next_key();
        self.on_session(
            kind,
            async |client| Ok(accounts::move_money(client, &key, &change).await?.outcome),
            |moved| match moved {
                MoveOutcome::Moved { .. } => Outcome::Done,
                MoveOutcome::Refused(refusal) => Outcome::Refused(variant(refusal)),
            },
        )
        .await;
    }

    /// The modify form: the basic information read, a contact detail changed, saved.
    async fn modify(&mut self, customer_id: i64) {
        let Some(read) = self.basics(customer_id).await else {
            return;
        };
        let info = with_new_contact(&read.info, &mut self.rng);
        self.pause().await;
        let key = self.next_key();
        let operator_id = self.operator_id;
        self.on_session(
            Kind::Modify,
            async |client| {
                customer_changes::modify_basic_info(client, operator_id, &key, &read, &info).await
            },
            |outcome| match outcome {
                ModifyOutcome::Saved { .. } | ModifyOutcome::Unchanged => Outcome::Done,
                refused => Outcome::Refused(variant(refused)),
            },
        )
        .await;
    }

    /// The transfer form: the customer read, what a transfer meets (balance, unpaid bills),
    /// the new owner saved.
    async fn transfer(&mut self, customer_id: i64) {
        let Some(read) = self.basics(customer_id).await else {
            return;
        };
        self.find(Kind::FormRead, async |client| {
            customer_changes::transfer_preview(client, customer_id).await
        })
        .await;
        let new_owner = new_owner(read.info.nature(), &mut self.rng);
        self.pause().await;
        let key = self.next_key();
        let operator_id = self.operator_id;
        self.on_session(
            Kind::Transfer,
            async |client| {
                customer_changes::transfer(client, operator_id, &key, customer_id, &new_owner).await
            },
            |outcome| match outcome {
                TransferOutcome::Transferred { .. } => Outcome::Done,
                refused => Outcome::Refused(variant(refused)),
            },
        )
        .await;
    }

    /// `step` on a session of the desk's, timed and tallied under `kind` as `judge` says
    /// ([`timed`]).
    async fn on_session<T>(
        &mut self,
        kind: Kind,
        step: impl AsyncFnOnce(&mut Object) -> Result<T, DbError>,
        judge: impl FnOnce(&T) -> Outcome,
    ) -> Option<T> {
        let sessions = &self.sessions;
        let step = async { step(&mut sessions.get().await?).await };
        timed(&mut self.tally, kind, step, judge).await
    }

    /// A read of one customer's record: none is the refusal "no such customer".
    async fn find<T>(
        &mut self,
        kind: Kind,
        read: impl AsyncFnOnce(&Object) -> Result<Option<T>, DbError>,
    ) -> Option<T> {
        self.on_session(
            kind,
            async |client| read(client).await,
            |found| match found {
                Some(_) => Outcome::Done,
                None => Outcome::Refused("no such customer".to_owned()),
            },
        )
        .await
        .flatten()
    }

    /// One of the rows a form reads (the customer types, the meters in stock), chosen at
    /// random; the read is tallied as a form's, refused as `nothing` when it found no row (the
    /// report shows a run that ran out of meters). None when the read failed or found nothing.
    async fn pick<T>(
        &mut self,
        nothing: &str,
        read: impl AsyncFnOnce(&Object) -> Result<Vec<T>, DbError>,
    ) -> Option<T> {
        let rows = self
            .on_session(
                Kind::FormRead,
                async |client| read(client).await,
                |rows| {
                    if rows.is_empty() {
                        Outcome::Refused(nothing.to_owned())
                    } else {
                        Outcome::Done
                    }
                },
            )
            .await?;
        let chosen = self.rng.usize(..rows.len().max(1));
        rows.into_iter().nth(chosen)
    }

    async fn basics(&mut self, customer_id: i64) -> Option<customer_changes::CustomerBasics> {
        self.find(Kind::FormRead, async |client| {
            customer_changes::customer_basics(client, customer_id).await
        })
        .await
    }
}

/// The payment method every demo customer type takes.
const CASH: &str = "cash";

/// A new customer's or owner's basic information of `nature`.
fn new_owner(nature: Nature, rng: &mut Rng) -> BasicInfo {
    let (address, _) = names::address(rng);
    match nature {
        Nature::Personal => BasicInfo::Personal(PersonalInfo {
            name: names::chinese_name(rng),
            id_document_no: None,
            mobile: names::mobile(rng),
            address,
            household_size: Some(rng.u32(1..=5)),
            email: None,
            remark: None,
        }),
        Nature::Enterprise => BasicInfo::Enterprise(EnterpriseInfo {
            company_name: names::company(rng, false),
            registration_no: None,
            contact_person: names::chinese_name(rng),
            phone: names::landline(rng),
            address,
            remark: None,
        }),
        Nature::Statistical => {
            let (location, label) = names::statistical_point(rng);
            BasicInfo::Statistical(StatisticalInfo {
                label,
                location,
                remark: None,
            })
        }
    }
}

/// `info` with a new phone number (a statistical meter has none: a new remark).
fn with_new_contact(info: &BasicInfo, rng: &mut Rng) -> BasicInfo {
    let mut info = info.clone();
    match &mut info {
        BasicInfo::Personal(person) => person.mobile = names::mobile(rng),
        BasicInfo::Enterprise(company) => company.phone = names::landline(rng),
        BasicInfo::Statistical(point) => point.remark = Some(names::remark(rng).to_owned()),
    }
    info
}

/// A refusal's name for the report: its variant, without the data it carries.
fn variant(refusal: &impl std::fmt::Debug) -> String {
    let text = format!("{refusal:?}");
    let end = text.find([' ', '(', '{']).unwrap_or(text.len());
    text[..end].to_owned()
}

/// Times `work` and tallies its outcome under `kind`: `judge` says what an answer is (done,
/// the application's refusal, or wrong); an error is a failure. Returns the answer.
async fn timed<T, W>(
    tally: &mut Tally,
    kind: Kind,
    work: W,
    judge: impl FnOnce(&T) -> Outcome,
) -> Option<T>
where
    W: Future<Output = Result<T, DbError>>,
{
    let started = Instant::now();
    let answer = work.await;
    let took = started.elapsed();
    match answer {
        Ok(answer) => {
            tally.record(kind, took, judge(&answer));
            Some(answer)
        }
        Err(error) => {
            tally.record(kind, took, Outcome::Failed(failure(&error)));
            None
        }
    }
}

/// A failure's reason in the report: the SQLSTATE when the server gave one.
fn failure(error: &DbError) -> String {
    match error.sql_state() {
        Some(code) => format!("SQLSTATE {}: {error}", code.code()),
        None => error.to_string(),
    }
}
