//! A data-entry form, reusable by every screen that asks for fields (ui.md, "Data entry").
//!
//! A screen keeps a [`Form`] in its state and hands it every key with [`Form::on_key`]; the
//! form edits the focused field, moves the focus and answers with a [`FormEvent`] saying what
//! the screen has to do (save, leave, nothing). `ui::form::draw` draws it.
//!
//! * fields: a label (catalogue key), a [`FieldKind`], whether it is required, its text;
//! * Tab / Enter next field, Shift-Tab previous; Enter on the last field and F2 confirm;
//! * a field entered (and the first when the form opens) has its whole text selected, drawn
//!   reversed, as a Windows edit box entered by Tab: a character typed replaces it,
//!   Backspace / Delete delete it, a cursor key drops the selection to edit in place
//!   ([`Form::is_selected`]);
//! * a confirm first checks every field by its kind; on an error the cursor goes to the first
//!   bad field and the event is [`FormEvent::Invalid`]; the screen then applies its own rules
//!   and reports them with [`Form::fail`];
//! * the cursor moves only on a key that moves it: a full field refuses more, it does not move
//!   on, and picking from a list stays on the field — unless the desk turned on
//!   `[ui] auto_advance` ([`Typing::auto_advance`], the one setting every form asks): then a
//!   full digit field, a complete date and a pick from a list move on, and a Tab right after
//!   such a move is swallowed, as a 5250 field exit would be;
//! * every field but a choice takes every character typed or pasted: a digit field or a
//!   date holding what its kind refuses says so on the field while it is typed, an amount
//!   at the confirm, and the confirm refuses while any is wrong; amounts are
//!   right-aligned and shown with two decimals once left; choices come from a list, F4 (or
//!   typing) opens the searchable [`Lookup`];
//! * F3 / F12 / Esc leave; with unsaved changes the form asks once ([`FormEvent::AskLeave`]),
//!   the second press leaves.
//!
//! Nothing typed is ever cleared by an error.

use chrono::NaiveDate;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use rust_decimal::Decimal;
use tui_input::backend::crossterm::EventHandler;
use tui_input::{Input, InputRequest};

use super::command::Command;
use super::keymap::{Key, edits_text};
use crate::domain::money::{Money, Volume, with_thousands};
use crate::domain::validation::{self, FieldError};
use crate::i18n::Lang;

/// What a field accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    /// Free text of at most `max` characters.
    Text { max: usize },
    /// Digits only (full-width digits are read as ASCII), at most `len`.
    Digits { len: usize },
    /// A sum of money up to `max`, right-aligned, two decimals.
    Amount { max: Decimal },
    /// A volume in m³ up to `max` (a meter reading), three decimals: read by the one volume
    /// parser, so its refusal names the limit it enforces.
    Volume { max: Decimal },
    /// One of `choices`, picked from the lookup list (F4).
    Choice(Vec<Choice>),
    /// Any number of `choices`: in the lookup list (F4, typing or Space) Space or Enter ticks
    /// or unticks the highlighted one and the list stays open; Esc, F3 or F2 closes it. The field's text
    /// holds the ticked keys (between [`TICKED_SEPARATOR`]s), not their labels, which may
    /// hold any character (a permission's name holds ", "); it is drawn as the ticked labels
    /// listed as the desk's language lists (`Lang::list`).
    Choices(Vec<Choice>),
    /// A date, `YYYY-MM-DD`.
    Date,
}

/// Between the keys of a [`FieldKind::Choices`] field's text: the ASCII unit separator, a
/// control character no key (a code, an id) holds.
const TICKED_SEPARATOR: char = '\u{1f}';

/// One entry of a choice field: `key` is what the screen stores (an id, a code), `label` what
/// the clerk sees (database text is drawn inert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub key: String,
    pub label: String,
}

/// One field of a form.
#[derive(Debug, Clone)]
pub struct Field {
    /// Catalogue key of the label.
    pub label: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// The text typed; for a choice, the chosen label.
    pub input: Input,
    /// What is wrong with it, in the clerk's language; drawn next to the field.
    pub error: Option<String>,
    /// The text is the desk's offer (`Form::offer`), not typed: drawn with a note saying so
    /// until the field is edited. Like any text, it is selected when the field is entered, so
    /// the first character typed replaces it.
    pub offered: bool,
}

impl Field {
    pub fn new(label: &'static str, kind: FieldKind, required: bool) -> Field {
        Field {
            label,
            kind,
            required,
            input: Input::default(),
            error: None,
            offered: false,
        }
    }

    pub fn value(&self) -> &str {
        self.input.value()
    }

    /// The chosen entry of a choice field.
    pub fn chosen(&self) -> Option<&Choice> {
        match &self.kind {
            FieldKind::Choice(choices) => choices.iter().find(|c| c.label == self.value()),
            _ => None,
        }
    }

    /// The keys a multiple-choice field's text holds, as they are (none when empty).
    fn ticked_keys(&self) -> Vec<&str> {
        match self.value() {
            "" => Vec::new(),
            text => text.split(TICKED_SEPARATOR).collect(),
        }
    }

