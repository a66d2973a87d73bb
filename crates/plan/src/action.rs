//! The action vocabulary shared by plans, cycle reports and the
//! provisioning log.

use serde::{Deserialize, Serialize};

/// What was (or would be) done for one worker in one cycle.
///
/// The serialized names are stable: they are stored in the provisioning
/// log and cycle summaries and printed by `--json` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Disable,
    Delete,
    /// Nothing to do (in the target), for the reason the log gives.
    Skip,
    /// Processing failed; the worker was escrowed or flagged.
    Failed,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Create,
        Action::Update,
        Action::Disable,
        Action::Delete,
        Action::Skip,
        Action::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Disable => "disable",
            Action::Delete => "delete",
            Action::Skip => "skip",
            Action::Failed => "failed",
        }
    }

    /// The stored name back (`none` is how failures were logged before
    /// the vocabulary was typed).
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "none" => Some(Action::Failed),
            _ => Action::ALL.into_iter().find(|a| a.as_str() == s),
        }
    }

    /// Whether the action takes an account out of use (what the
    /// accidental-deletion guard counts).
    pub fn deprovisions(self) -> bool {
        matches!(self, Action::Disable | Action::Delete)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), serde_json::json!(a.as_str()));
        }
        assert_eq!(Action::parse("none"), Some(Action::Failed));
        assert_eq!(Action::parse("move"), None);
    }
}
