//! The desk's time zone, and the database sessions' with it.
//!
//! The desk shows and reports times in its own zone (`App::zone`, the machine's offset fixed at
//! start; the reports pass it as `p_offset_secs`), and every session the desk opens (its
//! pool's, the health watcher's, the replica's; the tools' too) is set to the same fixed offset
//! ([`time_zone_option`], in `db::connection_config`), so the timestamps the SQL formats are the
//! desk's. A session's zone decides no rule: any session may change it (`SET TimeZone`, up to
//! a week either way), so every day a rule hangs on — a reading "later than today", prices
//! "from today", a change of owner in two modifies of a day, a card meter's cycle — is the
//! utility's, the installation's zone (sql/V280: `md_today()` for the day the desk's forms
//! name, the day rules pinned to it). A database's first migration takes that zone from the
//! migrating session, the installer's desk's, so desks in the installer's zone see the
//! utility's day as their own; a desk elsewhere shows its own times and the utility's days.

use std::sync::OnceLock;

use chrono::{FixedOffset, Local};

static DESK_ZONE: OnceLock<FixedOffset> = OnceLock::new();

/// The desk's zone: the machine's offset (`TZ` or /etc/localtime) when first asked, then fixed
/// for the process, so the desk's screens and its database sessions never disagree on a date
/// (a change of daylight saving time is seen at the next start, by both alike).
pub fn desk_zone() -> FixedOffset {
    *DESK_ZONE.get_or_init(|| *Local::now().offset())
}

/// Fixes the desk's zone to `zone` before anything asked for it (tests, which cannot move the
/// machine's clock or zone). Answers the zone in force: `zone`, or the one fixed earlier.
pub fn fix_desk_zone(zone: FixedOffset) -> FixedOffset {
    *DESK_ZONE.get_or_init(|| zone)
}

/// The server option setting a session's `TimeZone` to `zone`, as a POSIX zone whose name is
/// the offset itself: POSIX counts hours WEST of Greenwich, so eight hours east is
/// `<+08:00>-08:00` (a bare "UTC+8" would be eight hours west).
pub fn time_zone_option(zone: FixedOffset) -> String {
    format!(
        "-c TimeZone=<{}>{}",
        offset_text(zone.local_minus_utc()),
        offset_text(-zone.local_minus_utc())
    )
}

/// `seconds` east as `+hh:mm` (or `+hh:mm:ss`), with its sign.
fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let seconds = seconds.unsigned_abs();
    let (hours, minutes, rest) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if rest == 0 {
        format!("{sign}{hours:02}:{minutes:02}")
    } else {
        format!("{sign}{hours:02}:{minutes:02}:{rest:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn east(seconds: i32) -> FixedOffset {
        FixedOffset::east_opt(seconds).unwrap()
    }

    #[test]
    fn an_offset_east_is_negative_in_posix_terms() {
        assert_eq!(
            time_zone_option(east(8 * 3600)),
            "-c TimeZone=<+08:00>-08:00"
        );
        assert_eq!(time_zone_option(east(0)), "-c TimeZone=<+00:00>+00:00");
        assert_eq!(
            time_zone_option(east(-(5 * 3600 + 30 * 60))),
            "-c TimeZone=<-05:30>+05:30"
        );
        assert_eq!(
            time_zone_option(east(5 * 3600 + 45 * 60 + 30)),
            "-c TimeZone=<+05:45:30>-05:45:30"
        );
    }
}
