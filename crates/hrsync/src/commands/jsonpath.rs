//! `hrsync jsonpath '<path>' [FILE|-]`: print the JSON array of every node a
//! JSONPath (Entra's dialect, as source attributes use it) selects in a JSON
//! document.
//!
//! Contract (external checks rely on it): stdout gets one line, the compact
//! JSON array of matches in document order (`[]` when nothing matches); a
//! missing FILE or `-` reads stdin; an unparsable path, unreadable file or
//! invalid JSON prints `error: ...` to stderr and exits 2.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use hrsync_mapping::path::SourcePath;

/// Arguments of `hrsync jsonpath`.
#[derive(clap::Args)]
pub struct JsonPathArgs {
    /// JSONPath, e.g. `$.employmentNav.results[-1:].startDate`.
    path: String,
    /// JSON document to query; `-` or absent reads stdin.
    file: Option<PathBuf>,
}

/// Run the command. Usage errors are reported here with exit code 2, so the
/// `Err` branch is only for failures writing to stdout.
pub fn run(args: JsonPathArgs) -> anyhow::Result<ExitCode> {
    match query(&args) {
        Ok(out) => {
            println!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("error: {message}");
            Ok(ExitCode::from(2))
        }
    }
}

fn query(args: &JsonPathArgs) -> Result<String, String> {
    let path = SourcePath::parse(&args.path).map_err(|e| e.to_string())?;
    let (name, bytes) = match args.file.as_deref() {
        None => ("<stdin>".to_owned(), read_stdin()?),
        Some(p) if p.as_os_str() == "-" => ("<stdin>".to_owned(), read_stdin()?),
        Some(p) => (
            p.display().to_string(),
            std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?,
        ),
    };
    let document: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{name} is not valid JSON: {e}"))?;
    let matches: Vec<&serde_json::Value> = path.query(&document);
    serde_json::to_string(&matches).map_err(|e| format!("cannot print matches: {e}"))
}

fn read_stdin() -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf).map_err(|e| format!("cannot read stdin: {e}"))?;
    Ok(buf)
}
