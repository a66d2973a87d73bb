//! Date handling with .NET semantics: en-US default text, custom and
//! standard format strings (format and exact parse), loose `CDate` parsing,
//! VB `DateAdd`/`DateDiff` intervals and AD FILETIME conversion.
//!
//! Calendar arithmetic is done here on plain integers (proleptic Gregorian,
//! UTC) so that no input can make it panic; `jiff::Timestamp` is only the
//! storage type and the range check.

use jiff::Timestamp;

const NANOS_PER_SEC: i64 = 1_000_000_000;
/// 100-ns ticks between 1601-01-01 and 1970-01-01.
const FILETIME_UNIX_EPOCH: i64 = 116_444_736_000_000_000;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] =
    ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// Broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub nanos: i64,
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// UTC breakdown of an instant.
pub(crate) fn to_civil(ts: Timestamp) -> Civil {
    let secs = ts.as_second();
    let mut nanos = i64::from(ts.subsec_nanosecond());
    let mut secs_floor = secs;
    if nanos < 0 {
        nanos += NANOS_PER_SEC;
        secs_floor -= 1;
    }
    let days = secs_floor.div_euclid(86_400);
    let sod = secs_floor.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Civil { year, month, day, hour: sod / 3600, minute: sod % 3600 / 60, second: sod % 60, nanos }
}

/// Build an instant from wall-clock fields at a UTC offset (seconds east).
pub(crate) fn from_civil(c: Civil, offset_secs: i64) -> Result<Timestamp, String> {
    if !(1..=12).contains(&c.month) {
        return Err(format!("month {} out of range", c.month));
    }
    if c.day < 1 || c.day > days_in_month(c.year, c.month) {
        return Err(format!("day {} out of range for {}-{:02}", c.day, c.year, c.month));
    }
    if !(0..24).contains(&c.hour) || !(0..60).contains(&c.minute) || !(0..60).contains(&c.second) {
        return Err(format!("time {}:{:02}:{:02} out of range", c.hour, c.minute, c.second));
    }
    if !(-9999..=9999).contains(&c.year) {
        return Err(format!("year {} out of range", c.year));
    }
    let secs =
        days_from_civil(c.year, c.month, c.day) * 86_400 + c.hour * 3600 + c.minute * 60 + c.second
            - offset_secs;
    timestamp(secs, c.nanos)
}

fn timestamp(secs: i64, nanos: i64) -> Result<Timestamp, String> {
    let nanos = i32::try_from(nanos).map_err(|_| "fraction out of range".to_owned())?;
    Timestamp::new(secs, nanos)
        .map_err(|_| "date out of the supported range (years -9999..9999)".to_owned())
}

/// .NET en-US default `DateTime.ToString()`: `M/d/yyyy h:mm:ss tt`.
pub(crate) fn format_default(ts: Timestamp) -> String {
    let c = to_civil(ts);
    let h12 = if c.hour % 12 == 0 { 12 } else { c.hour % 12 };
    let tt = if c.hour < 12 { "AM" } else { "PM" };
    format!("{}/{}/{:04} {}:{:02}:{:02} {}", c.month, c.day, c.year, h12, c.minute, c.second, tt)
}

// ---------------------------------------------------------------- formats

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// Specifier letter and repeat count.
    Spec(char, usize),
    Lit(String),
}

fn expand_standard(fmt: &str) -> &str {
    // en-US patterns: Entra's default text shows it runs with that culture.
    match fmt {
        "d" => "M/d/yyyy",
        "D" => "dddd, MMMM d, yyyy",
        "f" => "dddd, MMMM d, yyyy h:mm tt",
        "F" | "U" => "dddd, MMMM d, yyyy h:mm:ss tt",
        "g" => "M/d/yyyy h:mm tt",
        "G" => "M/d/yyyy h:mm:ss tt",
        "M" | "m" => "MMMM d",
        "O" | "o" => "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK",
        "R" | "r" => "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'",
        "s" => "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
        "t" => "h:mm tt",
        "T" => "h:mm:ss tt",
        "u" => "yyyy'-'MM'-'dd HH':'mm':'ss'Z'",
        "Y" | "y" => "MMMM yyyy",
        other => other,
    }
}

