//! What the customer-change screens (`open_account`, `modify`, `transfer`) share: the
//! basic-information form of a nature of water usage, the request that reads a customer's
//! stored information, how their forms take keys and refuse edits while a save waits, the
//! outcome of a save told after its screen was left, and the pieces they draw.

use chrono::NaiveDate;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::form::{Field as FormField, FieldKind, Form, field_error_text};
use crate::app::keymap::edits_text;
use crate::app::screen::Notice;
use crate::app::state::{MessageKind, Slot};
use crate::app::{Command, Hub};
use crate::db::customer_changes;
use crate::domain::customer_rules::{BasicInfo, Field, Nature};
use crate::domain::validation::{self, IdDocumentPolicy};
use crate::i18n::Lang;
use crate::ui::form;
use crate::ui::inert::inert;
use crate::ui::text::truncate;
use crate::ui::theme::Theme;

/// The basic-information form of one nature of water usage (domain::customer_rules).
#[derive(Debug, Clone)]
pub struct BasicForm {
    pub nature: Nature,
    pub form: Form,
}

/// Catalogue key of a basic-information field's label.
pub fn label_key(field: Field) -> &'static str {
    match field {
        Field::Name => "basic.name",
        Field::IdDocumentNo => "basic.id_document_no",
        Field::Mobile => "basic.mobile",
        Field::Address => "basic.address",
        Field::HouseholdSize => "basic.household_size",
        Field::Email => "basic.email",
        Field::CompanyName => "basic.company_name",
        Field::RegistrationNo => "basic.registration_no",
        Field::ContactPerson => "basic.contact_person",
        Field::Phone => "basic.phone",
        Field::Label => "basic.label",
        Field::Location => "basic.location",
        Field::Remark => "basic.remark",
    }
}

fn kind_of(field: Field) -> FieldKind {
    let text = |max| FieldKind::Text { max };
    match field {
        Field::Name | Field::ContactPerson => text(validation::PERSONAL_NAME_MAX),
        Field::CompanyName => text(validation::COMPANY_NAME_MAX),
        Field::Label => text(validation::LABEL_MAX),
        Field::Address | Field::Location => text(validation::ADDRESS_MAX),
        Field::Remark => text(validation::REMARK_MAX),
        Field::IdDocumentNo | Field::RegistrationNo => text(validation::DOCUMENT_NUMBER_MAX),
        Field::Email => text(validation::EMAIL_MAX),
        Field::Phone => text(20),
        Field::Mobile => FieldKind::Digits { len: 11 },
        Field::HouseholdSize => FieldKind::Digits { len: 2 },
    }
}

impl BasicForm {
    pub fn new(nature: Nature) -> BasicForm {
        let fields = Field::of(nature)
            .iter()
            .map(|&field| FormField::new(label_key(field), kind_of(field), field.is_required()))
            .collect();
        BasicForm {
            nature,
            form: Form::new(fields),
        }
    }

    /// The form filled with stored information, not dirty.
    pub fn of(info: &BasicInfo) -> BasicForm {
        let mut basic = BasicForm::new(info.nature());
        for (field, value) in info.values() {
            basic.set(field, value.as_deref().unwrap_or(""));
        }
        basic.form.mark_saved();
        basic
    }

    pub fn index(&self, field: Field) -> usize {
        Field::of(self.nature)
            .iter()
            .position(|&f| f == field)
            .expect("a field of the form's nature")
    }

    pub fn value(&self, field: Field) -> &str {
        self.form.value(self.index(field))
    }

    pub fn set(&mut self, field: Field, text: &str) {
        let index = self.index(field);
        self.form.set(index, text);
    }

    /// A fresh form for the next owner of the premises `info` describes: the address (a
    /// statistical point's location) offered, since the water is used where it was
    /// (`Form::offer`: typing replaces it).
    pub fn for_next_owner(info: &BasicInfo) -> BasicForm {
        let mut basic = BasicForm::new(info.nature());
        for (field, value) in info.values() {
            if let (Field::Address | Field::Location, Some(premises)) = (field, value) {
                let index = basic.index(field);
                basic.form.offer(index, &premises);
            }
        }
        basic
    }

    /// A form of `nature` that keeps what was typed in `typed` in the fields both have (the
    /// customer type changed in step 1: the name, mobile or address still apply).
    pub fn keeping(nature: Nature, typed: &BasicForm) -> BasicForm {
        let mut basic = BasicForm::new(nature);
        for &field in Field::of(nature) {
            if Field::of(typed.nature).contains(&field) {
                basic.set(field, typed.value(field));
            }
        }
        basic
    }

