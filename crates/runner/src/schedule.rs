//! When a scheduled flow runs next: pure arithmetic over the interval and
//! the flow's earliest effective-date wake-up.

use std::time::Duration;

use jiff::Timestamp;

/// A flow's schedule: an incremental cycle every `interval`, earlier when an
/// effective date is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Duration,
    /// Stop scheduling after this many scheduled cycles (`hrsync run
    /// --cycles`); `None` runs until stopped.
    pub limit: Option<u64>,
}

impl Schedule {
    pub fn every(interval: Duration) -> Self {
        Schedule { interval, limit: None }
    }

    pub fn limit(self, cycles: u64) -> Self {
        Schedule { limit: Some(cycles), ..self }
    }
}

/// How long after now the flow's next cycle is due, given its earliest
/// wake-up. A wake-up at or before `last_cycle_start` was already due when
/// that cycle read the due wake-ups and is still there (its worker was not
/// returned, or the cycle failed): waking for it again would spin, so only
/// the interval counts then. A later one may bring the cycle forward, never
/// push it past the interval.
pub fn until_next(
    interval: Duration,
    wakeup: Option<Timestamp>,
    last_cycle_start: Option<Timestamp>,
    now: Timestamp,
) -> Duration {
    let Some(at) = wakeup else { return interval };
    if last_cycle_start.is_some_and(|started| at <= started) {
        return interval;
    }
    // Negative when already due.
    Duration::try_from(at.duration_since(now)).map_or(Duration::ZERO, |d| d.min(interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn no_wakeup_waits_the_interval() {
        assert_eq!(until_next(MIN, None, Some(t(0)), t(5)), MIN);
    }

    #[test]
    fn a_wakeup_before_the_interval_brings_the_cycle_forward() {
        assert_eq!(until_next(MIN, Some(t(25)), Some(t(0)), t(5)), Duration::from_secs(20));
    }

    #[test]
    fn a_wakeup_after_the_interval_does_not_delay_it() {
        assert_eq!(until_next(MIN, Some(t(3600)), Some(t(0)), t(5)), MIN);
    }

    #[test]
    fn a_wakeup_that_fell_due_after_the_last_cycle_started_runs_at_once() {
        assert_eq!(until_next(MIN, Some(t(2)), Some(t(0)), t(5)), Duration::ZERO);
        assert_eq!(until_next(MIN, Some(t(2)), None, t(5)), Duration::ZERO);
    }

    #[test]
    fn a_wakeup_the_last_cycle_already_saw_due_does_not_spin() {
        assert_eq!(until_next(MIN, Some(t(0)), Some(t(0)), t(5)), MIN);
        assert_eq!(until_next(MIN, Some(t(-100)), Some(t(0)), t(5)), MIN);
    }
}
