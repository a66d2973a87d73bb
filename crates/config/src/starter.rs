//! The starter config `hrsync init` writes.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use hrsync_mapping::mapping::SF_TO_AD_TOML;

/// A commented starter config: every section explained, the password from
/// the `HRSYNC_SF_PASSWORD` environment variable, the mapping
/// `builtin:sf-to-ad`. Loads cleanly once that variable is set.
pub const STARTER: &str = include_str!("../starter.toml");

/// File name of the editable copy of the default mapping that
/// [`write_starter`] puts next to the config (the starter's comments point to it).
pub const MAPPING_FILE_NAME: &str = "hrsync-mapping.toml";

/// Why the starter files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The file exists and `force` was not given.
    #[error("`{}` already exists (use --force to overwrite)", .0.display())]
    Exists(PathBuf),
    /// Writing failed.
    #[error("cannot write `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Write [`STARTER`] to `config_path` and the default SuccessFactors-to-AD
/// mapping to [`MAPPING_FILE_NAME`] beside it. Without `force`, nothing is
/// written when either file exists. With `force` the config is overwritten,
/// but a mapping file that differs from the shipped mapping (customised,
/// perhaps for another config in the same directory) is kept as it is:
/// `hrsync init` owns only what it wrote. Returns the files written.
pub fn write_starter(config_path: &Path, force: bool) -> Result<Vec<PathBuf>, InitError> {
    let mapping_path = config_path.parent().unwrap_or(Path::new("")).join(MAPPING_FILE_NAME);
    let mut files = vec![(config_path.to_path_buf(), STARTER), (mapping_path, SF_TO_AD_TOML)];
    if !force && let Some((p, _)) = files.iter().find(|(p, _)| p.exists()) {
        return Err(InitError::Exists(p.clone()));
    }
    if force {
        files.retain(|(path, text)| {
            path == config_path
                || match std::fs::read(path) {
                    Ok(current) => current == text.as_bytes(),
                    Err(_) => true,
                }
        });
    }
    for (path, text) in &files {
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        // create_new closes the race with a file appearing after the check above.
        if force {
            options.create(true).truncate(true)
        } else {
            options.create_new(true)
        };
        let io = |source| InitError::Io { path: path.clone(), source };
        let mut file = options.open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => InitError::Exists(path.clone()),
            _ => io(e),
        })?;
        file.write_all(text.as_bytes()).map_err(io)?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}