    /// The ticked entries of a multiple-choice field, in the list's order.
    pub fn chosen_many(&self) -> Vec<&Choice> {
        match &self.kind {
            FieldKind::Choices(choices) => {
                let ticked = self.ticked_keys();
                choices
                    .iter()
                    .filter(|c| ticked.contains(&c.key.as_str()))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Ticks the entries of a multiple-choice field whose keys are in `keys` (the others
    /// not), in the list's order.
    fn tick(&mut self, keys: &[String]) {
        let FieldKind::Choices(choices) = &self.kind else {
            return;
        };
        let ticked: Vec<&str> = choices
            .iter()
            .filter(|c| keys.contains(&c.key))
            .map(|c| c.key.as_str())
            .collect();
        self.input = Input::new(ticked.join(&TICKED_SEPARATOR.to_string()));
    }

    /// Ticks `key` if it is not ticked, unticks it if it is.
    fn toggle(&mut self, key: &str) {
        let mut ticked: Vec<String> = self.chosen_many().iter().map(|c| c.key.clone()).collect();
        match ticked.iter().position(|t| t == key) {
            Some(at) => {
                ticked.remove(at);
            }
            None => ticked.push(key.to_owned()),
        }
        self.tick(&ticked);
    }

    /// Ticks `key`, typed in the list and taken by Tab or F2, if it is not ticked (never
    /// unticks it).
    fn tick_typed(&mut self, key: &str) {
        if !self.ticked_keys().contains(&key) {
            self.toggle(key);
        }
        self.error = None;
    }

    /// Checks the field by its kind; `None` when it is fine.
    fn check(&self, lang: Lang) -> Option<String> {
        // A digit field of spaces alone is not blank: it says what it says as typed.
        if let FieldKind::Digits { .. } = self.kind
            && let Some(error) = self.wrong_as_typed(lang)
        {
            return Some(error);
        }
        let text = self.value().trim();
        if text.is_empty() {
            return self
                .required
                .then(|| field_error_text(lang, &FieldError::Required));
        }
        let error = match &self.kind {
            FieldKind::Text { max } => validation::plain_text(text, *max).err(),
            // Said above, before the blank check.
            FieldKind::Digits { .. } => None,
            FieldKind::Date => return self.date_check(lang),
            FieldKind::Amount { max } => validation::amount(text, *max).err(),
            FieldKind::Volume { max } => validation::volume(text, *max).err(),
            FieldKind::Choice(_) => {
                return self
                    .chosen()
                    .is_none()
                    .then(|| lang.t("form.not_a_choice").into());
            }
            FieldKind::Choices(_) => {
                return (self.chosen_many().len() != self.ticked_keys().len())
                    .then(|| lang.t("form.not_a_choice").into());
            }
        };
        error.map(|error| field_error_text(lang, &error))
    }

    /// What is wrong with a digit field's or a date's text as it stands, said while it is
    /// typed and for as long as it is wrong (s38-f): the field takes every character, as an
    /// amount does, so that "-3" stays "-3" and "12o" stays "12o", never "3" or "12" with a
    /// word gone by the next key. A date still being typed ("2026-0") is not wrong yet: only
    /// a character no date holds, a text longer than one, or a whole one that is no day is;
    /// the confirm ([`Field::check`]) refuses an unfinished one. `None` for other kinds.
    fn wrong_as_typed(&self, lang: Lang) -> Option<String> {
        let text = self.value().trim();
        match self.kind {
            // Untrimmed: a space is not a digit (`edit` takes none, but a value set whole
            // may hold one).
            FieldKind::Digits { len } => {
                let text = self.value();
                let digits = text.chars().all(|c| c.is_ascii_digit());
                match (digits, text.chars().count() > len) {
                    (true, false) => None,
                    (false, false) => Some(field_error_text(lang, &FieldError::DigitsOnly)),
                    (true, true) => Some(lang.tf("field_error.too_many_digits", &[("max", &len)])),
                    // Both said: a paste of "1380013800a1380013800a…" is not made right by
                    // deleting its letters alone.
                    (false, true) => Some(lang.tf("field_error.digits_at_most", &[("max", &len)])),
                }
            }
            FieldKind::Date => {
                let shaped = text.chars().all(|c| c.is_ascii_digit() || c == '-');
                if !shaped || text.len() > 10 {
                    Some(lang.t("form.not_a_date").into())
                } else if text.len() == 10 {
                    date_error(text, lang)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// The date field's error at a confirm: whole and a day, or why not.
    fn date_check(&self, lang: Lang) -> Option<String> {
        self.wrong_as_typed(lang)
            .or_else(|| date_error(self.value().trim(), lang))
    }

    /// Leaving a field: an amount is shown as money, with its two decimals, a volume with its
    /// three.
    fn tidy(&mut self) {
        let tidied = match self.kind {
            FieldKind::Amount { max } => validation::amount(self.value(), max)
                .ok()
                .and_then(|amount| Money::exact(amount).ok())
                .map(|money| money.to_string()),
            FieldKind::Volume { max } => validation::volume(self.value(), max)
                .ok()
                .and_then(|volume| Volume::exact(volume).ok())
                .map(|volume| volume.to_string()),
            _ => None,
        };
        if let Some(tidied) = tidied {
            self.input = Input::new(tidied);
        }
    }

    /// Applies an editing key. Every field but a choice takes every character: an amount, so
    /// that `-5`, `1e9` or `12,5` is refused by its parser (`validation::amount`) as typed,
    /// not read as 5, 19 or 125 after the keys it could not use were dropped; a digit field
    /// and a date likewise (s38-f: "-3" typed fast into the household size became "3", and a
    /// paste into the mobile kept its first 11 characters), their error said on the field
    /// while the text is wrong ([`Field::wrong_as_typed`]).
    ///
    /// `selected`: the whole text is selected ([`Form::is_selected`]), so a character typed
    /// replaces it and a deletion key deletes it all ([`on_selection`]).
    fn edit(&mut self, key: KeyEvent, selected: bool) -> Edit {
        // Numbers and dates are ASCII: what an input method types full-width is read so.
        let key = match self.kind {
            FieldKind::Digits { .. }
            | FieldKind::Amount { .. }
            | FieldKind::Volume { .. }
            | FieldKind::Date => halfwidth_key(key),
            _ => key,
        };
        // A space, tab or line break separates digits and is none: a paste of "138 0013 8000"
        // or of a spreadsheet cell's "13511112222<Tab>" is the number it shows, and nothing
        // of what was pasted is lost by leaving them out.
        if let (FieldKind::Digits { .. }, KeyCode::Char(c)) = (&self.kind, key.code)
            && c.is_whitespace()
        {
            return Edit::Unchanged;
        }
        // A character typed over the selection replaces it: a clerk typing ahead a value of
        // their own never appends it to the one the field held.
        // A readline key (Ctrl-U clears, Ctrl-W deletes a word) edits whatever the kind.
        let typed = Key::of(&key).is_text();
        let replaces = selected && typed;
        let before = self.value().to_owned();
        self.offered = false;
        if replaces {
            self.input.reset();
        }
        match on_selection(&key).filter(|_| selected) {
            Some(request) => {
                self.input.handle(request);
            }
            None => {
                self.input.handle_event(&Event::Key(key));
            }
        }
        if self.value() == before {
            Edit::Unchanged
        } else {
            Edit::Changed
        }
    }
}

/// Why `text` is not a date, `None` when it is one.
fn date_error(text: &str, lang: Lang) -> Option<String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .is_err()
        .then(|| no_such_date(text, lang).unwrap_or(lang.t("form.not_a_date").into()))
}

/// A date typed whole whose day or month does not exist (2026-02-30, 2026-13-01), said so:
/// "a date, e.g. 2026-11-28" left a clerk who typed one looking for what was not a date
/// (s38-e, by hand). `None` for a text that is not in a date's shape.
pub(crate) fn no_such_date(text: &str, lang: Lang) -> Option<String> {
    let mut parts = text.splitn(3, '-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let shaped =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
    if !(shaped(year, 4) && shaped(month, 2) && shaped(day, 2)) {
        return None;
    }
    let (year, month_no) = (year.parse::<i32>().ok()?, month.parse::<u32>().ok()?);
    let first = NaiveDate::from_ymd_opt(year, month_no, 1);
    let Some(first) = first else {
        return Some(lang.tf("form.no_such_month", &[("month", &month)]));
    };
    let next = first.checked_add_months(chrono::Months::new(1))?;
    let days = next.signed_duration_since(first).num_days();
    let month = format!("{year:04}-{month}");
    Some(lang.tf("form.no_such_day", &[("month", &month), ("days", &days)]))
}

/// What a key does to a field whose whole text is selected where it differs from editing at
/// the cursor, as in a Windows edit box: a deletion key (Backspace, Delete, Ctrl-U, Ctrl-W,
/// Ctrl-K) deletes the selection, Left and Right put the cursor at its start and its end.
/// Home, End and a typed character need nothing of their own.
pub(crate) fn on_selection(key: &KeyEvent) -> Option<InputRequest> {
    let control = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Backspace | KeyCode::Delete => Some(InputRequest::DeleteLine),
        KeyCode::Char('u' | 'w' | 'k') if control => Some(InputRequest::DeleteLine),
        KeyCode::Left => Some(InputRequest::GoToStart),
        KeyCode::Char('b') if control => Some(InputRequest::GoToStart),
        KeyCode::Right => Some(InputRequest::GoToEnd),
        KeyCode::Char('f') if control => Some(InputRequest::GoToEnd),
        _ => None,
    }
}

/// What a key did to a field's text.
enum Edit {
    Changed,
    Unchanged,
}

impl Field {
    /// Full: a digit field at its length or a complete date (what auto-advance moves on from,
    /// when it is also right).
    fn is_full(&self) -> bool {
        match self.kind {
            FieldKind::Digits { len } => self.value().chars().count() >= len,
            FieldKind::Date => self.value().len() >= 10,
            _ => false,
        }
    }
}

/// A typed character as its ASCII twin when it is a full-width one (`validation::halfwidth`).
pub fn halfwidth_key(key: KeyEvent) -> KeyEvent {
    match key.code {
        KeyCode::Char(c) => KeyEvent::new(KeyCode::Char(validation::halfwidth(c)), key.modifiers),
        _ => key,
    }
}

/// How the desk types into forms: the language of the errors and whether a field moves on by
/// itself when full (`[ui] auto_advance`, off by default; `App::typing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Typing {
    pub lang: Lang,
    pub auto_advance: bool,
}

impl From<Lang> for Typing {
    /// The default: no field moves on by itself.
    fn from(lang: Lang) -> Typing {
        Typing {
            lang,
            auto_advance: false,
        }
    }
}

/// The searchable list over a choice field (F4).
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub filter: Input,
    /// Index into the matches.
    pub selected: usize,
    /// A multiple choice's list: whether a choice was ticked or unticked in it since it
    /// opened (then Tab only closes it: the clerk chose what is ticked).
    pub ticked: bool,
}

/// A form: its fields, the focus, the open lookup and what it was when last saved.
#[derive(Debug, Clone)]
pub struct Form {
    pub fields: Vec<Field>,
    pub focus: usize,
    pub lookup: Option<Lookup>,
    /// The values as loaded or last saved: the form is dirty when they differ.
    pristine: Vec<String>,
    /// F3 was pressed once on a dirty form.
    asked_leave: bool,
    /// The focus just moved on by itself (`Typing::auto_advance`): a Tab now is the clerk's
    /// own field exit for the field left, and is swallowed.
    advanced: bool,
    /// The focused field was entered (by Tab, Shift-Tab, Enter, an arrow, or the form's
    /// opening) and no key has edited it or moved its cursor since: its whole text is
    /// selected ([`Form::is_selected`]).
    entered: bool,
}

/// What a key did to the form, and what the screen has to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormEvent {
    /// The form took the key; nothing for the screen to do.
    Consumed,
    /// The text of this field changed.
    Edited(usize),
    /// F2, or Enter on the last field, and every field passed its kind's check: the screen
    /// applies its rules and saves (or calls [`Form::fail`]).
    Submit,
    /// A confirm met bad fields: the focus is on the first; [`Form::first_error`] says why.
    Invalid,
    /// The text of this field (the focused one) changed and its kind refuses it as it
    /// stands ("-3" in a digit field, a letter in a date): the field keeps every character
    /// and its error says why, until the text is right.
    Refused(usize),
    /// Leave asked with unsaved changes: the screen says so; the next leave goes.
    AskLeave,
    /// Leave: nothing unsaved, or asked already.
    Leave,
    /// Not a key for the form (PgDn, F1, `:` …): the screen handles it.
    Unhandled,
}

/// What a key to a form leaves to its screen once the hub did what the form asked
/// ([`Hub::form_key`](super::hub::Hub::form_key)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKey {
    /// The form used it (edited, moved, asked or left).
    Taken,
    /// F2, or Enter on the last field, with every field passing its kind's check: the screen
    /// applies its rules and saves, or marks the fields with [`Form::fail`].
    Submit,
    /// Not the form's: the hub invokes its command.
    Unhandled,
}

impl FormKey {
    /// Whether the form or its screen handled the key: `submit` applies the screen's rules on
    /// [`FormKey::Submit`]; false leaves an unhandled key to the screen's other keys.
    pub fn handled(self, submit: impl FnOnce()) -> bool {
        match self {
            FormKey::Taken => true,
            FormKey::Submit => {
                submit();
                true
            }
            FormKey::Unhandled => false,
        }
    }
}

impl Form {
    pub fn new(fields: Vec<Field>) -> Form {
        let mut form = Form {
            fields,
            focus: 0,
            lookup: None,
            pristine: Vec::new(),
            asked_leave: false,
            advanced: false,
            entered: true,
        };
        form.mark_saved();
        form
    }

    /// Sets a field's text (loading stored values); call [`Form::mark_saved`] after loading.
    pub fn set(&mut self, index: usize, text: &str) {
        let field = &mut self.fields[index];
        field.input = Input::new(text.to_owned());
        field.offered = false;
    }

    /// Chooses the first choice of choice field `index`, if it has any (cash comes first).
    pub fn choose_first(&mut self, index: usize) {
        if let FieldKind::Choice(choices) = &self.fields[index].kind
            && let Some(first) = choices.first().map(|choice| choice.label.clone())
        {
            self.set(index, &first);
        }
    }

    /// Ticks the choices of multiple-choice field `index` whose keys are in `keys` (loading
    /// stored values, or a default); call [`Form::mark_saved`] after loading.
    pub fn choose_many(&mut self, index: usize, keys: &[String]) {
        self.fields[index].tick(keys);
    }

    /// Offers `text` in field `index`, a value the desk knows (the premises address for a new
    /// owner): shown as it would be saved, with a note that the clerk did not type it, until
    /// edited. Entered, it is selected as any field's text is ([`Form::is_selected`]): a
    /// character typed replaces it, a deletion key clears it, a cursor key edits it in place.
    /// Offering does not make the form dirty.
    pub fn offer(&mut self, index: usize, text: &str) {
        self.set(index, text);
        self.fields[index].offered = true;
        if let Some(saved) = self.pristine.get_mut(index) {
            *saved = text.to_owned();
        }
    }

    /// Whether the focused field's whole text is selected, as a Windows edit box entered by
    /// Tab selects it: a character typed replaces it, Backspace or Delete deletes it, a
    /// cursor key drops the selection and edits in place. An empty field has nothing to
    /// select; a choice keeps its own keys (typing opens its list).
    pub fn is_selected(&self) -> bool {
        let field = &self.fields[self.focus];
        self.entered
            && !field.value().is_empty()
            && !matches!(field.kind, FieldKind::Choice(_) | FieldKind::Choices(_))
    }

    /// The text of field `index`.
    pub fn value(&self, index: usize) -> &str {
        self.fields[index].value()
    }

    /// The current values become the saved state: the form is no longer dirty.
    pub fn mark_saved(&mut self) {
        self.pristine = self.fields.iter().map(|f| f.value().to_owned()).collect();
        self.asked_leave = false;
    }

    /// Something typed that is not saved.
    pub fn is_dirty(&self) -> bool {
        self.fields
            .iter()
            .zip(&self.pristine)
            .any(|(field, saved)| field.value() != saved)
    }

    /// Marks the fields the screen's rules refused, clears the others' errors and puts the
    /// cursor on the first bad one, at the end of its text and with nothing selected: the
    /// clerk corrects what they typed, and the next key typed (maybe typed ahead behind F2)
    /// never wipes it.
    pub fn fail(&mut self, errors: &[(usize, String)]) {
        for (index, field) in self.fields.iter_mut().enumerate() {
            field.error = errors
                .iter()
                .find(|(bad, _)| *bad == index)
                .map(|(_, text)| text.clone());
        }
        if let Some(first) = self.fields.iter().position(|f| f.error.is_some()) {
            self.focus = first;
            self.entered = false;
        }
    }

    /// The first field in error and its error: for the message line.
    pub fn first_error(&self) -> Option<(usize, &str)> {
        self.fields
            .iter()
            .enumerate()
            .find_map(|(index, f)| f.error.as_deref().map(|e| (index, e)))
    }

    /// Every field that fails its kind's check, with why, without marking them: for a screen
    /// that adds its own rules' errors before [`Form::fail`].
    pub fn kind_errors(&self, lang: Lang) -> Vec<(usize, String)> {
        self.fields
            .iter()
            .enumerate()
            .filter_map(|(index, field)| field.check(lang).map(|e| (index, e)))
            .collect()
    }

    /// Checks every field by its kind, marking each bad one; the cursor goes to the first.
    pub fn check(&mut self, lang: Lang) -> bool {
        let errors = self.kind_errors(lang);
        self.fail(&errors);
        errors.is_empty()
    }

    /// The choices of the open lookup that match its filter (case-insensitive, anywhere).
    pub fn lookup_matches(&self) -> Vec<&Choice> {
        let (Some(lookup), FieldKind::Choice(choices) | FieldKind::Choices(choices)) =
            (&self.lookup, &self.fields[self.focus].kind)
        else {
            return Vec::new();
        };
        choices_matching(choices, lookup.filter.value())
    }

    /// Auto-advance: the focus moves on from `index` by itself, and the Tab that may follow is
    /// swallowed; the last field stays.
    fn advance_from(&mut self, index: usize) {
        if index == self.focus && index + 1 < self.fields.len() {
            self.move_focus(true);
            self.advanced = true;
        }
    }

    /// The focus to the next or previous field, whose text is then selected. At either end
    /// the focus stays, and so does the cursor: Up on the first field or Tab on the last
    /// enters nothing, and must not leave what the clerk is typing selected for the next key
    /// to replace. A full field there is selected all the same: it takes no further
    /// character, so the next one replaces it rather than being refused.
    fn move_focus(&mut self, forward: bool) {
        self.fields[self.focus].tidy();
        let last = self.fields.len().saturating_sub(1);
        let to = if forward {
            (self.focus + 1).min(last)
        } else {
            self.focus.saturating_sub(1)
        };
        if to != self.focus || self.fields[to].is_full() {
            self.focus = to;
            self.entered = true;
        }
    }

    fn confirm(&mut self, lang: Lang) -> FormEvent {
        self.fields[self.focus].tidy();
        if self.check(lang) {
            FormEvent::Submit
        } else {
            FormEvent::Invalid
        }
    }

    /// Handles one key; `command` is what the keymap makes of it.
    pub fn on_key(
        &mut self,
        key: KeyEvent,
        command: Option<Command>,
        typing: impl Into<Typing>,
    ) -> FormEvent {
        let Typing { lang, auto_advance } = typing.into();
        let leaving = matches!(command, Some(Command::Leave | Command::Cancel));
        if !leaving {
            self.asked_leave = false;
        }
        if std::mem::take(&mut self.advanced) && command == Some(Command::NextField) {
            return FormEvent::Consumed;
        }
        if self.lookup.is_some() {
            let event = self.on_lookup_key(key, command);
            // F2 in a list picks, then saves as on the form: "No" and F2 typed in one burst
            // saved nothing, silently (s43-e). No match keeps the list open, nothing saved.
            if command == Some(Command::Save) && self.lookup.is_none() {
                return self.confirm(lang);
            }
            if let FormEvent::Edited(index) = event
                && self.lookup.is_none()
                && auto_advance
            {
                self.advance_from(index);
            }
            return event;
        }
        if edits_text(&key) {
            if let FieldKind::Choice(_) | FieldKind::Choices(_) = self.fields[self.focus].kind {
                return self.on_choice_key(key);
            }
            let selected = self.is_selected();
            let field = &mut self.fields[self.focus];
            match field.edit(key, selected) {
                Edit::Unchanged => {
                    self.entered = false;
                    return FormEvent::Consumed;
                }
                Edit::Changed => self.entered = false,
            }
            // Said for as long as it is wrong: the next character taken does not clear it.
            field.error = field.wrong_as_typed(lang);
            let edited = self.focus;
            if field.error.is_some() {
                return FormEvent::Refused(edited);
            }
            // Unless the desk asked for it, the cursor stays: a clerk types ahead and presses
            // Tab after every field, so a field that moved on by itself when full would send
            // the rest of the form one field off (ui.md, Data entry).
            if auto_advance && self.fields[edited].is_full() {
                self.advance_from(edited);
            }
            return FormEvent::Edited(edited);
        }
        let last = self.focus + 1 == self.fields.len();
        match (key.code, command) {
            (KeyCode::Enter, _) if last => self.confirm(lang),
            (KeyCode::Enter | KeyCode::Down, _) | (_, Some(Command::NextField)) => {
                self.move_focus(true);
                FormEvent::Consumed
            }
            (KeyCode::Up, _) | (_, Some(Command::PrevField)) => {
                self.move_focus(false);
                FormEvent::Consumed
            }
            (_, Some(Command::Save)) => self.confirm(lang),
            (_, Some(Command::Lookup)) => {
                if matches!(
                    self.fields[self.focus].kind,
                    FieldKind::Choice(_) | FieldKind::Choices(_)
                ) {
                    self.lookup = Some(Lookup::default());
                }
                FormEvent::Consumed
            }
            (_, Some(Command::Leave | Command::Cancel)) => {
                if self.is_dirty() && !self.asked_leave {
                    self.asked_leave = true;
                    FormEvent::AskLeave
                } else {
                    FormEvent::Leave
                }
            }
            _ => FormEvent::Unhandled,
        }
    }

    /// Typing on a choice field opens its lookup with what was typed as the filter (a Space
    /// opens it searching nothing: no label begins with one, and in its list Space picks);
    /// Backspace, Delete and Ctrl-U clear the choice.
    fn on_choice_key(&mut self, key: KeyEvent) -> FormEvent {
        match key.code {
            KeyCode::Char(_) if Key::of(&key).is_text() => {
                let mut lookup = Lookup::default();
                if !is_space(&key) {
                    lookup.filter.handle_event(&Event::Key(key));
                }
                self.lookup = Some(lookup);
                FormEvent::Consumed
            }
            // Ctrl-U clears a choice as it clears a text.
            KeyCode::Backspace | KeyCode::Delete | KeyCode::Char('u') => {
                self.fields[self.focus].input.reset();
                FormEvent::Edited(self.focus)
            }
            _ => FormEvent::Consumed,
        }
    }

    /// Whether a Space in the open list goes on with its search: some name holds what is
    /// searched followed by a space (a name typed in full, "Reprint receipts"). Otherwise, in
    /// a multiple choice's list, Space ticks as Enter does (a first-day administrator's key
    /// for a tick box), and a search never ends in "No match" by a Space.
    fn space_searches(&self) -> bool {
        let (Some(lookup), FieldKind::Choice(choices) | FieldKind::Choices(choices)) =
            (&self.lookup, &self.fields[self.focus].kind)
        else {
            return false;
        };
        let filter = lookup.filter.value();
        !filter.is_empty() && !choices_matching(choices, &format!("{filter} ")).is_empty()
    }

    fn on_lookup_key(&mut self, key: KeyEvent, command: Option<Command>) -> FormEvent {
        let count = self.lookup_matches().len();
        let picked = self
            .lookup_matches()
            .get(self.lookup.as_ref().map_or(0, |l| l.selected))
            .map(|&choice| choice.clone());
        let many = matches!(self.fields[self.focus].kind, FieldKind::Choices(_));
        let ticks = key.code == KeyCode::Enter || (is_space(&key) && !self.space_searches());
        let Some(lookup) = self.lookup.as_mut() else {
            return FormEvent::Unhandled;
        };
        match (key.code, command) {
            (_, Some(Command::Cancel | Command::Leave)) => self.lookup = None,
            (KeyCode::Up, _) => lookup.selected = lookup.selected.saturating_sub(1),
            (KeyCode::Down, _) => {
                lookup.selected = (lookup.selected + 1).min(count.saturating_sub(1))
            }
            // A clerk typing ahead types the start of a choice and Tab, as on any field: the
            // highlighted match is taken and the cursor moves on (no match: nothing to take,
            // the list stays open with what was typed).
            (_, Some(step @ (Command::NextField | Command::PrevField))) => {
                let index = self.focus;
                let edited = if many {
                    // The start of a choice typed and Tab, nothing ticked in the list: the
                    // highlighted match is ticked, as a single choice takes it (s39-g, by
                    // hand: "Super" Tab on an operator's roles closed the list and saved a
                    // clerk). A choice ticked or unticked in the list is the clerk's pick,
                    // and a list opened searching nothing only closes.
                    if lookup.ticked || lookup.filter.value().is_empty() {
                        FormEvent::Consumed
                    } else {
                        let Some(choice) = picked else {
                            return FormEvent::Consumed;
                        };
                        let field = &mut self.fields[index];
                        field.tick_typed(&choice.key);
                        FormEvent::Edited(index)
                    }
                } else {
                    let Some(choice) = picked else {
                        return FormEvent::Consumed;
                    };
                    let field = &mut self.fields[index];
                    field.input = Input::new(choice.label);
                    field.error = None;
                    FormEvent::Edited(index)
                };
                self.lookup = None;
                self.move_focus(step == Command::NextField);
                return edited;
            }
            // F2 with the start of a choice typed ticks it as Tab does, and closes the list.
            (_, Some(Command::Save)) if many => {
                let typed = !lookup.ticked && !lookup.filter.value().is_empty();
                self.lookup = None;
                if let Some(choice) = picked.filter(|_| typed) {
                    let index = self.focus;
                    let field = &mut self.fields[index];
                    field.tick_typed(&choice.key);
                    return FormEvent::Edited(index);
                }
            }
            _ if many && ticks => {
                let Some(choice) = picked else {
                    return FormEvent::Consumed;
                };
                lookup.ticked = true;
                let index = self.focus;
                let field = &mut self.fields[index];
                field.toggle(&choice.key);
                field.error = None;
                return FormEvent::Edited(index);
            }
            // A Space that goes on with no search picks, as Enter does.
            _ if ticks || command == Some(Command::Save) => {
                let Some(choice) = picked else {
                    return FormEvent::Consumed;
                };
                self.lookup = None;
                let index = self.focus;
                let field = &mut self.fields[index];
                field.input = Input::new(choice.label);
                field.error = None;
                // Picking is not leaving the field: Tab does that, as on every other field.
                return FormEvent::Edited(index);
            }
            _ if edits_text(&key) => {
                lookup.filter.handle_event(&Event::Key(key));
                lookup.selected = 0;
            }
            _ => {}
        }
        FormEvent::Consumed
    }
}

/// The choices whose label holds `filter` (case-insensitive, anywhere).
fn choices_matching<'a>(choices: &'a [Choice], filter: &str) -> Vec<&'a Choice> {
    let filter = filter.to_lowercase();
    choices
        .iter()
        .filter(|c| c.label.to_lowercase().contains(&filter))
        .collect()
}

/// A Space typed (not with Ctrl or Alt): in a choice's list it picks (ticks, in a multiple one).
fn is_space(key: &KeyEvent) -> bool {
    key.code == KeyCode::Char(' ') && Key::of(key).is_text()
}

/// The catalogue text of a field error, placeholders filled.
pub fn field_error_text(lang: Lang, error: &FieldError) -> String {
    // The texts with placeholders are filled in; every other error is its key's text.
    let key = match error {
        FieldError::TooLong { max } => return lang.tf("field_error.too_long", &[("max", max)]),
        FieldError::NameCharacter { character } => {
            return lang.tf("field_error.name_character", &[("character", character)]);
        }
        FieldError::OutOfRange { min, max } => {
            return lang.tf("field_error.out_of_range", &[("min", min), ("max", max)]);
        }
        FieldError::TooManyDecimals { max } => {
            return lang.tf("field_error.decimals", &[("max", max)]);
        }
        FieldError::AboveMaximum { max } => {
            return lang.tf("field_error.above", &[("max", &with_thousands(*max))]);
        }
        FieldError::NotANumber { example } => {
            return lang.tf(
                "field_error.not_a_number",
                &[("example", &with_thousands(*example))],
            );
        }
        FieldError::ThousandsSeparator { example } => {
            return lang.tf(
                "field_error.thousands",
                &[("example", &with_thousands(*example))],
            );
        }
        FieldError::Required => "field_error.required",
        FieldError::ControlCharacter => "field_error.control_character",
        FieldError::MobileNumber => "field_error.mobile",
        FieldError::LandlineNumber => "field_error.landline",
        FieldError::PhoneNumber => "field_error.phone",
        FieldError::IdNumberLength => "field_error.id_length",
        FieldError::IdNumberCharacters => "field_error.id_characters",
        FieldError::IdNumberBirthDate => "field_error.id_birth_date",
        FieldError::IdNumberFutureBirthDate => "strict.id_birth_future",
        FieldError::IdNumberCheckCharacter => "field_error.id_check",
        FieldError::CreditCodeLength => "field_error.credit_length",
        FieldError::CreditCodeCharacters => "field_error.credit_characters",
        FieldError::CreditCodeCheckCharacter => "field_error.credit_check",
        FieldError::Email => "field_error.email",
        FieldError::NotAWholeNumber => "field_error.whole_number",
        FieldError::DigitsOnly => "field_error.digits_only",
        FieldError::Negative => "field_error.negative",
    };
    lang.t(key).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn sample() -> Form {
        Form::new(vec![
            Field::new("details.address", FieldKind::Text { max: 10 }, true),
            Field::new("details.phone", FieldKind::Digits { len: 3 }, true),
            Field::new(
                "details.balance",
                FieldKind::Amount {
                    max: Decimal::new(1000, 0),
                },
                false,
            ),
            Field::new(
                "details.type",
                FieldKind::Choice(vec![
                    Choice {
                        key: "1".into(),
                        label: "Residents".into(),
                    },
                    Choice {
                        key: "2".into(),
                        label: "Shops".into(),
                    },
                ]),
                true,
            ),
            Field::new("details.opened", FieldKind::Date, false),
        ])
    }

    fn send(form: &mut Form, code: KeyCode, command: Option<Command>) -> FormEvent {
        form.on_key(key(code), command, Lang::En)
    }

    fn typed(form: &mut Form, text: &str) {
        typed_on(form, text, Lang::En);
    }

    /// `text` typed key by key on a desk that types as `typing` says.
    fn typed_on(form: &mut Form, text: &str, typing: impl Into<Typing> + Copy) {
        for c in text.chars() {
            form.on_key(key(KeyCode::Char(c)), None, typing);
        }
    }

    /// The sample form with `text` typed into field `index`.
    fn typed_into(index: usize, text: &str) -> Form {
        let mut form = sample();
        form.focus = index;
        typed(&mut form, text);
        form
    }

    #[test]
    fn a_field_keeps_what_its_kind_reads_of_the_keys() {
        // Each case: the field (1 digits of 3, 2 an amount, 4 a date), the keys, what it holds.
        let cases = [
            (1, "1a２", "1a2"),
            (1, "1a２34", "1a234"),
            (1, "１２３", "123"),
            (4, "２０２６－０３－０１", "2026-03-01"),
            (2, "１２．５", "12.5"),
            (2, "12x.5", "12x.5"),
            (2, "-5", "-5"),
        ];
        for (index, keys, kept) in cases {
            let form = typed_into(index, keys);
            assert_eq!(form.value(index), kept, "{keys:?} into field {index}");
        }
        let date = typed_into(4, "２０２６－０３－０１");
        assert_eq!(
            date.fields[4].check(Lang::En),
            None,
            "full-width digits make a date"
        );
    }

    /// The sample form as loaded for a modify: every field holds a value.
    fn loaded() -> Form {
        let mut form = sample();
        for (index, text) in [(0, "Li Ming"), (1, "123"), (2, "12.50"), (4, "2026-03-01")] {
            form.set(index, text);
        }
        form.mark_saved();
        form
    }

    #[test]
    fn a_field_entered_has_its_text_selected_and_typing_replaces_it() {
        let mut form = loaded();
        assert!(form.is_selected(), "the first field, as the form opens");
        typed(&mut form, "Wang");
        assert_eq!(form.value(0), "Wang", "replaced, not appended");
        assert!(!form.is_selected());
        send(&mut form, KeyCode::Tab, Some(Command::NextField));
        assert!(form.is_selected(), "entered by Tab");
        typed(&mut form, "45");
        assert_eq!(
            form.value(1),
            "45",
            "a digit typed replaces the digits held"
        );
        send(&mut form, KeyCode::Enter, None);
        typed(&mut form, "7");
        assert_eq!(form.value(2), "7", "entered by Enter");
        send(&mut form, KeyCode::BackTab, Some(Command::PrevField));
        typed(&mut form, "6");
        assert_eq!(form.value(1), "6", "entered by Shift-Tab");
        form.focus = 4;
        send(&mut form, KeyCode::Up, None);
        send(&mut form, KeyCode::Down, None);
        typed(&mut form, "2027-01-02");
        assert_eq!(form.value(4), "2027-01-02", "a date entered by an arrow");
    }

    #[test]
    fn deleting_the_selection_empties_the_field_and_a_cursor_key_edits_in_place() {
        for deletion in [KeyCode::Backspace, KeyCode::Delete] {
            let mut form = loaded();
            send(&mut form, deletion, None);
            assert_eq!(form.value(0), "", "{deletion:?}");
            typed(&mut form, "Wang");
            assert_eq!(form.value(0), "Wang");
        }
        for (cursor_key, edited) in [
            (KeyCode::Left, "XLi Ming"),
            (KeyCode::Home, "XLi Ming"),
            (KeyCode::Right, "Li MingX"),
            (KeyCode::End, "Li MingX"),
        ] {
            let mut form = loaded();
            send(&mut form, cursor_key, None);
            assert!(!form.is_selected(), "{cursor_key:?} drops the selection");
            typed(&mut form, "X");
            assert_eq!(form.value(0), edited, "{cursor_key:?}");
        }
        let mut form = loaded();
        form.on_key(
            KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL),
            None,
            Lang::En,
        );
        assert_eq!(
            form.value(0),
            "",
            "Ctrl-W deletes the selection, not a word"
        );
        let mut form = loaded();
        send(&mut form, KeyCode::End, None);
        send(&mut form, KeyCode::Backspace, None);
        assert_eq!(
            form.value(0),
            "Li Min",
            "no selection: one character deleted"
        );
    }

