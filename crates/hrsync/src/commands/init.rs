//! `hrsync init`: write a commented starter config and, beside it, an
//! editable copy of the default SuccessFactors-to-AD mapping.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `hrsync init`.
#[derive(clap::Args)]
pub struct InitArgs {
    /// Config file to write; the mapping copy (hrsync-mapping.toml) goes beside it.
    #[arg(default_value = "hrsync.toml")]
    path: PathBuf,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let written = hrsync_config::write_starter(&args.path, args.force)?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    println!(
        "Next: set HRSYNC_SF_PASSWORD (or use password_file), then adjust [source] and [flow] \
(the comments explain each setting)."
    );
    Ok(ExitCode::SUCCESS)
}
