//! What became of one worker: the decision taken, or why it failed.

use hrsync_store::{AttributeChange, Join};
use hrsync_target::TargetError;

use crate::Action;

/// Why one worker could not be processed. The worker is escrowed; a
/// [`retryable`](WorkerError::retryable) failure is tried again with
/// backoff, a permanent one is flagged for a human at once.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WorkerError {
    /// Mapping expressions failed or a required attribute has no value
    /// (`attribute: cause`, one per problem).
    #[error("mapping failed for {}", .0.join("; "))]
    Mapping(Vec<String>),
    /// A matching attribute's expression failed.
    #[error("matching attribute {attribute}: {cause}")]
    Matching { attribute: String, cause: String },
    /// The matching value finds several objects (Entra's
    /// DuplicateTargetEntries).
    #[error(
        "{attribute} = {value:?} matches {count} objects in the target (DuplicateTargetEntries)"
    )]
    Duplicate { attribute: String, value: String, count: usize },
    /// The matching value finds an object another worker is joined to.
    #[error(
        "{attribute} = {value:?} matches object {target_id}, which is joined to worker {other}"
    )]
    JoinedElsewhere { attribute: String, value: String, target_id: String, other: String },
    /// The state store could not say who holds a matched object.
    #[error("{attribute} = {value:?} matches object {target_id}: {cause}")]
    Lookup { attribute: String, value: String, target_id: String, cause: String },
    /// The target refused or failed an operation.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// Planned values the target's schema forbids; nothing was sent.
    #[error("the target would refuse this account: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Refused(Vec<hrsync_target::requirements::Violation>),
    /// A disable or delete was planned for a worker with no join.
    #[error("deprovisioning without a join")]
    NoJoin,
}

impl WorkerError {
    /// Whether trying again later, with nothing changed, can succeed.
    ///
    /// Target refusals of the values themselves (a constraint violation,
    /// a missing required field) are permanent: the same values fail the
    /// same way, so the worker is flagged at once (a change in the source
    /// still retries it). Unavailability, lookups and matching conflicts
    /// (which an admin or a later cycle may resolve) back off.
    pub fn retryable(&self) -> bool {
        match self {
            // The account went between the check of the join and the
            // write: the next attempt matches the worker again.
            WorkerError::Target(TargetError::NotFound { .. }) => true,
            WorkerError::Target(e) => e.retryable(),
            WorkerError::Mapping(_)
            | WorkerError::Refused(_)
            | WorkerError::Matching { .. }
            | WorkerError::NoJoin => false,
            WorkerError::Duplicate { .. }
            | WorkerError::JoinedElsewhere { .. }
            | WorkerError::Lookup { .. } => true,
        }
    }
}

/// A decided worker: what was done, the join to record and the attributes
/// changed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    pub action: Action,
    /// The join to store (`None`: keep what the store has).
    pub join: Option<Join>,
    pub target_id: Option<String>,
    pub modified: Vec<AttributeChange>,
}

impl Decision {
    pub fn skip(target_id: Option<String>) -> Self {
        Decision { action: Action::Skip, join: None, target_id, modified: Vec::new() }
    }
}
