//! SQLite errors turned into the backend-neutral [`StoreError`], naming the
//! file and, for a damaged one, what to do.

use hrsync_store::StoreError;
use rusqlite::ErrorCode;

/// What an operator does about a damaged state file.
pub(crate) const DAMAGED_ADVICE: &str = "the state file is damaged: stop hrsync and restore the file \
     from a backup; or move it (and its -wal, -shm and -history files) aside to start a new \
     state: the next full sync re-joins existing accounts by their matching attributes, while \
     escrow, wake-ups and history are lost";

/// An error inside the SQLite store, before it is named for the caller.
#[derive(Debug)]
pub(crate) enum Error {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sql(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The caller's error, naming the store `store`.
    pub(crate) fn named(self, store: &str) -> StoreError {
        match self {
            Error::Store(e) => e,
            Error::Sql(e) => sql(store, "", e),
        }
    }
}

/// A rusqlite error as a [`StoreError`]; `what` says what was being done.
pub(crate) fn sql(store: &str, what: &str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Unavailable {
            store: store.to_owned(),
            what: if what.is_empty() { "busy".into() } else { what.into() },
            source: Box::new(e),
        },
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt {
            store: store.to_owned(),
            what: "file".into(),
            key: if what.is_empty() { "whole file".into() } else { what.into() },
            cause: format!("{e}; {DAMAGED_ADVICE}"),
        },
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull,
        ) => StoreError::Unavailable {
            store: store.to_owned(),
            what: if what.is_empty() { "reading or writing the file".into() } else { what.into() },
            source: Box::new(e),
        },
        _ => {
            StoreError::Backend(Box::new(At { store: store.to_owned(), what: what.to_owned(), e }))
        }
    }
}

/// A stored value that does not decode, as [`StoreError::Corrupt`].
pub(crate) fn corrupt(store: &str, what: &str, key: &str, cause: impl std::fmt::Display) -> Error {
    Error::Store(StoreError::Corrupt {
        store: store.to_owned(),
        what: what.to_owned(),
        key: key.to_owned(),
        cause: format!("{cause}; {DAMAGED_ADVICE}"),
    })
}

/// A rusqlite error with the file it happened on.
#[derive(Debug)]
struct At {
    store: String,
    what: String,
    e: rusqlite::Error,
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.what.is_empty() {
            write!(f, "{}: {}", self.store, self.e)
        } else {
            write!(f, "{}: {}: {}", self.store, self.what, self.e)
        }
    }
}

impl std::error::Error for At {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.e)
    }
}
