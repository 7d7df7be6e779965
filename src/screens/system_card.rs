//! Issuing the meter's tool cards (`:system-card`; domain.md 4.9.3, docs/card-records.md
//! "System cards"): a supervisor picks the kind — a setting card with its alarm volume and
//! maximum credit, a check card, a clear card —, the meter it is for, checks the meter (and
//! whose it is) against the database, confirms, and the card is written onto the blank card in
//! the reader by `cardflow::issue_system_card` on a request task, journaled and audited by the
//! database (`card.system`, sql/V20 and V23). Also what a system card on the reader is, in
//! words, for the status line's neighbours: the card screen and the message after a read.

use crossterm::event::KeyEvent;
use deadpool_postgres::Client;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use rust_decimal::Decimal;

use super::legend::{BACK, framed, usual};
use crate::app::card_status::{CardSeen, ReadFor, read_card};
use crate::app::form::{Choice, Field, FieldKind, Form, field_error_text};
use crate::app::hub::{Failure, Problem};
use crate::app::permissions;
use crate::app::requests::{Progress, Read, Services};
use crate::app::screen::{Answer, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::cardflow::{self, FlowError, SystemCardSeen, SystemIssue};
use crate::db::DbError;
use crate::db::card_ops::{
    self, ClearedCredit, OperationState, SettingApplied, SystemCardMeter, SystemCardRefusal,
};
use crate::domain::card_records::MeterNumber;
use crate::domain::money::Volume;
use crate::domain::system_cards::{CHECK_CARD_LITRES, SystemCardKind};
use crate::domain::validation;
use crate::ui::inert::inert;
use crate::ui::text::local;
use crate::ui::theme::Theme;

/// The form's fields.
const KIND: usize = 0;
const METER: usize = 1;
const ALARM: usize = 2;
const MAX_CREDIT: usize = 3;

/// The most a setting card's volumes may say, in m³: what the card's u32 of litres holds.
const MAX_VOLUME: Decimal = Decimal::from_parts(4_294_967, 0, 0, false, 0);

/// The system card screen: the form, or the confirmation of the card it checked.
#[derive(Debug, Clone)]
pub struct SystemCardScreen {
    form: Form,
    /// The card to write, once the database knows the meter: the confirmation is shown.
    confirming: Option<Issue>,
}

/// A system card checked and ready to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub kind: SystemCardKind,
    pub meter: MeterNumber,
    /// The customer the meter is installed for: a clear card's credit is theirs.
    pub customer: Option<(i64, String)>,
}

impl Default for SystemCardScreen {
    fn default() -> Self {
        Self {
            form: Form::new(Vec::new()),
            confirming: None,
        }
    }
}

/// The kinds offered, by their journal names.
const KINDS: [&str; 3] = ["setting", "check", "clear"];

fn kind_key(kind: &str) -> &'static str {
    match kind {
        "setting" => "system_card.kind_setting",
        "check" => "system_card.kind_check",
        _ => "system_card.kind_clear",
    }
}

/// A kind's name in the desk's language.
pub fn kind_name(app: &App, kind: SystemCardKind) -> &'static str {
    app.lang.t(kind_key(kind.as_str()))
}

fn form(app: &App) -> Form {
    let kinds = KINDS
        .iter()
        .map(|kind| Choice {
            key: (*kind).to_owned(),
            label: app.lang.t(kind_key(kind)).to_owned(),
        })
        .collect();
    let volume = || FieldKind::Volume { max: MAX_VOLUME };
    let mut form = Form::new(vec![
        Field::new("system_card.field_kind", FieldKind::Choice(kinds), true),
        Field::new("system_card.field_meter", FieldKind::Text { max: 12 }, true),
        Field::new("system_card.field_alarm", volume(), false),
        Field::new("system_card.field_max", volume(), false),
    ]);
    form.set(KIND, app.lang.t(kind_key(KINDS[0])));
    form.mark_saved();
    form
}

