//! `hrsync import entra-schema FILE.json [--out DIR]`: convert an Entra
//! synchronizationSchema export into `mapping.toml` (hrsync.toml not yet
//! produced). A bad input writes nothing and exits 2.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `hrsync import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    what: ImportWhat,
}

#[derive(clap::Subcommand)]
enum ImportWhat {
    /// An Entra synchronizationSchema JSON (portal download or Graph response).
    EntraSchema {
        file: PathBuf,
        /// Directory to write mapping.toml into.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

/// Run the command.
pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let ImportWhat::EntraSchema { file, out } = args.what;
    let text = std::fs::read_to_string(&file)?;
    let imported = match hrsync_import::import_schema(&text) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    // Temp file then rename, so a reader never sees a half-written mapping.
    let dest = out.join("mapping.toml");
    let tmp = out.join(".mapping.toml.tmp");
    std::fs::write(&tmp, &imported.mapping_toml)?;
    std::fs::rename(&tmp, &dest)?;
    println!("wrote {}", dest.display());
    Ok(ExitCode::SUCCESS)
}
