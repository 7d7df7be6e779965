//! The database's refusals in the desk's words, for those no request answers with a refusal of
//! its own (`MoveRefusal`, `card_ops::Refusal`, a form's "name taken" …): what reaches
//! `Failure` from a `DbError` (`app::requests`) is said from [`KNOWN`] by its SQLSTATE or its
//! constraint, not with the server's English (s36-c: "数据库拒绝了此操作：…" then English).
//!
//! Every custom SQLSTATE (`MD…`) and every constraint or unique index the migrations name is
//! decided here: said ([`KNOWN`]) or not met by the desk ([`NOT_SAID`], with why). A unit test
//! reads sql/ and fails on one that is neither, so a migration that adds one decides its words
//! with it.
//!
//! What is still unknown is said without the server's text ("the desk has no words for it"),
//! with its SQLSTATE and constraint for whoever reads the report; the server's message goes to
//! the log (`tracing::warn`).

use tokio_postgres::error::DbError as ServerError;

use super::DbError;

/// How a refusal is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// By its SQLSTATE: a custom `MD…` one, or a standard one only the desk's own refusals
    /// raise (said below where).
    Code(&'static str),
    /// By the constraint or unique index that refused (the error's `constraint`).
    Constraint(&'static str),
}

/// A refusal the desk says in its words: the catalogue key `key` (section `refused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub mark: Mark,
    pub key: &'static str,
}

const fn code(code: &'static str, key: &'static str) -> Known {
    Known {
        mark: Mark::Code(code),
        key,
    }
}

const fn constraint(name: &'static str, key: &'static str) -> Known {
    Known {
        mark: Mark::Constraint(name),
        key,
    }
}

/// The refusals said in the desk's words. Constraints before codes: a constraint is the more
/// particular mark.
pub const KNOWN: &[Known] = &[
    // A reading dated after the server's today: the desk's form refuses a date after the
    // desk's, and its sessions share its zone (`db::zone`), so only two clocks that disagree
    // (the desk's machine ahead of the server's) meet it (sql/V69).
    constraint(
        "meter_reading_not_after_today",
        "refused.reading_after_today",
    ),
    // A transaction reversed twice: two supervisors voiding the same payment at once (V32).
    constraint("ledger_transaction_reversed_once", "refused.reversed_once"),
    // Two desks issuing this customer's card at the same moment (sql/V1, V5).
    constraint(
        "card_one_active_per_customer",
        "refused.card_issued_meanwhile",
    ),
    constraint("card_generation_issued", "refused.card_issued_meanwhile"),
    // Two desks beginning a card operation of one customer at the same moment (sql/V1).
    constraint(
        "card_operation_one_pending_per_customer",
        "refused.card_busy",
    ),
    constraint("card_operation_purchase_seq", "refused.card_busy"),
    // Two readings billing one cycle at the same moment (sql/V18).
    constraint("bill_open_per_cycle", "refused.bill_open_meanwhile"),
    // A balance that would go below zero: a movement and a card purchase answer it
    // themselves (`MoveRefusal::AboveBalance`, `Refusal::BalanceTooLow`); any other write
    // of the balance is said so (sql/V1, V18).
    constraint("account_balance_check", "refused.balance"),
    // The customer changed owner since the screen read it (sql/V110: `bill_pay_for`; s36-a's
    // card recharge and s36-h's card refund may raise it too, V112 and V119's
    // `customer_owner_unchanged`). A bill payment and the card operations answer it themselves
    // (`PayOutcome`, `card_ops::Refusal::OwnerChanged`).
    code("MD410", "refused.owner_changed"),
    // A transfer whose account was billed between the desk's question and its write (a
    // reading at another desk); the desk asks first, behind the account's lock (sql/V134).
    code("MD421", "refused.transfer_unpaid_bills"),
    // A card recharge while its customer owes water a meter loaded unpaid (sql/V163): the card
    // flow answers it with `card_ops::Refusal::Owes`; a write that meets it elsewhere says so.
    code("MD430", "refused.owes_loaded_water"),
    // Only the desk's "closed customer" triggers raise 55000 (`customer_closed_is_read_only`,
    // `card_refuses_closed_customer`, `ledger_posted`): a customer closed by another desk
    // while this one's form was open. Money and the basic information answer it themselves.
    code("55000", "refused.customer_closed"),
    // A permission ticked into a role its administrator holds (sql/V265): another
    // administrator gives it.
    code("MD443", "refused.own_role_permission"),
    // Two desks writing the same rows at the same moment: the server gave up on one.
    code("40001", "refused.concurrent"),
    code("40P01", "refused.concurrent"),
    // A privilege the server's grants refuse (not `md_require`'s, which names its permission).
    code("42501", "refused.privilege"),
];

