//! When schedule lines fall due, in block time: the heights and the header timestamps (UTC)
//! that every validator agrees on, never a machine's clock.
//!
//! Pure: given where a package was deployed, where the schedule last looked, and the block
//! now being made, a trigger says which of its occurrences fell due in between, earliest
//! first. The chain runs them, under its per-block caps, and records how late each ran.

use crate::package::Trigger;

/// A point on the chain: a block's height and its header timestamp (ms since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ChainPoint {
    /// Block height.
    pub height: u64,
    /// Header timestamp, ms since the Unix epoch (UTC).
    pub time_ms: u64,
}

/// One occurrence of a trigger: the height (block triggers) or the time (time triggers) at
/// which it fell due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Due {
    /// At this height.
    Height(u64),
    /// At this time, ms since the Unix epoch.
    Time(u64),
}

const MS_PER_DAY: u64 = 86_400_000;

impl Trigger {
    /// The occurrences after `after` up to and including `now`, for a package deployed at
    /// `deployed`: earliest first, at most `limit` (the rest follow when asked again from the
    /// last one returned). `onStart` falls due at the deployment itself, so it is returned
    /// when `after` lies before the deployment block; the others at whole periods after the
    /// deployment (`monthly` at each month's DAY and HH:MM after it).
    pub fn due(
        &self,
        deployed: ChainPoint,
        after: ChainPoint,
        now: ChainPoint,
        limit: usize,
    ) -> Vec<Due> {
        let mut out = Vec::new();
        match *self {
            Trigger::OnStart => {
                if after.height < deployed.height && deployed.height <= now.height && limit > 0 {
                    out.push(Due::Height(deployed.height));
                }
            }
            // A period of 0 never falls due (the compiler refuses it; this guards hand-made
            // triggers).
            Trigger::EveryBlocks(0) | Trigger::EverySeconds(0) => {}
            Trigger::EveryBlocks(period) => {
                let heights = periods(deployed.height, after.height, now.height, period, limit);
                out.extend(heights.into_iter().map(Due::Height));
            }
            Trigger::EverySeconds(seconds) => {
                let period = seconds.saturating_mul(1_000);
                let times = periods(deployed.time_ms, after.time_ms, now.time_ms, period, limit);
                out.extend(times.into_iter().map(Due::Time));
            }
            Trigger::Monthly { day, hour, minute } => {
                let from = after.time_ms.max(deployed.time_ms);
                let (mut year, mut month, _) = civil_from_days((from / MS_PER_DAY) as i64);
                while out.len() < limit {
                    // Each pass moves a month on, so the loop ends: at `now`, or where times
                    // no longer fit.
                    let Some(time) = monthly_time(year, month, day, hour, minute) else {
                        break;
                    };
                    if time > now.time_ms {
                        break;
                    }
                    if time > from {
                        out.push(Due::Time(time));
                    }
                    (year, month) = if month == 12 {
                        (year + 1, 1)
                    } else {
                        (year, month + 1)
                    };
                }
            }
        }
        out
    }
}

/// `origin + k × period` for k ≥ 1 in `(after, now]`: at most `limit`, earliest first. Times
/// past the end of `u64` never fall due.
fn periods(origin: u64, after: u64, now: u64, period: u64, limit: usize) -> Vec<u64> {
    let mut out = Vec::new();
    // The first whole period after both the origin and `after`.
    let k = (after.max(origin) - origin) / period + 1;
    let mut next = k.checked_mul(period).and_then(|d| origin.checked_add(d));
    while let Some(at) = next {
        if at > now || out.len() >= limit {
            break;
        }
        out.push(at);
        next = at.checked_add(period);
    }
    out
}