/// Litres of a volume typed in m³ (at most three decimals, within `MAX_VOLUME`).
fn litres(text: &str) -> Result<u32, validation::FieldError> {
    let m3 = validation::volume(text.trim(), MAX_VOLUME)?;
    Ok(Volume::round_down(m3).to_litres().unwrap_or(u32::MAX))
}

impl SystemCardScreen {
    /// The kind and meter typed, or the errors by field.
    fn typed(&self, app: &App) -> Result<(SystemCardKind, MeterNumber), Vec<(usize, String)>> {
        let lang = app.lang;
        let meter = MeterNumber::new(&self.form.value(METER).trim().to_uppercase())
            .map_err(|_| vec![(METER, lang.t("system_card.bad_meter").to_owned())])?;
        let kind = match self.form.fields[KIND].chosen().map(|c| c.key.as_str()) {
            Some("check") => SystemCardKind::Check,
            Some("clear") => SystemCardKind::Clear,
            _ => {
                let volume = |index: usize| match self.form.value(index).trim() {
                    "" => Err(vec![(
                        index,
                        lang.t("system_card.setting_needs").to_owned(),
                    )]),
                    text => litres(text).map_err(|e| vec![(index, field_error_text(lang, &e))]),
                };
                let (alarm, max) = (volume(ALARM)?, volume(MAX_CREDIT)?);
                if max == 0 {
                    return Err(vec![(
                        MAX_CREDIT,
                        lang.t("system_card.max_positive").to_owned(),
                    )]);
                }
                if alarm >= max {
                    return Err(vec![(
                        ALARM,
                        lang.t("system_card.alarm_below_max").to_owned(),
                    )]);
                }
                SystemCardKind::Setting {
                    alarm_litres: alarm,
                    max_credit_litres: max,
                }
            }
        };
        Ok((kind, meter))
    }

    /// F2 on the form: the fields' own checks passed; the kind's rules, then the meter is
    /// looked up (and whose it is) before anything is confirmed.
    fn check(&mut self, hub: &mut Hub) {
        match self.typed(hub.app) {
            Ok((kind, meter)) => {
                hub.say(MessageKind::Info, hub.app.t("system_card.checking"));
                hub.send(CheckMeter { kind, meter });
            }
            Err(errors) => {
                self.form.fail(&errors);
                hub.say(MessageKind::Error, errors[0].1.clone());
            }
        }
    }

    /// F2 on the confirmation: written only onto the blank card in the reader.
    fn write(&mut self, hub: &mut Hub) {
        let Some(issue) = self.confirming.clone() else {
            return;
        };
        if hub.saving() {
            hub.say(MessageKind::Info, hub.app.t("system_card.still_writing"));
            return;
        }
        if hub.app.card != Some(CardSeen::Blank) {
            hub.say(MessageKind::Error, hub.app.t("system_card.need_blank"));
            return;
        }
        let Some(operator_id) = hub.app.session.as_ref().map(|s| s.operator_id) else {
            return;
        };
        let text = hub.app.lang.tf(
            "system_card.writing",
            &[("kind", &kind_name(hub.app, issue.kind))],
        );
        hub.say(MessageKind::Info, text);
        let idempotency_key = hub.app.write_key();
        hub.send(IssueSystemCard {
            operator_id,
            issue,
            idempotency_key,
        });
    }
}

/// Looks meter `meter` up for a `kind` card; answered with [`MeterChecked`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckMeter {
    pub kind: SystemCardKind,
    pub meter: MeterNumber,
}

/// The meter with its customer, or `None`: no such meter.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterChecked {
    pub kind: SystemCardKind,
    pub meter: MeterNumber,
    pub found: Option<SystemCardMeter>,
}

impl Read for CheckMeter {
    /// The confirmation comes with the answer: keys typed meanwhile wait for it.
    const HOLDS_INPUT: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        Ok(MeterChecked {
            kind: self.kind,
            meter: self.meter.clone(),
            found: card_ops::system_card_meter(client, &self.meter).await?,
        })
    }
}

