//! The reference form: add or modify a row of a reference list (or change a scheme's prices),
//! on top of the list it was opened from. The list's module builds the form and checks it
//! (`build`); this screen takes the keys, sends the change once and waits for its answer:
//! done, it closes and the list below is read again; refused, the fields say why.

use std::fmt::Debug;

use chrono::NaiveDate;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::common::{fail, note, say_problems};
use super::requests::{CHANGED_MEANWHILE, ChangeAnswer, RefAnswer, RefWork, answer, send, told};
use super::texts::{kind_key, mode_key};
use crate::app::form::{Choice, FieldKind, Form, field_error_text};
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::{MessageKind, Slot};
use crate::app::{App, Command, Hub, Screen};
use crate::db::price_schemes::SchemeRow;
use crate::domain::validation::{self, FieldError};
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::text::lines;
use crate::ui::theme::Theme;

/// The administrator's own roles on their roles form: none is added (another administrator
/// gives it), and one of `maintaining` (those holding `operator.maintain`) stays.
#[derive(Debug, Clone)]
pub struct YourRoles {
    pub held: Vec<String>,
    pub maintaining: Vec<String>,
}

/// What a reference form saves.
#[derive(Debug, Clone)]
pub enum FormTarget {
    /// A new meter type, or `stored` as the form was filled from it.
    MeterType {
        stored: Option<crate::db::meters::MeterType>,
    },
    /// `stored` None: a new meter (its number is a field); else that meter's number (it never
    /// changes) and what the form was filled from.
    Meter {
        stored: Option<(String, crate::db::meters::MeterFields)>,
    },
    Scheme {
        stored: Option<Box<SchemeRow>>,
    },
    Prices {
        id: i64,
        /// The scheme's fields as the screen that opened the form read them: the tiers are
        /// checked against its billing mode and VAT rate before they are sent, and the
        /// database refuses them if the scheme no longer has these fields.
        read: Box<crate::db::price_schemes::SchemeFields>,
        /// The desk's date when the form opened: a date before it is marked beside another
        /// problem; alone, it is sent and the database's date decides.
        today: NaiveDate,
    },
    /// A new customer type, or type `stored.0` as the form was filled from it (`stored.1`).
    CustomerType {
        stored: Option<(i64, crate::db::customer_types::CustomerTypeInput)>,
    },
    /// A new operator (`:operators`).
    Operator,
    /// The roles of the operator `login`, `read` as the list showed them; `yours`: they are
    /// the administrator's own.
    OperatorRoles {
        id: i64,
        login: String,
        read: crate::db::operators::Placed,
        yours: Option<YourRoles>,
    },
    /// `stored` None: a new department; else a department renamed, its id and name as the
    /// list showed them.
    Department {
        stored: Option<(i64, String)>,
    },
    /// The permissions of the role `code`, `read` as the list showed them.
    RolePermissions {
        code: String,
        read: Vec<String>,
    },
}

#[derive(Debug, Clone)]
pub struct RefForm {
    pub form: Form,
    pub target: FormTarget,
    /// The list kind's rules and request: the form names no kind.
    saves: &'static dyn SavesAny,
    /// Refused as saved by another desk since the form was filled (`CHANGED_MEANWHILE`): the
    /// words said then. The form still carries the row it was read from, so every later F2
    /// would be refused again by a round trip; it is refused here with these words, and what
    /// was typed stays readable.
    stale: Option<String>,
}

/// How a list kind's forms are saved: the kind's rules on the filled-in form for its target,
/// then its request carrying the idempotency key; `None`, or field errors, when refused. Each
/// kind hands its own to [`RefForm::new`], so the form sends the request and reads its answer
/// without naming the kind.
#[derive(Debug)]
pub struct Saves<W>(pub fn(&FormTarget, &Form, &mut Errors, Lang, String) -> Option<W>);

/// [`Saves`] for any kind, as the form holds it.
trait SavesAny: Debug + Sync {
    fn send(
        &self,
        target: &FormTarget,
        form: &Form,
        errors: &mut Errors,
        lang: Lang,
        idempotency_key: String,
    ) -> Option<Send>;

    /// What the answer to its save says (`None`: another request's answer).
    fn told(
        &self,
        request: &dyn ScreenRequest,
        reply: &dyn ScreenReply,
        hub: &mut Hub,
    ) -> Option<ChangeAnswer>;

