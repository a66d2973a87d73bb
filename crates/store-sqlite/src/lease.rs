//! One cycle at a time per flow: the `lease` row (flow, holder, epoch,
//! expiry), and a [`LeaseKeeper`] renewing it from a thread of its own while
//! a long cycle runs.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hrsync_store::{Lease, StoreError};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::{self, Error, Result};
use crate::{ms_after, ts};

/// Epochs as SQLite integers.
fn sql_epoch(epoch: u64) -> i64 {
    i64::try_from(epoch).unwrap_or(i64::MAX)
}

/// The flow's lease row: (holder, epoch, expiry in ms); `holder` is `None`
/// once released.
fn row(conn: &Connection, flow: &str) -> Result<Option<(Option<String>, u64, i64)>> {
    Ok(conn
        .prepare_cached("SELECT holder, epoch, expires_ms FROM lease WHERE flow = ?1")?
        .query_row([flow], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?, r.get(2)?)))
        .optional()?
        .map(|(holder, epoch, expires)| (holder, u64::try_from(epoch).unwrap_or(0), expires)))
}

pub(crate) fn current(conn: &Connection, flow: &str) -> Result<Option<Lease>> {
    Ok(row(conn, flow)?.and_then(|(holder, epoch, expires)| {
        holder.map(|holder| Lease { flow: flow.to_owned(), holder, epoch, expires_at: ts(expires) })
    }))
}

/// Inside a write transaction: take the lease, or say who holds it.
pub(crate) fn acquire(
    tx: &Connection,
    store: &str,
    flow: &str,
    holder: &str,
    now_ms: i64,
    expires_ms: i64,
) -> Result<Lease> {
    let epoch = match row(tx, flow)? {
        Some((Some(current), _, expires)) if expires > now_ms => {
            return Err(Error::Store(StoreError::LeaseHeld {
                store: store.to_owned(),
                flow: flow.to_owned(),
                holder: current,
                expires_at: ts(expires),
            }));
        }
        Some((_, epoch, _)) => epoch + 1,
        None => 1,
    };
    tx.execute(
        "INSERT INTO lease (flow, holder, epoch, expires_ms) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (flow) DO UPDATE SET holder = excluded.holder, epoch = excluded.epoch, \
         expires_ms = excluded.expires_ms",
        params![flow, holder, sql_epoch(epoch), expires_ms],
    )?;
    Ok(Lease {
        flow: flow.to_owned(),
        holder: holder.to_owned(),
        epoch,
        expires_at: ts(expires_ms),
    })
}

/// Inside a write transaction: extend `lease` if it is still the flow's.
pub(crate) fn renew(tx: &Connection, store: &str, lease: &Lease, expires_ms: i64) -> Result<Lease> {
    let n = tx.execute(
        "UPDATE lease SET expires_ms = ?4 WHERE flow = ?1 AND holder = ?2 AND epoch = ?3",
        params![lease.flow, lease.holder, sql_epoch(lease.epoch), expires_ms],
    )?;
    if n == 0 {
        return Err(fenced(tx, store, &lease.flow, lease.epoch));
    }
    Ok(Lease { expires_at: ts(expires_ms), ..lease.clone() })
}

/// Inside a write transaction: give `lease` up, if it is still the flow's.
pub(crate) fn release(tx: &Connection, lease: &Lease) -> Result<()> {
    tx.execute(
        "UPDATE lease SET holder = NULL, expires_ms = 0 WHERE flow = ?1 AND holder = ?2 AND epoch = ?3",
        params![lease.flow, lease.holder, sql_epoch(lease.epoch)],
    )?;
    Ok(())
}

/// Inside a write transaction: the flow's lease is still `holder`'s at `epoch`.
pub(crate) fn fence(
    tx: &Connection,
    store: &str,
    flow: &str,
    holder: &str,
    epoch: u64,
) -> Result<()> {
    match row(tx, flow)? {
        Some((Some(h), e, _)) if h == holder && e == epoch => Ok(()),
        _ => Err(fenced(tx, store, flow, epoch)),
    }
}

