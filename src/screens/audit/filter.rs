//! The viewer's filter: the form the clerk fills in (`/`), what it means for the query, and
//! the one line that says which filter is on.

use chrono::{Days, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::app::form::{Field, FieldKind, Form};
use crate::db::audit::AuditFilter;
use crate::domain::customer_number::CustomerNumber;
use crate::domain::validation::halfwidth_text;
use crate::i18n::Lang;
use crate::ui::inert::inert;
use tui_input::Input;

const OPERATOR: &str = "audit_log.f_operator";
const CUSTOMER: &str = "audit_log.f_customer";
const KIND: &str = "audit_log.f_kind";
const FROM: &str = "audit_log.f_from";
const TO: &str = "audit_log.f_to";

/// The filter as typed: empty fields keep everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Typed {
    pub operator: String,
    pub customer: String,
    pub kind: String,
    pub from: String,
    pub to: String,
}

impl Typed {
    /// The filter form, filled in with this filter.
    pub fn form(&self) -> Form {
        let mut form = Form::new(vec![
            Field::new(OPERATOR, FieldKind::Text { max: 32 }, false),
            Field::new(CUSTOMER, FieldKind::Digits { len: 8 }, false),
            Field::new(KIND, FieldKind::Text { max: 40 }, false),
            Field::new(FROM, FieldKind::Date, false),
            Field::new(TO, FieldKind::Date, false),
        ]);
        for (index, text) in self.texts().into_iter().enumerate() {
            form.fields[index].input = Input::new(text.to_owned());
        }
        form.mark_saved();
        form
    }

    fn texts(&self) -> [&str; 5] {
        [
            &self.operator,
            &self.customer,
            &self.kind,
            &self.from,
            &self.to,
        ]
    }

    /// What `form` holds, checked by the rules its fields' kinds do not know: a customer
    /// number's check digit, a start not after `today`, and a date range that does not end
    /// before it starts. Otherwise
    /// the bad fields (index, text).
    pub fn read(form: &Form, lang: Lang, today: NaiveDate) -> Result<Typed, Vec<(usize, String)>> {
        let text = |index: usize| form.fields[index].value().trim().to_owned();
        // A login and a kind are ASCII: typed full-width, their ASCII twins (s43-e).
        let ascii = |index: usize| halfwidth_text(&text(index));
        let typed = Typed {
            operator: ascii(0),
            customer: text(1),
            kind: ascii(2),
            from: text(3),
            to: text(4),
        };
        let mut errors = Vec::new();
        if !typed.customer.is_empty() && typed.customer.parse::<CustomerNumber>().is_err() {
            errors.push((1, lang.t("audit_log.bad_customer").to_owned()));
        }
        // A start after today finds nothing: told, as the reports tell it (s44-e).
        if date(&typed.from).is_some_and(|from| from > today) {
            errors.push((3, lang.tf("audit_log.after_today", &[("today", &today)])));
        }
        if let (Some(from), Some(to)) = (date(&typed.from), date(&typed.to))
            && to < from
        {
            errors.push((4, lang.t("audit_log.bad_range").to_owned()));
        }
        if errors.is_empty() {
            Ok(typed)
        } else {
            Err(errors)
        }
    }

    /// The query's filter: the dates are whole days in the desk's time zone, both included.
    pub fn filter(&self, zone: FixedOffset) -> AuditFilter {
        let given = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        let midnight = |day: NaiveDate| {
            zone.from_local_datetime(&day.and_time(NaiveTime::MIN))
                .single()
                .map(|at| at.with_timezone(&Utc))
        };
        AuditFilter {
            operator: given(&self.operator),
            customer_no: self.customer.parse().ok(),
            kind: given(&self.kind),
            from: date(&self.from).and_then(midnight),
            until: date(&self.to)
                .and_then(|day| day.checked_add_days(Days::new(1)))
                .and_then(midnight),
        }
    }

