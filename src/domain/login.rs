//! How repeated failed logins slow down: a pure rule, kept next to its tests.

use std::time::Duration;

/// Failures allowed before any delay applies.
pub const FREE_ATTEMPTS: u32 = 3;
/// The longest an operator is ever made to wait.
pub const MAX_DELAY: Duration = Duration::from_secs(300);

/// The wait imposed after `failures` consecutive failed logins for one operator name:
/// none for the first few, then doubling from 2 s up to `MAX_DELAY`.
pub fn delay_after(failures: u32) -> Duration {
    if failures < FREE_ATTEMPTS {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_ATTEMPTS).min(16);
    Duration::from_secs(2u64 << doublings).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failures_cost_nothing() {
        for failures in 0..FREE_ATTEMPTS {
            assert_eq!(delay_after(failures), Duration::ZERO);
        }
    }

    #[test]
    fn the_delay_doubles_then_stops_at_the_maximum() {
        assert_eq!(delay_after(3), Duration::from_secs(2));
        assert_eq!(delay_after(4), Duration::from_secs(4));
        assert_eq!(delay_after(5), Duration::from_secs(8));
        assert_eq!(delay_after(20), MAX_DELAY);
        assert_eq!(delay_after(u32::MAX), MAX_DELAY);
    }
}
