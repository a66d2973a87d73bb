//! The embedded target against real SQLite files, in one test binary:
//! `basics` (ids, matching, durability), `batched` (`find_many`/`taken`
//! against value-by-value answers, index layouts), `lock` (one writer per
//! file) and `conformance` (the suite every target passes).

#[path = "integration/basics.rs"]
mod basics;
#[path = "integration/batched.rs"]
mod batched;
#[path = "integration/conformance.rs"]
mod conformance;
#[path = "integration/lock.rs"]
mod lock;

/// A fresh file path under the system temp dir, unique to this process and `name`.
pub fn temp_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hrsync-embedded-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{name}.sqlite"));
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}