fn tokenize(fmt: &str) -> Result<Vec<Tok>, String> {
    if fmt.is_empty() {
        return Err("empty format string".into());
    }
    let fmt = expand_standard(fmt);
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let lit = |out: &mut Vec<Tok>, s: &str| match out.last_mut() {
        Some(Tok::Lit(l)) => l.push_str(s),
        _ => out.push(Tok::Lit(s.to_owned())),
    };
    while let Some(&c) = chars.get(i) {
        match c {
            'y' | 'M' | 'd' | 'H' | 'h' | 'm' | 's' | 'f' | 'F' | 't' | 'z' | 'K' | 'g' => {
                let mut n = 1;
                while chars.get(i + n) == Some(&c) {
                    n += 1;
                }
                if matches!(c, 'f' | 'F') && n > 7 {
                    return Err(format!(
                        "'{}' has more than 7 fraction digits",
                        c.to_string().repeat(n)
                    ));
                }
                out.push(Tok::Spec(c, n));
                i += n;
            }
            '\'' | '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!("unterminated quoted literal in format '{fmt}'"));
                        }
                        Some(&q) if q == c => break,
                        Some('\\') => {
                            if let Some(&n) = chars.get(i + 1) {
                                s.push(n);
                                i += 1;
                            }
                        }
                        Some(&o) => s.push(o),
                    }
                    i += 1;
                }
                i += 1;
                lit(&mut out, &s);
            }
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return Err("format ends with a lone backslash".into());
                };
                lit(&mut out, n.encode_utf8(&mut [0; 4]));
                i += 2;
            }
            '%' => i += 1,
            other => {
                lit(&mut out, other.encode_utf8(&mut [0; 4]));
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Format an instant (UTC) with a .NET standard or custom format string.
pub(crate) fn format(ts: Timestamp, fmt: &str) -> Result<String, String> {
    let c = to_civil(ts);
    let mut out = String::new();
    for tok in tokenize(fmt)? {
        match tok {
            Tok::Lit(s) => out.push_str(&s),
            Tok::Spec(ch, n) => {
                let h12 = if c.hour % 12 == 0 { 12 } else { c.hour % 12 };
                let text = match (ch, n) {
                    ('y', 1) => (c.year % 100).to_string(),
                    ('y', 2) => format!("{:02}", c.year % 100),
                    ('y', n) => format!("{:0n$}", c.year),
                    ('M', 1) => c.month.to_string(),
                    ('M', 2) => format!("{:02}", c.month),
                    ('M', 3) => month_name(c.month)[..3].to_owned(),
                    ('M', _) => month_name(c.month).to_owned(),
                    ('d', 1) => c.day.to_string(),
                    ('d', 2) => format!("{:02}", c.day),
                    ('d', n) => {
                        let wd = (days_from_civil(c.year, c.month, c.day) + 4).rem_euclid(7);
                        let name = DAYS.get(wd as usize).copied().unwrap_or("Sunday");
                        if n == 3 { name[..3].to_owned() } else { name.to_owned() }
                    }
                    ('H', 1) => c.hour.to_string(),
                    ('H', _) => format!("{:02}", c.hour),
                    ('h', 1) => h12.to_string(),
                    ('h', _) => format!("{h12:02}"),
                    ('m', 1) => c.minute.to_string(),
                    ('m', _) => format!("{:02}", c.minute),
                    ('s', 1) => c.second.to_string(),
                    ('s', _) => format!("{:02}", c.second),
                    ('f', n) => format!("{:07}", c.nanos / 100)[..n].to_owned(),
                    ('F', n) => {
                        format!("{:07}", c.nanos / 100)[..n].trim_end_matches('0').to_owned()
                    }
                    ('t', 1) => (if c.hour < 12 { "A" } else { "P" }).to_owned(),
                    ('t', _) => (if c.hour < 12 { "AM" } else { "PM" }).to_owned(),
                    ('z', 1) => "+0".to_owned(),
                    ('z', 2) => "+00".to_owned(),
                    ('z', _) => "+00:00".to_owned(),
                    ('K', _) => "Z".to_owned(),
                    ('g', _) => "A.D.".to_owned(),
                    _ => String::new(),
                };
                out.push_str(&text);
            }
        }
    }
    Ok(out)
}

fn month_name(m: i64) -> &'static str {
    usize::try_from(m - 1).ok().and_then(|i| MONTHS.get(i)).copied().unwrap_or("January")
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }
    fn digits(&mut self, min: usize, max: usize) -> Option<i64> {
        let n = self.rest().bytes().take(max).take_while(u8::is_ascii_digit).count();
        if n < min {
            return None;
        }
        let v = self.rest()[..n].parse().ok()?;
        self.pos += n;
        Some(v)
    }
    fn eat(&mut self, lit: &str) -> bool {
        if self.rest().starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }
    fn eat_ci(&mut self, word: &str) -> bool {
        match self.rest().get(..word.len()) {
            Some(p) if p.eq_ignore_ascii_case(word) => {
                self.pos += word.len();
                true
            }
            _ => false,
        }
    }
    /// `Z`, `±H`, `±HH`, `±HH:mm`, `±HHmm`; returns seconds east.
    fn offset(&mut self, allow_z: bool) -> Option<i64> {
        if allow_z && (self.eat("Z") || self.eat("z")) {
            return Some(0);
        }
        let sign = if self.eat("+") {
            1
        } else if self.eat("-") {
            -1
        } else {
            return None;
        };
        let h = self.digits(1, 2)?;
        let m = if self.eat(":") { self.digits(2, 2)? } else { self.digits(2, 2).unwrap_or(0) };
        if h > 14 || m > 59 {
            return None;
        }
        Some(sign * (h * 3600 + m * 60))
    }
}