    /// Checks the fields by kind and by the domain's rules; on errors the form shows them all
    /// and the cursor goes to the first.
    /// `today` is the desk's (`App::today`).
    pub fn validate(
        &mut self,
        lang: Lang,
        policy: IdDocumentPolicy,
        today: NaiveDate,
    ) -> Option<BasicInfo> {
        let mut errors = self.form.kind_errors(lang);
        let checked = BasicInfo::validate(self.nature, policy, today, |field| {
            self.value(field).to_owned()
        });
        if let Err(rule_errors) = &checked {
            for (field, error) in rule_errors {
                let index = self.index(*field);
                if !errors.iter().any(|(bad, _)| *bad == index) {
                    errors.push((index, field_error_text(lang, error)));
                }
            }
        }
        errors.sort_by_key(|(index, _)| *index);
        self.form.fail(&errors);
        checked.ok().filter(|_| errors.is_empty())
    }
}

customer_read!(
    /// The basic information with its version, for modify and transfer; answered with an
    /// `Option<CustomerBasics>` (`None`: the customer no longer exists).
    LoadBasics => customer_changes::customer_basics
);

/// The operator signed in, who makes the change.
pub fn operator(hub: &Hub) -> i64 {
    hub.app.session.as_ref().map_or(0, |s| s.operator_id)
}

/// Whether the screen being called is on top (not covered by another).
pub fn on_top(hub: &Hub) -> bool {
    matches!(hub.app.screen, Slot::Vacant(id) if Some(id) == hub.app.calling)
}

/// While the screen's save waits for the database, what it sent is what will be saved: a key
/// that would edit or save again is refused, and the message line quotes what was typed and
/// not taken, so nothing vanishes silently (true: taken). Leaving, help and moving between
/// fields and steps stay free.
fn refused_while_saving(key: &KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
    let edits_or_saves = edits_text(key)
        || key.code == KeyCode::Enter
        || matches!(command, Some(Command::Save | Command::Lookup));
    let refused = edits_or_saves && hub.saving();
    if refused {
        hub.refuse_while_saving(key);
    }
    refused
}

/// [`refused_while_saving`] for a form whose save's answer is told wherever the clerk is (a
/// customer screen's by `tell_after_leaving`, a reference form's by its request's
/// `answered_after_close`): leaving it (F3, F12) while its save waits leaves at once, saying
/// that the save is still sent. The form's "F3 or F12 again discards them" would be untrue: a
/// walk in session 40 pressed F3 F3 on a modify parked by `meterdesk db stop`, was told its
/// change was discarded, and the database saved it when it came back.
pub fn leaves_or_refused_while_saving(
    key: &KeyEvent,
    command: Option<Command>,
    hub: &mut Hub,
) -> bool {
    if matches!(command, Some(Command::Leave | Command::Cancel)) && hub.saving() {
        hub.leave();
        hub.say(MessageKind::Info, hub.app.lang.t("db.write_parked_left"));
        return true;
    }
    refused_while_saving(key, command, hub)
}

/// A key for the form the screen shows now (`form_of`; none: false), which does what the form
/// asks: edit, say an error, ask before leaving, leave, or `submit`. False for a key the form
/// does not use: the hub invokes its command.
pub fn key_to_form<S>(
    screen: &mut S,
    form_of: fn(&mut S) -> Option<&mut Form>,
    submit: fn(&mut S, &mut Hub),
    (key, command): (KeyEvent, Option<Command>),
    hub: &mut Hub,
) -> bool {
    let Some(form) = form_of(screen) else {
        return false;
    };
    hub.form_key(form, key, command)
        .handled(|| submit(screen, hub))
}

/// The outcome of a save whose screen the clerk left, or covered with another, while it waited
/// for the database: told on the message line all the same. A save that is `done` closes its
/// screen wherever it is (`close`: it is still on the stack) and the screen on top (the
/// customer table) shows the change.
pub fn tell_after_leaving(
    hub: &mut Hub,
    close: bool,
    (done, kind, text): (bool, MessageKind, String),
) {
    if done {
        if close {
            hub.leave();
        }
        hub.notify(Notice::Reload);
    }
    hub.say(kind, text);
}

/// A read of what one customer's screen shows, by the customer's id: a struct `$request`
/// with that id, answered with what `$query(client, customer_id)` returns. The screen's keys
/// act on the answer, so keys typed meanwhile wait for it.
macro_rules! customer_read {
    ($(#[$doc:meta])* $request:ident => $query:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $request {
            pub customer_id: i64,
        }

        impl $crate::app::requests::Read for $request {
            const HOLDS_INPUT: bool = true;

            async fn read(
                &self,
                client: &deadpool_postgres::Client,
            ) -> Result<impl $crate::app::screen::ScreenReply, $crate::db::DbError> {
                $query(client, self.customer_id).await
            }
        }
    };
}
pub(crate) use customer_read;

