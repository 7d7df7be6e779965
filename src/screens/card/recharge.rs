//! The recharge pane: the form (an amount or a volume, and how it is paid) for the customer's
//! card on the reader, its checks, and the price the database quotes for the confirmation.

use crossterm::event::KeyEvent;
use deadpool_postgres::Client;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use rust_decimal::Decimal;

use super::common::{
    CardPane, CardScreen, Confirm, RechargeForm, card_no, customer_line, customer_of, key_of,
    known_card, need_user_card, recharge_refusal, refusal_text, text,
};
use super::confirm::pin_stops_writes;
use crate::app::form::{Choice, Field, FieldKind, Form, FormKey, field_error_text};
use crate::app::requests::{Progress, Services};
use crate::app::screen::{Answer, ScreenRequest};
use crate::app::state::MessageKind;
use crate::app::{App, Command, Hub};
use crate::db::DbError;
use crate::db::card_ops::{self, Owed, Payment, Quantity, Quote, RechargeFacts, Refusal};
use crate::db::cards::{CardOwner, MeterMaxCredit};
use crate::domain::card_counter::{check_recharge, credit_overflow};
use crate::domain::card_records::MacKey;
use crate::domain::money::{Money, Volume};
use crate::domain::validation;
use crate::i18n::Lang;
use crate::screens::receipt::payment_choices;
use crate::ui::theme::Theme;

/// The fields of the recharge form.
const AMOUNT: usize = 0;
const VOLUME: usize = 1;
const PAYMENT: usize = 2;

/// The payment choice that takes the money from the account's balance.
const FROM_BALANCE: &str = "";

/// The most one recharge takes at the counter: a typo guard far above any real purchase, which
/// the database holds too (sql/V104).
const MAX_AMOUNT: Decimal = crate::domain::money::COUNTER_MAX_AMOUNT;
/// …and in m³ (the card holds up to 4 294 967.295 m³).
const MAX_VOLUME: Decimal = crate::domain::money::COUNTER_MAX_VOLUME;

/// The price of a recharge, for the confirmation; answered with [`Quoted`].
#[derive(Debug, Clone, PartialEq)]
pub struct QuoteRecharge {
    pub customer_id: i64,
    pub quantity: Quantity,
    pub payment: Payment,
}

/// The quote, or why the recharge cannot be sold; the most credit the customer's meter holds
/// when a setting card for it was written (`db::cards::meter_max_credit`); and the facts the
/// quote was made from, which F2 decides the recharge from (`card_ops::begin_decided`; `None`
/// without them: F2 begins as any card write does).
#[derive(Debug, Clone, PartialEq)]
pub struct Quoted {
    pub quote: Result<Quote, Refusal>,
    pub max_credit: Option<MeterMaxCredit>,
    pub facts: Option<Box<RechargeFacts>>,
    /// The water a meter loaded unpaid the customer owes (sql/V163), paid first.
    pub owed: Vec<Owed>,
}

impl ScreenRequest for QuoteRecharge {
    /// The confirmation comes with the answer: keys typed meanwhile wait for it.
    fn holds_input(&self) -> bool {
        true
    }

    fn execute<'a>(&'a self, services: &'a Services, _: &'a Progress<'a>) -> Answer<'a> {
        Box::pin(async move {
            let client = services.pool.get().await?;
            let quoted = quoted(&client, self, services.card_access.key().ok()).await?;
            Ok(Box::new(quoted) as _)
        })
    }
}

/// The quote of `asked` read with the facts a recharge is decided from and the meter's maximum
/// credit, in one round trip (`card_ops::read_recharge_quote`; without the card key `key`, the
/// price alone).
async fn quoted(
    client: &Client,
    asked: &QuoteRecharge,
    key: Option<&MacKey>,
) -> Result<Quoted, DbError> {
    let read = card_ops::read_recharge_quote(
        client,
        asked.customer_id,
        asked.quantity,
        &asked.payment,
        key,
    )
    .await?;
    Ok(Quoted {
        quote: read.quote,
        max_credit: read.max_credit,
        facts: read.facts.map(Box::new),
        owed: read.owed,
    })
}

/// What a key on the form asks of the screen.
pub(super) enum Asked {
    /// The form did not take it: Up / Down or a command for the screen.
    Nothing,
    Handled,
    /// F3 / F12 (asked once if something was typed): back to the card.
    Leave,
}