    /// Whether the bad field is selected once F2 finds it must not hang on the key pressed
    /// before F2 (Tab past an optional field, or a character typed): it never is, and what
    /// the clerk types next corrects it in place.
    #[test]
    fn an_error_puts_the_cursor_in_the_bad_field_without_selecting_it() {
        for last_key in [KeyCode::Tab, KeyCode::Char('1')] {
            let mut form = loaded();
            form.set(0, "Li Ming, Flat 1 and more");
            form.focus = 4;
            let command = (last_key == KeyCode::Tab).then_some(Command::NextField);
            send(&mut form, last_key, command);
            assert_eq!(
                send(&mut form, KeyCode::F(2), Some(Command::Save)),
                FormEvent::Invalid
            );
            assert_eq!(form.focus, 0, "{last_key:?}");
            assert!(!form.is_selected(), "{last_key:?}");
            send(&mut form, KeyCode::Backspace, None);
            assert_eq!(form.value(0), "Li Ming, Flat 1 and mor", "{last_key:?}");
        }
    }

    /// Up on the first field and Tab or Down on the last move nothing: the text being
    /// corrected is not selected, and the next character is added to it.
    #[test]
    fn a_step_past_either_end_selects_nothing() {
        let cases = [
            (0, KeyCode::Up, None, "g", "Li Ming"),
            (
                0,
                KeyCode::BackTab,
                Some(Command::PrevField),
                "g",
                "Li Ming",
            ),
            (4, KeyCode::Tab, Some(Command::NextField), "2", "2026-03-02"),
            (4, KeyCode::Down, None, "2", "2026-03-02"),
        ];
        for (index, step, command, last, corrected) in cases {
            let mut form = loaded();
            form.focus = index;
            send(&mut form, KeyCode::End, None);
            send(&mut form, KeyCode::Backspace, None);
            send(&mut form, step, command);
            assert_eq!(form.focus, index, "{step:?}");
            assert!(!form.is_selected(), "{step:?}");
            typed(&mut form, last);
            assert_eq!(form.value(index), corrected, "{step:?}");
        }
    }

