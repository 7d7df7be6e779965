//! The days a supervisor's report covers: one day by default, or a range of days typed or
//! chosen as a month, both ends included and never after the desk's today; how PgUp / PgDn
//! step from one range to the next, and which typed ranges are refused.

use chrono::{Datelike, Days, Months, NaiveDate};

/// The longest range a report covers: a leap year.
pub const MOST_DAYS: u64 = 366;

/// How far PgUp / PgDn move: by the range's number of days, or by calendar months for a
/// range of whole months (November is followed by December, not by 30 days from December 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Days(u64),
    Months(u32),
}

/// The days of a report, `first` to `last`, and how it steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportDays {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub step: Step,
}

/// Why a typed range is refused; which end it concerns decides the field marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeError {
    FirstAfterToday,
    LastAfterToday,
    EndsBeforeItStarts,
    /// Longer than [`MOST_DAYS`].
    TooLong,
}

impl RangeError {
    /// Whether the error is the first day's (else the last day's field is marked).
    pub fn concerns_the_first_day(self) -> bool {
        self == RangeError::FirstAfterToday
    }
}

impl ReportDays {
    /// One day: the default, stepping a day at a time.
    pub fn day(day: NaiveDate) -> ReportDays {
        ReportDays {
            first: day,
            last: day,
            step: Step::Days(1),
        }
    }

    /// The month `months_back` months before today's: from its first day to its last, or to
    /// today for today's own month.
    pub fn month(today: NaiveDate, months_back: u32) -> ReportDays {
        let this_month = today.with_day(1).unwrap_or(today);
        let first = this_month
            .checked_sub_months(Months::new(months_back))
            .unwrap_or(this_month);
        months_from(first, 1, today)
    }