/// `ScreenRequest` for a customer write (open, modify, transfer): it holds the keys, writes
/// with the idempotency key it carries (`App::write_key`, made on F2), executes `$write` (a
/// block awaiting the `db::customer_changes` call) with `$client` (a pooled connection) and
/// `$request` (itself), answering the outcome, and when its
/// screen was closed meanwhile tells that outcome — `$told(outcome, lang)`, the screen's
/// `(done, kind, text)` — on the message line.
macro_rules! customer_write {
    ($request_type:ty, $outcome:ty, $told:path, |$client:ident, $request:ident| $write:block) => {
        impl $crate::app::screen::ScreenRequest for $request_type {
            fn idempotency_key(&self) -> Option<&str> {
                Some(&self.idempotency_key)
            }

            fn execute<'a>(
                &'a self,
                services: &'a $crate::app::requests::Services,
                _progress: &'a $crate::app::requests::Progress<'a>,
            ) -> $crate::app::screen::Answer<'a> {
                Box::pin(async move {
                    // Some writes need the connection mutably (a transaction), others do not.
                    #[allow(unused_mut)]
                    let mut $client = services.pool.get().await?;
                    let $request = self;
                    let outcome: $outcome = $write?;
                    Ok(Box::new(outcome) as _)
                })
            }

            fn answered_after_close(
                &self,
                reply: &dyn $crate::app::screen::ScreenReply,
                hub: &mut $crate::app::Hub,
            ) {
                if let Some(outcome) = reply.of::<$outcome>() {
                    let told = $told(outcome, hub.app.lang);
                    $crate::screens::basic_info::tell_after_leaving(hub, false, told);
                }
            }
        }
    };
}
pub(crate) use customer_write;

/// The answer to a save of the screen being called: `apply` it if the screen is on top;
/// covered by another screen while the save waited for the database, it is told as `told`
/// says, as after leaving.
pub fn answer_save<S, O>(
    screen: &mut S,
    outcome: &O,
    hub: &mut Hub,
    apply: fn(&mut S, &O, &mut Hub),
    told: fn(&O, Lang) -> (bool, MessageKind, String),
) {
    if on_top(hub) {
        apply(screen, outcome, hub);
    } else {
        let told = told(outcome, hub.app.lang);
        tell_after_leaving(hub, true, told);
    }
}

/// The catalogue name of a nature of water usage.
pub fn nature_text(lang: Lang, nature: Nature) -> &'static str {
    match nature {
        Nature::Personal => lang.t("details.nature_personal"),
        Nature::Enterprise => lang.t("details.nature_enterprise"),
        Nature::Statistical => lang.t("details.nature_statistical"),
    }
}

/// A screen about one customer in the breadcrumb: "00000042 › title".
pub fn customer_crumb(customer_no: i64, title: &str) -> String {
    format!("{customer_no:08} › {title}")
}

/// The first line of a form about one customer, who is named by number only: " title — number".
pub fn customer_number_heading(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    title: &str,
    customer_no: i64,
) {
    let heading = format!(" {title} — {customer_no:08}");
    line_at(
        frame,
        area,
        0,
        Line::from(Span::styled(heading, theme.title())),
    );
}

/// The first line of a screen about one customer: " title — number name", cut to the width of
/// `area`.
pub fn customer_heading(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    title: &str,
    (customer_no, name): (i64, &str),
) {
    let heading = format!(" {title} — {customer_no:08} {}", inert(name));
    let heading = truncate(&heading, usize::from(area.width));
    line_at(
        frame,
        area,
        0,
        Line::from(Span::styled(heading, theme.title())),
    );
}

/// One line of text at row `y` of `area` (if it has that row).
pub fn line_at(frame: &mut Frame, area: Rect, y: u16, line: Line) {
    if y < area.height {
        let row = Rect {
            y: area.y + y,
            height: 1,
            ..area
        };
        frame.render_widget(Paragraph::new(line), row);
    }
}

/// `area` below its first `rows` rows.
pub fn below(area: Rect, rows: u16) -> Rect {
    let rows = rows.min(area.height);
    Rect {
        y: area.y + rows,
        height: area.height - rows,
        ..area
    }
}

/// The first value of the information: the person, the company or the label.
pub fn who(info: &BasicInfo) -> String {
    info.values()
        .into_iter()
        .next()
        .and_then(|(_, value)| value)
        .unwrap_or_default()
}

/// A basic-information form from row 3 of `area` with a dim `note` above it, or "Loading…"
/// until it is there.
pub fn draw_basic_form(
    frame: &mut Frame,
    area: Rect,
    basic: Option<&BasicForm>,
    note: Option<String>,
    lang: Lang,
    theme: &Theme,
) {
    let Some(basic) = basic else {
        let loading = format!("  {}", lang.t("customers.loading"));
        return line_at(frame, area, 2, Line::raw(loading));
    };
    if let Some(note) = note {
        line_at(
            frame,
            area,
            2,
            Line::from(Span::styled(format!(" {note}"), theme.dim())),
        );
    }
    form::draw(frame, below(area, 3), &basic.form, lang, theme);
}

/// The commands of the modify and transfer forms (`save` names F2 there).
pub fn change_commands(save: &'static str) -> Vec<(Command, &'static str)> {
    vec![
        (Command::Help, "command.help"),
        (Command::Save, save),
        (Command::Leave, "command.leave"),
        (Command::Cancel, "command.cancel"),
        (Command::NextField, "command.next_field"),
        (Command::PrevField, "command.prev_field"),
    ]
}