    /// Tab or Down on the last field, full, selects it: the date typed next replaces it
    /// (session 33, by hand: on the audit filter's full last date every digit was refused).
    #[test]
    fn a_step_past_the_end_of_a_full_field_selects_it() {
        for (step, command) in [
            (KeyCode::Tab, Some(Command::NextField)),
            (KeyCode::Down, None),
        ] {
            let mut form = loaded();
            form.focus = 4;
            send(&mut form, KeyCode::End, None);
            send(&mut form, step, command);
            assert_eq!(form.focus, 4, "{step:?}");
            assert!(form.is_selected(), "{step:?}");
            typed(&mut form, "2027-01-02");
            assert_eq!(form.value(4), "2027-01-02", "{step:?}");
        }
    }

    #[test]
    fn a_wrong_character_over_the_selection_replaces_it_and_is_said() {
        let mut form = loaded();
        form.focus = 1;
        assert_eq!(
            form.on_key(key(KeyCode::Char('x')), None, Lang::En),
            FormEvent::Refused(1)
        );
        assert_eq!(form.value(1), "x", "typed over the selection: replaces it");
        assert_eq!(form.fields[1].error.as_deref(), Some("digits only"));
        form.on_key(key(KeyCode::Backspace), None, Lang::En);
        typed(&mut form, "9");
        assert_eq!(form.value(1), "9");
        assert_eq!(form.fields[1].error, None, "right again: said no more");
    }