/// The time of DAY HH:MM of this month (UTC), ms since the epoch; `None` past the end of
/// `u64`.
fn monthly_time(year: i64, month: u32, day: u8, hour: u8, minute: u8) -> Option<u64> {
    let days = days_from_civil(year, month, u32::from(day));
    let minutes = i64::from(hour) * 60 + i64::from(minute);
    let ms = days
        .checked_mul(MS_PER_DAY as i64)?
        .checked_add(minutes * 60_000)?;
    u64::try_from(ms).ok()
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar (H. Hinnant's
/// algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date (year, month, day) of a day counted from 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ms since the epoch of a UTC date and time.
    fn at(year: i64, month: u32, day: u32, hour: u64, minute: u64) -> u64 {
        days_from_civil(year, month, day) as u64 * MS_PER_DAY + (hour * 60 + minute) * 60_000
    }

    fn point(height: u64, time_ms: u64) -> ChainPoint {
        ChainPoint { height, time_ms }
    }

    #[test]
    fn the_calendar_is_the_gregorian_one() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // As Python's datetime counts them: (date(2026, 11, 30) - date(1970, 1, 1)).days.
        assert_eq!(days_from_civil(2026, 11, 30), 20_787);
        assert_eq!(
            days_from_civil(2024, 2, 29) + 1,
            days_from_civil(2024, 3, 1)
        );
        assert_eq!(
            days_from_civil(2100, 2, 28) + 1,
            days_from_civil(2100, 3, 1)
        );
        for days in -800_000..800_000i64 {
            if days % 997 != 0 {
                continue;
            }
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn the_rent_falls_due_on_the_first_of_every_month() {
        // A lease signed on 15 January 2026 at noon; rent on the 1st of each month.
        let rent = Trigger::Monthly {
            day: 1,
            hour: 0,
            minute: 0,
        };
        let signed = point(100, at(2026, 1, 15, 12, 0));
        let a_year_on = point(2_000_000, at(2027, 1, 15, 12, 0));
        let due = rent.due(signed, signed, a_year_on, 100);
        let expected: Vec<Due> = (0..12)
            .map(|i| {
                let (year, month) = if i < 11 { (2026, 2 + i) } else { (2027, 1) };
                Due::Time(at(year, month, 1, 0, 0))
            })
            .collect();
        assert_eq!(due, expected);
        // Asked block by block, each month falls due once, in the first block at or past it.
        let mut last = signed;
        let mut seen = Vec::new();
        let mut time = signed.time_ms;
        let mut height = signed.height;
        while time <= a_year_on.time_ms {
            time += 6 * 3_600_000; // a block every six hours
            height += 1;
            let now = point(height, time);
            seen.extend(rent.due(signed, last, now, 100));
            last = now;
        }
        assert_eq!(seen, expected);
    }

    #[test]
    fn periods_count_from_the_deployment() {
        let deployed = point(10, 1_000_000);
        let blocks = Trigger::EveryBlocks(5);
        assert_eq!(
            blocks.due(deployed, deployed, point(27, 0), 100),
            [Due::Height(15), Due::Height(20), Due::Height(25)]
        );
        // From where the last look stopped; the look's own height is not repeated.
        assert_eq!(
            blocks.due(deployed, point(20, 0), point(30, 0), 100),
            [Due::Height(25), Due::Height(30)]
        );
        let seconds = Trigger::EverySeconds(60);
        assert_eq!(
            seconds.due(deployed, deployed, point(11, 1_000_000 + 150_000), 100),
            [Due::Time(1_060_000), Due::Time(1_120_000)]
        );
        // A long pause: every missed period, earliest first, a bounded number at a time.
        let later = point(12, 1_000_000 + 3_600_000);
        let first = seconds.due(deployed, deployed, later, 10);
        assert_eq!(first.len(), 10);
        let Due::Time(tenth) = first[9] else { panic!() };
        let rest = seconds.due(deployed, point(11, tenth), later, 100);
        assert_eq!(rest.len(), 50);
        assert_eq!(rest[0], Due::Time(tenth + 60_000));
    }

    #[test]
    fn on_start_falls_due_once_at_the_deployment() {
        let deployed = point(42, 5);
        let start = Trigger::OnStart;
        assert_eq!(
            start.due(deployed, point(41, 0), point(42, 9), 10),
            [Due::Height(42)]
        );
        assert!(
            start
                .due(deployed, point(42, 9), point(50, 99), 10)
                .is_empty()
        );
        assert!(
            start
                .due(deployed, point(41, 0), point(42, 9), 0)
                .is_empty()
        );
        for zero in [Trigger::EveryBlocks(0), Trigger::EverySeconds(0)] {
            assert!(
                zero.due(deployed, deployed, point(u64::MAX, u64::MAX), 10)
                    .is_empty()
            );
        }
    }

    #[test]
    fn monthly_keeps_its_hour_and_crosses_years() {
        let trigger = Trigger::Monthly {
            day: 28,
            hour: 9,
            minute: 30,
        };
        let deployed = point(1, at(2026, 12, 28, 9, 30)); // exactly at an occurrence: not due
        let due = trigger.due(deployed, deployed, point(9, at(2027, 3, 1, 0, 0)), 100);
        assert_eq!(
            due,
            [
                Due::Time(at(2027, 1, 28, 9, 30)),
                Due::Time(at(2027, 2, 28, 9, 30)),
            ]
        );
    }
}
