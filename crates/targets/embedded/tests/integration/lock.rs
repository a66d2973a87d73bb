//! One process writes a target file at a time: two configs sharing one
//! embedded target raced into duplicates and "database is locked" before
//! the file was locked (issue 13, item 7).

use hrsync_target::{Attributes, Target, TargetError};
use hrsync_target_embedded::EmbeddedTarget;
use serde_json::json;

fn account(uid: &str) -> Attributes {
    [("uid".to_owned(), json!(uid)), ("employeeID".to_owned(), json!(uid))].into()
}

#[tokio::test]
async fn a_second_writer_is_refused_with_the_file_named_until_the_first_closes() {
    let path = crate::temp_file("lock");
    let first = EmbeddedTarget::open_indexed(&path, &["uid"], &["employeeID"]).expect("open");
    first.create(&account("ana")).await.expect("create");

    let refused = EmbeddedTarget::open_indexed(&path, &["uid"], &["employeeID"]);
    let Err(e) = refused else { panic!("a second writer on {} was let in", path.display()) };
    let msg = e.to_string();
    assert!(matches!(e, TargetError::Unavailable { operation: "open", .. }), "{e:?}");
    assert!(msg.contains(&path.display().to_string()), "names the file: {msg}");
    assert!(msg.contains("another hrsync"), "says who holds it: {msg}");
    assert!(msg.contains(&format!("{}.lock", path.display())), "names the lock: {msg}");
    // The refused opener did not create the duplicate it would have raced into.
    let again = EmbeddedTarget::open(&path, &["uid"]);
    assert!(again.is_err(), "still refused while the first is open");

    // Readers are not writers: a read-only handle sees what was flushed.
    first.flush().await.expect("flush");
    let reader = EmbeddedTarget::open_read_only(&path).expect("read-only open beside the writer");
    assert_eq!(reader.find("employeeID", "ANA").await.expect("find").len(), 1);
    assert!(matches!(reader.create(&account("bo")).await, Err(TargetError::Rejected { .. })));
    assert!(matches!(reader.delete("x").await, Err(TargetError::Rejected { .. })));
    drop(reader);

    drop(first);
    let second = EmbeddedTarget::open_indexed(&path, &["uid"], &["employeeID"])
        .expect("opens once the first writer closed");
    assert_eq!(second.all().expect("all").len(), 1);
    let dup = second.create(&account("ANA")).await;
    assert!(matches!(dup, Err(TargetError::AlreadyExists { .. })), "{dup:?}");
}

#[test]
fn the_lock_holds_across_processes() {
    // A child process (this test binary, re-run on the helper below) holds
    // the file; this process is refused while the child lives.
    if let Ok(path) = std::env::var("HRSYNC_EMBEDDED_LOCK_CHILD") {
        let t = EmbeddedTarget::open(std::path::Path::new(&path), &[]).expect("child opens");
        // libtest may print the test name on the same line first.
        println!("\nHRSYNC-LOCKED");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        drop(t);
        return;
    }
    let path = crate::temp_file("lock-process");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "lock::the_lock_holds_across_processes",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HRSYNC_EMBEDDED_LOCK_CHILD", &path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("child starts");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut out, &mut line).expect("read child");
        assert!(n > 0, "the child ended before taking the lock");
        if line.trim_end().ends_with("HRSYNC-LOCKED") {
            break;
        }
    }
    let e = EmbeddedTarget::open(&path, &[]).err().expect("refused while another process holds it");
    assert!(e.to_string().contains("another hrsync"), "{e}");
    drop(child.stdin.take());
    assert!(child.wait().expect("child ends").success());
    EmbeddedTarget::open(&path, &[]).expect("free once the other process ended");
}
