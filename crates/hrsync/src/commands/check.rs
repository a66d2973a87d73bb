//! `hrsync check`: Test Connection. Runs the source's runtime flow (for the
//! OAuth methods first the token flow of [`hrsync_sf_auth::check()`], step
//! by step; then a one-record OData read through the engine's client) and
//! each flow's target connection check, printing each step with its timing and,
//! for a failed authentication step, what to check in the admin's terms.
//! Changes nothing; exit status 1 when any step fails.

use std::process::ExitCode;
use std::time::Instant;

use hrsync_engine::flow::CompiledFlow;
use hrsync_sf_auth::{AuthConfig, AuthError, ProviderOptions};
use hrsync_source_sf::{PersonQuery, SfClient, SourceConfig, SourceError};
use hrsync_target::Target;

use super::app::{self, ConfigArg};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    config: ConfigArg,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let config = app::load(&args.config)?;
    println!("config: {} is valid", config.path.display());
    let rt = app::runtime()?;
    let ok = rt.block_on(async {
        let mut ok = true;
        if !matches!(config.source.auth, AuthConfig::Basic { .. })
            && !auth_steps(&config.source.client, &config.source.auth).await
        {
            // The OData read below would fail the same way, with less detail.
            ok = false;
        }
        let started = Instant::now();
        let source = match SfClient::new(&config.source.client) {
            Ok(c) => c,
            Err(e) => {
                println!("FAIL source client ({} ms): {e}", started.elapsed().as_millis());
                return false;
            }
        };
        let started = Instant::now();
        let query = PersonQuery { page_size: 1, snapshot: false, ..Default::default() };
        match source.persons(&query) {
            Ok(mut pages) => match pages.next_page().await {
                Ok(page) => println!(
                    "ok   SuccessFactors OData read PerPerson (top 1) ({} ms): {} record(s)",
                    started.elapsed().as_millis(),
                    page.map_or(0, |p| p.records.len())
                ),
                Err(e) => {
                    ok = false;
                    println!(
                        "FAIL SuccessFactors OData read PerPerson ({} ms): {e}",
                        started.elapsed().as_millis()
                    );
                    if let SourceError::Auth(e) = &e {
                        explain(e);
                    }
                }
            },
            Err(e) => {
                ok = false;
                println!("FAIL SuccessFactors request ({} ms): {e}", started.elapsed().as_millis());
            }
        }
        // Every flow's target; a missing embedded target is checked in
        // memory: `check` creates no file.
        for flow in config.flows() {
            let label = if flow.name == hrsync_config::Config::INBOUND {
                "target".to_owned()
            } else {
                format!("target of flow `{}`", flow.name)
            };
            let started = Instant::now();
            let compiled = app::compile(flow);
            match compiled
                .as_ref()
                .map_err(|e| anyhow::anyhow!("{}", app::error_chain(e)))
                .and_then(|c| app::target_with(&config, flow, c, app::Files::Existing))
            {
                Ok(target) => {
                    let mut reachable = true;
                    for step in target.check().await {
                        ok &= step.ok;
                        reachable &= step.ok;
                        println!(
                            "{} {label} {}: {} ({} ms)",
                            if step.ok { "ok  " } else { "FAIL" },
                            step.name,
                            hrsync_display::escape(&step.detail),
                            started.elapsed().as_millis()
                        );
                    }
                    if reachable && let Ok(c) = &compiled {
                        ok &= demands(&*target, c, &label).await;
                    }
                }
                Err(e) => {
                    ok = false;
                    println!("FAIL {label}: {}", app::error_chain(&e));
                }
            }
        }
        if let Some(wb) = &config.writeback {
            ok &= writeback(&config.source.client, wb).await;
        }
        ok
    });
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The writeback flow's side of SuccessFactors: the email and phone type
/// picklists, and every type name the mapping gives as a constant
/// (`emailType = '"Business"'`) resolved against them, so that an unknown
/// type is found here rather than by the first cycle.
async fn writeback(source: &SourceConfig, wb: &hrsync_config::WritebackSettings) -> bool {
    use hrsync_target_sf_writeback::{SfWritebackConfig, SfWritebackTarget};
    let started = Instant::now();
    let client = match SfClient::new(source) {
        Ok(c) => c,
        Err(e) => {
            println!("FAIL writeback client: {e}");
            return false;
        }
    };
    let target = SfWritebackTarget::new(
        client,
        SfWritebackConfig { primary: wb.primary, ..Default::default() },
    );
    let types = match target.types().await {
        Ok((types, _)) => {
            println!(
                "ok   writeback picklists: {} email and {} phone types ({} ms)",
                types.email.options.len(),
                types.phone.options.len(),
                started.elapsed().as_millis()
            );
            types
        }
        Err(e) => {
            println!("FAIL writeback picklists ({} ms): {e}", started.elapsed().as_millis());
            return false;
        }
    };
    let constants: std::collections::BTreeMap<String, String> = wb
        .mapping
        .mappings
        .iter()
        .filter_map(|m| {
            let text = m.expression.as_deref().or(m.default.as_deref())?.trim();
            let inner = text.strip_prefix('"')?.strip_suffix('"')?;
            (!inner.contains('"')).then(|| {
                (
                    hrsync_target_sf_writeback::values::canonical(&m.target).to_owned(),
                    inner.to_owned(),
                )
            })
        })
        .collect();
    match hrsync_source_sf::Desired::check_type_names(&constants, types) {
        Ok(()) => {
            println!("ok   writeback mapping: its email and phone types exist in the tenant");
            true
        }
        Err(e) => {
            println!("FAIL writeback mapping: {}", hrsync_display::escape(&e.to_string()));
            false
        }
    }
}

