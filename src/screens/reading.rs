//! Enter a meter reading (`g` on the customer table): one form — date, electronic reading,
//! mechanical reading, rollover — under the meter's previous reading. F2 records it; an
//! abnormal consumption is said with its figure and recorded on a second F2.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::basic_info::{
    below, change_commands, customer_crumb, customer_number_heading, customer_read, customer_write,
    key_to_form, leaves_or_refused_while_saving, line_at, tell_after_leaving,
};
use crate::app::form::{Choice, Field, FieldKind, Form};
use crate::app::screen::{ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::readings::{
    self, NewReading, ReadingContext, ReadingOutcome, ReadingRefusal, ReadingSource,
};
use crate::domain::billing::ReadingError;
use crate::domain::money::Volume;
use crate::i18n::Lang;
use crate::ui::form;
use crate::ui::inert::inert;
use crate::ui::theme::Theme;
use chrono::NaiveDate;

const DATE: usize = 0;
const ELECTRONIC: usize = 1;
const MECHANICAL: usize = 2;
const ROLLOVER: usize = 3;

/// The reading form of one customer.
#[derive(Debug, Clone)]
pub struct ReadingForm {
    customer_id: i64,
    customer_no: i64,
    context: Option<ReadingContext>,
    form: Form,
    /// The consumption the database called abnormal for the values on the form: the next F2
    /// records it as confirmed.
    abnormal: Option<Volume>,
    /// `Final` when the account is being closed (its last bill or deduction).
    source: ReadingSource,
}

impl ReadingForm {
    pub fn of(customer_id: i64, customer_no: i64) -> ReadingForm {
        let yes_no = vec![
            Choice {
                key: "no".into(),
                label: String::new(),
            },
            Choice {
                key: "yes".into(),
                label: String::new(),
            },
        ];
        let volume = || FieldKind::Volume {
            max: crate::domain::money::MAX_VOLUME,
        };
        ReadingForm {
            customer_id,
            customer_no,
            context: None,
            form: Form::new(vec![
                Field::new("readings.f_date", FieldKind::Date, true),
                // Volumes, so a reading typed full-width by an input method is read as ASCII.
                Field::new("readings.f_electronic", volume(), true),
                Field::new("readings.f_mechanical", volume(), false),
                Field::new("readings.f_rollover", FieldKind::Choice(yes_no), true),
            ]),
            abnormal: None,
            source: ReadingSource::Counter,
        }
    }

    /// The last reading of an account being closed (`close_account`).
    pub fn final_of(customer_id: i64, customer_no: i64) -> ReadingForm {
        ReadingForm {
            source: ReadingSource::Final,
            ..ReadingForm::of(customer_id, customer_no)
        }
    }

    /// The catalogue key of the form's title.
    fn title_key(&self) -> &'static str {
        match self.source {
            ReadingSource::Final => "close_account.final_title",
            _ => "readings.title",
        }
    }
}

customer_read!(
    /// The customer's meter and previous reading; answered with `Option<ReadingContext>`.
    LoadReading => readings::reading_context
);

/// Records the reading with the key made on F2; answered with a [`ReadingOutcome`].
#[derive(Debug, Clone, PartialEq)]
pub struct EnterReading {
    pub idempotency_key: String,
    pub reading: NewReading,
    /// The previous reading the form showed (`None`: the meter had none): refused if another
    /// was entered meanwhile.
    pub after: Option<i64>,
}

customer_write!(EnterReading, ReadingOutcome, told, |client, request| {
    readings::enter_reading_after(
        &mut client,
        &request.idempotency_key,
        &request.reading,
        request.after,
    )
    .await
});

/// What a reading's outcome says: whether it is done, and the text.
fn told(outcome: &ReadingOutcome, lang: Lang) -> (bool, MessageKind, String) {
    match outcome {
        ReadingOutcome::Recorded {
            consumption,
            bill,
            deducted,
            ..
        } => {
            let text = match (bill, deducted) {
                (Some(total), _) => lang.tf(
                    "readings.saved_bill",
                    &[("volume", consumption), ("total", total)],
                ),
                (None, Some(amount)) => lang.tf(
                    "readings.saved_deducted",
                    &[("volume", consumption), ("amount", amount)],
                ),
                (None, None) => lang.tf("readings.saved_not_charged", &[("volume", consumption)]),
            };
            (true, MessageKind::Info, text)
        }
        ReadingOutcome::Refused(refusal) => {
            (false, MessageKind::Error, refusal_text(refusal, lang))
        }
    }
}

