//! The accidental-deletion guard: a cycle that would disable or delete more
//! accounts than either limit stops before doing any of it.
//!
//! What counts is what an action does to the account, not how the target
//! is told: a disable carried by an attribute update (`accountDisabled`,
//! `userAccountControl`, an LDAP disable attribute) counts like an explicit
//! disable.

/// Limits of the accidental-deletion guard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeletionGuard {
    pub max_count: u64,
    /// Share of the managed active accounts, 0.0..=1.0.
    pub max_share: f64,
}

impl Default for DeletionGuard {
    fn default() -> Self {
        DeletionGuard { max_count: 500, max_share: 0.2 }
    }
}

/// The guard stopped a cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Tripped {
    pub count: u64,
    pub managed: u64,
    pub limits: DeletionGuard,
}

impl DeletionGuard {
    /// Whether `count` deprovisionings out of `managed` active accounts may
    /// go ahead.
    pub fn check(&self, count: u64, managed: u64) -> Result<(), Tripped> {
        if count == 0 {
            return Ok(());
        }
        let managed = managed.max(1);
        let share = count as f64 / managed as f64;
        if count > self.max_count || share > self.max_share {
            Err(Tripped { count, managed, limits: *self })
        } else {
            Ok(())
        }
    }
}

impl std::fmt::Display for Tripped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "accidental-deletion guard: this cycle would disable or delete {} of {} managed accounts ({:.1} %), over the limit ({} accounts or {:.1} %); nothing was disabled or deleted",
            self.count,
            self.managed,
            self.count as f64 * 100.0 / self.managed as f64,
            self.limits.max_count,
            self.limits.max_share * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limits() {
        let g = DeletionGuard { max_count: 3, max_share: 0.5 };
        assert!(g.check(3, 100).is_ok());
        assert!(g.check(4, 100).is_err());
        assert!(g.check(2, 3).is_err());
        assert!(g.check(0, 0).is_ok());
        let msg = g.check(4, 100).unwrap_err().to_string();
        assert!(msg.contains("4 of 100"), "{msg}");
    }

    proptest! {
        #[test]
        fn monotone_in_count(count in 0u64..10_000, managed in 0u64..10_000, max in 0u64..1000, share in 0.0f64..=1.0) {
            let g = DeletionGuard { max_count: max, max_share: share };
            if g.check(count + 1, managed).is_ok() {
                prop_assert!(g.check(count, managed).is_ok());
            }
        }
    }
}
