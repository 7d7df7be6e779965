//! Arbitrary bytes as the three records of a card: classifying them and swiping them on a meter
//! never panics. A fuzzer cannot forge a MAC, so the fields behind it are covered by the
//! property tests in `domain::card_records` instead.
//!
//! `cargo +nightly fuzz run card_records` (cargo-fuzz needs the nightly toolchain).

#![no_main]

use libfuzzer_sys::fuzz_target;
use meterdesk::domain::card_records::{CardContent, MacKey, MeterNumber};
use meterdesk::domain::meter::MeterState;

fuzz_target!(|data: &[u8]| {
    // The first two bytes say where to cut the rest, so records of every length are tried.
    let (cuts, rest) = data.split_at(data.len().min(2));
    let cut =
        |at: usize, bytes: &[u8]| usize::from(cuts.get(at).copied().unwrap_or(0)).min(bytes.len());
    let (issue, rest) = rest.split_at(cut(0, rest));
    let (purchase, write_back) = rest.split_at(cut(1, rest));
    let records = [issue, purchase, write_back];
    let key = MacKey::demo();
    let _ = CardContent::classify(&records, &key);
    let mut meter = MeterState::new(MeterNumber::new("WM-0042").expect("a valid meter number"));
    let _ = meter.swipe(&records, &key, 0);
});