fn refusal_text(refusal: &ReadingRefusal, lang: Lang) -> String {
    match refusal {
        ReadingRefusal::Reading(error) => {
            reading_error_text(lang, error, "readings.below_previous")
        }
        ReadingRefusal::Abnormal { consumption } => {
            lang.tf("readings.abnormal_left", &[("volume", consumption)])
        }
        ReadingRefusal::NoPrice => lang.t("readings.no_price").to_owned(),
        ReadingRefusal::CardMeter => lang.t("readings.card_meter").to_owned(),
        ReadingRefusal::NoCustomer => lang.t("details.gone").to_owned(),
        ReadingRefusal::TooMuchWater => lang.t("readings.too_much_water").to_owned(),
        ReadingRefusal::PreviousChanged { previous, .. } => {
            lang.tf("readings.previous_changed_left", &[("previous", previous)])
        }
        ReadingRefusal::AlreadyRecorded { electronic, on, by } => {
            already_recorded(lang, "readings.already_recorded_left", *electronic, *on, by)
        }
    }
}

/// Who entered a reading, as the already-recorded messages say it after its date (nothing for
/// a reading loaded without an operator).
pub(super) fn entered_by(lang: Lang, by: Option<&str>) -> String {
    by.map_or_else(String::new, |name| {
        lang.tf("readings.entered_by", &[("name", &inert(name))])
    })
}

/// The meter's latest reading typed again (sql/V113): `key`'s words, with its figure, date and
/// who entered it.
fn already_recorded(
    lang: Lang,
    key: &str,
    electronic: Volume,
    on: NaiveDate,
    by: &Option<String>,
) -> String {
    lang.tf(
        key,
        &[
            ("reading", &electronic),
            ("on", &on),
            ("by", &entered_by(lang, by.as_deref())),
        ],
    )
}

/// A reading the rules refuse, in the clerk's words; `below_previous` is the catalogue key of
/// a reading below the previous one (the form says to set Rollover, the import to write yes).
pub(super) fn reading_error_text(lang: Lang, error: &ReadingError, below_previous: &str) -> String {
    match error {
        ReadingError::BelowPrevious { previous } => {
            lang.tf(below_previous, &[("previous", previous)])
        }
        ReadingError::NotARollover { previous } => {
            lang.tf("readings.not_a_rollover", &[("previous", previous)])
        }
        ReadingError::BeforePrevious { previous } => {
            lang.tf("readings.before_previous", &[("previous", previous)])
        }
        ReadingError::AfterToday { today } => lang.tf("readings.after_today", &[("today", today)]),
    }
}

/// A volume typed on the form, read by the parser its field checked it with ("1,234.5" too).
fn volume_of(text: &str) -> Option<Volume> {
    crate::domain::validation::volume(text.trim(), crate::domain::money::MAX_VOLUME)
        .ok()
        .and_then(|volume| Volume::exact(volume).ok())
}

impl ReadingForm {
    fn form_mut(&mut self) -> Option<&mut Form> {
        self.context.as_ref()?;
        Some(&mut self.form)
    }

    fn submit(&mut self, hub: &mut Hub) {
        let lang = hub.app.lang;
        let Some(context) = &self.context else {
            return;
        };
        let electronic = volume_of(self.form.value(ELECTRONIC));
        let mechanical_text = self.form.value(MECHANICAL).trim().to_owned();
        let mechanical = volume_of(&mechanical_text);
        let mut errors = Vec::new();
        if electronic.is_none() {
            errors.push((ELECTRONIC, lang.t("readings.bad_volume").to_owned()));
        }
        if !mechanical_text.is_empty() && mechanical.is_none() {
            errors.push((MECHANICAL, lang.t("readings.bad_volume").to_owned()));
        }
        let (Some(electronic), Ok(read_on)) = (electronic, self.form.value(DATE).parse()) else {
            self.form.fail(&errors);
            return hub.say_form_error(&self.form);
        };
        if !errors.is_empty() {
            self.form.fail(&errors);
            return hub.say_form_error(&self.form);
        }
        let rollover = self.form.fields[ROLLOVER]
            .chosen()
            .is_some_and(|choice| choice.key == "yes");
        // The meter's latest reading typed again is recorded already (sql/V113): said here,
        // nothing sent, the figure kept to be changed. A final reading is the account's last
        // bill and is recorded even with the latest counter reading's date and figure; the
        // database refuses one that a final reading already is.
        if self.source != ReadingSource::Final && context.previous.same_reading(read_on, electronic)
        {
            let text = already_recorded(
                lang,
                "readings.already_recorded",
                electronic,
                read_on,
                &context.previous.entered_by,
            );
            return hub.say(MessageKind::Error, text);
        }
        let reading = NewReading {
            meter_id: context.meter_id,
            read_on,
            electronic,
            mechanical,
            source: self.source,
            rollover,
            abnormal_confirmed: self.abnormal.is_some(),
        };
        hub.say(MessageKind::Info, lang.t("readings.saving"));
        let after = context.previous.id;
        hub.send(EnterReading {
            idempotency_key: hub.app.write_key(),
            reading,
            after,
        });
    }