fn fenced(conn: &Connection, store: &str, flow: &str, epoch: u64) -> Error {
    let current = match row(conn, flow) {
        Ok(Some((Some(h), e, _))) => format!("{h} (epoch {e})"),
        _ => String::new(),
    };
    Error::Store(StoreError::Fenced {
        store: store.to_owned(),
        flow: flow.to_owned(),
        epoch,
        current,
    })
}

/// A lease holder naming this process: `host:pid:random`. The random part
/// tells two holders apart even when a pid is reused.
pub fn process_holder() -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS per process: no dependency needed
    // for 32 bits that only have to differ.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{}:{}:{:08x}", hostname(), std::process::id(), h.finish() as u32)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && !h.contains(':'))
        .unwrap_or_else(|| "localhost".into())
}

/// Whether `holder` (as made by [`process_holder`]) is a process of this
/// host that no longer runs. Only answers `true` when it can know (same
/// host name, a `/proc` to look in); a reused pid reads as running, which
/// only means waiting for the lease to expire.
pub fn holder_is_gone(holder: &str) -> bool {
    let mut parts = holder.rsplitn(3, ':');
    let (Some(_random), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else { return false };
    host == hostname()
        && pid != std::process::id()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Renews a lease every `ttl / 3` from its own connection and thread, so a
/// cycle longer than the lease keeps it; releases it when dropped. When the
/// lease is lost (another holder took it after this process stalled), the
/// keeper stops and [`LeaseKeeper::lost`] says so; the store handle's next
/// write fails with [`StoreError::Fenced`] by itself.
pub struct LeaseKeeper {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    lost: Arc<Mutex<Option<String>>>,
}

impl LeaseKeeper {
    pub(crate) fn start(
        conn: Connection,
        store: String,
        flow: String,
        holder: String,
        epoch: u64,
        ttl: Duration,
        now: impl Fn() -> Timestamp + Send + 'static,
    ) -> std::result::Result<Self, StoreError> {
        let every = (ttl / 3).max(Duration::from_millis(10));
        // Never wait on a busy file longer than a renewal period.
        conn.busy_timeout(every).map_err(|e| error::sql(&store, "lease keeper", e))?;
        let lost = Arc::new(Mutex::new(None));
        let (stop, stopped) = mpsc::channel::<()>();
        let seen = lost.clone();
        let name = store.clone();
        let thread = std::thread::Builder::new()
            .name("hrsync-lease".into())
            .spawn(move || {
                let mut conn = conn;
                let lease = Lease { flow, holder, epoch, expires_at: Timestamp::UNIX_EPOCH };
                loop {
                    match stopped.recv_timeout(every) {
                        Err(RecvTimeoutError::Timeout) => {}
                        // Dropped: give the lease up for the next process.
                        _ => {
                            let released = conn
                                .transaction_with_behavior(TransactionBehavior::Immediate)
                                .map_err(Error::from)
                                .and_then(|tx| {
                                    release(&tx, &lease)?;
                                    Ok(tx.commit()?)
                                });
                            if let Err(e) = released {
                                let error = e.named(&store);
                                tracing::warn!(message = "Releasing the lease failed; it expires by itself.", %error);
                            }
                            return;
                        }
                    }
                    let renewed = conn
                        .transaction_with_behavior(TransactionBehavior::Immediate)
                        .map_err(Error::from)
                        .and_then(|tx| {
                            renew(&tx, &store, &lease, ms_after(now(), ttl))?;
                            Ok(tx.commit()?)
                        });
                    match renewed {
                        Ok(()) => {}
                        Err(Error::Store(error @ StoreError::Fenced { .. })) => {
                            tracing::error!(message = "The lease was lost to another holder.", %error);
                            *seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                                Some(error.to_string());
                            return;
                        }
                        // Busy or I/O: the next round tries again, well
                        // before the lease runs out.
                        Err(e) => {
                            let error = e.named(&store);
                            tracing::warn!(message = "Renewing the lease failed; retrying.", %error);
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable {
                store: name,
                what: "starting the lease keeper thread".into(),
                source: Box::new(e),
            })?;
        Ok(LeaseKeeper { stop: Some(stop), thread: Some(thread), lost })
    }

    /// Why the lease was lost, if it was.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!(message = "The lease keeper thread panicked.");
        }
    }
}
