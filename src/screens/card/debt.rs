//! The water a meter loaded unpaid (sql/V163) paid at the counter on its own, without a card
//! and without buying water (s41-g): the close's step that names the debt offers it. The same
//! payment a recharge's F2 makes first (`cardflow::pay_owed`, `card_recharge_owed_pay`), each
//! debt on its receipt, kept and told as there ([`owed_told`]).

use deadpool_postgres::Client;

use super::confirm::owed_told;
use super::receipt::{Receipt, owed_receipt};
use crate::app::requests::{Progress, Read, Services};
use crate::app::screen::{Answer, Hub, Notice, ScreenReply, ScreenRequest};
use crate::cardflow;
use crate::db::card_ops::{self, Owed};
use crate::db::cards::PaymentMethod;
use crate::db::{DbError, accounts};

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
    /// is answered only once seen (`CloseAccountScreen::drops_type_ahead`).
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
/// answered with [`OwedPaidHere`]. A debt paid meanwhile (elsewhere, or by this request sent
/// again after a lost connection) is not paid twice: the database finds it settled.
#[derive(Debug, Clone, PartialEq)]
pub struct PayOwed {
    pub idempotency_key: String,
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
            hub.say(
                crate::app::state::MessageKind::Info,
                hub.app.lang.t("ic.owed_none_left"),
            );
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
            let paid = cardflow::pay_owed(&services.pool, &self.operations, &self.method).await?;
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