impl RechargeForm {
    /// The form for `owner`'s card: the payment methods its type takes (cash first, and
    /// chosen), and the account's balance when there is money on it.
    fn new(lang: Lang, owner: &CardOwner, card_no: u32) -> RechargeForm {
        let mut choices = payment_choices(lang, &owner.payment_methods);
        if owner.balance > Money::ZERO {
            choices.push(Choice {
                key: FROM_BALANCE.to_owned(),
                label: lang.tf("ic.from_balance", &[("balance", &owner.balance)]),
            });
        }
        let mut form = Form::new(vec![
            Field::new(
                "ic.field_amount",
                FieldKind::Amount { max: MAX_AMOUNT },
                false,
            ),
            Field::new("ic.field_volume", FieldKind::Text { max: 16 }, false),
            Field::new("ic.field_payment", FieldKind::Choice(choices), true),
        ]);
        form.choose_first(PAYMENT);
        form.mark_saved();
        RechargeForm {
            customer: customer_of(owner),
            owner_seen: owner.owner_seen,
            card_no,
            form,
            balance: owner.balance,
        }
    }

    /// The account's balance read again (with the owner a refusal named,
    /// `Refusal::OwnerChanged::balance`): the "from the balance" choice says it, or is gone
    /// when nothing is on it (then the first method is chosen if it was).
    pub(super) fn balance_read_again(&mut self, lang: Lang, balance: Money) {
        self.balance = balance;
        let from_balance = self.form.fields[PAYMENT]
            .chosen()
            .is_some_and(|choice| choice.key == FROM_BALANCE);
        let FieldKind::Choice(choices) = &mut self.form.fields[PAYMENT].kind else {
            return;
        };
        choices.retain(|choice| choice.key != FROM_BALANCE);
        let label = lang.tf("ic.from_balance", &[("balance", &balance)]);
        if balance > Money::ZERO {
            choices.push(Choice {
                key: FROM_BALANCE.to_owned(),
                label: label.clone(),
            });
        }
        match (from_balance, balance > Money::ZERO) {
            (true, true) => self.form.set(PAYMENT, &label),
            (true, false) => self.form.choose_first(PAYMENT),
            (false, _) => {}
        }
    }

    /// How the recharge is paid: the chosen method, or the balance.
    pub(super) fn payment(&self) -> Payment {
        match self.form.fields[PAYMENT].chosen() {
            Some(choice) if choice.key != FROM_BALANCE => Payment::Method(choice.key.clone()),
            _ => Payment::Balance,
        }
    }

    /// How the recharge is paid, as the form's payment field names it.
    pub(super) fn paid_by(&self) -> String {
        self.form.fields[PAYMENT]
            .chosen()
            .map(|choice| choice.label.clone())
            .unwrap_or_default()
    }

    /// The quantity typed: exactly one of amount and volume, each valid and more than zero;
    /// else the errors by field.
    fn quantity(&self, lang: Lang) -> Result<Quantity, Vec<(usize, String)>> {
        let amount = self.form.value(AMOUNT).trim();
        let volume = self.form.value(VOLUME).trim();
        let field = |index: usize, error| vec![(index, field_error_text(lang, &error))];
        let quantity = match (amount.is_empty(), volume.is_empty()) {
            (true, true) => return Err(vec![(AMOUNT, lang.t("ic.amount_or_volume").to_owned())]),
            (false, false) => return Err(vec![(VOLUME, lang.t("ic.not_both").to_owned())]),
            (false, true) => Quantity::Amount(
                validation::amount(amount, MAX_AMOUNT).map_err(|e| field(AMOUNT, e))?,
            ),
            (true, false) => Quantity::Volume(
                validation::volume(volume, MAX_VOLUME).map_err(|e| field(VOLUME, e))?,
            ),
        };
        match quantity {
            Quantity::Amount(zero) if zero.is_zero() => {
                Err(vec![(AMOUNT, lang.t("ic.more_than_zero").to_owned())])
            }
            Quantity::Volume(zero) if zero.is_zero() => {
                Err(vec![(VOLUME, lang.t("ic.more_than_zero").to_owned())])
            }
            quantity => Ok(quantity),
        }
    }

    /// A key for the form first.
    pub(super) fn on_key(
        &mut self,
        key: KeyEvent,
        command: Option<Command>,
        hub: &mut Hub,
    ) -> Asked {
        match hub.pane_form_key(&mut self.form, key, command) {
            None => return Asked::Leave,
            Some(FormKey::Unhandled) => return Asked::Nothing,
            Some(FormKey::Taken) => {}
            Some(FormKey::Submit) => self.ask_price(hub),
        }
        Asked::Handled
    }

    /// F2 (or Enter on the last field): the fields passed their own checks; one of amount and
    /// volume must be filled, then the database prices it.
    fn ask_price(&mut self, hub: &mut Hub) {
        match self.quantity(hub.app.lang) {
            Ok(quantity) => {
                hub.app.message = None;
                hub.send(QuoteRecharge {
                    customer_id: self.customer.id,
                    quantity,
                    payment: self.payment(),
                });
            }
            Err(errors) => {
                self.form.fail(&errors);
                hub.say(MessageKind::Error, errors[0].1.clone());
            }
        }
    }
}

