//! Seeded fault injection for OData requests.
//!
//! Grammar of `--faults` (comma-separated, each `KIND@RATE` with RATE in 0..=1):
//! `latency=DURATION@RATE` (DURATION like `200ms` or `2s`), `429@RATE`
//! (Too Many Requests with `Retry-After`), `503@RATE`, `drop@RATE` (the
//! connection is closed without a response), `truncate@RATE` (a 200 whose JSON
//! body is cut in half). Example: `latency=200ms@0.1,429@0.05,503@0.02,drop@0.01,truncate@0.01`.

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Parsed fault rates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    pub latency: Option<(Duration, f64)>,
    pub throttle: f64,
    pub unavailable: f64,
    pub drop: f64,
    pub truncate: f64,
}

/// A `--faults` value that does not follow the grammar.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("fault spec item '{item}': {reason}")]
pub struct FaultSpecError {
    pub item: String,
    pub reason: &'static str,
}

fn duration(text: &str) -> Option<Duration> {
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    text.strip_suffix('s')?
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

impl std::str::FromStr for FaultSpec {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut out = FaultSpec::default();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let err = |reason| FaultSpecError { item: item.to_owned(), reason };
            let (kind, rate) = item.rsplit_once('@').ok_or_else(|| err("expected KIND@RATE"))?;
            let rate: f64 = rate.parse().map_err(|_| err("rate is not a number"))?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(err("rate must be between 0 and 1"));
            }
            match kind {
                "429" => out.throttle = rate,
                "503" => out.unavailable = rate,
                "drop" => out.drop = rate,
                "truncate" => out.truncate = rate,
                k => {
                    let d = k.strip_prefix("latency=").ok_or_else(|| err("unknown fault kind"))?;
                    out.latency = Some((
                        duration(d).ok_or_else(|| err("bad duration (use 200ms or 2s)"))?,
                        rate,
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultDraw {
    pub delay: Option<Duration>,
    pub outcome: Option<Fault>,
}

/// A fault replacing the normal response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Throttle,
    Unavailable,
    Drop,
    Truncate,
}

/// Seeded source of fault decisions.
#[derive(Debug)]
pub struct Faults {
    spec: FaultSpec,
    rng: std::sync::Mutex<ChaCha8Rng>,
}

impl Faults {
    pub fn new(spec: FaultSpec, seed: u64) -> Self {
        Faults { spec, rng: std::sync::Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0xFA17_5EED)) }
    }

    /// Draws this request's faults (at most one replacing outcome).
    pub fn draw(&self) -> FaultDraw {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let mut draw = FaultDraw::default();
        if let Some((d, rate)) = self.spec.latency
            && rng.random_bool(rate)
        {
            draw.delay = Some(d);
        }
        for (rate, fault) in [
            (self.spec.throttle, Fault::Throttle),
            (self.spec.unavailable, Fault::Unavailable),
            (self.spec.drop, Fault::Drop),
            (self.spec.truncate, Fault::Truncate),
        ] {
            if rate > 0.0 && rng.random_bool(rate) {
                draw.outcome = Some(fault);
                break;
            }
        }
        draw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example_and_rejects_garbage() {
        let spec: FaultSpec = "latency=200ms@0.1,429@0.05,503@0.02,drop@0.01,truncate@0.01"
            .parse()
            .unwrap_or_default();
        assert_eq!(spec.latency, Some((Duration::from_millis(200), 0.1)));
        assert_eq!(
            (spec.throttle, spec.unavailable, spec.drop, spec.truncate),
            (0.05, 0.02, 0.01, 0.01)
        );
        for bad in ["429", "429@2", "boom@0.1", "latency=fast@0.1", "503@x"] {
            assert!(bad.parse::<FaultSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn rate_one_always_fires_and_zero_never() {
        let always = Faults::new("429@1".parse().unwrap_or_default(), 1);
        assert!((0..50).all(|_| always.draw().outcome == Some(Fault::Throttle)));
        let never = Faults::new(FaultSpec::default(), 1);
        assert!((0..50).all(|_| never.draw() == FaultDraw::default()));
    }
}
