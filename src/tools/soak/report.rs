//! What a soak measured: every operation's kind, time and outcome, tallied per kind, and the
//! printed report (operations per second, p50/p95/p99 per kind, refusals apart from failures).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::screens::measure::Latency;

/// The counter's operations a desk performs, in the report's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Search,
    Details,
    /// What a form reads before the clerk types: customer types and meters in stock, a
    /// customer's basic information, account, bills, reading context, transfer preview.
    FormRead,
    OpenAccount,
    Modify,
    Transfer,
    Reading,
    /// A postpaid deposit that pays the unpaid bills in the same step.
    DepositPayingBills,
    SystemRecharge,
    AccountRefund,
    CardOpen,
    /// What the recharge form reads with its quote, before F2.
    CardQuote,
    CardRecharge,
    CardReplace,
    CardRefund,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Search => "search",
            Kind::Details => "details",
            Kind::FormRead => "form read",
            Kind::OpenAccount => "open account",
            Kind::Modify => "modify",
            Kind::Transfer => "transfer",
            Kind::Reading => "reading",
            Kind::DepositPayingBills => "deposit paying bills",
            Kind::SystemRecharge => "system-prepaid recharge",
            Kind::AccountRefund => "account refund",
            Kind::CardOpen => "card open",
            Kind::CardQuote => "card quote",
            Kind::CardRecharge => "card recharge",
            Kind::CardReplace => "card replace",
            Kind::CardRefund => "card refund",
        }
    }
}

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// The application's own answer that the request cannot be done now, as a clerk would see
    /// it (a meter taken by another desk, a balance too low): nothing written, nothing wrong.
    Refused(String),
    /// An error: the database failed the request (a deadlock, a timeout, a broken rule).
    Failed(String),
}

/// One kind's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KindTally {
    /// Of every answered operation, done or refused; failures are not timed.
    pub times: Vec<Duration>,
    pub done: u64,
    pub refused: BTreeMap<String, u64>,
    pub failed: BTreeMap<String, u64>,
}

/// Every kind's figures, of one desk or of all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub kinds: BTreeMap<Kind, KindTally>,
}

impl Tally {
    pub fn record(&mut self, kind: Kind, took: Duration, outcome: Outcome) {
        let tally = self.kinds.entry(kind).or_default();
        match outcome {
            Outcome::Done => {
                tally.done += 1;
                tally.times.push(took);
            }
            Outcome::Refused(why) => {
                *tally.refused.entry(why).or_default() += 1;
                tally.times.push(took);
            }
            Outcome::Failed(why) => *tally.failed.entry(why).or_default() += 1,
        }
    }

    pub fn merge(&mut self, other: Tally) {
        for (kind, theirs) in other.kinds {
            let ours = self.kinds.entry(kind).or_default();
            ours.times.extend(theirs.times);
            ours.done += theirs.done;
            for (why, count) in theirs.refused {
                *ours.refused.entry(why).or_default() += count;
            }
            for (why, count) in theirs.failed {
                *ours.failed.entry(why).or_default() += count;
            }
        }
    }

    /// Operations done, of every kind.
    pub fn done(&self) -> u64 {
        self.kinds.values().map(|tally| tally.done).sum()
    }

    pub fn failures(&self) -> u64 {
        self.kinds
            .values()
            .flat_map(|tally| tally.failed.values())
            .sum()
    }

    pub fn refusals(&self) -> u64 {
        self.kinds
            .values()
            .flat_map(|tally| tally.refused.values())
            .sum()
    }
}

