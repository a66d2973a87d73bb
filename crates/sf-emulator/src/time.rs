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

/// The earliest instant the clock can be set to (1900-01-01T00:00:00Z).
pub const MIN_NOW_MS: i64 = -2_208_988_800_000;
/// The latest instant the clock can be set to (9999-12-30T22:00:00Z, the
/// end of the instants the emulator formats; SuccessFactors' open end date
/// 9999-12-31 follows it).
pub const MAX_NOW_MS: i64 = 253_402_207_200_000;

/// A clock change that would leave [`MIN_NOW_MS`]..=[`MAX_NOW_MS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the emulator clock must stay between 1900-01-01T00:00:00Z and 9999-12-30T22:00:00Z; {what} is outside"
)]
pub struct ClockError {
    /// What was asked, e.g. `now + 1e300 s`.
    pub what: String,
}

impl Clock {
    /// A clock that reads `now_ms` at this moment (or real time when `None`).
    /// A start outside the clock's range is clamped into it.
    pub fn new(now_ms: Option<i64>) -> Self {
        let offset_ms = now_ms
            .map(|n| n.clamp(MIN_NOW_MS, MAX_NOW_MS).saturating_sub(system_ms()))
            .unwrap_or(0);
        Self { state: Mutex::new(ClockState { offset_ms, last_stamp: i64::MIN }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // A poisoned clock only means a panic elsewhere; the numbers are still valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The emulator's current instant in ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        system_ms().saturating_add(self.lock().offset_ms)
    }

    /// The emulator's current UTC day (the default `asOfDate`).
    pub fn today(&self) -> Day {
        ms_day(self.now_ms())
    }

    /// Sets the current instant, refusing one outside the clock's range.
    /// Never moves stamps backwards: later stamps stay above every stamp
    /// already handed out.
    pub fn try_set_now(&self, now_ms: i64) -> Result<(), ClockError> {
        if !(MIN_NOW_MS..=MAX_NOW_MS).contains(&now_ms) {
            return Err(ClockError { what: format!("{now_ms} ms since the epoch") });
        }
        self.lock().offset_ms = now_ms - system_ms();
        Ok(())
    }

    /// Moves the clock by `ms` (back with a negative value), refusing a move
    /// that leaves the clock's range (the arithmetic never wraps).
    pub fn try_advance(&self, ms: i64) -> Result<(), ClockError> {
        let mut state = self.lock();
        let now = system_ms().saturating_add(state.offset_ms);
        match now.checked_add(ms) {
            Some(t) if (MIN_NOW_MS..=MAX_NOW_MS).contains(&t) => {
                state.offset_ms = t - system_ms();
                Ok(())
            }
            _ => Err(ClockError { what: format!("now {ms:+} ms") }),
        }
    }

    /// [`Clock::try_set_now`], clamping into the clock's range instead of refusing.
    pub fn set_now(&self, now_ms: i64) {
        let _ = self.try_set_now(now_ms.clamp(MIN_NOW_MS, MAX_NOW_MS));
    }

    /// [`Clock::try_advance`], stopping at the end of the clock's range
    /// instead of refusing.
    pub fn advance(&self, ms: i64) {
        let target = self.now_ms().saturating_add(ms).clamp(MIN_NOW_MS, MAX_NOW_MS);
        let _ = self.try_set_now(target);
    }

    /// A fresh `lastModifiedDateTime`: the current instant, or one ms after the
    /// previous stamp when the clock has not moved on (or was set back).
    pub fn stamp(&self) -> i64 {
        let mut state = self.lock();
        let now = system_ms().saturating_add(state.offset_ms);
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

/// Where the tenant's data centre is, for `createdOn`/`lastModifiedOn`:
/// SuccessFactors writes them as the data centre's local wall time labelled
/// as UTC (Edm.DateTime), daylight saving included. R3 (api2preview.sapsf.eu,
/// April) shows +2 h, R4 (api55preview.sapsf.eu) 0 h.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataCentre {
    /// `*On` equal to the UTC stamps (some data centres).
    Utc,
    /// Central European time with EU daylight saving (+1 h winter, +2 h summer).
    #[default]
    Europe,
    /// US Eastern time with US daylight saving (-5 h winter, -4 h summer).
    UsEast,
}

impl DataCentre {
    /// The POSIX TZ rule of the data centre's wall clock.
    pub fn posix_tz(self) -> &'static str {
        match self {
            DataCentre::Utc => "UTC0",
            DataCentre::Europe => "CET-1CEST,M3.5.0,M10.5.0/3",
            DataCentre::UsEast => "EST5EDT,M3.2.0,M11.1.0",
        }
    }

    /// `utc`, `europe` or `us-east`.
    pub fn parse(text: &str) -> Option<DataCentre> {
        match text.trim().to_ascii_lowercase().as_str() {
            "utc" => Some(DataCentre::Utc),
            "europe" | "eu" => Some(DataCentre::Europe),
            "us-east" | "us" => Some(DataCentre::UsEast),
            _ => None,
        }
    }
}

/// UTC to the data centre's wall clock, by a precomputed table of offset
/// changes (rendering calls this twice per entity: no time-zone arithmetic
/// per call).
#[derive(Debug, Clone)]
pub struct LocalTime {
    /// (UTC ms where an offset starts, offset in ms), sorted.
    changes: Vec<(i64, i64)>,
    /// Offset before the first change.
    first: i64,
}

impl LocalTime {
    /// The wall clock of `dc` between 1900 and 2200 (outside: the nearest
    /// rule's offset; nothing SuccessFactors stamps lies there).
    pub fn new(dc: DataCentre) -> LocalTime {
        let Ok(tz) = jiff::tz::TimeZone::posix(dc.posix_tz()) else {
            // The rules above are constants that parse; keep UTC if not.
            return LocalTime { changes: Vec::new(), first: 0 };
        };
        let start = jiff::Timestamp::from_second(-2_208_988_800).unwrap_or(jiff::Timestamp::MIN);
        let end_ms = 7_258_118_400_000; // 2200-01-01
        let first = i64::from(tz.to_offset(start).seconds()) * 1000;
        let changes = tz
            .following(start)
            .take_while(|t| t.timestamp().as_millisecond() < end_ms)
            .map(|t| (t.timestamp().as_millisecond(), i64::from(t.offset().seconds()) * 1000))
            .collect();
        LocalTime { changes, first }
    }

    /// The wall-clock reading at UTC instant `ms`, as ms "since the epoch".
    pub fn local(&self, ms: i64) -> i64 {
        let i = self.changes.partition_point(|(at, _)| *at <= ms);
        let offset = if i == 0 { self.first } else { self.changes[i - 1].1 };
        ms.saturating_add(offset)
    }
}

impl Default for LocalTime {
    fn default() -> Self {
        LocalTime::new(DataCentre::default())
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
    fn data_centre_local_time_follows_daylight_saving() {
        let at = |y, m, d, h: i64| day_ms(days_from_civil(y, m, d)) + h * 3_600_000;
        let eu = LocalTime::new(DataCentre::Europe);
        // R3: April (CEST) +2 h; winter +1 h; the switch on the last Sunday
        // of March at 01:00 UTC and of October at 01:00 UTC.
        assert_eq!(eu.local(at(2020, 4, 16, 21)) - at(2020, 4, 16, 21), 7_200_000);
        assert_eq!(eu.local(at(2025, 3, 1, 12)) - at(2025, 3, 1, 12), 3_600_000);
        assert_eq!(eu.local(at(2025, 3, 30, 0)) - at(2025, 3, 30, 0), 3_600_000);
        assert_eq!(eu.local(at(2025, 3, 30, 1)) - at(2025, 3, 30, 1), 7_200_000);
        assert_eq!(eu.local(at(2025, 10, 26, 1)) - at(2025, 10, 26, 1), 3_600_000);
        let us = LocalTime::new(DataCentre::UsEast);
        assert_eq!(us.local(at(2025, 1, 15, 12)) - at(2025, 1, 15, 12), -5 * 3_600_000);
        assert_eq!(us.local(at(2025, 7, 15, 12)) - at(2025, 7, 15, 12), -4 * 3_600_000);
        let utc = LocalTime::new(DataCentre::Utc);
        assert_eq!(utc.local(at(2025, 7, 15, 12)), at(2025, 7, 15, 12));
        assert_eq!(DataCentre::parse("US-East"), Some(DataCentre::UsEast));
        assert_eq!(DataCentre::parse("mars"), None);
    }

    #[test]
    fn stamps_strictly_increase_even_when_clock_goes_back() {
        let clock = Clock::new(Some(1_700_000_000_000));
        let a = clock.stamp();
        clock.advance(-10 * MS_PER_DAY);
        let b = clock.stamp();
        assert!(b > a);
    }

    #[test]
    fn clock_changes_are_bounded_and_never_wrap() {
        let clock = Clock::new(Some(1_700_000_000_000));
        let before = clock.now_ms();
        for ms in [i64::MAX, i64::MIN, MAX_NOW_MS, 9_000_000_000_000_000] {
            assert!(clock.try_advance(ms).is_err(), "{ms}");
            assert!(
                (clock.now_ms() - before).abs() < 60_000,
                "refused moves leave the clock alone"
            );
        }
        assert!(clock.try_set_now(MAX_NOW_MS + 1).is_err());
        assert!(clock.try_set_now(MIN_NOW_MS - 1).is_err());
        assert!(clock.try_advance(MS_PER_DAY).is_ok());
        clock.advance(i64::MAX);
        assert!(clock.now_ms() >= MAX_NOW_MS && clock.now_ms() < MAX_NOW_MS + 60_000);
        clock.advance(i64::MIN);
        assert!(clock.now_ms() >= MIN_NOW_MS && clock.now_ms() < MIN_NOW_MS + 60_000);
        assert_eq!(ms_day(MAX_NOW_MS), END_OF_TIME - 1);
        assert_eq!(Some(MAX_NOW_MS), parse_instant("9999-12-30T22:00:00Z"));
        assert_eq!(format_instant(MAX_NOW_MS), "9999-12-30T22:00:00Z");
        let far = Clock::new(Some(i64::MAX));
        assert!(far.now_ms() <= MAX_NOW_MS + 60_000 && far.now_ms() > 0);
    }
}
