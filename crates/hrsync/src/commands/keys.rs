//! `hrsync keys generate --out DIR`: an RSA key pair, a self-signed X.509
//! certificate to register in SuccessFactors (Manage OAuth2 Client
//! Applications), and the JWKS document to publish for SAP Cloud Identity
//! Service's Trust-by-Issuer rule.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `hrsync keys`.
#[derive(clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(clap::Subcommand)]
enum KeysCommand {
    /// Create DIR/private-key.pem (mode 0600), DIR/certificate.pem and DIR/jwks.json.
    Generate {
        /// Directory to write into (created if missing); an existing private key is never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// Common name of the self-signed certificate.
        #[arg(long, default_value = "hrsync")]
        common_name: String,
        /// Years the certificate stays valid.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(i16).range(1..=30))]
        years: i16,
    },
}

/// Runs `hrsync keys …`.
pub fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        KeysCommand::Generate { out, common_name, years } => {
            let validity = hrsync_sf_auth::keys::Validity::years_from_today(years);
            let keys = hrsync_sf_auth::keys::generate(&common_name, validity)
                .context("generating the key pair")?;
            let written = hrsync_sf_auth::keys::write(&out, &keys)
                .with_context(|| format!("writing into {}", out.display()))?;
            for path in &written {
                println!("wrote {}", path.display());
            }
            println!("key id (kid): {}", keys.key_id);
            println!("certificate valid {} to {}", validity.not_before, validity.not_after);
            println!(
                "Register certificate.pem in SuccessFactors (Admin Center > Manage OAuth2 Client Applications) for saml-bearer,"
            );
            println!(
                "or publish jwks.json at the JWKS URI of the SAP Cloud Identity Service trust rule for a self-signed workload identity."
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
