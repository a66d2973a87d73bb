//! `hrsync export entra-schema [--config hrsync.toml | --mapping
//! builtin:NAME|FILE] [--out FILE.json]`: write the flow's mapping as an
//! Entra synchronizationSchema (the reverse of `hrsync import
//! entra-schema`). The conversion is `hrsync_import::export_schema`; this
//! loads the config (no secret read) or the mapping, and writes the JSON
//! to `--out` (temporary name, then renamed) or stdout. What Entra cannot
//! express goes to stderr as warnings, each with its hrsync config path.
//! A mapping or config that does not load exits 2, nothing written.

use std::path::PathBuf;
use std::process::ExitCode;

use hrsync_config::{Config, MappingOrigin};
use hrsync_import::{ExportActions, ExportInput, ExportTarget};
use hrsync_targets::TargetConfig;

/// Arguments of `hrsync export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    what: ExportWhat,
}

#[derive(clap::Subcommand)]
enum ExportWhat {
    /// An Entra synchronizationSchema JSON of the config's (or a mapping's)
    /// attribute mappings, source attributes, scoping filter and actions.
    EntraSchema {
        /// The config whose `inbound` flow is exported (no secret is read).
        #[arg(long, short = 'c', conflicts_with = "mapping")]
        config: Option<PathBuf>,
        /// A mapping instead of a config: `builtin:sf-to-ad` (...-openldap,
        /// -scim, -salesforce, -entra) or a mapping TOML file (exported for
        /// Active Directory, with hrsync's default actions).
        #[arg(long)]
        mapping: Option<String>,
        /// The JSON file to write; stdout when not given.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn fail(msg: String) -> anyhow::Result<ExitCode> {
    eprintln!("error: {msg}");
    Ok(ExitCode::from(2))
}

/// The target the config's `[target]` is, or what to assume.
fn target_of(config: &Config, notes: &mut Vec<(String, String)>) -> ExportTarget {
    let from_builtin = || match &config.flow.origin {
        MappingOrigin::Builtin(name) => hrsync_import::builtin(name).map(|(_, t)| t),
        _ => None,
    };
    match &config.target {
        TargetConfig::Ldap(c) => match c.profile {
            hrsync_target_ldap::Profile::ActiveDirectory => ExportTarget::ActiveDirectory,
            hrsync_target_ldap::Profile::InetOrgPerson => ExportTarget::Ldap,
        },
        TargetConfig::Graph(_) => ExportTarget::EntraId,
        TargetConfig::Scim(c) => match c.profile {
            Some(hrsync_target_scim::AppProfile::Salesforce) => ExportTarget::Salesforce,
            None => ExportTarget::Scim,
        },
        TargetConfig::Embedded(_) | TargetConfig::Planned(_) => {
            let t = from_builtin().unwrap_or(ExportTarget::ActiveDirectory);
            notes.push((
                "target.kind".into(),
                format!(
                    "this target kind has no Entra directory; exported for {:?}",
                    t.directory().0
                ),
            ));
            t
        }
    }
}

/// Run the command.
pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let ExportWhat::EntraSchema { config, mapping, out } = args.what;
    let mut notes = Vec::new();
    let loaded;
    let owned;
    let (input_mapping, origin, target, actions) = match (&config, &mapping) {
        (_, Some(m)) if m.starts_with("builtin:") => match hrsync_import::builtin(m) {
            Some((map, target)) => {
                owned = map;
                (&owned, m.clone(), target, ExportActions::default())
            }
            None => {
                let names: Vec<&str> = hrsync_import::BUILTINS.iter().map(|b| b.0).collect();
                return fail(format!(
                    "--mapping {m}: unknown built-in mapping; the built-in mappings are {}",
                    names.join(", ")
                ));
            }
        },
        (_, Some(file)) => {
            let text = match std::fs::read_to_string(file) {
                Ok(t) => t,
                Err(e) => return fail(format!("--mapping {file}: cannot read: {e}")),
            };
            match hrsync_mapping::MappingConfig::from_toml(&text) {
                Ok(map) => {
                    owned = map;
                    (&owned, file.clone(), ExportTarget::ActiveDirectory, ExportActions::default())
                }
                Err(e) => return fail(format!("{file}: {e}")),
            }
        }
        (c, None) => {
            let path = c.clone().unwrap_or_else(|| PathBuf::from("hrsync.toml"));
            loaded = match Config::load_local(&path) {
                Ok(c) => c,
                Err(errors) => {
                    let lines: Vec<String> =
                        errors.errors().iter().map(ToString::to_string).collect();
                    return fail(format!(
                        "{} problem(s) in the config:\n{}",
                        lines.len(),
                        lines.join("\n")
                    ));
                }
            };
            let target = target_of(&loaded, &mut notes);
            let f = &loaded.flow;
            if f.prehire_lead_days != 14 {
                notes.push((
                    "flow.prehire_lead_days".into(),
                    format!("{} (Entra has no pre-hire lead time setting)", f.prehire_lead_days),
                ));
            }
            if !f.onboarding_prehires {
                notes.push((
                    "flow.onboarding_prehires".into(),
                    "false (Entra has no such switch: exclude Onboarding pre-hires with a scoping filter, `userStatus NOT EQUALS active_external_suite`)".into(),
                ));
            }
            if f.time_zone.iana_name() != Some("UTC") {
                notes.push((
                    "flow.time_zone".into(),
                    format!(
                        "{} (Entra evaluates dates in UTC)",
                        f.time_zone.iana_name().unwrap_or("a fixed offset")
                    ),
                ));
            }
            for (i, n) in loaded.more_flows.iter().enumerate() {
                notes.push((
                    format!("flows[{i}]"),
                    format!("flow {:?}: only the inbound flow is exported", n.name),
                ));
            }
            let a = f.actions;
            let origin = match &f.origin {
                MappingOrigin::Builtin(name) => format!("{} flow.mapping = {name}", path.display()),
                MappingOrigin::File(p) => p.display().to_string(),
                MappingOrigin::Inline => format!("{} flow", path.display()),
            };
            let actions = ExportActions {
                create: a.create,
                update: a.update,
                disable: a.disable,
                delete: a.delete,
            };
            (&f.mapping, origin, target, actions)
        }
    };
    let input = ExportInput {
        mapping: input_mapping,
        origin: &origin,
        target,
        actions,
        not_expressible: notes,
    };
    let exported = match hrsync_import::export_schema(&input) {
        Ok(e) => e,
        Err(e) => return fail(e.to_string()),
    };
    for w in &exported.warnings {
        eprintln!("warning: {w}");
    }
    match out {
        None => print!("{}", exported.json),
        Some(out) => {
            let name = out.file_name().map(|n| n.to_string_lossy().into_owned());
            let tmp = out.with_file_name(format!(".{}.tmp", name.unwrap_or_default()));
            if let Err(e) = std::fs::write(&tmp, &exported.json) {
                let _ = std::fs::remove_file(&tmp);
                return fail(format!("--out {}: cannot write: {e}", out.display()));
            }
            std::fs::rename(&tmp, &out)?;
            eprintln!("wrote {}", out.display());
        }
    }
    if !exported.warnings.is_empty() {
        eprintln!(
            "{} construct(s) Entra cannot express: see the warnings above",
            exported.warnings.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
