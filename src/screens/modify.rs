//! Modify a customer's basic information (`m` on the customer table): the form as read, with
//! the version it was read at. F2 saves unless nothing differs; a save that met another
//! clerk's names and marks what they changed, and overwrites nothing without a second F2.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::basic_info::{
    BasicForm, LoadBasics, answer_save, change_commands, customer_crumb, customer_number_heading,
    customer_write, draw_basic_form, key_to_form, label_key, leaves_or_refused_while_saving,
    nature_text, operator, who,
};
use super::transfer::TransferView;
use crate::app::form::Form;
use crate::app::requests::Read;
use crate::app::screen::{Notice, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub, Screen};
use crate::db::DbError;
use crate::db::customer_changes::{self, CustomerBasics, IdHolder, ModifyOutcome};
use crate::domain::customer_rules::{BasicInfo, Field, Nature};
use crate::i18n::Lang;
use crate::ui::inert::inert;
use crate::ui::theme::Theme;
use deadpool_postgres::Client;

/// Modify basic information: the form as read, with the version it was read at.
#[derive(Debug, Clone)]
pub struct ModifyView {
    pub customer_id: i64,
    pub customer_no: i64,
    /// Until the stored information arrives.
    pub read: Option<CustomerBasics>,
    pub basic: Option<BasicForm>,
    /// The identity number the clerk was told is also on another customer: F2 again saves it.
    pub id_said: Option<String>,
    /// What F2 was refused as a change of owner, and the words that said so: F2 again, the
    /// form unchanged, opens the transfer with it carried (`TransferView::of`).
    owner_change: Option<(BasicInfo, String)>,
    /// The F2s dropped for coming before that refusal could be read.
    unread: usize,
}

impl ModifyView {
    /// The screen for the customer with this id and number, before it has read anything.
    pub fn of(customer_id: i64, customer_no: i64) -> ModifyView {
        ModifyView {
            customer_id,
            customer_no,
            read: None,
            basic: None,
            id_said: None,
            owner_change: None,
            unread: 0,
        }
    }
}

/// The customers other than `except` holding an identity number, asked on F2 before a save
/// that carries a number typed (open account) or changed (modify); answered with
/// [`IdHolders`]. It holds the keys typed behind the F2, as the save would: they wait one
/// indexed probe longer and go where the answer leaves them.
#[derive(Debug, Clone, PartialEq)]
pub struct IdElsewhere {
    pub id_document_no: String,
    pub except: Option<i64>,
}

/// Who else holds the identity number asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct IdHolders {
    pub id_document_no: String,
    pub holders: Vec<IdHolder>,
}

impl Read for IdElsewhere {
    const HOLDS_INPUT: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        let holders =
            customer_changes::id_elsewhere(client, &self.id_document_no, self.except).await?;
        Ok(IdHolders {
            id_document_no: self.id_document_no.clone(),
            holders,
        })
    }
}

/// The identity number `info` carries, if any.
pub fn id_number(info: &BasicInfo) -> Option<&str> {
    match info {
        BasicInfo::Personal(personal) => personal.id_document_no.as_deref(),
        _ => None,
    }
}

/// Says that the identity number is also on the customers of `answer`, before the save: a
/// person may hold several premises (domain.md), so F2 again saves it; the clerk who mistyped
/// it corrects it. The keys typed behind the F2 are dropped, and counted after it: the F2 the
/// clerk pressed twice out of habit must not answer what they have not read.
/// `key`: the catalogue text that says it, naming what F2 again does (saves, opens).
pub fn say_id_elsewhere(answer: &IdHolders, key: &str, hub: &mut Hub) {
    let holders: Vec<String> = answer
        .holders
        .iter()
        .map(|holder| format!("{:08} {}", holder.customer_no, inert(&holder.name)))
        .collect();
    let text = hub.app.tf(
        key,
        &[
            ("id", &answer.id_document_no),
            ("holders", &hub.app.lang.list(&holders)),
        ],
    );
    hub.say(MessageKind::Info, text);
    hub.drop_type_ahead_unread();
}