    /// What the rows say when the filter keeps none: with an operator, that the login is
    /// matched whole (s39-g, by hand: "super" for the supervisor's login `supervisor` found
    /// "No entries for this filter.", as if the supervisor had done nothing).
    pub fn none(&self, lang: Lang) -> String {
        if self.operator.is_empty() {
            lang.t("audit_log.none").to_owned()
        } else {
            lang.tf(
                "audit_log.none_operator",
                &[("login", &inert(&self.operator))],
            )
        }
    }

    /// The line over the rows: the filter that is on, or that none is.
    pub fn summary(&self, lang: Lang) -> String {
        let mut parts: Vec<String> = [
            ("audit_log.by_operator", &self.operator),
            ("audit_log.by_customer", &self.customer),
            ("audit_log.by_kind", &self.kind),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(label, value)| format!("{} {}", lang.t(label), inert(value)))
        .collect();
        // One day once (s39-g, by hand: "… · 2026-12-06–2026…" cut at 80 columns).
        if self.from == self.to && !self.from.is_empty() {
            parts.push(self.from.clone());
        } else if !self.from.is_empty() || !self.to.is_empty() {
            parts.push(format!("{}–{}", self.from, self.to));
        }
        if parts.is_empty() {
            lang.t("audit_log.no_filter").to_owned()
        } else {
            lang.tf("audit_log.filter", &[("filter", &parts.join(" · "))])
        }
    }
}

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_whole_days_in_the_desks_zone() {
        let typed = Typed {
            from: "2026-12-01".into(),
            to: "2026-12-03".into(),
            kind: "card.".into(),
            ..Typed::default()
        };
        let beijing = FixedOffset::east_opt(8 * 3600).unwrap();
        let filter = typed.filter(beijing);
        assert_eq!(
            filter.from.map(|at| at.to_rfc3339()).as_deref(),
            Some("2026-11-30T16:00:00+00:00")
        );
        assert_eq!(
            filter.until.map(|at| at.to_rfc3339()).as_deref(),
            Some("2026-12-03T16:00:00+00:00")
        );
        assert_eq!(filter.kind.as_deref(), Some("card."));
        assert_eq!((filter.operator, filter.customer_no), (None, None));
    }

    /// s43-e, by hand: "ａｄｍｉｎ" typed by a Chinese input method found nothing ("Is ａｄｍｉｎ
    /// an operator's whole login?"). A login and a kind are ASCII: typed full-width, they are
    /// their ASCII twins, as the customer number typed so already was.
    #[test]
    fn a_login_and_a_kind_typed_full_width_are_their_ascii_twins() {
        let typed = Typed {
            operator: "ａｄｍｉｎ".into(),
            kind: "ｃａｒｄ．".into(),
            ..Typed::default()
        };
        let read = Typed::read(&typed.form(), Lang::En, NaiveDate::MAX).unwrap();
        assert_eq!(
            (read.operator.as_str(), read.kind.as_str()),
            ("admin", "card.")
        );
    }

    /// s44-e, by hand: a start after today found nothing and said only "No entries for this
    /// filter."; it is told, as the reports tell it. An end after today takes today's entries.
    #[test]
    fn a_start_after_today_is_refused_and_an_end_after_today_is_not() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let typed = Typed {
            from: "2026-12-07".into(),
            to: "2026-12-09".into(),
            ..Typed::default()
        };
        let errors = Typed::read(&typed.form(), Lang::En, today).unwrap_err();
        assert_eq!(
            errors,
            [(
                3,
                "after today (2026-12-06): nothing is recorded there yet".to_owned()
            )]
        );
        let typed = Typed {
            from: "2026-12-06".into(),
            to: "2026-12-09".into(),
            ..Typed::default()
        };
        assert!(Typed::read(&typed.form(), Lang::En, today).is_ok());
    }

    #[test]
    fn a_wrong_check_digit_and_a_range_ending_before_it_starts_are_refused() {
        let typed = Typed {
            customer: "10023458".into(),
            from: "2026-12-03".into(),
            to: "2026-12-01".into(),
            ..Typed::default()
        };
        let errors = Typed::read(&typed.form(), Lang::En, NaiveDate::MAX).unwrap_err();
        let fields: Vec<usize> = errors.iter().map(|(index, _)| *index).collect();
        assert_eq!(fields, [1, 4]);
    }
}
