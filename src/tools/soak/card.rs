//! The card a soak desk holds for one of its customers, and that customer's meter, both in
//! memory: 64 desks cannot share the one reader of the rig. A write applies a journaled plan's
//! records in their order, as `ReaderHandle::write_plan` sends them, and reads the card back;
//! a swipe is `domain::meter`'s, with the write-back the meter leaves on the card.

use crate::db::card_ops::unix_now;
use crate::domain::card_counter::CardWritePlan;
use crate::domain::card_records::{EMPTY_RECORD, Ef, MacKey, MeterNumber, Record};
use crate::domain::meter::MeterState;

/// A customer of the desk with a card meter: the card on the counter and the meter at home.
#[derive(Debug, Clone)]
pub struct CardCustomer {
    pub customer_id: i64,
    pub card: [Record; 3],
    pub meter: MeterState,
    /// Which owner the desk's card screen would show (`CardOwner::owner_seen`), sent with a
    /// recharge: the first owner's (0) at the opening, the present one's after a recharge was
    /// refused for another desk's transfer, as the screen takes it from the refusal.
    pub owner_seen: i64,
}

impl CardCustomer {
    /// A customer whose meter was just installed, with a blank card to open.
    pub fn new(customer_id: i64, meter_number: MeterNumber) -> Self {
        CardCustomer {
            customer_id,
            card: blank_card(),
            meter: MeterState::new(meter_number),
            owner_seen: 0,
        }
    }

    /// Writes every record of `plan` and answers the card as read back.
    pub fn write(&mut self, plan: &CardWritePlan) -> [Record; 3] {
        for write in plan.writes() {
            self.card[write.ef.index()] = write.record;
        }
        self.card
    }

    /// The card's old one lost: a blank card is on the counter for the replacement.
    pub fn lose_card(&mut self) {
        self.card = blank_card();
    }

    /// The customer uses `litres` and swipes the card: the meter loads what it carries and
    /// writes its state back to the card. A card the meter refuses stays as it is (the
    /// counter's next request is then refused, as a clerk's would be).
    pub fn use_and_swipe(&mut self, litres: u32, key: &MacKey) {
        self.meter.use_water(litres);
        if let Ok(swiped) = self.meter.swipe(&self.card, key, unix_now()) {
            self.card[Ef::MeterWriteBack.index()] = swiped.write_back;
        }
    }
}

fn blank_card() -> [Record; 3] {
    [EMPTY_RECORD; 3]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::card_counter::plan_open;
    use crate::domain::card_records::CardContent;

    #[test]
    fn a_written_plan_reads_back_done_and_a_swipe_registers_the_card_on_the_meter() {
        let key = MacKey::demo();
        let meter = MeterNumber::new("SOAK-1").unwrap();
        let mut customer = CardCustomer::new(7, meter.clone());
        let content = CardContent::classify(&customer.card, &key);
        let planned = plan_open(&content, 1234, 5678, meter, &key).unwrap();
        let read_back = customer.write(&planned.plan);
        assert_eq!(
            planned.plan.resolve(&read_back),
            crate::domain::card_counter::Resolution::Done
        );
        assert!(matches!(
            CardContent::classify(&customer.card, &key),
            CardContent::User(_)
        ));
        customer.use_and_swipe(0, &key);
        assert_ne!(customer.card[Ef::MeterWriteBack.index()], EMPTY_RECORD);
        customer.lose_card();
        assert_eq!(
            CardContent::classify(&customer.card, &key),
            CardContent::Blank
        );
    }
}
