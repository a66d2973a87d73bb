//! WAL checkpoints off the commit path, for every SQLite file hrsync writes
//! (the state store and the embedded target).
//!
//! SQLite's automatic checkpoint runs inside the `COMMIT` that crosses its
//! threshold: that commit copies the WAL back into the database and fsyncs
//! both, stalling the writer (a tenth of a full sync's processing thread).
//! A [`Checkpointer`] does the same work from its own connection on its own
//! thread, in `PASSIVE` mode, which never blocks the writer or readers.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// Pages of WAL after which the writer checkpoints by itself anyway (about
/// 100 MB): a safety net should the background thread fall behind.
pub const WRITER_AUTOCHECKPOINT: i64 = 25_000;

/// How often the background thread checkpoints. Long enough for pages that
/// a sync rewrites page after page (index interiors) to be copied once, short
/// enough to keep the WAL in the tens of megabytes.
pub const INTERVAL: Duration = Duration::from_millis(500);

/// A background thread checkpointing one database file until dropped.
pub struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Checkpoint through `conn` (a connection of its own to the database
    /// file) every `interval`.
    pub fn start(conn: Connection, interval: Duration) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread =
            std::thread::Builder::new().name("hrsync-wal-checkpoint".into()).spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    // Busy (the writer's safety-net checkpoint is running) is
                    // not an error: the next round catches up.
                    if let Err(error) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!(message = "WAL checkpoint deferred.", %error);
                    }
                }
            })?;
        Ok(Checkpointer { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!(message = "The WAL checkpoint thread panicked.");
        }
    }
}
