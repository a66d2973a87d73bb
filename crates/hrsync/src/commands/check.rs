//! `hrsync check`: Test Connection. Runs the source's runtime flow (a
//! one-record OData read) and the target's connection check, printing each
//! step with its timing, without changing anything.

use std::process::ExitCode;
use std::time::Instant;

use hrsync_source_sf::{PersonQuery, SfClient};

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
                    println!("FAIL SuccessFactors OData read PerPerson ({} ms): {e}", started.elapsed().as_millis());
                }
            },
            Err(e) => {
                ok = false;
                println!("FAIL SuccessFactors request ({} ms): {e}", started.elapsed().as_millis());
            }
        }
        let started = Instant::now();
        match app::target(&config) {
            Ok(target) => {
                for step in target.check().await {
                    ok &= step.ok;
                    println!("{} target {}: {} ({} ms)", if step.ok { "ok  " } else { "FAIL" }, step.name, step.detail, started.elapsed().as_millis());
                }
            }
            Err(e) => {
                ok = false;
                println!("FAIL target: {e:#}");
            }
        }
        ok
    });
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