/// Saves the changed information over the version read, with the idempotency key made on F2;
/// answered with a [`ModifyOutcome`].
#[derive(Debug, Clone, PartialEq)]
pub struct Modify {
    pub operator_id: i64,
    pub idempotency_key: String,
    pub read: CustomerBasics,
    pub info: BasicInfo,
}

customer_write!(Modify, ModifyOutcome, told, |client, request| {
    customer_changes::modify_basic_info(
        &mut client,
        request.operator_id,
        &request.idempotency_key,
        &request.read,
        &request.info,
    )
    .await
});

/// The outcome of a modify told on the message line after its screen was left: whether it is
/// done, and what to say.
fn told(outcome: &ModifyOutcome, lang: Lang) -> (bool, MessageKind, String) {
    use MessageKind::{Error, Info};
    match outcome {
        ModifyOutcome::Saved { .. } => (true, Info, lang.t("modify.saved").to_owned()),
        ModifyOutcome::Unchanged => (true, Info, lang.t("modify.nothing_changed").to_owned()),
        ModifyOutcome::Conflict {
            changed_fields,
            current,
        } => {
            let names = field_names(lang, current.info.nature(), changed_fields);
            let text = lang.tf("modify.conflict_left", &[("fields", &names)]);
            (false, Error, text)
        }
        ModifyOutcome::ChangeOfOwner { nature, in_steps } => {
            let key = if *in_steps {
                "modify.owner_changes_in_steps_left"
            } else {
                "modify.owner_changes_left"
            };
            let text = owner_changes(lang, *nature, |args| lang.tf(key, args));
            (false, Error, text)
        }
        refused => (false, Error, lang.t(refusal_key(refused)).to_owned()),
    }
}

/// Says that a modify would change the owner: `fill` gets the form's labels of the holder's
/// name and identifying number (`BasicInfo::changes_owner`) as `{name}` and `{number}`.
fn owner_changes(
    lang: Lang,
    nature: Nature,
    fill: impl FnOnce(&[(&str, &dyn std::fmt::Display)]) -> String,
) -> String {
    let (name, number) = owner_fields(nature);
    let (name, number) = (lang.t(label_key(name)), lang.t(label_key(number)));
    fill(&[("name", &name), ("number", &number)])
}

/// The fields that name the holder of a customer of `nature` (`BasicInfo::changes_owner`).
fn owner_fields(nature: Nature) -> (Field, Field) {
    match nature {
        Nature::Enterprise => (Field::CompanyName, Field::RegistrationNo),
        _ => (Field::Name, Field::IdDocumentNo),
    }
}

/// Catalogue key of a modify refused for the customer's state.
fn refusal_key(outcome: &ModifyOutcome) -> &'static str {
    match outcome {
        ModifyOutcome::Closed => "modify.closed",
        ModifyOutcome::NotFound => "details.gone",
        _ => "open.type_changed",
    }
}

/// The fields' labels, in the order the form of `nature` shows them.
fn field_names(lang: Lang, nature: Nature, fields: &[Field]) -> String {
    let names: Vec<&str> = Field::of(nature)
        .iter()
        .filter(|field| fields.contains(field))
        .map(|field| lang.t(label_key(*field)))
        .collect();
    lang.list(&names)
}

impl ModifyView {
    /// Says on the message line, the form kept, that saving `info` would change the owner: the
    /// checked rule at F2 and the database's refusal (sql/V230) alike; `in_steps`, the other
    /// field changed by a modify earlier today (sql/V263). F2 again opens the transfer with
    /// what was typed, once the words could be read (a burst's second F2 is dropped).
    fn say_owner_changes(&mut self, info: BasicInfo, in_steps: bool, hub: &mut Hub) {
        let key = if in_steps {
            "modify.owner_changes_in_steps"
        } else {
            "modify.owner_changes"
        };
        let text = owner_changes(hub.app.lang, info.nature(), |args| hub.app.tf(key, args));
        hub.say(MessageKind::Error, text.clone());
        hub.ask_on_screen_to_be_read();
        self.owner_change = Some((info, text));
        self.unread = 0;
    }