    #[test]
    fn an_empty_field_or_a_choice_has_no_selection() {
        let mut form = sample();
        assert!(!form.is_selected(), "nothing to select");
        typed(&mut form, "Li");
        send(&mut form, KeyCode::Tab, Some(Command::NextField));
        send(&mut form, KeyCode::BackTab, Some(Command::PrevField));
        send(&mut form, KeyCode::End, None);
        typed(&mut form, " Ming");
        assert_eq!(form.value(0), "Li Ming");
        form.set(3, "Shops");
        form.focus = 2;
        send(&mut form, KeyCode::Tab, Some(Command::NextField));
        assert!(!form.is_selected(), "a choice keeps its own keys");
        typed(&mut form, "re");
        assert!(form.lookup.is_some(), "typing opens its list");
        assert_eq!(form.value(3), "Shops");
    }

    #[test]
    fn a_full_field_keeps_the_cursor() {
        let form = typed_into(1, "1234");
        assert_eq!(form.value(1), "1234", "the 4 is kept, and said too many");
        assert_eq!(
            form.focus, 1,
            "full: the cursor stays until the clerk moves it"
        );
        assert_eq!(form.value(2), "", "nothing lands in the next field");
    }

    #[test]
    fn a_space_or_tab_in_a_digit_field_separates_digits_and_is_left_out() {
        let mut form = sample();
        form.focus = 1;
        typed(&mut form, "1 2\t3");
        assert_eq!(form.value(1), "123", "the digits, none lost");
        assert_eq!(form.fields[1].error, None);
    }

