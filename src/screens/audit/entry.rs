//! One entry of the log in full (Enter on a line): who, when, what, and the change itself.
//! A detail holding `before` and `after` objects is shown as `field: before → after` for each
//! field that changed; anything else in a detail as `key: value` lines (nested objects by
//! their dotted path). Every stored text is drawn inert; long values wrap.

use std::collections::BTreeMap;

use chrono::{FixedOffset, NaiveDate};
use ratatui::style::Style;
use ratatui::text::Line;
use serde_json::Value;

use crate::app::card_status::state_key;
use crate::db::audit::AuditRow;
use crate::db::card_ops::OperationState;
use crate::domain::money::Money;
use crate::i18n::Lang;
use crate::screens::receipt::named_payment_method;
use crate::ui::inert::inert;
use crate::ui::text::{chunks, coded, widest, width};
use crate::ui::theme::Theme;

/// The entry's lines, each at most `room` cells wide; `masks`: the reader serves no customer,
/// so the database masked the customers' personal values in the detail (sql/V255).
pub fn lines(
    row: &AuditRow,
    lang: Lang,
    zone: FixedOffset,
    room: usize,
    theme: &Theme,
    masks: bool,
) -> Vec<Line<'static>> {
    let named = Named::of(row, masks);
    let facts = [
        (
            "audit_log.at",
            row.at
                .with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string(),
        ),
        ("audit_log.operator", operator_text(row, lang)),
        ("audit_log.action", action_text(row, lang)),
        ("audit_log.outcome", outcome_text(row, lang)),
        ("audit_log.entity", entity_text(row, lang)),
        (
            "audit_log.customer",
            row.customer_no
                .map(|no| format!("{no:08}"))
                .unwrap_or_default(),
        ),
    ];
    let label_width = widest(facts.iter().map(|(key, _)| lang.t(key)));
    let mut lines: Vec<Line<'static>> = facts
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| {
            let label = lang.t(key);
            let pad = " ".repeat(label_width - width(label));
            Line::raw(format!(" {label}{pad}  {value}"))
        })
        .collect();
    lines.push(Line::raw(""));
    match change(&row.detail) {
        Some(change) => {
            lines.push(Line::styled(
                format!(" {}", lang.t("audit_log.changes")),
                theme.title(),
            ));
            if change.changed.is_empty() {
                lines.push(Line::styled(
                    format!(" {}", lang.t("audit_log.nothing_changed")),
                    theme.dim(),
                ));
            }
            for (field, before, after) in &change.changed {
                let (before, after) = (
                    value_shown(field, before, lang, named),
                    value_shown(field, after, lang, named),
                );
                let field = field_name(field, lang);
                push_wrapped(
                    &mut lines,
                    &lang.labelled(&field, &format!("{before} → {after}")),
                    room,
                );
            }
            if change.unchanged > 0 {
                let text = lang.tf("audit_log.unchanged", &[("count", &change.unchanged)]);
                lines.push(Line::styled(format!(" {text}"), theme.dim()));
            }
            if !change.other.is_empty() {
                lines.push(Line::raw(""));
                lines.push(Line::styled(
                    format!(" {}", lang.t("audit_log.other_detail")),
                    theme.title(),
                ));
            }
            push_pairs(&mut lines, &change.other, named, lang, room);
        }
        None => {
            lines.push(Line::styled(
                format!(" {}", lang.t("audit_log.detail")),
                theme.title(),
            ));
            let mut pairs = Vec::new();
            flatten("", &row.detail, &mut pairs);
            if pairs.is_empty() {
                lines.push(Line::styled(
                    format!(" {}", lang.t("audit_log.no_detail")),
                    theme.dim(),
                ));
            }
            push_pairs(&mut lines, &pairs, named, lang, room);
        }
    }
    lines
}