    /// F2 again on the form refused as a change of owner: the transfer of this customer in its
    /// place, its new owner's form filled with the owner's name and number and every other
    /// field the clerk changed here (review of session 45: they were typed twice).
    fn open_transfer(&mut self, info: &BasicInfo, said: &str, hub: &mut Hub) {
        if hub.asked_unread() {
            self.unread += 1;
            return hub.drop_unread_key(said, self.unread);
        }
        let Some(read) = &self.read else {
            return;
        };
        if !hub.allowed("customer.transfer") {
            return;
        }
        let (name, number) = owner_fields(info.nature());
        let changed = read.info.changed_fields(info);
        let carried = info
            .values()
            .into_iter()
            .filter(|(field, _)| [name, number].contains(field) || changed.contains(field))
            .map(|(field, value)| (field, value.unwrap_or_default()))
            .collect();
        let owner = who(&read.info);
        let transfer = TransferView::of(self.customer_id, self.customer_no, &owner, carried);
        hub.replace(Box::new(transfer));
        hub.app.message = None;
    }

    fn form_mut(&mut self) -> Option<&mut Form> {
        self.basic.as_mut().map(|basic| &mut basic.form)
    }

    /// F2 on the form: nothing changed is said and nothing sent.
    fn submit(&mut self, hub: &mut Hub) {
        self.save(false, hub);
    }

    /// Saves what the form holds; `checked`: its identity number was looked up and is on no
    /// other customer.
    fn save(&mut self, checked: bool, hub: &mut Hub) {
        let lang = hub.app.lang;
        let (Some(read), Some(basic)) = (self.read.clone(), self.basic.as_mut()) else {
            return;
        };
        if !read.active {
            hub.say(MessageKind::Error, lang.t("modify.closed"));
            return;
        }
        let Some(info) = basic.validate(lang, hub.app.id_policy, hub.app.today()) else {
            return hub.say_form_error(&basic.form);
        };
        if read.info.changed_fields(&info).is_empty() {
            hub.say(MessageKind::Info, lang.t("modify.nothing_changed"));
            return;
        }
        if let Some((refused, said)) = self.owner_change.clone()
            && refused == info
        {
            return self.open_transfer(&info, &said, hub);
        }
        // Another holder is a transfer's (sql/V230 refuses it too): said, the form kept.
        if read.info.changes_owner(&info) {
            return self.say_owner_changes(info, false, hub);
        }
        // A number changed to one another customer holds is said before it is saved.
        if let Some(id) = id_number(&info)
            && id_number(&read.info) != Some(id)
            && self.id_said.as_deref() != Some(id)
            && !checked
        {
            hub.say(MessageKind::Info, lang.t("modify.saving"));
            hub.send(IdElsewhere {
                id_document_no: id.to_owned(),
                except: Some(self.customer_id),
            });
            return;
        }
        let request = Modify {
            operator_id: operator(hub),
            idempotency_key: hub.app.write_key(),
            read,
            info,
        };
        hub.say(MessageKind::Info, lang.t("modify.saving"));
        hub.send(request);
    }

    /// The answer to the save, on top.
    fn saved(&mut self, outcome: &ModifyOutcome, hub: &mut Hub) {
        let lang = hub.app.lang;
        match outcome {
            ModifyOutcome::Saved { .. } => {
                hub.leave();
                hub.notify(Notice::Reload);
                hub.say(MessageKind::Info, lang.t("modify.saved"));
            }
            ModifyOutcome::Unchanged => {
                hub.say(MessageKind::Info, lang.t("modify.nothing_changed"))
            }
            ModifyOutcome::Conflict {
                changed_fields,
                current,
            } => {
                self.conflict(changed_fields, current, lang);
                let names = field_names(lang, current.info.nature(), changed_fields);
                let text = hub.app.tf("modify.conflict", &[("fields", &names)]);
                hub.say(MessageKind::Error, text);
            }
            ModifyOutcome::ChangeOfOwner { in_steps, .. } => {
                // The form as sent (it took no edit while the save waited).
                let (policy, today) = (hub.app.id_policy, hub.app.today());
                let sent = self
                    .basic
                    .as_mut()
                    .and_then(|basic| basic.validate(lang, policy, today));
                if let Some(info) = sent {
                    self.say_owner_changes(info, *in_steps, hub);
                }
            }
            ModifyOutcome::Closed | ModifyOutcome::NotFound | ModifyOutcome::WrongNature { .. } => {
                hub.say(MessageKind::Error, lang.t(refusal_key(outcome)))
            }
        }
    }

