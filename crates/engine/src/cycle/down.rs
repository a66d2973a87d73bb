//! A target out of reach stops the cycle as a whole. A refused connection,
//! a name that does not resolve, a failed TLS handshake or refused
//! credentials ([`TargetError::Unreachable`]) say nothing about any worker:
//! failing the workers one by one would escrow (and in time flag) every one
//! of them for a fault that is the directory's or the config's, and the
//! cycle would end "completed with errors" and move the watermark. Instead
//! the first such error is kept; from then on no write is sent, no failure
//! is escrowed or logged, the reading stops at the next page, and the cycle
//! ends failed with a message naming the target and the cause, its
//! watermark where it was. What the target did before (writes that came
//! back) is still recorded.

use hrsync_store::{Change, Outcome as StoreOutcome, Store};
use hrsync_target::{Target, TargetError};

use super::decide::Slot;
use super::{Engine, EngineError};
use crate::outcome::WorkerError;

impl<S: Store, T: Target + 'static> Engine<S, T> {
    /// Forget the previous cycle's verdict (at the start of a cycle).
    pub(super) fn reset_down(&self) {
        *self.down.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Keep `e` if it says the target is out of reach (the first one only).
    /// Returns whether the target is out of reach.
    pub(super) fn note_down(&self, e: &TargetError) -> bool {
        let mut down = self.down.lock().unwrap_or_else(|p| p.into_inner());
        if e.unreachable() && down.is_none() {
            tracing::error!(target_kind = self.target.kind(), error = %e, "The target cannot be reached; the cycle stops.");
            *down = Some(e.clone());
        }
        down.is_some()
    }

    /// The error that stopped the cycle, if the target is out of reach.
    pub(super) fn target_down(&self) -> Option<TargetError> {
        if let Some(e) = self.demands.unreachable() {
            self.note_down(e);
        }
        self.down.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `Err` once the target is known to be out of reach.
    pub(super) fn stop_if_down(&self) -> Result<(), EngineError> {
        match self.target_down() {
            Some(error) => {
                Err(EngineError::TargetUnreachable { target: self.target.kind(), error })
            }
            None => Ok(()),
        }
    }

    /// The cycle's result, with an out-of-reach target taking precedence
    /// (a page's flush may have failed on it too, or the reading stopped).
    pub(super) fn unless_down(&self, result: Result<(), EngineError>) -> Result<(), EngineError> {
        if let Err(EngineError::Target(e)) = &result {
            self.note_down(e);
        }
        self.stop_if_down()?;
        result
    }

    /// Whether a worker's failure is to be dropped rather than escrowed:
    /// the target is out of reach (this failure says so, or an earlier one
    /// did, and then this one cannot be trusted either).
    pub(super) fn dropped_for_down(&self, error: &WorkerError) -> bool {
        match error {
            WorkerError::Target(e) => self.note_down(e),
            _ => self.target_down().is_some(),
        }
    }
}

/// The slot of a worker left as it was because the target is out of reach:
/// nothing recorded for it (its join, escrow and wake-ups stay as they
/// are); the next cycle reads it again.
pub(super) fn untouched(person_id: String) -> Slot {
    Slot::Done(
        Box::new(StoreOutcome {
            person_id,
            join: Change::Keep,
            escrow: Change::Keep,
            wakeups: Change::Keep,
            log: None,
        }),
        None,
    )
}