    /// The screen its done save shows next, if any.
    fn shown_after(
        &self,
        request: &dyn ScreenRequest,
        reply: &dyn ScreenReply,
    ) -> Option<Box<dyn Screen>>;
}

impl<W: RefWork> SavesAny for Saves<W> {
    fn send(
        &self,
        target: &FormTarget,
        form: &Form,
        errors: &mut Errors,
        lang: Lang,
        idempotency_key: String,
    ) -> Option<Send> {
        let work = self.0(target, form, errors, lang, idempotency_key)?;
        Some(Box::new(move |hub: &mut Hub| send(hub, work)))
    }

    fn told(
        &self,
        request: &dyn ScreenRequest,
        reply: &dyn ScreenReply,
        hub: &mut Hub,
    ) -> Option<ChangeAnswer> {
        answer::<W>(request, reply).and_then(|(work, answer)| told(work, answer, hub))
    }

    fn shown_after(
        &self,
        request: &dyn ScreenRequest,
        reply: &dyn ScreenReply,
    ) -> Option<Box<dyn Screen>> {
        match answer::<W>(request, reply)? {
            (work, RefAnswer::Done(reply)) => work.shown_after(reply),
            (_, RefAnswer::NotPermitted(_)) => None,
        }
    }
}

impl RefForm {
    /// `form` (filled in), saving to `target` through `saves`: what it holds now is what is
    /// saved.
    pub fn new<W: RefWork>(
        mut form: Form,
        target: FormTarget,
        saves: &'static Saves<W>,
    ) -> RefForm {
        form.mark_saved();
        RefForm {
            form,
            target,
            saves,
            stale: None,
        }
    }

    /// F2 on a form whose fields passed their own checks: the rules of the list's module,
    /// then its request, which carries the idempotency key made now.
    fn submit(&mut self, hub: &mut Hub) {
        let (lang, key) = (hub.app.lang, hub.app.write_key());
        let f = &self.form;
        let mut errors = Errors {
            form: f,
            list: Vec::new(),
        };
        let sent = self.saves.send(&self.target, f, &mut errors, lang, key);
        let bad = errors.list;
        match sent {
            Some(send) if bad.is_empty() => send(hub),
            _ => fail(&mut self.form, &bad, hub),
        }
    }

    /// F2 refused by the fields' own checks: the list's rules are checked too, on the fields
    /// that passed theirs, so that one F2 marks every field that is wrong (a scheme's VAT
    /// rate was refused only once its name, left empty, had been typed).
    fn mark_rules_too(&mut self, hub: &mut Hub) {
        let (lang, key) = (hub.app.lang, hub.app.write_key());
        let f = &self.form;
        let mut errors = Errors {
            form: f,
            list: f
                .fields
                .iter()
                .enumerate()
                .filter_map(|(index, field)| field.error.clone().map(|error| (index, error)))
                .collect(),
        };
        // Built only for its checks: nothing is sent.
        let _ = self.saves.send(&self.target, f, &mut errors, lang, key);
        let bad = errors.list;
        fail(&mut self.form, &bad, hub);
    }

    /// The hints above the fields.
    fn hints(&self, app: &App) -> Vec<String> {
        let lang = app.lang;
        match &self.target {
            FormTarget::MeterType { .. } => vec![lang.t("ref.hint_meter_type").to_owned()],
            FormTarget::Meter {
                stored: Some((no, _)),
            } => vec![lang.tf("ref.hint_meter_modify", &[("meter", no)])],
            FormTarget::Meter { stored: None } => vec![lang.t("ref.hint_meter_add").to_owned()],
            FormTarget::Scheme { stored: Some(row) } => vec![lang.tf(
                "ref.hint_scheme_modify",
                &[
                    ("kind", &lang.t(kind_key(row.fields.kind))),
                    ("mode", &lang.t(mode_key(row.fields.mode))),
                    ("start", &row.fields.start_date),
                ],
            )],
            FormTarget::Scheme { stored: None } => vec![lang.t("ref.hint_tiers").to_owned()],
            // The rule on a line of its own: a long name (the demo's are "居民阶梯水价（后付费）
            // Residential stepped, postpaid") cut it off at 80 columns (s35-f).
            FormTarget::Prices { read, .. } => vec![
                lang.tf("ref.hint_prices", &[("name", &inert(&read.name))]),
                lang.t("ref.hint_prices_rule").to_owned(),
                lang.t("ref.hint_tiers").to_owned(),
            ],
            FormTarget::CustomerType { .. } => vec![app.t("ref.hint_customer_type")],
            FormTarget::Operator => vec![
                app.t("operators.hint_add"),
                app.t("operators.hint_add_roles"),
            ],
            FormTarget::OperatorRoles { login, .. } => {
                vec![lang.tf("operators.hint_roles", &[("login", &inert(login))])]
            }
            FormTarget::Department { .. } => vec![lang.t("operators.hint_department").to_owned()],
            FormTarget::RolePermissions { code, .. } => {
                vec![app.tf("operators.hint_permissions", &[("role", &inert(code))])]
            }
        }
    }
}

