//! The water a meter loaded unpaid (sql/V163) paid at the counter on its own, without a card
//! and without buying water: wherever the clerk meets the debt — the close's step (s41-g), the
//! customer's details and the transfer's refusal (s42-b) — the screen holds one
//! [`DebtPayment`], which asks and pays. The same payment a recharge's F2 makes first
//! (`cardflow::pay_owed`, `card_recharge_owed_pay`), each debt on its receipt, exactly once under
//! the request's key (sql/V190), kept and told as there ([`owed_told`]).

use crossterm::event::{KeyCode, KeyEvent};
use deadpool_postgres::Client;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::confirm::owed_told;
use super::receipt::{Receipt, owed_receipt};
use crate::app::requests::{Progress, Read, Services};
use crate::app::screen::{Answer, Hub, Notice, ScreenReply, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command};
use crate::cardflow;
use crate::db::card_ops::{self, Owed};
use crate::db::cards::PaymentMethod;
use crate::db::{DbError, accounts};
use crate::screens::basic_info::leaves_or_refused_while_saving;
use crate::screens::receipt::payment_method_name;
use crate::ui::chrome::popup;
use crate::ui::theme::Theme;

/// Reads what customer `customer_id` owes for water a meter loaded unpaid and the payment
/// methods their type takes; answered with [`OwedToPay`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOwed {
    pub customer_id: i64,
}

/// The debts outstanding (oldest first) and the methods that may pay them (cash first).
#[derive(Debug, Clone, PartialEq)]
pub struct OwedToPay {
    pub owed: Vec<Owed>,
    pub methods: Vec<PaymentMethod>,
}

impl Read for LoadOwed {
    /// The keys typed meanwhile wait for the question its answer opens, which drops them: it
    /// is answered only once seen (each screen holding a [`DebtPayment`] drops them while it asks).
    const HOLDS_INPUT: bool = true;

    async fn read(&self, client: &Client) -> Result<impl ScreenReply, DbError> {
        let owed = card_ops::owed(client, self.customer_id).await?;
        let methods = accounts::account(client, self.customer_id)
            .await?
            .map(|account| account.payment_methods)
            .unwrap_or_default();
        Ok(OwedToPay { owed, methods })
    }
}

/// Pays the debts `operations` the confirmation named with `method`, each on its receipt;
/// answered with [`OwedPaidHere`]. Exactly once under its key: sent again (its answer lost), it
/// answers the receipts its first send paid (sql/V190); a debt paid meanwhile elsewhere is left
/// out, never paid twice.
#[derive(Debug, Clone, PartialEq)]
pub struct PayOwed {
    pub idempotency_key: String,
    pub operator_id: i64,
    pub customer_id: i64,
    pub operations: Vec<i64>,
    pub method: String,
}

/// The receipts of the debts paid; empty: none was owed any more.
#[derive(Debug, Clone, PartialEq)]
pub struct OwedPaidHere(pub Vec<Receipt>);

impl OwedPaidHere {
    /// Each receipt kept (file, print command) and the payment said, or that nothing was owed.
    pub fn tell(&self, hub: &mut Hub) {
        if self.0.is_empty() {
            hub.say(MessageKind::Info, hub.app.lang.t("ic.owed_none_left"));
        } else {
            hub.app.message = None;
            owed_told(&self.0, hub);
        }
    }
}

impl ScreenRequest for PayOwed {
    fn idempotency_key(&self) -> Option<&str> {
        Some(&self.idempotency_key)
    }

    fn moves_balance_of(&self) -> Option<i64> {
        Some(self.customer_id)
    }

    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let paid = cardflow::pay_owed(
                &services.pool,
                (self.operator_id, &self.idempotency_key),
                &self.operations,
                &self.method,
            )
            .await?;
            let mut receipts = Vec::new();
            for debt in paid {
                receipts.extend(owed_receipt(services, &debt).await?);
            }
            Ok(Box::new(OwedPaidHere(receipts)) as _)
        })
    }

    /// Left meanwhile: the receipts are still kept and the payment told, and the screen on
    /// top reads what it shows again.
    fn answered_after_close(&self, reply: &dyn ScreenReply, hub: &mut Hub) {
        if let Some(paid) = reply.of::<OwedPaidHere>() {
            paid.tell(hub);
            hub.notify(Notice::Reload);
        }
    }
}

/// The payment of what one customer owes for water a meter loaded unpaid, asked over the
/// screen that offers it: [`DebtPayment::offer`] reads the debts and the methods the
/// customer's type takes ([`LoadOwed`], holds input), the question names the sum, how many
/// purchases and the method (cash first; ←/→ another), F2 pays ([`PayOwed`], its key made on
/// that F2 and kept: F2 again while it is on its way sends nothing), F12/Esc backs out with
/// nothing sent. The screen hands it its keys while it asks, its replies, its legend
/// ([`DebtPayment::COMMANDS`]) and its area to draw over, and reads its own facts again once
/// what is owed changed ([`Heard::Changed`]).
#[derive(Debug, Clone, Default)]
pub struct DebtPayment {
    /// The customer whose debts were last offered to be paid.
    customer_id: i64,
    asked: Option<Asked>,
}

/// The payment asked.
#[derive(Debug, Clone)]
struct Asked {
    /// The debts named, oldest first.
    owed: Vec<Owed>,
    /// The methods the customer's type takes; `chosen` pays.
    methods: Vec<PaymentMethod>,
    chosen: usize,
    /// Made on the first F2 and kept: F2 again, or the request sent again, pays once.
    key: Option<String>,
    /// The F2s dropped because they came before the question could be read.
    unread: usize,
}