    fn answered(&mut self, outcome: &ReadingOutcome, hub: &mut Hub) {
        match outcome {
            ReadingOutcome::Refused(ReadingRefusal::Abnormal { consumption }) => {
                self.abnormal = Some(*consumption);
                let text = hub.app.tf("readings.abnormal", &[("volume", consumption)]);
                hub.say(MessageKind::Error, text);
            }
            ReadingOutcome::Recorded { .. } => {
                let told = told(outcome, hub.app.lang);
                tell_after_leaving(hub, true, told);
            }
            ReadingOutcome::Refused(ReadingRefusal::PreviousChanged { previous, on }) => {
                // What was typed stays; the meter's previous reading is read again, and F2
                // records the reading after it.
                let lang = hub.app.lang;
                let on = on.map_or_else(
                    || lang.t("readings.initial").to_owned(),
                    |on| on.to_string(),
                );
                let text = hub.app.tf(
                    "readings.previous_changed",
                    &[("previous", previous), ("on", &on)],
                );
                hub.say(MessageKind::Error, text);
                hub.send(LoadReading {
                    customer_id: self.customer_id,
                });
            }
            ReadingOutcome::Refused(ReadingRefusal::AlreadyRecorded { electronic, on, by }) => {
                // Another desk recorded it since the form read the meter: what was typed stays,
                // and the meter's latest reading is read again, for the form to show.
                let text = already_recorded(
                    hub.app.lang,
                    "readings.already_recorded",
                    *electronic,
                    *on,
                    by,
                );
                hub.say(MessageKind::Error, text);
                hub.send(LoadReading {
                    customer_id: self.customer_id,
                });
            }
            ReadingOutcome::Refused(refusal) => {
                let text = refusal_text(refusal, hub.app.lang);
                hub.say(MessageKind::Error, text);
            }
        }
    }

    /// The choice labels in the clerk's language (the form is built before a language is known).
    fn label_choices(&mut self, lang: Lang) {
        if let FieldKind::Choice(choices) = &mut self.form.fields[ROLLOVER].kind {
            choices[0].label = lang.t("ref.no").to_owned();
            choices[1].label = lang.t("ref.yes").to_owned();
        }
    }
}

impl Screen for ReadingForm {
    fn crumb(&self, lang: Lang) -> String {
        customer_crumb(self.customer_no, lang.t(self.title_key()))
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        change_commands("readings.save")
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let title = lang.t(self.title_key());
        customer_number_heading(frame, area, theme, title, self.customer_no);
        let Some(context) = &self.context else {
            let loading = format!("  {}", lang.t("customers.loading"));
            return line_at(frame, area, 2, Line::raw(loading));
        };
        let previous = &context.previous;
        let previous_on = match (previous.read_on, previous.billed_until) {
            (Some(on), _) => on.to_string(),
            (None, Some(until)) => lang.tf("readings_history.of_last_bill", &[("until", &until)]),
            (None, None) => lang.t("readings.initial").to_owned(),
        };
        let facts = lang.tf(
            "readings.facts",
            &[
                ("name", &inert(&context.name)),
                ("meter", &inert(&context.meter_no)),
                ("previous", &context.previous.electronic),
                ("on", &previous_on),
            ],
        );
        line_at(
            frame,
            area,
            1,
            Line::from(Span::styled(format!(" {facts}"), theme.dim())),
        );
        form::draw(frame, below(area, 3), &self.form, lang, theme);
    }

    fn on_open(&mut self, hub: &mut Hub) {
        self.label_choices(hub.app.lang);
        hub.send(LoadReading {
            customer_id: self.customer_id,
        });
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        let before: Vec<String> = self
            .form
            .fields
            .iter()
            .map(|f| f.value().to_owned())
            .collect();
        let taken = leaves_or_refused_while_saving(&key, command, hub)
            || key_to_form(self, Self::form_mut, Self::submit, (key, command), hub);
        // A changed value is another reading: its consumption is checked afresh.
        if self
            .form
            .fields
            .iter()
            .zip(&before)
            .any(|(f, b)| f.value() != b)
        {
            self.abnormal = None;
        }
        taken
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(context) = reply.of::<Option<ReadingContext>>() {
            match context {
                // Read again after another desk's reading: the form keeps what was typed.
                Some(context) if self.context.is_some() => self.context = Some(context.clone()),
                Some(context) => {
                    self.form.set(DATE, &context.today.to_string());
                    self.form.set(ROLLOVER, hub.app.lang.t("ref.no"));
                    self.form.mark_saved();
                    self.form.focus = ELECTRONIC;
                    self.context = Some(context.clone());
                }
                None => hub.say(MessageKind::Error, hub.app.lang.t("details.gone")),
            }
        } else if let Some(outcome) = reply.of::<ReadingOutcome>() {
            self.answered(outcome, hub);
        }
    }
}