impl Screen for RefForm {
    fn unsaved(&self) -> bool {
        self.form.is_dirty()
    }

    fn crumb(&self, lang: Lang) -> String {
        let key = match &self.target {
            FormTarget::MeterType { stored: None }
            | FormTarget::Meter { stored: None }
            | FormTarget::Scheme { stored: None }
            | FormTarget::CustomerType { stored: None }
            | FormTarget::Operator
            | FormTarget::Department { stored: None } => "ref.screen_add",
            FormTarget::Prices { .. } => "ref.screen_prices",
            _ => "ref.screen_modify",
        };
        lang.t(key).to_owned()
    }

    /// F4 only where a field has a list to look a choice up in: a department's name alone
    /// offered "F4 Look up", a key that did nothing there (s35-f).
    fn commands(&self) -> Vec<(Command, &'static str)> {
        let lists = self
            .form
            .fields
            .iter()
            .any(|field| matches!(field.kind, FieldKind::Choice(_) | FieldKind::Choices(_)));
        let own = [
            (Command::Save, "command.save"),
            (Command::Lookup, "command.lookup"),
            (Command::NextField, "command.next_field"),
        ];
        let own: Vec<_> = own
            .into_iter()
            .filter(|(command, _)| lists || *command != Command::Lookup)
            .collect();
        super::common::commands_with(&own)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = Theme::new(app.look);
        // A hint goes on to the next line, never cut: its end is often the rule (s44-e, by
        // hand: "The number never changes once …").
        let room = usize::from(area.width).saturating_sub(2);
        let hints = self.hints(app);
        let lines: Vec<Line> = hints
            .iter()
            .flat_map(|hint| lines(hint, room))
            .map(|line| note(line, &theme))
            .collect();
        let [top, fields] = Layout::vertical([
            Constraint::Length(lines.len() as u16 + 1),
            Constraint::Min(0),
        ])
        .areas(area);
        frame.render_widget(Paragraph::new(lines), top);
        crate::ui::form::draw(frame, fields, &self.form, app.lang, &theme);
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        if super::common::waits_for_save(hub, &key, command, true) {
            return true;
        }
        let confirming = command == Some(Command::Save);
        let mut submitted = false;
        let handled = hub.form_key(&mut self.form, key, command).handled(|| {
            submitted = true;
            match &self.stale {
                Some(stale) => hub.say(MessageKind::Error, stale.clone()),
                None => self.submit(hub),
            }
        });
        if confirming && !submitted && self.form.first_error().is_some() {
            self.mark_rules_too(hub);
        }
        handled
    }

    /// Its save answered, wherever the clerk has gone meanwhile: done, the form closes and the
    /// screen on top (the list, if the form was on it) is read again; refused, on the fields
    /// if the form is on top, else on the message line.
    fn on_reply(&mut self, request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        match self.saves.told(request, reply, hub) {
            Some(Ok(text)) => {
                hub.leave();
                hub.notify(Notice::Reload);
                hub.say(MessageKind::Info, text);
                if let Some(screen) = self.saves.shown_after(request, reply) {
                    hub.open(screen);
                }
            }
            Some(Err(problems)) => {
                // Saved by another desk since: the screen under the form shows what it holds
                // now, the form stays as typed and saves no more.
                if let Some((_, text)) = problems
                    .iter()
                    .find(|(label, _)| *label == Some(CHANGED_MEANWHILE))
                {
                    self.stale = Some(text.clone());
                    hub.notify_beneath(Notice::Reload);
                }
                // The screen being called sits in the vacant slot: on top, it is this form.
                let on_top = matches!(hub.app.screen, Slot::Vacant(_));
                let errors: Vec<(usize, String)> = problems
                    .iter()
                    .filter_map(|(label, text)| {
                        label
                            .and_then(|label| index_of(&self.form, label))
                            .map(|index| (index, text.clone()))
                    })
                    .collect();
                if on_top && !errors.is_empty() {
                    fail(&mut self.form, &errors, hub);
                } else {
                    say_problems(hub, problems);
                }
            }
            None => {}
        }
    }
}