    /// s38-e at 80×24: a refused character's words lasted until the next character taken, so
    /// in a burst they were never seen, and the character was gone ("-3" became "3"). Every
    /// character stays, and the field says what is wrong for as long as it is.
    #[test]
    fn a_wrong_text_is_kept_and_said_until_it_is_right() {
        let mut form = sample();
        form.focus = 1;
        assert_eq!(
            form.on_key(key(KeyCode::Char('-')), None, Lang::En),
            FormEvent::Refused(1)
        );
        assert_eq!(
            form.on_key(key(KeyCode::Char('3')), None, Lang::En),
            FormEvent::Refused(1),
            "the next character taken does not hide it"
        );
        assert_eq!(form.value(1), "-3");
        assert_eq!(form.fields[1].error.as_deref(), Some("digits only"));
        form.on_key(key(KeyCode::Home), None, Lang::En);
        form.on_key(key(KeyCode::Delete), None, Lang::En);
        assert_eq!(form.value(1), "3");
        assert_eq!(form.fields[1].error, None, "right: no word left");
        form.on_key(key(KeyCode::End), None, Lang::En);
        typed(&mut form, "456");
        assert_eq!(form.value(1), "3456", "nothing typed is lost or added");
        assert_eq!(form.fields[1].error.as_deref(), Some("at most 3 digits"));
        form.focus = 4;
        typed(&mut form, "2026-0x");
        assert_eq!(form.value(4), "2026-0x");
        assert_eq!(
            form.fields[4].error.as_deref(),
            Some("a date, e.g. 2026-11-28")
        );
        form.on_key(key(KeyCode::Backspace), None, Lang::En);
        assert_eq!(form.fields[4].error, None, "unfinished is not wrong yet");
        typed(&mut form, "2-30");
        assert_eq!(
            form.fields[4].error.as_deref(),
            Some("no such day: 2026-02 has 28 days")
        );
        typed(&mut form, "1");
        assert_eq!(
            form.fields[4].error.as_deref(),
            Some("a date, e.g. 2026-11-28"),
            "longer than a date"
        );
    }

    #[test]
    fn a_confirm_refuses_while_a_digit_field_or_a_date_is_wrong() {
        for (index, text, error) in [
            (1, "12o", "digits only"),
            (1, "12o4", "digits only, at most 3"),
            (1, "1234", "at most 3 digits"),
            (4, "2026-03", "a date, e.g. 2026-11-28"),
            (4, "2026-0３-0a", "a date, e.g. 2026-11-28"),
        ] {
            let mut form = loaded();
            form.set(3, "Shops");
            form.focus = index;
            send(&mut form, KeyCode::Delete, None);
            typed(&mut form, text);
            assert_eq!(
                send(&mut form, KeyCode::F(2), Some(Command::Save)),
                FormEvent::Invalid,
                "{text:?}"
            );
            assert_eq!(form.first_error(), Some((index, error)), "{text:?}");
            assert_eq!(form.value(index), text.replace('３', "3"), "kept whole");
        }
    }

    #[test]
    fn auto_advance_never_moves_on_from_a_wrong_field() {
        let mut form = sample();
        form.focus = 1;
        typed_on(&mut form, "1a3", ADVANCING);
        assert_eq!(form.focus, 1, "full but wrong: stays to be corrected");
    }

    /// A desk whose fields move on by themselves when full.
    const ADVANCING: Typing = Typing {
        lang: Lang::En,
        auto_advance: true,
    };

    #[test]
    fn auto_advance_when_asked_moves_on_and_swallows_the_tab_after() {
        let mut form = sample();
        form.focus = 1;
        typed_on(&mut form, "123", ADVANCING);
        assert_eq!(form.focus, 2, "full: moved on by itself");
        let tab = form.on_key(key(KeyCode::Tab), Some(Command::NextField), ADVANCING);
        assert_eq!(tab, FormEvent::Consumed);
        assert_eq!(form.focus, 2, "the clerk's Tab after it is swallowed");
        form.on_key(key(KeyCode::Tab), Some(Command::NextField), ADVANCING);
        assert_eq!(form.focus, 3, "a second Tab moves on");
        typed_on(&mut form, "sh", ADVANCING);
        form.on_key(key(KeyCode::Enter), None, ADVANCING);
        assert_eq!(form.value(3), "Shops");
        assert_eq!(form.focus, 4, "a pick from the list moves on too");
        typed_on(&mut form, "2026-03-01", ADVANCING);
        assert_eq!(form.focus, 4, "the last field stays");
    }

