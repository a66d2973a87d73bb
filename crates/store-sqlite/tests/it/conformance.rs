//! The SQLite store against the backend-neutral store contract
//! (`hrsync_store::conformance`): each case on a new state file.

use hrsync_store_sqlite::SqliteStore;

mod tmp {
    /// A private directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new() -> Dir {
            static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("hrsync-store-conformance-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temp dir");
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

hrsync_store::store_conformance!(|| {
    let dir = tmp::Dir::new();
    move |flow: &str| SqliteStore::open(&dir.0.join("state.sqlite"), flow).expect("state opens")
});

/// The whole suite through its single entry point, as a new backend would
/// start.
#[test]
fn the_suite_runs_through_its_entry_point() {
    hrsync_store::conformance::run(|| {
        let dir = tmp::Dir::new();
        move |flow: &str| SqliteStore::open(&dir.0.join("state.sqlite"), flow).expect("state opens")
    });
}