/// Writes a checked system card onto the blank card in the reader (`cardflow`).
#[derive(Debug, Clone, PartialEq)]
pub struct IssueSystemCard {
    pub operator_id: i64,
    pub issue: Issue,
    /// Only marks the request as a write (held, never dropped by F12, told after closing): a
    /// system card's journal row is made as it is written, and a re-sent request finds the card
    /// no longer blank.
    pub idempotency_key: String,
}

/// How the write ended, as the screen tells it.
#[derive(Debug, Clone, PartialEq)]
pub enum Issued {
    Done { card_no: u32 },
    Failed { card_no: u32 },
    Pending { card_no: u32, cause: Problem },
    Refused(SystemCardRefusal),
}

/// The answer to [`IssueSystemCard`].
#[derive(Debug, Clone, PartialEq)]
pub struct IssueOutcome {
    pub issue: Issue,
    pub issued: Issued,
}

impl ScreenRequest for IssueSystemCard {
    fn idempotency_key(&self) -> Option<&str> {
        Some(&self.idempotency_key)
    }

    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let desk = services.desk(self.operator_id);
            let issue = &self.issue;
            let issued = match cardflow::issue_system_card(&desk, issue.kind, &issue.meter).await? {
                SystemIssue::Done(card) => Issued::Done {
                    card_no: card.card_number,
                },
                SystemIssue::Failed { card_no } => Issued::Failed { card_no },
                SystemIssue::Pending { card_no, cause } => Issued::Pending {
                    card_no,
                    cause: problem_of(cause),
                },
                SystemIssue::Refused(refusal) => Issued::Refused(refusal),
            };
            Ok(Box::new(IssueOutcome {
                issue: self.issue.clone(),
                issued,
            }) as _)
        })
    }

    /// The supervisor left meanwhile: the outcome is told all the same.
    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(outcome) = reply.of::<IssueOutcome>() {
            tell(outcome, hub);
        }
    }
}

/// A card error in the desk's words, as the card screens say it.
fn problem_of(cause: crate::card::reader::CardError) -> Problem {
    match Failure::from(FlowError::Card(cause)) {
        Failure::Error(problem) => problem,
        other => Problem::new("failure.card", format!("{other:?}")),
    }
}

/// The outcome on the message line, and the card read again for the status line.
fn tell(outcome: &IssueOutcome, hub: &mut Hub) {
    let app = &*hub.app;
    let lang = app.lang;
    let kind = kind_name(app, outcome.issue.kind);
    let meter = inert(outcome.issue.meter.as_str()).into_owned();
    let number = |card_no: &u32| format!("{card_no:08}");
    let (message, text) = match &outcome.issued {
        Issued::Done { card_no } => (
            MessageKind::Info,
            lang.tf(
                "system_card.done",
                &[
                    ("kind", &kind),
                    ("card", &number(card_no)),
                    ("meter", &meter),
                ],
            ),
        ),
        Issued::Failed { card_no } => (
            MessageKind::Error,
            lang.tf(
                "system_card.failed",
                &[("kind", &kind), ("card", &number(card_no))],
            ),
        ),
        Issued::Pending { card_no, cause } => (
            MessageKind::Error,
            lang.tf(
                "system_card.pending",
                &[
                    ("kind", &kind),
                    ("card", &number(card_no)),
                    ("why", &cause.text(lang)),
                ],
            ),
        ),
        Issued::Refused(refusal) => (
            MessageKind::Error,
            match refusal {
                SystemCardRefusal::NotPermitted => {
                    lang.t("system_card.refused_permission").to_owned()
                }
                SystemCardRefusal::UnknownMeter => {
                    lang.tf("system_card.no_meter", &[("meter", &meter)])
                }
                SystemCardRefusal::NotBlank => lang.t("system_card.refused_not_blank").to_owned(),
                SystemCardRefusal::ForeignCard => lang.t("system_card.refused_foreign").to_owned(),
            },
        ),
    };
    if outcome.issued == Issued::Refused(SystemCardRefusal::NotPermitted) {
        permissions::reread(hub.app, hub.out);
    }
    hub.say(message, text);
    let after = match outcome.issued {
        Issued::Refused(_) => ReadFor::Status,
        _ => ReadFor::AfterWrite,
    };
    read_card(hub.app, after, hub.out);
}