/// What was done; a card operation that has not ended done says how it stands, since its entry
/// was written before the card was touched.
pub fn action_text(row: &AuditRow, lang: Lang) -> String {
    // A system-prepaid account's deposit is named as its account screen names it; prices not
    // yet in force corrected on their date (sql/V250: the entry tells what it replaces) as a
    // correction.
    let code = match (row.action.as_str(), row.business_model.as_deref()) {
        ("account.deposit", Some("system_prepaid")) => "account.recharge",
        ("price_version.add", _) if row.detail.get("replaces").is_some() => "price_version.correct",
        (code, _) => code,
    };
    let action = inert(&lang.audit_action(code)).into_owned();
    match row.operation_state {
        Some(state @ (OperationState::Pending | OperationState::Failed)) => lang.tf(
            "audit_log.action_outcome",
            &[("action", &action), ("state", &lang.t(state_key(state)))],
        ),
        Some(OperationState::Done) | None => action,
    }
}

/// A card operation's state now, and why it failed; empty for any other entry.
fn outcome_text(row: &AuditRow, lang: Lang) -> String {
    let Some(state) = row.operation_state else {
        return String::new();
    };
    let state = lang.t(state_key(state));
    match &row.failure_reason {
        Some(reason) => format!("{state} — {}", coded(lang, "ic.failure_", reason)),
        None => state.to_owned(),
    }
}

/// Who: the operator's login, or the system.
pub fn operator_text(row: &AuditRow, lang: Lang) -> String {
    row.operator.as_deref().map_or_else(
        || lang.t("audit_log.system").to_owned(),
        |login| inert(login).into_owned(),
    )
}

/// What it concerns: the kind of thing, named in the desk's language where known, and what the
/// counter calls it (a meter's number, not its row id), else its id.
pub fn entity_text(row: &AuditRow, lang: Lang) -> String {
    let entity = row
        .entity
        .as_deref()
        .map(|entity| coded(lang, "audit_log.entity_", entity))
        .unwrap_or_default();
    match (&row.entity_key, row.entity_id) {
        (Some(key), _) => format!("{entity} {}", inert(key)).trim().to_owned(),
        (None, Some(id)) => format!("{entity} {id}").trim().to_owned(),
        (None, None) => entity,
    }
}

/// A detail with `before` and `after`: the fields that differ (field, before, after), how many
/// are the same, and the detail's other keys.
#[derive(Debug, PartialEq)]
struct Change {
    changed: Vec<(String, String, String)>,
    unchanged: usize,
    other: Vec<(String, String)>,
}

/// The change a detail records, if it holds `before` and `after` objects (either may be null:
/// a row created or removed).
fn change(detail: &Value) -> Option<Change> {
    let object = detail.as_object()?;
    let side = |key: &str| -> Option<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        match object.get(key)? {
            Value::Null => {}
            value @ Value::Object(_) => flatten("", value, &mut pairs),
            _ => return None,
        }
        Some(pairs)
    };
    let (before, after) = (side("before")?, side("after")?);
    let value_in = |pairs: &[(String, String)], field: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == field)
            .map(|(_, value)| value.clone())
    };
    let mut fields: Vec<&String> = before.iter().chain(&after).map(|(key, _)| key).collect();
    fields.sort();
    fields.dedup();
    let mut changed = Vec::new();
    let mut unchanged = 0;
    for field in fields {
        let was = value_in(&before, field);
        let is = value_in(&after, field);
        if was == is {
            unchanged += 1;
        } else {
            let shown = |value: Option<String>| value.unwrap_or_else(|| ABSENT.to_owned());
            changed.push((field.clone(), shown(was), shown(is)));
        }
    }
    let mut other = Vec::new();
    for (key, value) in object {
        if key != "before" && key != "after" {
            flatten(key, value, &mut other);
        }
    }
    Some(Change {
        changed,
        unchanged,
        other,
    })
}

/// How a value that is null or missing on one side is shown.
const ABSENT: &str = "—";