/// The custom SQLSTATEs and named constraints the desk does not say, and why: a path of its
/// own answers them first, or no screen can reach them.
pub const NOT_SAID: &[(&str, &str)] = &[
    (
        "card_recharge_owed_numbers_a_number",
        "a card debt's sum is written by the database's own functions from an operation's sum, never NaN (sql/V172, V148's rule)",
    ),
    (
        "applied_write_kind_check",
        "the kinds of the desk's own exactly-once records: written by the desk's code only",
    ),
    (
        "MD420",
        "answered by the transfer: a card operation pending (TransferOutcome::CardOperationPending, sql/V131)",
    ),
    (
        "MD431",
        "answered by the transfer, asked first behind the account's lock: water a meter loaded unpaid (TransferOutcome::WaterOwed, sql/V183)",
    ),
    (
        "MD441",
        "answered by the modify, whose form refuses it before sending: a change of owner (ModifyOutcome::ChangeOfOwner, sql/V230)",
    ),
    (
        "MD442",
        "answered by the modify: a change of owner in two modifies of a day (ModifyOutcome::ChangeOfOwner { in_steps: true }, sql/V263)",
    ),
    (
        "operator_db_role_key",
        "the server role is made from the login, which `operator_login_key` keeps apart first",
    ),
    (
        "operator_login_key",
        "answered by the operators' form: the login taken (db::operators, OperatorReply::LoginTaken)",
    ),
    (
        "shift_one_open_per_operator",
        "answered by the shift screen: already open (db::shifts::Opened::AlreadyOpen)",
    ),
    (
        "department_name_any_case",
        "answered by the departments' form: the name taken",
    ),
    (
        "customer_type_name_any_case",
        "answered by the customer types' form: the name taken",
    ),
    (
        "meter_type_name_any_case",
        "answered by the meter types' form: the name taken",
    ),
    (
        "price_scheme_name_any_case",
        "answered by the schemes' form: the name taken",
    ),
    (
        "bill_figures_not_negative",
        "a bill's figures are priced by the database (md_price; an import's are checked by it)",
    ),
    (
        "meter_reading_figures_not_negative",
        "a reading's figures are read as not negative (validation::volume), its consumption is the database's own",
    ),
    (
        "bill_reason_only_when_void",
        "the bills' void pane sends a reason, and only with a void",
    ),
    (
        "card_not_issued_is_not_blacklisted",
        "the card journal's own rows, written by the desk's code (db::card_ops)",
    ),
    (
        "card_operation_pending_has_plan",
        "the card journal's own rows, written by the desk's code (db::card_ops)",
    ),
    (
        "card_void_reason_check",
        "the card journal's own rows, written by the desk's code (db::card_ops)",
    ),
    (
        "card_operation_failure_reason_known",
        "the card journal's own reasons, written by the desk's code (db::card_ops::FailureReason)",
    ),
    (
        "customer_customer_no_check",
        "customer numbers are drawn by the database (`customer_serial`), never typed",
    ),
    (
        "operator_login_is_a_name",
        "the operators' form checks the login with the same rule (init::valid_login)",
    ),
    (
        "role_code_is_no_reserved_name",
        "roles are the installation's (sql/V2): no screen adds one",
    ),
    (
        "price_tier_unit_price_to_four_decimals",
        "the prices' form sends tiers `PriceVersion::new` accepted (UnitPrice: 4 decimals)",
    ),
    (
        "price_tier_upper_bound_m3_to_the_litre",
        "the prices' form sends tiers `PriceVersion::new` accepted (Volume: to the litre)",
    ),
    (
        "price_tier_one_open_ended",
        "the prices' form sends tiers `PriceVersion::new` accepted: exactly one open-ended",
    ),
    (
        "ledger_transaction_check",
        "a ledger row's own rules (md_ledger_row_rules, sql/V179): its rows are the database's functions', from amounts and keys the desk checked",
    ),
    (
        "card_operation_check",
        "a card operation's own rules (md_card_operation_row_rules, sql/V186): its rows are the database's functions', from records and kinds the desk's card plan made",
    ),
    (
        "card_check",
        "a card's own rules (md_card_row_rules, sql/V187): its rows are the card journal's, written by the desk's code (db::card_ops) and the database's functions",
    ),
    (
        "meter_reading_idempotency_key_check",
        "the exactly-once keys are made by the desk, never empty nor over 200 characters",
    ),
    (
        "card_operation_idempotency_key_check",
        "the exactly-once keys are made by the desk, never empty nor over 200 characters",
    ),
    (
        "applied_write_idempotency_key_check",
        "the exactly-once keys are made by the desk, never empty nor over 200 characters",
    ),
];