impl Screen for SystemCardScreen {
    fn crumb(&self, lang: crate::i18n::Lang) -> String {
        lang.t("system_card.crumb").to_owned()
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        match self.confirming {
            None => framed(
                [(Command::Save, "system_card.legend_check")]
                    .into_iter()
                    .chain(usual([Command::Lookup, Command::NextField]))
                    .chain([BACK]),
            ),
            Some(_) => framed([
                (Command::Save, "system_card.legend_write"),
                (Command::Cancel, "system_card.legend_back"),
                BACK,
            ]),
        }
    }

    fn unsaved(&self) -> bool {
        self.form.is_dirty()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let title = |key: &str| Line::from(Span::styled(format!(" {}", app.t(key)), theme.title()));
        let [head, body] =
            Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
        let Some(issue) = &self.confirming else {
            frame.render_widget(
                Paragraph::new(vec![Line::raw(""), title("system_card.title")]),
                head,
            );
            let [fields, about] = Layout::vertical([
                Constraint::Length(self.form.fields.len() as u16 + 1),
                Constraint::Min(0),
            ])
            .areas(body);
            let notes: Vec<Line> = [
                "system_card.about_setting",
                "system_card.about_check",
                "system_card.about_clear",
                "system_card.hint",
            ]
            .iter()
            .map(|key| Line::raw(format!(" {}", about_text(app, key))))
            .collect();
            frame.render_widget(Paragraph::new(notes).wrap(Wrap { trim: false }), about);
            crate::ui::form::draw(frame, fields.union(about), &self.form, lang, theme);
            return;
        };
        frame.render_widget(
            Paragraph::new(vec![Line::raw(""), title("system_card.confirm_title")]),
            head,
        );
        let lines: Vec<Line> = confirmation(app, issue)
            .into_iter()
            .map(|line| Line::raw(format!(" {line}")))
            .collect();
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
    }

    /// Refused as it opens to whoever lacks `card.system`; the database refuses the write too.
    fn on_open(&mut self, hub: &mut Hub) {
        if !hub.app.may("card.system") {
            hub.say(MessageKind::Error, hub.app.t("system_card.not_permitted"));
            hub.leave();
            return;
        }
        self.form = form(hub.app);
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        if self.confirming.is_some() {
            return false;
        }
        if hub.saving() {
            return false;
        }
        hub.form_key(&mut self.form, key, command)
            .handled(|| self.check(hub))
    }

    fn on_command(&mut self, command: Command, hub: &mut Hub) -> bool {
        match (command, &self.confirming) {
            (Command::Save, Some(_)) => self.write(hub),
            (Command::Cancel, Some(_)) if !hub.saving() => {
                self.confirming = None;
                hub.app.message = None;
            }
            (Command::Cancel, Some(_)) => {
                hub.say(MessageKind::Info, hub.app.t("system_card.still_writing"))
            }
            _ => return false,
        }
        true
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(checked) = reply.of::<MeterChecked>() {
            match &checked.found {
                Some(found) if !found.takes_card => {
                    let text = hub.app.lang.tf(
                        "system_card.no_card_meter",
                        &[("meter", &inert(&found.meter_no))],
                    );
                    self.form.fail(&[(METER, text.clone())]);
                    hub.say(MessageKind::Error, text);
                }
                Some(found) => {
                    hub.app.message = None;
                    self.confirming = Some(Issue {
                        kind: checked.kind,
                        meter: checked.meter.clone(),
                        customer: found.customer.clone(),
                    });
                }
                None => {
                    let meter = inert(self.form.value(METER).trim()).into_owned();
                    let text = hub
                        .app
                        .lang
                        .tf("system_card.no_meter", &[("meter", &meter)]);
                    self.form.fail(&[(METER, text.clone())]);
                    hub.say(MessageKind::Error, text);
                }
            }
        } else if let Some(outcome) = reply.of::<IssueOutcome>() {
            if !matches!(outcome.issued, Issued::Refused(SystemCardRefusal::NotBlank)) {
                self.confirming = None;
                self.form.mark_saved();
            }
            tell(outcome, hub);
        }
    }
}

