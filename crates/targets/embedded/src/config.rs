//! The user-facing configuration of the embedded target: `[target]` with
//! `kind = "embedded"`.

use std::path::PathBuf;

use serde::Deserialize;

/// `path` and `unique` of `[target]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// The database file (the config loader resolves it against the config
    /// file's directory). Created when missing; `<path>.lock` beside it is
    /// held while the target is open.
    pub path: PathBuf,
    /// Attributes whose values must be unique across accounts (a create or
    /// update that would duplicate one is refused).
    #[serde(default)]
    pub unique: Vec<String>,
}

impl EmbeddedConfig {
    /// Problems found without opening the file: `(field, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.path.as_os_str().is_empty() {
            out.push(("path".to_owned(), "must not be empty".to_owned()));
        }
        out
    }
}