/// The request built, ready to be sent.
type Send = Box<dyn FnOnce(&mut Hub)>;

// ───────────────────────────── Fields ─────────────────────────────

/// Collects field errors by label.
pub struct Errors<'a> {
    form: &'a Form,
    list: Vec<(usize, String)>,
}

impl Errors<'_> {
    /// Whether a field is marked already.
    pub(super) fn any(&self) -> bool {
        !self.list.is_empty()
    }

    pub(super) fn add(&mut self, label: &str, text: String) {
        if let Some(index) = index_of(self.form, label)
            && !self.list.iter().any(|(bad, _)| *bad == index)
        {
            self.list.push((index, text));
        }
    }

    pub(crate) fn check<T, E>(
        &mut self,
        label: &str,
        result: Result<T, E>,
        text: impl Fn(E) -> String,
    ) -> Option<T> {
        result.map_err(|error| self.add(label, text(error))).ok()
    }

    /// A validator's `result` for the field `label`, its error said as the catalogue words it.
    pub(crate) fn valid<T>(
        &mut self,
        label: &str,
        result: Result<T, FieldError>,
        lang: Lang,
    ) -> Option<T> {
        self.check(label, result, |error| field_error_text(lang, &error))
    }

    /// The field `label` as plain text of at most `max` characters.
    pub(crate) fn plain_text(&mut self, label: &str, max: usize, lang: Lang) -> Option<String> {
        let typed = validation::plain_text(text_of(self.form, label), max);
        self.valid(label, typed, lang)
    }
}

/// Choices whose labels come from the catalogue.
pub(super) fn word_choices(lang: Lang, words: &[(&str, &'static str)]) -> FieldKind {
    FieldKind::Choice(
        words
            .iter()
            .map(|(key, label)| Choice {
                key: (*key).to_owned(),
                label: lang.t(label).to_owned(),
            })
            .collect(),
    )
}

pub(super) fn yes_no(lang: Lang) -> FieldKind {
    word_choices(lang, &[("yes", "ref.yes"), ("no", "ref.no")])
}

/// Sets a choice field to the entry with `key`.
pub(crate) fn choose(form: &mut Form, label: &str, key: &str) {
    if let Some(index) = index_of(form, label)
        && let FieldKind::Choice(choices) = &form.fields[index].kind
        && let Some(choice) = choices.iter().find(|c| c.key == key)
    {
        let text = choice.label.clone();
        form.set(index, &text);
    }
}

/// Ticks the entries with these keys in a multiple-choice field.
pub(crate) fn choose_many(form: &mut Form, label: &str, keys: &[String]) {
    if let Some(index) = index_of(form, label) {
        form.choose_many(index, keys);
    }
}

pub(crate) fn set(form: &mut Form, label: &str, text: &str) {
    if let Some(index) = index_of(form, label) {
        form.set(index, text);
    }
}

pub(super) fn index_of(form: &Form, label: &str) -> Option<usize> {
    form.fields.iter().position(|field| field.label == label)
}

pub(crate) fn text_of<'a>(form: &'a Form, label: &str) -> &'a str {
    index_of(form, label).map_or("", |index| form.value(index).trim())
}

pub(crate) fn key_of<'a>(form: &'a Form, label: &str) -> Option<&'a str> {
    index_of(form, label)
        .and_then(|index| form.fields[index].chosen())
        .map(|choice| choice.key.as_str())
}

/// The keys ticked in a multiple-choice field.
pub(crate) fn keys_of(form: &Form, label: &str) -> Vec<String> {
    index_of(form, label).map_or(Vec::new(), |index| {
        form.fields[index]
            .chosen_many()
            .iter()
            .map(|c| c.key.clone())
            .collect()
    })
}