/// What a reply was to the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Not one of its replies.
    Other,
    /// Its question is asked (or why not is said).
    Asked,
    /// What is owed changed (paid here, or meanwhile): the screen reads its facts again.
    Changed,
}

impl DebtPayment {
    /// While it asks, the screen's legend and help: F2 pays, F12 backs out.
    pub const COMMANDS: [(Command, &'static str); 2] = [
        (Command::Save, "ic.owed_cmd_pay"),
        (Command::Cancel, "command.cancel"),
    ];

    /// Reads what customer `customer_id` owes and the methods, for an operator who may take it
    /// (`card.recharge`, what `card_recharge_owed_pay` asks; otherwise the roles' refusal is
    /// said).
    pub fn offer(&mut self, customer_id: i64, hub: &mut Hub) {
        if hub.allowed("card.recharge") {
            self.customer_id = customer_id;
            hub.send(LoadOwed { customer_id });
        }
    }

    /// Whether the payment is asked: it takes every key.
    pub fn asking(&self) -> bool {
        self.asked.is_some()
    }

    /// The question put away (the screen opened again).
    pub fn put_away(&mut self) {
        self.asked = None;
    }

    /// A key while it asks (see [`DebtPayment::asking`]): F2 pays, ←/→ another method, F12/Esc
    /// back — or, while the payment is on its way, leave the screen (it is not called back:
    /// its answer is told wherever the clerk is). Every other key does nothing.
    pub fn on_key(&mut self, key: &KeyEvent, command: Option<Command>, hub: &mut Hub) {
        if leaves_or_refused_while_saving(key, command, hub) {
            return;
        }
        match (command, key.code) {
            (Some(Command::Cancel | Command::Leave), _) => {
                self.asked = None;
                hub.say(MessageKind::Info, hub.app.lang.t("msg.cancelled"));
            }
            (Some(Command::Save), _) => self.pay(hub),
            // Refused while it is on its way (above): what was sent is what the question shows.
            (_, KeyCode::Left | KeyCode::Right) => {
                if let Some(asked) = &mut self.asked {
                    let count = asked.methods.len().max(1) as isize;
                    let step = if key.code == KeyCode::Left { -1 } else { 1 };
                    asked.chosen = (asked.chosen as isize + step).rem_euclid(count) as usize;
                }
            }
            _ => {}
        }
    }

    /// F2 on the payment asked: sent with its key.
    fn pay(&mut self, hub: &mut Hub) {
        let Some(asked) = &mut self.asked else {
            return;
        };
        let Some(method) = asked.methods.get(asked.chosen) else {
            return;
        };
        // The debts are sums the desk found: an F2 typed before the question could be read
        // (the second of a burst) pays nothing (s45-d's rule for the account's sums).
        if asked.key.is_none() && hub.asked_unread() {
            asked.unread += 1;
            hub.app.message = None;
            return hub.drop_unread_key("", asked.unread);
        }
        let key = asked.key.get_or_insert_with(|| hub.app.write_key()).clone();
        hub.send(PayOwed {
            idempotency_key: key,
            operator_id: hub.app.session.as_ref().map_or(0, |s| s.operator_id),
            customer_id: self.customer_id,
            operations: asked.owed.iter().map(|debt| debt.operation_id).collect(),
            method: method.code.clone(),
        });
        hub.say(MessageKind::Info, hub.app.lang.t("acct.saving"));
    }

    /// Its replies: the debts and methods read (the payment asked, or why not said), the debts
    /// paid (kept and told).
    pub fn on_reply(&mut self, reply: &dyn ScreenReply, hub: &mut Hub) -> Heard {
        if let Some(to_pay) = reply.of::<OwedToPay>() {
            if to_pay.owed.is_empty() {
                hub.say(MessageKind::Info, hub.app.lang.t("ic.owed_none_left"));
                return Heard::Changed;
            }
            if to_pay.methods.is_empty() {
                let text = hub.app.lang.t("acct.method_not_allowed");
                hub.say(MessageKind::Error, text);
            } else {
                hub.app.message = None;
                self.asked = Some(Asked {
                    owed: to_pay.owed.clone(),
                    methods: to_pay.methods.clone(),
                    chosen: 0,
                    key: None,
                    unread: 0,
                });
                hub.ask_on_screen_to_be_read();
            }
            Heard::Asked
        } else if let Some(paid) = reply.of::<OwedPaidHere>() {
            self.asked = None;
            paid.tell(hub);
            Heard::Changed
        } else {
            Heard::Other
        }
    }

    /// The payment asked, over `area`: the debts' sum, how many, the method, the keys.
    pub fn draw(&self, frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
        let Some(asked) = &self.asked else {
            return;
        };
        let lang = app.lang;
        let method = asked
            .methods
            .get(asked.chosen)
            .map(|method| payment_method_name(lang, method))
            .unwrap_or_default();
        let question = lang.tf(
            "ic.owed_pay_confirm",
            &[
                ("amount", &Owed::total(&asked.owed)),
                ("count", &asked.owed.len()),
                ("method", &method),
            ],
        );
        let lines = vec![
            Line::raw(question),
            Line::raw(""),
            Line::from(Span::styled(app.t("ic.owed_pay_keys"), theme.key())),
        ];
        let title = lang.t("ic.owed_pay_title");
        popup(frame, area, (64, 8), title, lines, true, theme);
    }
}