impl CardScreen {
    /// Recharge: only the customer's active card, with nothing unloaded on it (`check_recharge`
    /// says why not, before anything is typed).
    pub(super) fn start_recharge(&mut self, hub: &mut Hub) {
        let lang = hub.app.lang;
        let Some((card, owner, active)) = known_card(hub.app) else {
            hub.say(MessageKind::Error, need_user_card(hub.app));
            return;
        };
        // First: no other change of the card lets a desk write it.
        if let Some(refused) = pin_stops_writes(hub.app) {
            hub.say(MessageKind::Error, refused);
            return;
        }
        if let Err(refusal) = check_recharge(card, active) {
            hub.say(MessageKind::Error, recharge_refusal(lang, &refusal));
            return;
        }
        let form = RechargeForm::new(lang, owner, card.issue.card_number);
        hub.app.message = None;
        self.set_pane(CardPane::Recharge(form));
    }

    /// The price came: the confirmation echoes it, and warns when the meter will not take the
    /// purchase whole on top of what it last reported holding; a refusal goes on the field
    /// typed.
    pub(super) fn on_quote(&mut self, quoted: &Quoted, hub: &mut Hub) {
        let CardPane::Recharge(recharge) = &mut self.pane else {
            return;
        };
        let Ok(quantity) = recharge.quantity(hub.app.lang) else {
            return;
        };
        // A debt is paid with the recharge by a payment method: the balance did not cover it
        // when it was found (sql/V163).
        if let (Some(first), Payment::Balance) = (quoted.owed.first(), recharge.payment()) {
            let text = hub.app.lang.tf(
                "ic.owed_not_from_balance",
                &[
                    ("amount", &Owed::total(&quoted.owed)),
                    ("seq", &first.sequence),
                ],
            );
            recharge.form.fail(&[(PAYMENT, text.clone())]);
            hub.say(MessageKind::Error, text);
            return;
        }
        match &quoted.quote {
            Ok(quote) => {
                // The credit the card brought back from the meter's last swipe.
                let held = known_card(hub.app)
                    .and_then(|(card, ..)| card.write_back.as_ref())
                    .map(|write_back| Volume::from_litres(write_back.credit_litres));
                let overflow = quoted.max_credit.and_then(|max| {
                    credit_overflow(
                        Volume::from_litres(quote.litres),
                        held,
                        Volume::from_litres(max.litres),
                    )
                });
                let form = Box::new(recharge.clone());
                self.set_pane(CardPane::Confirm(Confirm::Recharge {
                    form,
                    quantity,
                    quote: Box::new(quote.clone()),
                    overflow,
                    max_not_applied_yet: quoted.max_credit.is_some_and(|max| !max.applied),
                    facts: quoted.facts.clone(),
                    owed: quoted.owed.clone(),
                }));
                // A debt the desk found is on it, a sum the clerk never typed: read before
                // an F2 writes it (`CardScreen::drops_unread_f2`).
                if !quoted.owed.is_empty() {
                    hub.ask_on_screen_to_be_read();
                }
            }
            Err(refusal) => {
                let text = refusal_text(hub.app, refusal);
                let field = match quantity {
                    Quantity::Amount(_) => AMOUNT,
                    Quantity::Volume(_) => VOLUME,
                };
                recharge.form.fail(&[(field, text.clone())]);
                hub.say(MessageKind::Error, text);
            }
        }
    }
}