    /// A typed range, checked against `today`; a range of whole months steps by months.
    pub fn typed(
        first: NaiveDate,
        last: NaiveDate,
        today: NaiveDate,
    ) -> Result<ReportDays, Vec<RangeError>> {
        let mut errors = Vec::new();
        if first > today {
            errors.push(RangeError::FirstAfterToday);
        }
        if last > today {
            errors.push(RangeError::LastAfterToday);
        } else if last < first {
            errors.push(RangeError::EndsBeforeItStarts);
        }
        let days = ReportDays {
            first,
            last,
            step: Step::Days(1),
        };
        if errors.is_empty() && days.count() > MOST_DAYS {
            errors.push(RangeError::TooLong);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let step = match whole_months(first, last) {
            Some(months) => Step::Months(months),
            None => Step::Days(days.count()),
        };
        Ok(ReportDays { step, ..days })
    }

    /// How many days, both ends included.
    pub fn count(&self) -> u64 {
        (self.last - self.first).num_days().unsigned_abs() + 1
    }

    pub fn is_one_day(&self) -> bool {
        self.first == self.last
    }

    /// The range before (`later` false) or after this one, by its step. The range after ends
    /// at today at the latest (the rest of this month, of the last days); None when this one
    /// already reaches today: there is no report of a day to come.
    pub fn stepped(&self, later: bool, today: NaiveDate) -> Option<ReportDays> {
        let next = match self.step {
            Step::Days(days) => {
                let first = if later {
                    self.first.checked_add_days(Days::new(days))?
                } else {
                    self.first.checked_sub_days(Days::new(days))?
                };
                let last = first.checked_add_days(Days::new(days - 1))?.min(today);
                ReportDays {
                    first,
                    last,
                    step: self.step,
                }
            }
            Step::Months(months) => {
                let first = if later {
                    self.first.checked_add_months(Months::new(months))?
                } else {
                    self.first.checked_sub_months(Months::new(months))?
                };
                months_from(first, months, today)
            }
        };
        (next.first <= today).then_some(next)
    }
}

/// `months` months from `first` (a month's first day), ending at today at the latest.
fn months_from(first: NaiveDate, months: u32, today: NaiveDate) -> ReportDays {
    let last = first
        .checked_add_months(Months::new(months))
        .and_then(|next| next.pred_opt())
        .unwrap_or(first);
    ReportDays {
        first,
        last: last.min(today),
        step: Step::Months(months),
    }
}

/// How many months `first` to `last` are when they are whole calendar months.
fn whole_months(first: NaiveDate, last: NaiveDate) -> Option<u32> {
    let ends_a_month = last.succ_opt().is_some_and(|next| next.day() == 1);
    let months = (last.year() - first.year()) * 12 + last.month() as i32 - first.month() as i32;
    (first.day() == 1 && ends_a_month)
        .then(|| u32::try_from(months + 1).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn range(first: &str, last: &str) -> (NaiveDate, NaiveDate) {
        (date(first), date(last))
    }

    fn span(days: Option<ReportDays>) -> Option<(NaiveDate, NaiveDate)> {
        days.map(|days| (days.first, days.last))
    }

    #[test]
    fn a_day_steps_a_day_and_not_past_today() {
        let today = date("2026-12-05");
        let day = ReportDays::day(today);
        assert_eq!(
            span(day.stepped(false, today)),
            Some(range("2026-12-04", "2026-12-04"))
        );
        assert_eq!(day.stepped(true, today), None);
    }

    #[test]
    fn a_range_of_days_steps_by_its_length_and_the_last_ends_today() {
        let today = date("2026-12-05");
        let days = ReportDays::typed(date("2026-11-26"), date("2026-12-02"), today).unwrap();
        assert_eq!((days.count(), days.step), (7, Step::Days(7)));
        assert_eq!(
            span(days.stepped(false, today)),
            Some(range("2026-11-19", "2026-11-25"))
        );
        let after = days.stepped(true, today).unwrap();
        assert_eq!(span(Some(after)), Some(range("2026-12-03", "2026-12-05")));
        assert_eq!(after.stepped(true, today), None, "it reaches today");
        assert_eq!(
            span(after.stepped(false, today)),
            Some(range("2026-11-26", "2026-12-02")),
            "back by the step, not by the days shown"
        );
    }

    #[test]
    fn months_step_by_calendar_months_and_this_one_ends_today() {
        let today = date("2026-03-05");
        let this = ReportDays::month(today, 0);
        assert_eq!(span(Some(this)), Some(range("2026-03-01", "2026-03-05")));
        let last = ReportDays::month(today, 1);
        assert_eq!(span(Some(last)), Some(range("2026-02-01", "2026-02-28")));
        assert_eq!(span(this.stepped(false, today)), span(Some(last)));
        assert_eq!(
            span(last.stepped(false, today)),
            Some(range("2026-01-01", "2026-01-31"))
        );
        assert_eq!(span(last.stepped(true, today)), span(Some(this)));
        assert_eq!(this.stepped(true, today), None);
        let january = ReportDays::month(today, 2);
        assert_eq!(span(Some(january)), Some(range("2026-01-01", "2026-01-31")));
        assert_eq!(
            span(Some(ReportDays::month(today, 3))),
            Some(range("2025-12-01", "2025-12-31"))
        );
    }

    #[test]
    fn a_typed_range_of_whole_months_steps_by_months() {
        let today = date("2026-12-05");
        let quarter = ReportDays::typed(date("2026-07-01"), date("2026-09-30"), today).unwrap();
        assert_eq!(quarter.step, Step::Months(3));
        assert_eq!(
            span(quarter.stepped(true, today)),
            Some(range("2026-10-01", "2026-12-05"))
        );
        let february =
            ReportDays::typed(date("2028-02-01"), date("2028-02-29"), date("2028-03-01"));
        assert_eq!(february.unwrap().step, Step::Months(1));
    }

    #[test]
    fn a_range_ending_before_it_starts_after_today_or_over_a_leap_year_is_refused() {
        let today = date("2026-12-05");
        let refused = |first: &str, last: &str| ReportDays::typed(date(first), date(last), today);
        assert_eq!(
            refused("2026-12-03", "2026-12-01"),
            Err(vec![RangeError::EndsBeforeItStarts])
        );
        assert_eq!(
            refused("2026-12-01", "2026-12-06"),
            Err(vec![RangeError::LastAfterToday])
        );
        assert_eq!(
            refused("2026-12-07", "2026-12-09"),
            Err(vec![
                RangeError::FirstAfterToday,
                RangeError::LastAfterToday
            ])
        );
        assert_eq!(
            refused("2025-12-04", "2026-12-05"),
            Err(vec![RangeError::TooLong])
        );
        let year = refused("2025-12-05", "2026-12-05").unwrap();
        assert_eq!(year.count(), 366);
        assert_eq!(
            refused("2026-12-05", "2026-12-05").unwrap(),
            ReportDays::day(today)
        );
    }
}