/// `value` as `(path, text)` pairs: an object by its keys' dotted paths, anything else as one
/// value under `path`.
fn flatten(path: &str, value: &Value, pairs: &mut Vec<(String, String)>) {
    match value {
        Value::Object(fields) => {
            for (key, inner) in fields {
                let inner_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(&inner_path, inner, pairs);
            }
        }
        _ => pairs.push((inert(path).into_owned(), value_text(value))),
    }
}

/// A stored value as text: a string as itself, null as [`ABSENT`], anything else as JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => inert(text).into_owned(),
        Value::Null => ABSENT.to_owned(),
        other => inert(&other.to_string()).into_owned(),
    }
}

/// A detail's dotted path in the desk's language, each key named by the catalogue; a key it
/// does not know (a later version's) is shown as stored.
fn field_name(path: &str, lang: Lang) -> String {
    path.split('.')
        .map(|key| lang.audit_detail(key))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// What `audit_detail` (sql/V255) answers for a customer's personal value to a reader who
/// serves no customer, and for one a change changed.
const MASKED: &str = "***";
const MASKED_CHANGED: &str = "*** (changed)";

/// Detail keys whose values are amounts of money, stored as JSON numbers ("25.5").
const MONEY_KEYS: [&str; 5] = ["amount", "balance", "credited_amount", "deducted", "vat"];

/// Detail keys whose values are codes, with the catalogues that name them where the desk
/// shows them, tried in order: a key's catalogues know disjoint codes (the schema's checks),
/// so a `status` is a customer's, a bill's or a meter's and a `state` a card operation's or
/// a card's, whichever the code is.
const CODE_CATALOGUES: [(&str, &[&str]); 4] = [
    ("source", &["readings.source_"]),
    (
        "status",
        &["customers.status_", "bills.status_", "ref.status_"],
    ),
    ("meter_status", &["ref.status_"]),
    ("state", &["ic.opstate_", "customers.card_"]),
];

/// `code`, stored under `key`, by the name the first of the key's catalogues that knows it
/// gives; None if none does.
fn code_named(key: &str, code: &str, lang: Lang) -> Option<String> {
    let (_, catalogues) = CODE_CATALOGUES
        .iter()
        .find(|(coded_key, _)| *coded_key == key)?;
    catalogues.iter().find_map(|prefix| {
        let name = coded(lang, prefix, code);
        (name != code).then_some(name)
    })
}

/// What an entry's detail names by id, read with it: departments by name, bills by cycle; and
/// whether its customers' personal values are masked for this reader.
#[derive(Default, Clone, Copy)]
struct Named<'a> {
    departments: Option<&'a BTreeMap<i64, String>>,
    bills: Option<&'a BTreeMap<i64, NaiveDate>>,
    masks: bool,
}

/// The entities whose entries the database never masks, to any reader (sql/V255's
/// `audit_detail`): they name no customer, so a "***" in them is the value stored.
const NEVER_MASKED: [&str; 6] = [
    "operator",
    "role",
    "department",
    "meter_type",
    "customer_type",
    "price_scheme",
];

impl<'a> Named<'a> {
    /// What `row` names, read with it; `masks`: the database masks the customers' personal
    /// values for this reader, which it does in the entries of any entity but those it never
    /// masks.
    fn of(row: &'a AuditRow, masks: bool) -> Self {
        let never = row
            .entity
            .as_deref()
            .is_some_and(|entity| NEVER_MASKED.contains(&entity));
        Named {
            departments: Some(&row.department_names),
            bills: Some(&row.bill_cycles),
            masks: masks && !never,
        }
    }
}

