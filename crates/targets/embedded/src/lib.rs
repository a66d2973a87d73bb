//! The embedded target: a small directory kept in its own SQLite file.
//!
//! It stands in for a real directory in the demo and the engine tests, so it
//! behaves like one where the engine can tell the difference: objects get
//! opaque ids the engine does not choose (32 hex digits, time-ordered),
//! writes become durable at [`hrsync_target::Target::flush`] (the engine
//! flushes before recording a page in its store; each object's write is
//! atomic), values are matched case-insensitively as Active Directory does,
//! and a create that would duplicate a unique attribute is refused. One
//! process at a time writes a file: opening it takes an OS lock beside it
//! (`<file>.lock`), so two configs sharing one target file cannot race into
//! duplicates; a second opener gets an error naming the file.
//!
//! Layout, as for every target: `config.rs` (the user-facing config),
//! `target.rs` (the trait operations), `service.rs` (the SQLite file: lock,
//! schema, transactions, statements), `request_builder.rs` (pure: index
//! keys, case folding, account status), `health.rs` (`check`), `tests.rs`
//! (unit tests); `tests/integration.rs` runs against real files, including
//! the conformance suite.

mod config;
mod health;
mod request_builder;
mod service;
mod target;

#[cfg(test)]
mod tests;

pub use config::EmbeddedConfig;
pub use service::LOOKUP_CHUNK;
pub use target::EmbeddedTarget;
