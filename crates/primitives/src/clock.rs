//! Time as Cairn records it: milliseconds since the Unix epoch. The one place that reads the
//! machine's clock; code that runs under a simulated clock passes its own `SystemTime`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time since the Unix epoch of `time` (zero for a time before 1970).
pub fn since_epoch(time: SystemTime) -> Duration {
    time.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Milliseconds since the Unix epoch of `time` (zero before 1970; saturating far ahead).
pub fn millis_since_epoch(time: SystemTime) -> u64 {
    u64::try_from(since_epoch(time).as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch by this machine's clock.
pub fn now_ms() -> u64 {
    millis_since_epoch(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_before_the_epoch_are_zero_and_others_exact() {
        assert_eq!(millis_since_epoch(UNIX_EPOCH - Duration::from_secs(5)), 0);
        assert_eq!(
            millis_since_epoch(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123)),
            1_700_000_000_123
        );
        assert!(now_ms() > 1_700_000_000_000);
    }
}