/// What the target demands of the values sent (its schema, an app
/// profile), against what the mapping writes: a required attribute no
/// mapping writes fails the check, before any sync sends a create the
/// target would refuse. Values that break a demand for some workers are
/// what `hrsync plan` finds (it evaluates the mapping for every worker).
async fn demands(target: &dyn Target, compiled: &CompiledFlow, label: &str) -> bool {
    let started = Instant::now();
    let requirements = match target.requirements().await {
        Ok(r) => r,
        Err(e) => {
            println!(
                "FAIL {label} schema ({} ms): could not be read: {}",
                started.elapsed().as_millis(),
                hrsync_display::escape(&e.to_string())
            );
            return false;
        }
    };
    if requirements.is_empty() {
        return true;
    }
    let mapped: Vec<&str> =
        compiled.mapping.mappings().iter().map(|m| m.config.target.as_str()).collect();
    let missing = hrsync_target::requirements::unmapped(&requirements, &mapped);
    for r in &missing {
        println!(
            "FAIL {label} schema: {} is required by {} and no mapping writes it: every create would be refused; add a mapping for it",
            hrsync_display::escape(&r.attribute),
            hrsync_display::escape(&r.by)
        );
    }
    if missing.is_empty() {
        let mut required: Vec<&str> = requirements
            .iter()
            .filter(|r| r.rule == hrsync_target::requirements::Rule::Required)
            .map(|r| r.attribute.as_str())
            .collect();
        // The schema and an app profile may both demand one attribute.
        required.sort_unstable();
        required.dedup();
        println!(
            "ok   {label} schema: {} demand(s) read; every required attribute is mapped ({}) ({} ms)",
            requirements.len(),
            hrsync_display::escape(&required.join(", ")),
            started.elapsed().as_millis()
        );
    }
    missing.is_empty()
}

/// Runs the OAuth flow step by step; prints each step and whether it passed.
async fn auth_steps(client: &SourceConfig, auth: &AuthConfig) -> bool {
    let http = match auth_http(client) {
        Ok(h) => h,
        Err(e) => {
            println!("FAIL SuccessFactors auth ({}): HTTP client: {e}", auth.method());
            return false;
        }
    };
    let steps =
        hrsync_sf_auth::check(auth, &client.base_url, http, ProviderOptions::default()).await;
    let mut ok = true;
    for step in &steps {
        let ms = step.duration.as_millis();
        match &step.outcome {
            Ok(detail) => println!(
                "ok   SuccessFactors auth ({}): {} ({ms} ms): {detail}",
                auth.method(),
                step.name
            ),
            Err(e) => {
                ok = false;
                println!(
                    "FAIL SuccessFactors auth ({}): {} ({ms} ms): {e}",
                    auth.method(),
                    step.name
                );
                explain(e);
            }
        }
    }
    ok
}

fn explain(e: &AuthError) {
    println!("     what to check: {}", e.explanation());
}

/// An HTTP client with the source's TLS settings and timeout, so the token
/// endpoints are reached the way the sync reaches them.
fn auth_http(client: &SourceConfig) -> anyhow::Result<reqwest::Client> {
    Ok(client.http_builder()?.build()?)
}
