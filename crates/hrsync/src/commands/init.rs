//! `hrsync init`: write a commented starter config and, beside it, an
//! editable copy of the default SuccessFactors-to-AD mapping.

use std::path::{Path, PathBuf};
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
    let mapping =
        args.path.parent().unwrap_or(Path::new("")).join(hrsync_config::MAPPING_FILE_NAME);
    if !written.contains(&mapping) {
        println!(
            "kept {} (customised: hrsync init overwrites only its own copy)",
            mapping.display()
        );
    }
    let keys = args.path.parent().unwrap_or(Path::new("")).join("keys");
    println!(
        "Next: `hrsync keys generate --out {}`, register keys/certificate.pem in SuccessFactors \
(Admin Center > Manage OAuth2 Client Applications), put its API key in [source.auth] client_id, \
then adjust [source] and [flow] (the comments explain each setting) and run `hrsync check`.",
        keys.display()
    );
    Ok(ExitCode::SUCCESS)
}