    #[test]
    fn a_key_between_ends_the_swallowing() {
        let mut form = sample();
        form.focus = 1;
        typed_on(&mut form, "123x", ADVANCING);
        assert_eq!(form.focus, 2);
        form.on_key(key(KeyCode::Tab), Some(Command::NextField), ADVANCING);
        assert_eq!(
            form.focus, 3,
            "the x in between: this Tab is the clerk's own"
        );
    }

    #[test]
    fn an_amount_that_is_not_one_is_refused_as_typed() {
        for (typed, error) in [
            ("-5", "must not be negative"),
            ("1e9", "not a number, e.g. 1,234.56"),
            ("12,5", "commas separate thousands: 1,234.56"),
        ] {
            let form = typed_into(2, typed);
            assert_eq!(form.value(2), typed, "nothing typed is dropped");
            assert_eq!(
                form.fields[2].check(Lang::En).as_deref(),
                Some(error),
                "{typed:?}"
            );
        }
    }

    #[test]
    fn amounts_get_two_decimals_when_left() {
        let mut form = typed_into(2, "12.5");
        send(&mut form, KeyCode::Tab, Some(Command::NextField));
        assert_eq!(form.value(2), "12.50");
        assert_eq!(form.focus, 3);
    }

    #[test]
    fn f2_on_bad_fields_marks_them_and_focuses_the_first() {
        let mut form = typed_into(4, "2026-13");
        assert_eq!(
            send(&mut form, KeyCode::F(2), Some(Command::Save)),
            FormEvent::Invalid
        );
        assert_eq!(form.focus, 0);
        assert_eq!(form.first_error(), Some((0, "required")));
        assert!(form.fields[1].error.is_some());
        assert!(form.fields[3].error.is_some());
        assert!(form.fields[4].error.is_some(), "not a date");
        assert!(form.fields[2].error.is_none(), "optional and blank");
        assert_eq!(form.value(4), "2026-13", "nothing typed is lost");
        typed(&mut form, "Li");
        assert!(
            form.fields[0].error.is_none(),
            "typing clears the field's error"
        );
    }

    #[test]
    fn enter_moves_on_and_confirms_on_the_last_field() {
        let mut form = sample();
        typed(&mut form, "Li");
        send(&mut form, KeyCode::Enter, None);
        typed(&mut form, "123");
        send(&mut form, KeyCode::Enter, None);
        send(&mut form, KeyCode::Enter, None);
        assert_eq!(form.focus, 3);
        typed(&mut form, "sho");
        assert_eq!(form.lookup_matches().len(), 1);
        assert_eq!(send(&mut form, KeyCode::Enter, None), FormEvent::Edited(3));
        assert_eq!(form.fields[3].chosen().map(|c| c.key.as_str()), Some("2"));
        assert_eq!(form.focus, 3, "picking stays on the field");
        send(&mut form, KeyCode::Enter, None);
        assert_eq!(form.focus, 4);
        assert_eq!(send(&mut form, KeyCode::Enter, None), FormEvent::Submit);
    }

    #[test]
    fn f4_lists_the_choices_and_cancel_closes_the_list() {
        let mut form = sample();
        form.focus = 3;
        send(&mut form, KeyCode::F(4), Some(Command::Lookup));
        assert_eq!(form.lookup_matches().len(), 2);
        send(&mut form, KeyCode::Down, None);
        send(&mut form, KeyCode::Esc, Some(Command::Cancel));
        assert!(form.lookup.is_none());
        assert_eq!(form.value(3), "", "cancelled: nothing chosen");
        send(&mut form, KeyCode::F(4), Some(Command::Lookup));
        send(&mut form, KeyCode::Down, None);
        send(&mut form, KeyCode::Down, None);
        send(&mut form, KeyCode::Enter, None);
        assert_eq!(form.value(3), "Shops");
    }

    #[test]
    fn the_start_of_a_choice_and_tab_take_it_and_move_on() {
        let mut form = sample();
        form.focus = 3;
        typed(&mut form, "sh");
        assert!(form.lookup.is_some(), "typing on a choice opens its list");
        assert_eq!(
            send(&mut form, KeyCode::Tab, Some(Command::NextField)),
            FormEvent::Edited(3)
        );
        assert_eq!(form.value(3), "Shops");
        assert!(form.lookup.is_none());
        assert_eq!(form.focus, 4, "the Tab moved on, as on any field");

        // Nothing matches: nothing is taken, the list stays with what was typed.
        form.focus = 3;
        typed(&mut form, "zz");
        send(&mut form, KeyCode::Tab, Some(Command::NextField));
        assert_eq!(form.value(3), "Shops");
        assert_eq!(form.focus, 3);
        assert_eq!(
            form.lookup.as_ref().map(|lookup| lookup.filter.value()),
            Some("zz")
        );
    }

    /// The labels of the ticked choices of field `index`.
    fn ticked_labels(form: &Form, index: usize) -> Vec<&str> {
        form.fields[index]
            .chosen_many()
            .iter()
            .map(|c| c.label.as_str())
            .collect()
    }

    /// The keys of the ticked choices of field `index`.
    fn ticked_keys(form: &Form, index: usize) -> Vec<&str> {
        form.fields[index]
            .chosen_many()
            .iter()
            .map(|c| c.key.as_str())
            .collect()
    }

    /// A form of one multiple choice among `labels`, keyed `code.0`, `code.1`, ….
    fn many_choices(labels: &[&str]) -> Form {
        let choices = labels
            .iter()
            .enumerate()
            .map(|(key, label)| Choice {
                key: format!("code.{key}"),
                label: (*label).into(),
            })
            .collect();
        Form::new(vec![Field::new(
            "details.type",
            FieldKind::Choices(choices),
            true,
        )])
    }

    #[test]
    fn several_choices_are_ticked_in_the_list_and_kept_in_its_order() {
        let mut form = many_choices(&["Cash", "Bank card", "WeChat Pay"]);
        typed(&mut form, "we");
        send(&mut form, KeyCode::Enter, None);
        assert!(form.lookup.is_some(), "the list stays open");
        send(&mut form, KeyCode::Backspace, None);
        send(&mut form, KeyCode::Backspace, None);
        send(&mut form, KeyCode::Enter, None);
        assert_eq!(ticked_labels(&form, 0), ["Cash", "WeChat Pay"]);
        send(&mut form, KeyCode::Down, None);
        send(&mut form, KeyCode::Down, None);
        send(&mut form, KeyCode::Enter, None);
        assert_eq!(
            ticked_labels(&form, 0),
            ["Cash"],
            "Enter on a ticked one unticks it"
        );
        send(&mut form, KeyCode::Esc, Some(Command::Cancel));
        assert!(form.lookup.is_none());
        assert_eq!(ticked_keys(&form, 0), ["code.0"]);
        form.set(0, "code.0\u{1f}gold");
        assert!(!form.check(Lang::En), "gold is not a choice");
        send(&mut form, KeyCode::Delete, None);
        assert_eq!(form.value(0), "", "Delete clears the field");
    }

    /// In a multiple choice's list Space ticks and unticks as Enter does, and on its field
    /// opens the list searching nothing (s33-c's walk: Space typed into the search, "No
    /// match"); a Space that goes on with a name typed in full is searched.
    #[test]
    fn space_ticks_in_a_multiple_choices_list() {
        let mut form = many_choices(&["Cash", "Bank card", "WeChat Pay"]);
        let searched = |form: &Form| form.lookup.as_ref().map(|l| l.filter.value().to_owned());
        send(&mut form, KeyCode::Char(' '), None);
        assert_eq!(searched(&form).as_deref(), Some(""), "the list opens");
        send(&mut form, KeyCode::Char(' '), None);
        assert_eq!(ticked_labels(&form, 0), ["Cash"]);
        typed(&mut form, "bank card");
        assert_eq!(
            searched(&form).as_deref(),
            Some("bank card"),
            "a name in full"
        );
        assert_eq!(ticked_labels(&form, 0), ["Cash"]);
        send(&mut form, KeyCode::Char(' '), None);
        assert_eq!(ticked_labels(&form, 0), ["Cash", "Bank card"]);
        assert_eq!(
            searched(&form).as_deref(),
            Some("bank card"),
            "no match left"
        );
        send(&mut form, KeyCode::Char(' '), None);
        assert_eq!(ticked_labels(&form, 0), ["Cash"], "Space again unticks");
    }