/// Milliseconds with one decimal.
pub fn millis(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

/// The table per kind (done, refused, failed, p50/p95/p99 in ms, per second over `elapsed`),
/// the totals, then every refusal and failure by kind and reason.
pub fn report(tally: &Tally, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{:<24} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8}",
        "operation", "done", "refused", "failed", "per s", "p50 ms", "p95 ms", "p99 ms"
    );
    for (kind, figures) in &tally.kinds {
        let Latency { p50, p95, p99 } = Latency::of(figures.times.clone());
        let _ = writeln!(
            text,
            "{:<24} {:>8} {:>8} {:>7} {:>8.1} {:>8} {:>8} {:>8}",
            kind.name(),
            figures.done,
            figures.refused.values().sum::<u64>(),
            figures.failed.values().sum::<u64>(),
            figures.done as f64 / seconds,
            millis(p50),
            millis(p95),
            millis(p99),
        );
    }
    let _ = writeln!(
        text,
        "{:<24} {:>8} {:>8} {:>7} {:>8.1}",
        "all",
        tally.done(),
        tally.refusals(),
        tally.failures(),
        tally.done() as f64 / seconds,
    );
    for (heading, pick) in [
        (
            "expected refusals",
            (|figures: &KindTally| &figures.refused) as fn(&KindTally) -> &BTreeMap<String, u64>,
        ),
        ("FAILURES", |figures: &KindTally| &figures.failed),
    ] {
        let lines: Vec<String> = tally
            .kinds
            .iter()
            .flat_map(|(kind, figures)| {
                pick(figures)
                    .iter()
                    .map(move |(why, count)| format!("  {:<22} {count:>7}  {why}", kind.name()))
            })
            .collect();
        if !lines.is_empty() {
            let _ = writeln!(text, "{heading}:");
            for line in lines {
                let _ = writeln!(text, "{line}");
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    /// A tally of these operations: each one's kind, milliseconds and outcome.
    fn tally_of(operations: impl IntoIterator<Item = (Kind, u64, Outcome)>) -> Tally {
        let mut tally = Tally::default();
        for (kind, millis, outcome) in operations {
            tally.record(kind, ms(millis), outcome);
        }
        tally
    }

    fn refused(why: &str) -> Outcome {
        Outcome::Refused(why.to_owned())
    }

    fn failed(why: &str) -> Outcome {
        Outcome::Failed(why.to_owned())
    }

    #[test]
    fn refusals_are_timed_and_counted_apart_from_failures_which_are_not_timed() {
        let tally = tally_of([
            (Kind::OpenAccount, 10, Outcome::Done),
            (Kind::OpenAccount, 20, refused("meter taken")),
            (Kind::OpenAccount, 30, failed("SQLSTATE 40P01")),
        ]);
        let open = &tally.kinds[&Kind::OpenAccount];
        assert_eq!(open.times, vec![ms(10), ms(20)]);
        assert_eq!(
            (tally.done(), tally.refusals(), tally.failures()),
            (1, 1, 1)
        );
    }

    #[test]
    fn merged_tallies_add_up_per_kind_and_reason() {
        let mut first = tally_of([
            (Kind::Search, 1, Outcome::Done),
            (Kind::CardRecharge, 5, refused("balance")),
        ]);
        let second = tally_of([
            (Kind::Search, 2, Outcome::Done),
            (Kind::CardRecharge, 6, refused("balance")),
        ]);
        first.merge(second);
        assert_eq!(first.kinds[&Kind::Search].done, 2);
        assert_eq!(first.kinds[&Kind::Search].times, vec![ms(1), ms(2)]);
        assert_eq!(first.kinds[&Kind::CardRecharge].refused["balance"], 2);
    }

    #[test]
    fn the_report_has_a_row_per_kind_the_rate_and_every_reason() {
        let searches = (1..=10).map(|took| (Kind::Search, took, Outcome::Done));
        let tally = tally_of(searches.chain([
            (Kind::Transfer, 3, refused("unpaid bills")),
            (Kind::Reading, 3, failed("SQLSTATE 57014")),
        ]));
        let text = report(&tally, Duration::from_secs(2));
        let search = text.lines().find(|l| l.starts_with("search")).unwrap();
        let columns: Vec<&str> = search.split_whitespace().collect();
        assert_eq!(
            columns,
            ["search", "10", "0", "0", "5.0", "5.0", "10.0", "10.0"]
        );
        let all = text.lines().find(|l| l.starts_with("all")).unwrap();
        assert_eq!(
            all.split_whitespace().collect::<Vec<_>>(),
            ["all", "10", "1", "1", "5.0"]
        );
        let refusals = text.split("expected refusals:").nth(1).unwrap();
        let (refusals, failures) = refusals.split_once("FAILURES:").unwrap();
        assert!(
            refusals.contains("transfer") && refusals.contains("unpaid bills"),
            "{text}"
        );
        assert!(
            failures.contains("reading") && failures.contains("SQLSTATE 57014"),
            "{text}"
        );
    }
}
