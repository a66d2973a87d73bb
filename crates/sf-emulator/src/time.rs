//! Calendar days and the emulator's clock.
//!
//! Effective dates are whole UTC days ([`Day`], days since 1970-01-01); audit
//! stamps (`lastModifiedDateTime`) are milliseconds since the epoch. The clock is
//! real time plus an adjustable offset so tests can step past an effective date
//! without waiting.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 (UTC).
pub type Day = i32;

/// Milliseconds in a day.
pub const MS_PER_DAY: i64 = 86_400_000;
/// 9999-12-31, SuccessFactors' open end date (`/Date(253402214400000)/`).
pub const END_OF_TIME: Day = 2_932_896;

/// Midnight UTC of `day` in ms since the epoch (the wire form of Edm.DateTime dates).
pub fn day_ms(day: Day) -> i64 {
    i64::from(day) * MS_PER_DAY
}

/// The UTC day containing the instant `ms`.
pub fn ms_day(ms: i64) -> Day {
    // Days of interest lie between year 1 and 9999, well inside i32.
    ms.div_euclid(MS_PER_DAY) as Day
}

/// Days since the epoch of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i32, month: u32, day: u32) -> Day {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day number.
pub fn civil_from_days(z: Day) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `yyyy-MM-dd` of a day.
pub fn format_day(day: Day) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `yyyy-MM-dd` (the form of `asOfDate`, `fromDate`, `toDate` and event dates).
pub fn parse_day(text: &str) -> Option<Day> {
    let date: jiff::civil::Date = text.trim().parse().ok()?;
    Some(days_from_civil(
        i32::from(date.year()),
        u32::try_from(date.month()).ok()?,
        u32::try_from(date.day()).ok()?,
    ))
}

/// Parses an RFC 3339 instant to ms since the epoch.
pub fn parse_instant(text: &str) -> Option<i64> {
    let ts: jiff::Timestamp = text.trim().parse().ok()?;
    Some(ts.as_millisecond())
}

/// RFC 3339 text of an instant (UTC).
pub fn format_instant(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.to_string(),
        Err(_) => ms.to_string(),
    }
}

fn system_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The emulator's "now": real time plus an offset, and a stamp source whose
/// values strictly increase, so a delta window that ends right after an event
/// always contains it and two events never share a stamp.
#[derive(Debug)]
pub struct Clock {
    state: Mutex<ClockState>,
}

#[derive(Debug)]
struct ClockState {
    offset_ms: i64,
    last_stamp: i64,
}

impl Clock {
    /// A clock that reads `now_ms` at this moment (or real time when `None`).
    pub fn new(now_ms: Option<i64>) -> Self {
        let offset_ms = now_ms.map(|n| n - system_ms()).unwrap_or(0);
        Self { state: Mutex::new(ClockState { offset_ms, last_stamp: i64::MIN }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // A poisoned clock only means a panic elsewhere; the numbers are still valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The emulator's current instant in ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        system_ms() + self.lock().offset_ms
    }

    /// The emulator's current UTC day (the default `asOfDate`).
    pub fn today(&self) -> Day {
        ms_day(self.now_ms())
    }

    /// Sets the current instant. Never moves stamps backwards: later stamps stay
    /// above every stamp already handed out.
    pub fn set_now(&self, now_ms: i64) {
        let mut state = self.lock();
        state.offset_ms = now_ms - system_ms();
    }

    /// Moves the clock forward (or back, with a negative value) by `ms`.
    pub fn advance(&self, ms: i64) {
        self.lock().offset_ms += ms;
    }

    /// A fresh `lastModifiedDateTime`: the current instant, or one ms after the
    /// previous stamp when the clock has not moved on (or was set back).
    pub fn stamp(&self) -> i64 {
        let mut state = self.lock();
        let now = system_ms() + state.offset_ms;
        let stamp = now.max(state.last_stamp.saturating_add(1));
        state.last_stamp = stamp;
        stamp
    }

    /// The most recent stamp handed out (`i64::MIN` before the first).
    pub fn last_stamp(&self) -> i64 {
        self.lock().last_stamp
    }

    /// Makes later stamps exceed `ms` (used after generating a population).
    pub fn observe_stamp(&self, ms: i64) {
        let mut state = self.lock();
        state.last_stamp = state.last_stamp.max(ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for (y, m, d, days) in [
            (1970, 1, 1, 0),
            (2023, 1, 1, 19_358),
            (9999, 12, 31, END_OF_TIME),
            (1960, 2, 29, -3_594),
        ] {
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
            assert_eq!(civil_from_days(days), (y, m, d));
        }
        assert_eq!(day_ms(END_OF_TIME), 253_402_214_400_000);
        assert_eq!(parse_day("2023-06-01"), Some(days_from_civil(2023, 6, 1)));
        assert_eq!(parse_day("2023-13-01"), None);
        assert_eq!(format_day(19_358), "2023-01-01");
    }

    #[test]
    fn stamps_strictly_increase_even_when_clock_goes_back() {
        let clock = Clock::new(Some(1_700_000_000_000));
        let a = clock.stamp();
        clock.advance(-10 * MS_PER_DAY);
        let b = clock.stamp();
        assert!(b > a);
    }
}