/// A stored value as the desk shows it elsewhere: a payment method by its name, yes or no in
/// the desk's language, an amount of money with its two decimals, a code by its catalogue's
/// name, a department by its name and bills by their cycles (`named`, read with the entry),
/// roles by their names; anything else (a code no catalogue knows, a department gone) as
/// stored.
fn value_shown(path: &str, value: &str, lang: Lang, named: Named) -> String {
    let key = path.rsplit('.').next().unwrap_or(path);
    // A customer's personal value the database masked for this reader (sql/V255); to a
    // reader it masks nothing, a value "***" is the value stored.
    match (named.masks, value) {
        (true, MASKED) => return lang.t("audit_log.hidden").to_owned(),
        (true, MASKED_CHANGED) => return lang.t("audit_log.hidden_changed").to_owned(),
        _ => {}
    }
    if let Some(name) = code_named(key, value, lang) {
        return name;
    }
    match (key, value) {
        ("method", code) => named_payment_method(lang, code, code),
        ("department_id", id) => id
            .parse()
            .ok()
            .and_then(|id| named.departments?.get(&id))
            .map_or_else(|| id.to_owned(), |name| inert(name).into_owned()),
        // A payment's bills, ids as stored ("[6]"): each by its cycle, as the bills screen
        // names it; an id no bill has (never: bills are kept) as stored.
        ("bills", ids) => match serde_json::from_str::<Vec<i64>>(ids) {
            Ok(ids) if !ids.is_empty() => {
                let cycles: Vec<String> = ids
                    .iter()
                    .map(|id| {
                        named
                            .bills
                            .and_then(|bills| bills.get(id))
                            .map_or_else(|| id.to_string(), NaiveDate::to_string)
                    })
                    .collect();
                lang.list(&cycles)
            }
            _ => ids.to_owned(),
        },
        ("roles", codes) => match serde_json::from_str::<Vec<String>>(codes) {
            Ok(codes) if codes.is_empty() => ABSENT.to_owned(),
            Ok(codes) => lang.roles_named(&codes),
            Err(_) => codes.to_owned(),
        },
        (_, "true") => lang.t("ref.yes").to_owned(),
        (_, "false") => lang.t("ref.no").to_owned(),
        (key, amount) if MONEY_KEYS.contains(&key) => amount
            .parse::<Money>()
            .map_or_else(|_| amount.to_owned(), |money| money.to_string()),
        _ => value.to_owned(),
    }
}

fn push_pairs(
    lines: &mut Vec<Line<'static>>,
    pairs: &[(String, String)],
    named: Named,
    lang: Lang,
    room: usize,
) {
    for (key, value) in pairs {
        let value = value_shown(key, value, lang, named);
        let key = field_name(key, lang);
        push_wrapped(lines, &lang.labelled(&key, &value), room);
    }
}