/// Parse `s` exactly against a .NET format (leading/trailing white space allowed,
/// as with Entra's default styles). Without an offset the text is taken as UTC.
pub(crate) fn parse_exact(s: &str, fmt: &str) -> Result<Timestamp, String> {
    let toks = tokenize(fmt)?;
    let mut cur = Cursor { s: s.trim(), pos: 0 };
    let mut c = Civil { year: 1, month: 1, day: 1, hour: 0, minute: 0, second: 0, nanos: 0 };
    let mut pm: Option<bool> = None;
    let mut h12 = false;
    let mut offset = 0;
    let fail = |what: &str, cur: &Cursor| {
        format!("'{s}' does not match format '{fmt}': expected {what} at '{}'", cur.rest())
    };
    for tok in &toks {
        match *tok {
            Tok::Lit(ref l) => {
                if l.trim().is_empty() && !l.is_empty() {
                    let n = cur.rest().len() - cur.rest().trim_start().len();
                    if n == 0 {
                        return Err(fail("white space", &cur));
                    }
                    cur.pos += n;
                } else if !cur.eat(l) {
                    return Err(fail(&format!("'{l}'"), &cur));
                }
            }
            Tok::Spec(ch, n) => {
                let ok = match (ch, n) {
                    ('y', 1) => cur
                        .digits(1, 4)
                        .map(|v| c.year = if v < 100 { two_digit_year(v) } else { v }),
                    ('y', 2) => cur.digits(2, 2).map(|v| c.year = two_digit_year(v)),
                    ('y', n) => cur.digits(n.min(4), n.max(4)).map(|v| c.year = v),
                    ('M', 1 | 2) => cur.digits(n, 2).map(|v| c.month = v),
                    ('M', n) => (1..=12)
                        .find(|&m| {
                            let name = month_name(m);
                            cur.eat_ci(if n == 3 { &name[..3] } else { name })
                        })
                        .map(|m| c.month = m),
                    ('d', 1 | 2) => cur.digits(n, 2).map(|v| c.day = v),
                    ('d', n) => DAYS
                        .iter()
                        .find(|d| cur.eat_ci(if n == 3 { &d[..3] } else { d }))
                        .map(|_| ()),
                    ('H', _) => cur.digits(n.min(2), 2).map(|v| c.hour = v),
                    ('h', _) => cur.digits(n.min(2), 2).map(|v| {
                        h12 = true;
                        c.hour = v;
                    }),
                    ('m', _) => cur.digits(n.min(2), 2).map(|v| c.minute = v),
                    ('s', _) => cur.digits(n.min(2), 2).map(|v| c.second = v),
                    ('f' | 'F', n) => {
                        let before = cur.pos;
                        let min = if ch == 'f' { n } else { 0 };
                        cur.digits(min, n).or(if min == 0 { Some(0) } else { None }).map(|_| {
                            let digits = &cur.s[before..cur.pos];
                            let padded = format!("{digits:0<9}");
                            c.nanos = padded.parse().unwrap_or(0);
                        })
                    }
                    ('t', _) => {
                        let (am, p) = if n == 1 { ("A", "P") } else { ("AM", "PM") };
                        let found = if cur.eat_ci(am) {
                            Some(false)
                        } else if cur.eat_ci(p) {
                            Some(true)
                        } else {
                            None
                        };
                        found.map(|is_pm| pm = Some(is_pm))
                    }
                    ('z', _) => cur.offset(false).map(|o| offset = o),
                    ('K', _) => {
                        if let Some(o) = cur.offset(true) {
                            offset = o;
                        }
                        Some(())
                    }
                    ('g', _) => {
                        cur.eat_ci("A.D.");
                        Some(())
                    }
                    _ => None,
                };
                if ok.is_none() {
                    return Err(fail(&format!("'{}'", ch.to_string().repeat(n)), &cur));
                }
            }
        }
    }
    if !cur.rest().is_empty() {
        return Err(format!(
            "'{s}' does not match format '{fmt}': unexpected trailing text '{}'",
            cur.rest()
        ));
    }
    if let Some(pm) = pm {
        if c.hour > 12 {
            return Err(format!("'{s}': hour {} with AM/PM", c.hour));
        }
        c.hour = match (pm, c.hour) {
            (false, 12) => 0,
            (true, h) if h < 12 => h + 12,
            (_, h) => h,
        };
    } else if h12 && c.hour == 12 {
        c.hour = 12;
    }
    from_civil(c, offset).map_err(|e| format!("'{s}': {e}"))
}