/// A text of the form's notes, the check card's volume filled in.
fn about_text(app: &App, key: &str) -> String {
    app.tf(key, &[("volume", &m3(CHECK_CARD_LITRES))])
}

fn m3(litres: u32) -> String {
    Volume::from_litres(litres).to_string()
}

fn customer_text((number, name): &(i64, String)) -> String {
    format!("{number:08} {}", inert(name))
}

/// The confirmation's lines: what is written, for which meter and customer, and the keys.
fn confirmation(app: &App, issue: &Issue) -> Vec<String> {
    let lang = app.lang;
    let meter = inert(issue.meter.as_str()).into_owned();
    let customer = issue.customer.as_ref().map(customer_text);
    let mut lines = vec![lang.tf(
        "system_card.confirm",
        &[("kind", &kind_name(app, issue.kind)), ("meter", &meter)],
    )];
    lines.push(match &customer {
        Some(customer) => lang.tf("system_card.meter_of", &[("customer", customer)]),
        None => lang.t("system_card.meter_of_nobody").to_owned(),
    });
    lines.push(String::new());
    lines.push(match (issue.kind, &customer) {
        (SystemCardKind::Clear, Some(customer)) => {
            lang.tf("system_card.confirm_clear", &[("customer", customer)])
        }
        (SystemCardKind::Clear, None) => lang.t("system_card.confirm_clear_nobody").to_owned(),
        (kind, _) => what_it_does(app, kind),
    });
    lines.push(String::new());
    lines.push(app.t("system_card.confirm_keys"));
    lines
}

/// What a card of `kind` does at its meter, with its parameters.
fn what_it_does(app: &App, kind: SystemCardKind) -> String {
    let lang = app.lang;
    match kind {
        SystemCardKind::Setting {
            alarm_litres,
            max_credit_litres,
        } => lang.tf(
            "system_card.confirm_setting",
            &[
                ("alarm", &m3(alarm_litres)),
                ("max", &m3(max_credit_litres)),
            ],
        ),
        SystemCardKind::Check => lang.tf(
            "system_card.confirm_check",
            &[("volume", &m3(CHECK_CARD_LITRES))],
        ),
        SystemCardKind::Clear => lang.t("system_card.clear_does").to_owned(),
    }
}

/// What a system card on the reader is, in one sentence: its kind, number, meter and issue.
pub fn described(app: &App, seen: &SystemCardSeen) -> String {
    let lang = app.lang;
    let card = &seen.card;
    let kind = kind_name(app, card.kind);
    let number = format!("{:08}", card.card_number);
    let meter = inert(card.meter_number.as_str()).into_owned();
    match &seen.facts {
        Some(facts) => lang.tf(
            "system_card.seen",
            &[
                ("kind", &kind),
                ("card", &number),
                ("meter", &meter),
                ("at", &local(&facts.issued_at, app.zone)),
                ("operator", &inert(&facts.issued_by)),
            ],
        ),
        None => lang.tf(
            "system_card.seen_unknown",
            &[("kind", &kind), ("card", &number), ("meter", &meter)],
        ),
    }
}

