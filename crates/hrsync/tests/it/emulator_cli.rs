//! `hrsync emulator` as a process (issue 13 item 24): a bounded `--workers`,
//! a banner without the chosen password, a warning when it listens beyond
//! loopback with the well-known default password.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hrsync");

/// Starts `hrsync emulator` with `args` and collects its stderr until the
/// admin line of the banner (or 60 s), then stops it.
fn banner_of(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.arg("emulator").args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    cmd.env_remove("HRSYNC_EMULATOR_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child: Child = cmd.spawn().expect("run hrsync emulator");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut out = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
                if line.starts_with("admin:") {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    out
}

#[test]
fn too_many_workers_is_a_clear_error_not_a_crash() {
    for workers in ["1000001", "18446744073709551615"] {
        let out = Command::new(BIN)
            .args(["emulator", "--workers", workers, "--listen", "127.0.0.1:0"])
            .output()
            .expect("run hrsync emulator");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{workers}: {stderr}");
        // An error exit, not a panic (101) or an abort by signal.
        assert!(
            out.status.code().is_some_and(|c| c != 101),
            "{workers}: {:?} {stderr}",
            out.status
        );
        assert!(stderr.contains("at most 1000000"), "{workers}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn banner_never_prints_a_chosen_password() {
    let text = banner_of(
        &["--workers", "5", "--listen", "127.0.0.1:0", "--password", "Chosen-S3cret"],
        &[],
    );
    assert!(text.contains("admin:"), "the emulator started: {text}");
    assert!(!text.contains("Chosen-S3cret"), "{text}");
    let text = banner_of(
        &["--workers", "5", "--listen", "127.0.0.1:0"],
        &[("HRSYNC_EMULATOR_PASSWORD", "From-Env-S3cret")],
    );
    assert!(text.contains("admin:"), "{text}");
    assert!(!text.contains("From-Env-S3cret"), "{text}");
    assert!(!text.contains("warning"), "loopback with a chosen password: {text}");
}

#[test]
fn non_loopback_with_the_default_password_warns() {
    let text = banner_of(&["--workers", "5", "--listen", "0.0.0.0:0"], &[]);
    assert!(text.contains("admin:"), "{text}");
    assert!(text.contains("warning: listening on 0.0.0.0:0"), "{text}");
    assert!(text.contains("well-known default password"), "{text}");
    let text =
        banner_of(&["--workers", "5", "--listen", "0.0.0.0:0", "--password", "Other-S3cret"], &[]);
    assert!(!text.contains("warning"), "{text}");
}