/// The recharge form: a title, amount or volume (whichever is filled) on the shared form,
/// and a hint.
pub(super) fn draw(frame: &mut Frame, area: Rect, form: &RechargeForm, app: &App, theme: &Theme) {
    let lang = app.lang;
    let title = lang.tf(
        "ic.recharge_title",
        &[
            ("card", &card_no(form.card_no)),
            ("customer", &customer_line(&form.customer)),
        ],
    );
    let hint = lang.tf(
        "ic.recharge_hint",
        &[
            ("save", &key_of(app, Command::Save)),
            ("cancel", &key_of(app, Command::Cancel)),
        ],
    );
    let [head, fields, foot] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(form.form.fields.len() as u16 + 1),
        Constraint::Min(0),
    ])
    .areas(area);
    let head_lines = vec![
        Line::raw(""),
        Line::from(Span::styled(format!(" {title}"), theme.title())),
        Line::raw(""),
    ];
    frame.render_widget(Paragraph::new(head_lines), head);
    let mut foot_lines = vec![text(hint)];
    // Money on the balance (a recharge the card did not take left it there, "no cash back"),
    // while the payment is a method: said, so a clerk retrying a failed recharge does not take
    // the customer's cash a second time without knowing (walk s40-f: the form showed Cash and
    // nothing of the 20.00 the failed try had left).
    if form.balance > Money::ZERO && form.payment() != Payment::Balance {
        foot_lines.push(text(lang.tf(
            "ic.balance_on_account",
            &[
                ("balance", &form.balance),
                ("lookup", &key_of(app, Command::Lookup)),
            ],
        )));
    }
    frame.render_widget(Paragraph::new(foot_lines), foot);
    crate::ui::form::draw(frame, fields.union(foot), &form.form, lang, theme);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::cards::PaymentMethod;

    fn owner(balance: Money) -> CardOwner {
        CardOwner {
            customer_id: 7,
            customer_no: 10_000_007,
            name: "张伟".into(),
            card_state: "active".into(),
            void_reason: None,
            balance,
            payment_methods: vec![PaymentMethod {
                code: "cash".into(),
                name: "Cash".into(),
            }],
            owner_seen: 0,
        }
    }

    fn typed(amount: &str, volume: &str) -> RechargeForm {
        let mut recharge = RechargeForm::new(Lang::En, &owner(Money::ZERO), 42);
        recharge.form.set(AMOUNT, amount);
        recharge.form.set(VOLUME, volume);
        recharge
    }

    #[test]
    fn exactly_one_of_amount_and_volume_is_asked_for() {
        let quantity = |amount, volume| typed(amount, volume).quantity(Lang::En);
        assert_eq!(
            quantity("120", ""),
            Ok(Quantity::Amount(Decimal::new(12_000, 2)))
        );
        assert_eq!(
            quantity("", "3.5"),
            Ok(Quantity::Volume(Decimal::new(3_500, 3)))
        );
        assert_eq!(
            quantity("", ""),
            Err(vec![(AMOUNT, Lang::En.t("ic.amount_or_volume").to_owned())])
        );
        assert_eq!(
            quantity("10", "1"),
            Err(vec![(VOLUME, Lang::En.t("ic.not_both").to_owned())])
        );
    }

    #[test]
    fn a_zero_a_bad_number_or_too_much_is_refused_on_its_field() {
        let quantity = |amount, volume| typed(amount, volume).quantity(Lang::En);
        let more_than_zero = Lang::En.t("ic.more_than_zero").to_owned();
        assert_eq!(
            quantity("0", ""),
            Err(vec![(AMOUNT, more_than_zero.clone())])
        );
        assert_eq!(quantity("", "0.000"), Err(vec![(VOLUME, more_than_zero)]));
        let refused_field = |amount, volume| quantity(amount, volume).unwrap_err()[0].0;
        assert_eq!(
            refused_field("1.234", ""),
            AMOUNT,
            "three decimals of money"
        );
        assert_eq!(refused_field("100000.01", ""), AMOUNT, "above the guard");
        assert_eq!(refused_field("", "0.0001"), VOLUME, "a tenth of a litre");
        assert_eq!(refused_field("", "100000.001"), VOLUME, "above the guard");
        assert_eq!(
            quantity("100000", ""),
            Ok(Quantity::Amount(MAX_AMOUNT)),
            "the guard itself is taken"
        );
    }

    #[test]
    fn the_balance_is_offered_only_when_there_is_money_on_it() {
        let labels = |balance| {
            let recharge = RechargeForm::new(Lang::En, &owner(balance), 42);
            match &recharge.form.fields[PAYMENT].kind {
                FieldKind::Choice(choices) => choices
                    .iter()
                    .map(|choice| choice.label.clone())
                    .collect::<Vec<_>>(),
                kind => panic!("a choice, not {kind:?}"),
            }
        };
        assert_eq!(labels(Money::ZERO), ["Cash"]);
        let with_balance = labels(Money::from_cents(1_250));
        assert_eq!(with_balance.len(), 2);
        assert!(with_balance[1].contains("12.50"), "{with_balance:?}");
    }

    #[test]
    fn cash_is_chosen_first_and_the_balance_pays_when_chosen() {
        let mut recharge = RechargeForm::new(Lang::En, &owner(Money::from_cents(500)), 42);
        assert_eq!(recharge.payment(), Payment::Method("cash".into()));
        let balance = match &recharge.form.fields[PAYMENT].kind {
            FieldKind::Choice(choices) => choices[1].label.clone(),
            kind => panic!("a choice, not {kind:?}"),
        };
        recharge.form.set(PAYMENT, &balance);
        assert_eq!(recharge.payment(), Payment::Balance);
    }
}