/// The catalogue key of `error`'s refusal, when the desk has words for it.
pub fn known(error: &DbError) -> Option<&'static str> {
    known_server(server_error(error)?)
}

fn known_server(server: &ServerError) -> Option<&'static str> {
    let refused_code = server.code().code();
    KNOWN
        .iter()
        .find(|known| match known.mark {
            Mark::Constraint(name) => server.constraint() == Some(name),
            Mark::Code(_) => false,
        })
        .or_else(|| {
            KNOWN
                .iter()
                .find(|known| matches!(known.mark, Mark::Code(code) if code == refused_code))
        })
        .map(|known| known.key)
}

/// The server's refusal in `error`, if the server refused.
pub fn server_error(error: &DbError) -> Option<&ServerError> {
    match error {
        DbError::Query(error) => error.as_db_error(),
        _ => None,
    }
}

/// What names a refusal the desk has no words for: its SQLSTATE and, if any, its constraint
/// (identifiers, the same in every language), for the report; the server's English is
/// logged here.
pub fn unknown_marks(error: &DbError) -> String {
    tracing::warn!("a database refusal the desk has no words for: {error}");
    match server_error(error) {
        Some(server) => match server.constraint() {
            Some(constraint) => format!("SQLSTATE {}, {constraint}", server.code().code()),
            None => format!("SQLSTATE {}", server.code().code()),
        },
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::i18n::Lang;

    /// The custom SQLSTATEs (`ERRCODE = 'MD…'`) and the names given to constraints and unique
    /// indexes (`CONSTRAINT name CHECK|UNIQUE|…`, `CREATE UNIQUE INDEX name`, `USING
    /// CONSTRAINT = 'name'`) in the migrations' text, comments left out.
    pub(crate) fn marks_in(sql: &str) -> BTreeSet<String> {
        let text: String = sql
            .lines()
            .map(|line| line.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n")
            // A name made by `format` (sql/V104's NaN checks, one per money column, since V148
            // one per table, `<table>_numbers_a_number`: no Decimal the desk sends is NaN or
            // infinite, so no desk words; the report names the constraint) is no name in the
            // text.
            .replace("%I", " ")
            .replace("%s", " ");
        let words: Vec<String> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| !word.is_empty())
            .map(str::to_owned)
            .collect();
        let lower = |i: usize| words.get(i).map(|word| word.to_ascii_lowercase());
        let mut marks = BTreeSet::new();
        for (i, word) in words.iter().enumerate() {
            match word.to_ascii_lowercase().as_str() {
                "errcode" => {
                    if let Some(code) = words.get(i + 1)
                        && code.len() == 5
                        && code.to_ascii_uppercase().starts_with("MD")
                    {
                        marks.insert(code.to_ascii_uppercase());
                    }
                }
                "constraint" => {
                    let before = i.checked_sub(1).and_then(lower);
                    let after = lower(i + 2);
                    let declared = matches!(
                        after.as_deref(),
                        Some("check" | "unique" | "exclude" | "foreign" | "primary")
                    );
                    let raised = before.as_deref() == Some("using");
                    if (declared || raised)
                        && before.as_deref() != Some("drop")
                        && let Some(name) = lower(i + 1)
                    {
                        marks.insert(name);
                    }
                }
                "unique" if lower(i + 1).as_deref() == Some("index") => {
                    let mut at = i + 2;
                    while matches!(
                        lower(at).as_deref(),
                        Some("if" | "not" | "exists" | "concurrently")
                    ) {
                        at += 1;
                    }
                    if let Some(name) = lower(at)
                        && name != "on"
                    {
                        marks.insert(name);
                    }
                }
                _ => {}
            }
        }
        marks
    }

    fn decided() -> BTreeSet<String> {
        KNOWN
            .iter()
            .map(|known| match known.mark {
                Mark::Code(code) | Mark::Constraint(code) => code.to_owned(),
            })
            .chain(NOT_SAID.iter().map(|(name, _)| (*name).to_owned()))
            .collect()
    }

    fn migrations() -> String {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
        let mut text = String::new();
        for entry in std::fs::read_dir(&dir).expect("sql/") {
            let path = entry.expect("an entry of sql/").path();
            if path.extension().is_some_and(|ext| ext == "sql") {
                text += &std::fs::read_to_string(&path).expect("a migration");
                text += "\n";
            }
        }
        text
    }

    /// Every custom SQLSTATE and named constraint of sql/ is said in the desk's words or
    /// listed as not met with why: a migration adding one without deciding fails here.
    #[test]
    fn every_custom_sqlstate_and_named_constraint_has_the_desks_words_or_a_reason() {
        let found = marks_in(&migrations());
        assert!(
            found.contains("MD410"),
            "the scan finds MD codes: {found:?}"
        );
        assert!(
            found.contains("bill_open_per_cycle"),
            "the scan finds unique indexes: {found:?}"
        );
        let decided = decided();
        let undecided: Vec<_> = found.difference(&decided).collect();
        assert!(
            undecided.is_empty(),
            "refusals of sql/ with no desk words (db::refused::KNOWN) and no reason \
             (db::refused::NOT_SAID): {undecided:?}"
        );
        // No entry for what sql/ does not name (a stale or misspelt mark), but for the
        // standard SQLSTATEs, which are the server's.
        let stale: Vec<_> = decided
            .iter()
            .filter(|mark| !found.contains(*mark))
            .filter(|mark| !mark.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .collect();
        assert!(stale.is_empty(), "marks sql/ does not name: {stale:?}");
    }

    /// The scan itself: what a new migration would add is found (so the test above can
    /// fail), what is only mentioned is not.
    #[test]
    fn the_scan_finds_a_new_code_a_named_constraint_and_an_index_not_a_comment() {
        let found = marks_in(
            "-- a comment on a CONSTRAINT x CHECK and ERRCODE = 'MD999'\n\
             RAISE EXCEPTION 'owner' USING ERRCODE = 'MD411';\n\
             RAISE EXCEPTION 'taken' USING CONSTRAINT = 'card_holder_kept';\n\
             ALTER TABLE bill ADD CONSTRAINT bill_amount_positive CHECK (amount > 0);\n\
             ALTER TABLE bill DROP CONSTRAINT bill_old_check;\n\
             CREATE UNIQUE INDEX IF NOT EXISTS reading_once_a_day ON meter_reading (meter_id);\n",
        );
        let expected: BTreeSet<String> = [
            "MD411",
            "card_holder_kept",
            "bill_amount_positive",
            "reading_once_a_day",
        ]
        .map(str::to_owned)
        .into();
        assert_eq!(found, expected);
        let decided = decided();
        assert!(
            !found.is_subset(&decided),
            "new marks are not decided yet: the test above would fail"
        );
    }

    /// Every key said has words in both languages, which name no SQLSTATE.
    #[test]
    fn every_known_refusal_has_words_in_both_languages() {
        for known in KNOWN {
            for lang in [Lang::En, Lang::Zh] {
                let text = lang.t(known.key);
                assert!(
                    !text.is_empty() && text != known.key,
                    "{lang:?}: {}",
                    known.key
                );
            }
            let zh = Lang::Zh.t(known.key);
            assert!(
                !zh.chars().any(|c| c.is_ascii_alphabetic()),
                "zh words without Latin letters: {zh}"
            );
        }
    }
}
