//! When a failed worker is tried again.
//!
//! A worker whose processing failed is escrowed: retried with doubling
//! backoff from `first_retry` up to `max_retry`, and flagged for a human
//! after `flag_after` attempts. A failure that retrying cannot fix (the
//! target refused the values themselves, a mapping error) is flagged at
//! once: ten identical refusals tell an admin nothing the first did not.

use std::time::Duration;

use jiff::Timestamp;

/// Retry schedule for failed workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscrowPolicy {
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// After this many failed attempts the worker is flagged for a human.
    pub flag_after: u32,
}

impl Default for EscrowPolicy {
    fn default() -> Self {
        EscrowPolicy {
            first_retry: Duration::from_secs(60),
            max_retry: Duration::from_secs(6 * 3600),
            flag_after: 10,
        }
    }
}

/// The escrow state after one more failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Failed attempts so far, this one included.
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    /// A human should look: too many attempts, or a permanent failure.
    pub flagged: bool,
}

impl EscrowPolicy {
    /// The wait before attempt `attempts + 1`: `first_retry` doubled per
    /// earlier attempt, at most `max_retry`.
    pub fn wait(&self, attempts: u32) -> Duration {
        let factor = 1u32.checked_shl(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
        self.first_retry.saturating_mul(factor).min(self.max_retry)
    }

    /// The escrow after a failure, given how many attempts failed before.
    /// A permanent failure (`retryable == false`) is flagged at once and
    /// tried again only after `max_retry` (or when its record changes).
    pub fn after_failure(&self, previous_attempts: u32, now: Timestamp, retryable: bool) -> Retry {
        let attempts = previous_attempts.saturating_add(1);
        let wait = if retryable { self.wait(attempts) } else { self.max_retry };
        let wait = jiff::SignedDuration::try_from(wait).unwrap_or(jiff::SignedDuration::MAX);
        Retry {
            attempts,
            next_attempt_at: now.checked_add(wait).unwrap_or(Timestamp::MAX),
            flagged: !retryable || attempts >= self.flag_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> EscrowPolicy {
        EscrowPolicy {
            first_retry: Duration::from_secs(60),
            max_retry: Duration::from_secs(3600),
            flag_after: 3,
        }
    }

    #[test]
    fn doubles_then_flags() {
        let now = Timestamp::UNIX_EPOCH;
        let r1 = policy().after_failure(0, now, true);
        assert_eq!((r1.attempts, r1.flagged), (1, false));
        assert_eq!(r1.next_attempt_at.duration_since(now).as_secs(), 60);
        let r2 = policy().after_failure(1, now, true);
        assert_eq!(r2.next_attempt_at.duration_since(now).as_secs(), 120);
        let r3 = policy().after_failure(2, now, true);
        assert!(r3.flagged);
    }

    #[test]
    fn permanent_failure_is_flagged_at_once() {
        let r = policy().after_failure(0, Timestamp::UNIX_EPOCH, false);
        assert_eq!((r.attempts, r.flagged), (1, true));
        assert_eq!(r.next_attempt_at.duration_since(Timestamp::UNIX_EPOCH).as_secs(), 3600);
    }

    proptest! {
        #[test]
        fn waits_grow_and_stay_bounded(first in 1u64..10_000, max in 1u64..1_000_000, n in 0u32..200) {
            let p = EscrowPolicy { first_retry: Duration::from_secs(first), max_retry: Duration::from_secs(max), flag_after: 10 };
            prop_assert!(p.wait(n) <= p.max_retry);
            prop_assert!(p.wait(n) <= p.wait(n + 1));
            let r = p.after_failure(n, Timestamp::UNIX_EPOCH, true);
            prop_assert!(r.next_attempt_at > Timestamp::UNIX_EPOCH);
            prop_assert_eq!(r.flagged, n + 1 >= 10);
        }
    }
}