    /// Someone saved the customer meanwhile: what they changed is marked next to each field
    /// with its new value; fields the clerk had not touched take the new value, the clerk's own
    /// edits stay. The form now answers the new version, so F2 saves the clerk's values
    /// knowingly.
    fn conflict(&mut self, changed: &[Field], current: &CustomerBasics, lang: Lang) {
        let (Some(read), Some(basic)) = (&self.read, self.basic.as_mut()) else {
            return;
        };
        let before: Vec<_> = read.info.values();
        let now: Vec<_> = current.info.values();
        let mut marks = Vec::new();
        for field in changed {
            let old = value_of(&before, *field);
            let new = value_of(&now, *field);
            if basic.value(*field) == old {
                basic.set(*field, &new);
            }
            let shown = if new.is_empty() {
                "—".to_owned()
            } else {
                new
            };
            marks.push((
                basic.index(*field),
                lang.tf("modify.changed_to", &[("value", &shown)]),
            ));
        }
        marks.sort_by_key(|(index, _)| *index);
        basic.form.fail(&marks);
        self.read = Some(current.clone());
    }
}

fn value_of(values: &[(Field, Option<String>)], field: Field) -> String {
    values
        .iter()
        .find(|(f, _)| *f == field)
        .and_then(|(_, v)| v.clone())
        .unwrap_or_default()
}

impl Screen for ModifyView {
    fn unsaved(&self) -> bool {
        self.basic
            .as_ref()
            .is_some_and(|basic| basic.form.is_dirty())
    }

    fn crumb(&self, lang: Lang) -> String {
        customer_crumb(self.customer_no, lang.t("screen.modify"))
    }

    fn commands(&self) -> Vec<(Command, &'static str)> {
        change_commands("command.save")
    }

    fn draw(&self, frame: &mut Frame, area: Rect, app: &App) {
        let theme = &Theme::new(app.look);
        let lang = app.lang;
        let title = lang.t("screen.modify");
        customer_number_heading(frame, area, theme, title, self.customer_no);
        let note = self
            .basic
            .as_ref()
            .map(|basic| nature_text(lang, basic.nature).to_owned());
        draw_basic_form(frame, area, self.basic.as_ref(), note, lang, theme);
    }

    fn on_open(&mut self, hub: &mut Hub) {
        hub.send(LoadBasics {
            customer_id: self.customer_id,
        });
    }

    fn on_key(&mut self, key: KeyEvent, command: Option<Command>, hub: &mut Hub) -> bool {
        leaves_or_refused_while_saving(&key, command, hub)
            || key_to_form(self, Self::form_mut, Self::submit, (key, command), hub)
    }

    fn on_reply(&mut self, _request: &dyn ScreenRequest, reply: &dyn ScreenReply, hub: &mut Hub) {
        let lang = hub.app.lang;
        if let Some(basics) = reply.of::<Option<CustomerBasics>>() {
            match basics {
                Some(read) => {
                    self.basic = Some(BasicForm::of(&read.info));
                    self.read = Some(read.clone());
                    if !read.active {
                        hub.say(MessageKind::Error, lang.t("modify.closed"));
                    }
                }
                None => hub.say(MessageKind::Error, lang.t("details.gone")),
            }
        } else if let Some(answer) = reply.of::<IdHolders>() {
            if hub.saving() {
                // An F2 pressed again while the first look waited for the database asked
                // twice: the first answer sent the save, which is told when it lands.
            } else if answer.holders.is_empty() {
                self.save(true, hub);
            } else {
                self.id_said = Some(answer.id_document_no.clone());
                say_id_elsewhere(answer, "basic.id_elsewhere", hub);
            }
        } else if let Some(outcome) = reply.of::<ModifyOutcome>() {
            answer_save(self, outcome, hub, Self::saved, told);
        }
    }
}