/// .NET's two-digit year window (1930..2029).
fn two_digit_year(v: i64) -> i64 {
    if v < 30 { 2000 + v } else { 1900 + v }
}

/// Loose parse for `CDate`: ISO 8601 dates with optional time and offset
/// (`2020-03-16-07:00`, `2021-06-30+08:00`, `2009-06-15T01:45:30-07:00`,
/// `2025-12-31 23:59:59-05:00`), en-US `M/d/yyyy[ h:mm[:ss] AM]`, and
/// `/Date(ms)/`. No offset means UTC.
pub(crate) fn parse_loose(s: &str) -> Result<Timestamp, String> {
    let t = s.trim();
    if let Some(ms) = t.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
        let digits_end = ms
            .char_indices()
            .skip(1)
            .find(|&(_, ch)| ch == '+' || ch == '-')
            .map_or(ms.len(), |(i, _)| i);
        let ms: i64 =
            ms[..digits_end].parse().map_err(|_| format!("cannot convert '{s}' to a date"))?;
        return timestamp(ms.div_euclid(1000), ms.rem_euclid(1000) * 1_000_000);
    }
    iso(t).or_else(|| us(t)).ok_or_else(|| format!("cannot convert '{s}' to a date"))?
}

fn iso(t: &str) -> Option<Result<Timestamp, String>> {
    let mut cur = Cursor { s: t, pos: 0 };
    let year = cur.digits(4, 4)?;
    if !cur.eat("-") {
        return None;
    }
    let month = cur.digits(1, 2)?;
    if !cur.eat("-") {
        return None;
    }
    let day = cur.digits(1, 2)?;
    let mut c = Civil { year, month, day, hour: 0, minute: 0, second: 0, nanos: 0 };
    if cur.eat("T") || cur.eat(" ") {
        c.hour = cur.digits(1, 2)?;
        if !cur.eat(":") {
            return None;
        }
        c.minute = cur.digits(2, 2)?;
        if cur.eat(":") {
            c.second = cur.digits(2, 2)?;
            if cur.eat(".") || cur.eat(",") {
                let before = cur.pos;
                cur.digits(1, 9)?;
                c.nanos = format!("{:0<9}", &t[before..cur.pos]).parse().ok()?;
            }
        }
    }
    let offset = if cur.rest().is_empty() { 0 } else { cur.offset(true)? };
    if !cur.rest().is_empty() {
        return None;
    }
    Some(from_civil(c, offset))
}

