//! `hrsync import entra-schema FILE.json [--out DIR]`: convert an Entra
//! synchronizationSchema export into `hrsync.toml` and the `mapping.toml`
//! it refers to. Warnings (what was not carried, with its JSON path) go to
//! stderr. A bad input (or an unreadable file, or an --out that is not a
//! directory) writes nothing and exits 2; both files are written to
//! temporary names first and renamed only when both are complete.

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
        /// Directory to write hrsync.toml and mapping.toml into (must exist).
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

/// Run the command.
pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let ImportWhat::EntraSchema { file, out } = args.what;
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: cannot read: {e}", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    let imported = match hrsync_import::import_schema(&text) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    if !out.is_dir() {
        eprintln!("error: --out {}: not a directory", out.display());
        return Ok(ExitCode::from(2));
    }
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    let files = [
        (hrsync_import::MAPPING_FILE, &imported.mapping_toml),
        (hrsync_import::CONFIG_FILE, &imported.config_toml),
    ];
    // Temp files then renames, so a reader never sees a half-written file,
    // and a failed write leaves neither file changed.
    let tmp = |name: &str| out.join(format!(".{name}.tmp"));
    for (name, text) in &files {
        if let Err(e) = std::fs::write(tmp(name), text) {
            for (n, _) in &files {
                let _ = std::fs::remove_file(tmp(n));
            }
            return Err(anyhow::anyhow!("cannot write {}: {e}", tmp(name).display()));
        }
    }
    for (name, _) in &files {
        let dest = out.join(name);
        std::fs::rename(tmp(name), &dest)?;
        println!("wrote {}", dest.display());
    }
    if !imported.warnings.is_empty() {
        println!("{} part(s) not carried over: see the warnings above", imported.warnings.len());
    }
    Ok(ExitCode::SUCCESS)
}
