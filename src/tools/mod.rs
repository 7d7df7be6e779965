//! The tools around the counter app, which the app itself never uses: they use it.
//!
//! - [`rig`]: the card rig's emulated card and its link to pcscd's virtual reader (binaries
//!   `vcard` and `card-watch` in `bin/`).
//! - [`meter_sim`]: the meter simulator (`meterdesk meter`).
//! - [`card_status`]: `meterdesk card status`, the reader, the card and its PIN tries left.
//! - [`bench`]: `meterdesk bench`, the figures at a million customers.
//! - [`demo`]: `meterdesk demo-data`, demo customers with their history (COPY streams).
//! - [`check`]: `meterdesk check`, whether the books balance.
//! - [`soak`]: `meterdesk soak`, many desks at once, against pgbench on the same server.

pub mod bench;
pub mod card_status;
pub mod check;
pub mod demo;
pub mod meter_sim;
pub mod rig;
pub mod soak;

/// `count` and its English noun, plural but for one: "1 disagreement", "3 disagreements".
fn counted(count: impl std::fmt::Display, noun: &str) -> String {
    let count = count.to_string();
    let plural = if count == "1" { "" } else { "s" };
    format!("{count} {noun}{plural}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_count_of_one_says_its_noun_singular() {
        assert_eq!(super::counted(1, "disagreement"), "1 disagreement");
        assert_eq!(super::counted(0, "disagreement"), "0 disagreements");
        assert_eq!(super::counted(3, "failed operation"), "3 failed operations");
    }
}