fn us(t: &str) -> Option<Result<Timestamp, String>> {
    ["M/d/yyyy h:mm:ss tt", "M/d/yyyy h:mm tt", "M/d/yyyy H:mm:ss", "M/d/yyyy H:mm", "M/d/yyyy"]
        .iter()
        .find_map(|f| parse_exact(t, f).ok())
        .map(Ok)
}

/// VB `DateAdd`.
pub(crate) fn add(ts: Timestamp, interval: &str, n: i64) -> Result<Timestamp, String> {
    let secs = |mul: i64| -> Result<Timestamp, String> {
        let delta = n.checked_mul(mul).ok_or("amount out of range")?;
        let s = ts.as_second().checked_add(delta).ok_or("date out of range")?;
        timestamp(s, i64::from(ts.subsec_nanosecond()))
    };
    let months = |mul: i64| -> Result<Timestamp, String> {
        let c = to_civil(ts);
        let total = (c.year * 12 + c.month - 1)
            .checked_add(n.checked_mul(mul).ok_or("amount out of range")?)
            .ok_or("date out of range")?;
        let (year, month) = (total.div_euclid(12), total.rem_euclid(12) + 1);
        if !(-9999..=9999).contains(&year) {
            return Err("date out of the supported range (years -9999..9999)".into());
        }
        // .NET clamps the day to the target month's length (Jan 31 + 1 month = Feb 28/29).
        from_civil(Civil { year, month, day: c.day.min(days_in_month(year, month)), ..c }, 0)
    };
    match interval.to_ascii_lowercase().as_str() {
        "yyyy" => months(12),
        "q" => months(3),
        "m" => months(1),
        "y" | "d" | "w" => secs(86_400),
        "ww" => secs(7 * 86_400),
        "h" => secs(3600),
        "n" => secs(60),
        "s" => secs(1),
        other => Err(unknown_interval(other)),
    }
}

fn unknown_interval(i: &str) -> String {
    format!("unknown interval '{i}' (expected yyyy, q, m, y, d, w, ww, h, n or s)")
}

/// VB.NET `DateDiff(interval, d1, d2)`: calendar boundaries for yyyy/q/m,
/// Sunday boundaries for ww, truncated elapsed time for d/y/w/h/n/s.
pub(crate) fn diff(interval: &str, t1: Timestamp, t2: Timestamp) -> Result<i64, String> {
    let (a, b) = (to_civil(t1), to_civil(t2));
    let elapsed_ns = t2.as_nanosecond() - t1.as_nanosecond();
    let per = |unit_secs: i128| -> i64 { (elapsed_ns / (unit_secs * 1_000_000_000)) as i64 };
    Ok(match interval.to_ascii_lowercase().as_str() {
        "yyyy" => b.year - a.year,
        "q" => (b.year * 4 + (b.month - 1) / 3) - (a.year * 4 + (a.month - 1) / 3),
        "m" => (b.year * 12 + b.month) - (a.year * 12 + a.month),
        "y" | "d" => per(86_400),
        "w" => per(7 * 86_400),
        "ww" => {
            let week_start = |c: Civil| {
                let days = days_from_civil(c.year, c.month, c.day);
                days - (days + 4).rem_euclid(7)
            };
            (week_start(b) - week_start(a)) / 7
        }
        "h" => per(3600),
        "n" => per(60),
        "s" => per(1),
        other => return Err(unknown_interval(other)),
    })
}

/// Instant → AD FILETIME (100-ns ticks since 1601-01-01 UTC).
pub(crate) fn to_filetime(ts: Timestamp) -> Result<i64, String> {
    let ticks = ts.as_nanosecond().div_euclid(100) + i128::from(FILETIME_UNIX_EPOCH);
    i64::try_from(ticks).map_err(|_| "date out of FILETIME range".to_owned())
}

/// AD FILETIME → instant.
pub(crate) fn from_filetime(ticks: i64) -> Result<Timestamp, String> {
    let unix_ticks = i128::from(ticks) - i128::from(FILETIME_UNIX_EPOCH);
    Timestamp::from_nanosecond(unix_ticks * 100)
        .map_err(|_| format!("{ticks} is outside the supported date range (years -9999..9999)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-1_000_000, -1, 0, 1, 59, 365, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn weekday_of_epoch_is_thursday() {
        let ts = Timestamp::from_second(0).unwrap();
        assert_eq!(format(ts, "dddd").unwrap(), "Thursday");
    }
}