/// The card screen's lines for a system card: the sentence, what it does, what its meter did
/// with it, and a clear card's credit.
pub fn lines(app: &App, seen: &SystemCardSeen) -> Vec<String> {
    let lang = app.lang;
    let card = &seen.card;
    let mut lines = vec![lang.tf(
        "system_card.seen_card",
        &[
            ("kind", &kind_name(app, card.kind)),
            ("card", &format!("{:08}", card.card_number)),
            ("meter", &inert(card.meter_number.as_str())),
        ],
    )];
    lines.push(match &seen.facts {
        Some(facts) => lang.tf(
            "system_card.seen_issued",
            &[
                ("at", &local(&facts.issued_at, app.zone)),
                ("operator", &inert(&facts.issued_by)),
            ],
        ),
        None => lang.t("system_card.seen_never_issued").to_owned(),
    });
    if let Some(customer) = seen.facts.as_ref().and_then(|f| f.customer.as_ref()) {
        lines.push(lang.tf(
            "system_card.meter_of",
            &[("customer", &customer_text(customer))],
        ));
    }
    lines.push(what_it_does(app, card.kind));
    match seen.facts.as_ref().map(|facts| facts.state) {
        Some(OperationState::Pending) => lines.push(lang.t("system_card.state_pending").to_owned()),
        Some(OperationState::Failed) => lines.push(lang.t("system_card.state_failed").to_owned()),
        _ => {}
    }
    lines.push(match (&card.applied, card.kind) {
        (None, _) => lang.t("system_card.not_applied").to_owned(),
        (Some(applied), SystemCardKind::Clear) => lang.tf(
            "system_card.wiped",
            &[
                ("credit", &m3(applied.credit_litres)),
                ("at", &card_time(app, applied.written_at)),
            ],
        ),
        (Some(applied), _) => lang.tf(
            "system_card.applied",
            &[
                ("credit", &m3(applied.credit_litres)),
                ("at", &card_time(app, applied.written_at)),
            ],
        ),
    });
    if seen.setting_applied.is_some() {
        lines.push(lang.t("system_card.applied_recorded").to_owned());
    }
    let recorded = seen.facts.as_ref().and_then(|facts| facts.cleared);
    match (&seen.cleared, recorded) {
        (Some(ClearedCredit::NotPermitted), _) => {
            lines.push(lang.t("system_card.credit_needs_supervisor").to_owned())
        }
        (_, Some((_, amount))) => {
            lines.push(lang.tf("system_card.credited", &[("amount", &amount)]))
        }
        _ => {}
    }
    lines
}

/// The message a read of a clear card says when it credited the wiped water just now.
pub fn credited_now(app: &App, seen: &SystemCardSeen) -> Option<String> {
    let Some(ClearedCredit::Recorded {
        credited,
        receipt_no,
    }) = seen.cleared
    else {
        return None;
    };
    let credit = seen.card.applied.as_ref().map(|a| m3(a.credit_litres))?;
    let card = format!("{:08}", seen.card.card_number);
    let customer = seen.facts.as_ref().and_then(|f| f.customer.as_ref());
    // Money credited always has its receipt (sql/V28).
    Some(match (customer, receipt_no) {
        (Some(customer), Some(receipt_no)) => app.lang.tf(
            "system_card.credited_now",
            &[
                ("card", &card),
                ("credit", &credit),
                ("amount", &credited),
                ("customer", &customer_text(customer)),
                ("receipt", &receipt_no),
            ],
        ),
        _ => app.lang.tf(
            "system_card.credited_none",
            &[("card", &card), ("credit", &credit)],
        ),
    })
}

/// The message a read of a setting card says when it recorded just now that its meter applied
/// it.
pub fn applied_now(app: &App, seen: &SystemCardSeen) -> Option<String> {
    let card = &seen.card;
    let (
        Some(SettingApplied::RecordedNow),
        SystemCardKind::Setting {
            max_credit_litres, ..
        },
    ) = (seen.setting_applied, card.kind)
    else {
        return None;
    };
    Some(app.lang.tf(
        "system_card.applied_now",
        &[
            ("card", &format!("{:08}", card.card_number)),
            ("meter", &inert(card.meter_number.as_str())),
            ("max", &m3(max_credit_litres)),
        ],
    ))
}

/// Unix seconds written on a card, in the desk's zone.
fn card_time(app: &App, seconds: u32) -> String {
    chrono::DateTime::from_timestamp(i64::from(seconds), 0)
        .map_or_else(String::new, |at| local(&at, app.zone))
}