/// `text` on as many lines as it needs, the continuation lines indented.
fn push_wrapped(lines: &mut Vec<Line<'static>>, text: &str, room: usize) {
    for (index, part) in chunks(text, room.saturating_sub(4).max(1))
        .into_iter()
        .enumerate()
    {
        let indent = if index == 0 { " " } else { "   " };
        lines.push(Line::styled(format!("{indent}{part}"), Style::new()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn before_and_after_show_what_changed() {
        let detail = json!({
            "version": 4,
            "before": {"name": "张伟", "phone": "138", "address": {"city": "Beijing"}},
            "after": {"name": "张伟伟", "phone": "138", "address": {"city": "Tianjin"},
                      "email": "a@b.cn"},
        });
        let change = change(&detail).expect("a change");
        assert_eq!(
            change.changed,
            [
                ("address.city".into(), "Beijing".into(), "Tianjin".into()),
                ("email".into(), ABSENT.into(), "a@b.cn".into()),
                ("name".into(), "张伟".into(), "张伟伟".into()),
            ]
        );
        assert_eq!(change.unchanged, 1);
        assert_eq!(change.other, [("version".into(), "4".into())]);
    }

    #[test]
    fn a_created_row_has_no_before_and_other_details_are_no_change() {
        let created = change(&json!({"before": null, "after": {"id": 7}})).expect("a change");
        assert_eq!(created.changed, [("id".into(), ABSENT.into(), "7".into())]);
        assert_eq!(change(&json!({"customer_id": 7, "card_no": 12})), None);
        assert_eq!(change(&json!({"before": "text", "after": {}})), None);
    }

    #[test]
    fn stored_escapes_are_made_inert() {
        let mut pairs = Vec::new();
        flatten("", &json!({"name": "Evil\u{1b}[31m"}), &mut pairs);
        assert!(!pairs[0].1.contains('\u{1b}'), "{pairs:?}");
    }

    /// `value` under `path` as an entry naming no department shows it.
    fn shown(path: &str, value: &str, lang: Lang) -> String {
        value_shown(path, value, lang, Named::default())
    }

    #[test]
    fn values_are_shown_as_the_desk_shows_them_elsewhere() {
        for (lang, cash, yes) in [(Lang::Zh, "现金", "是"), (Lang::En, "Cash", "Yes")] {
            assert_eq!(shown("method", "cash", lang), cash);
            assert_eq!(shown("after.rollover", "true", lang), yes);
            assert_eq!(shown("amount", "25.5", lang), "25.50");
            assert_eq!(shown("bills.0.amount", "-3", lang), "-3.00");
        }
        // A code the catalogue does not know, and anything that is not money, as stored.
        assert_eq!(shown("method", "sea_shells", Lang::Zh), "sea_shells");
        assert_eq!(shown("amount", "lots", Lang::Zh), "lots");
        assert_eq!(shown("receipt_no", "564", Lang::Zh), "564");
    }

    /// A payment's bills are named by their cycles, read with the entry (s39: "修改后 · 账单：
    /// [6]"); an id no bill has, and a count of bills (a reading's), as stored.
    #[test]
    fn bills_are_named_by_their_cycles() {
        let day = |text: &str| text.parse::<NaiveDate>().unwrap();
        let bills = BTreeMap::from([(6, day("2026-05-01")), (7, day("2026-07-01"))]);
        let named = || Named {
            bills: Some(&bills),
            ..Named::default()
        };
        assert_eq!(
            value_shown("after.bills", "[6]", Lang::Zh, named()),
            "2026-05-01"
        );
        assert_eq!(
            value_shown("after.bills", "[6,7]", Lang::Zh, named()),
            "2026-05-01、2026-07-01"
        );
        assert_eq!(
            value_shown("after.bills", "[6,7]", Lang::En, named()),
            "2026-05-01, 2026-07-01"
        );
        assert_eq!(value_shown("after.bills", "[9]", Lang::En, named()), "9");
        assert_eq!(value_shown("after.bills", "2", Lang::En, named()), "2");
    }

    /// A row created with no `before` (an operator made by the installer) is shown by its
    /// dotted paths; their first key is named too (the integrator, by hand: "after · 部门").
    #[test]
    fn a_lone_after_is_named_in_the_desks_language() {
        assert_eq!(field_name("after.department_id", Lang::Zh), "修改后 · 部门");
        assert_eq!(field_name("before.login", Lang::En), "Before · Login");
    }

    /// A code no catalogue of its key knows, a department not read with the entry and roles
    /// that are no list are shown as stored; no roles as none.
    #[test]
    fn codes_no_catalogue_knows_are_shown_as_stored() {
        assert_eq!(shown("source", "estimate", Lang::En), "Estimated");
        assert_eq!(shown("source", "guess", Lang::En), "guess");
        assert_eq!(shown("status", "pending", Lang::En), "pending");
        assert_eq!(shown("state", "recycled", Lang::Zh), "回收");
        assert_eq!(shown("after.department_id", "4", Lang::Zh), "4");
        let departments = BTreeMap::from([(4, "营业厅".to_owned())]);
        assert_eq!(
            value_shown(
                "after.department_id",
                "4",
                Lang::Zh,
                Named {
                    departments: Some(&departments),
                    ..Named::default()
                }
            ),
            "营业厅"
        );
        assert_eq!(shown("roles", "[]", Lang::Zh), ABSENT);
        assert_eq!(shown("roles", "clerk", Lang::Zh), "clerk");
    }
}