    /// s43-e, by hand: "No" typed on the reading's rollover and F2, in one burst, picked "No"
    /// and saved nothing, with nothing said. F2 in a list picks, then saves as F2 on the form
    /// does; with no match the list stays open and nothing is saved.
    #[test]
    fn f2_in_a_list_picks_and_saves() {
        let mut form = loaded();
        form.focus = 3;
        typed(&mut form, "sho");
        assert!(form.lookup.is_some());
        assert_eq!(
            send(&mut form, KeyCode::F(2), Some(Command::Save)),
            FormEvent::Submit
        );
        assert_eq!(form.value(3), "Shops");
        assert!(form.lookup.is_none());

        let mut form = loaded();
        form.set(0, "");
        form.focus = 3;
        typed(&mut form, "res");
        assert_eq!(
            send(&mut form, KeyCode::F(2), Some(Command::Save)),
            FormEvent::Invalid
        );
        assert_eq!(form.value(3), "Residents", "picked, then checked");
        assert_eq!(form.first_error(), Some((0, "required")));

        let mut form = loaded();
        form.focus = 3;
        typed(&mut form, "zzz");
        assert_eq!(
            send(&mut form, KeyCode::F(2), Some(Command::Save)),
            FormEvent::Consumed
        );
        assert!(form.lookup.is_some(), "no match: the list stays open");
        assert_eq!(form.value(3), "");
    }

    /// The start of a choice typed on a multiple choice and Tab (or F2) ticks the highlighted
    /// match, as on a single choice; a choice ticked or unticked in the list is left as the
    /// clerk made it, and a search with no match keeps the list open (s39-g, by hand: "Super"
    /// Tab on an operator's roles closed the list, and the operator was saved a clerk).
    #[test]
    fn the_start_of_a_choice_typed_and_tab_ticks_it_on_a_multiple_choice() {
        let mut form = many_choices(&["Cash", "Bank card", "WeChat Pay"]);
        form.set(0, "code.0");
        typed(&mut form, "bank");
        send(&mut form, KeyCode::Tab, Some(Command::NextField));
        assert_eq!(ticked_labels(&form, 0), ["Cash", "Bank card"], "Tab ticks");
        assert!(form.lookup.is_none());
        typed(&mut form, "bank");
        send(&mut form, KeyCode::Tab, Some(Command::NextField));
        assert_eq!(
            ticked_labels(&form, 0),
            ["Cash", "Bank card"],
            "never unticks"
        );
        typed(&mut form, "cash");
        send(&mut form, KeyCode::Enter, None);
        send(&mut form, KeyCode::Tab, Some(Command::NextField));
        assert_eq!(
            ticked_labels(&form, 0),
            ["Bank card"],
            "unticked in the list"
        );
        typed(&mut form, "wech");
        send(&mut form, KeyCode::F(2), Some(Command::Save));
        assert_eq!(
            ticked_labels(&form, 0),
            ["Bank card", "WeChat Pay"],
            "F2 ticks"
        );
        assert!(form.lookup.is_none());
        typed(&mut form, "gold");
        send(&mut form, KeyCode::Tab, Some(Command::NextField));
        assert!(form.lookup.is_some(), "no match: the list stays open");
        assert_eq!(ticked_labels(&form, 0), ["Bank card", "WeChat Pay"]);
        send(&mut form, KeyCode::Esc, Some(Command::Cancel));
        send(&mut form, KeyCode::F(4), Some(Command::Lookup));
        send(&mut form, KeyCode::Tab, Some(Command::NextField));
        assert_eq!(
            ticked_labels(&form, 0),
            ["Bank card", "WeChat Pay"],
            "a list opened searching nothing only closes"
        );
    }

    /// s34-d, by hand: a Space on the reading's yes/no field opened its list searching " ",
    /// "No match" (as s33-c found on a multiple choice). It opens the list searching nothing,
    /// and a Space in it picks, as Enter does.
    #[test]
    fn space_on_a_choice_opens_its_list_whole() {
        let choices = ["No", "Yes"].map(|label| Choice {
            key: label.to_lowercase(),
            label: label.into(),
        });
        let mut form = Form::new(vec![Field::new(
            "details.type",
            FieldKind::Choice(choices.to_vec()),
            true,
        )]);
        send(&mut form, KeyCode::Char(' '), None);
        let labels: Vec<_> = form.lookup_matches().iter().map(|c| &c.label).collect();
        assert_eq!(labels, ["No", "Yes"]);
        send(&mut form, KeyCode::Down, None);
        send(&mut form, KeyCode::Char(' '), None);
        assert_eq!(form.value(0), "Yes");
        assert!(form.lookup.is_none());
    }

    /// A multiple choice keeps its keys, not its labels: a label holding the separator it is
    /// drawn with (a permission named "Query and view customers, meters") is one choice.
    #[test]
    fn a_label_holding_a_comma_is_one_choice() {
        let mut form = many_choices(&["Query, view", "Deposit", "Refund, close"]);
        form.choose_many(0, &["code.0".to_owned(), "code.2".to_owned()]);
        form.mark_saved();
        assert_eq!(ticked_labels(&form, 0), ["Query, view", "Refund, close"]);
        assert!(form.check(Lang::En), "{:?}", form.first_error());
        typed(&mut form, "dep");
        send(&mut form, KeyCode::Enter, None);
        send(&mut form, KeyCode::Esc, Some(Command::Cancel));
        assert_eq!(ticked_keys(&form, 0), ["code.0", "code.1", "code.2"]);
        assert!(form.check(Lang::En));
    }

    #[test]
    fn ctrl_u_clears_any_field_and_ctrl_w_a_word() {
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        // Each field of the sample: a text, digits, an amount, a choice, a date.
        for (index, text) in [(0, "Li Ming"), (1, "123"), (2, "12.50"), (4, "2026-03-01")] {
            let mut form = typed_into(index, text);
            assert_eq!(form.value(index), text);
            form.on_key(ctrl('u'), None, Lang::En);
            assert_eq!(form.value(index), "", "field {index}");
        }
        let mut form = typed_into(0, "Li Ming");
        form.on_key(ctrl('w'), None, Lang::En);
        assert_eq!(form.value(0), "Li ");
        form.focus = 3;
        form.set(3, "Shops");
        form.on_key(ctrl('u'), None, Lang::En);
        assert_eq!(form.value(3), "");
        assert!(form.lookup.is_none(), "Ctrl-U opens no list");
    }

    #[test]
    fn leaving_a_dirty_form_asks_once() {
        let mut form = sample();
        assert_eq!(
            send(&mut form, KeyCode::F(3), Some(Command::Leave)),
            FormEvent::Leave
        );
        typed(&mut form, "x");
        assert_eq!(
            send(&mut form, KeyCode::F(3), Some(Command::Leave)),
            FormEvent::AskLeave
        );
        assert_eq!(
            send(&mut form, KeyCode::F(3), Some(Command::Leave)),
            FormEvent::Leave
        );
        send(&mut form, KeyCode::Char('y'), None);
        assert_eq!(
            send(&mut form, KeyCode::Esc, Some(Command::Cancel)),
            FormEvent::AskLeave,
            "another key in between: asks again"
        );
        form.mark_saved();
        assert!(!form.is_dirty());
    }

    #[test]
    fn other_keys_are_left_to_the_screen() {
        let mut form = sample();
        assert_eq!(
            send(&mut form, KeyCode::PageDown, Some(Command::PageDown)),
            FormEvent::Unhandled
        );
    }

    #[test]
    fn every_field_error_has_a_text() {
        let errors = [
            FieldError::Required,
            FieldError::TooLong { max: 3 },
            FieldError::OutOfRange { min: 1, max: 9 },
            FieldError::AboveMaximum {
                max: Decimal::new(5, 0),
            },
        ];
        for error in errors {
            let text = field_error_text(Lang::En, &error);
            assert!(!text.contains("field_error."), "{text}");
        }
        assert_eq!(
            field_error_text(Lang::En, &FieldError::TooLong { max: 3 }),
            "at most 3 characters"
        );
    }
}
