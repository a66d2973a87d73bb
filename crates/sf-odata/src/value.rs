//! Typed OData v2 scalar values as SuccessFactors puts them on the wire.

/// One property value. Dates are milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, PartialEq)]
pub enum ODataValue {
    Null,
    String(String),
    Boolean(bool),
    /// Edm.Int32: a JSON number on the wire.
    Int32(i32),
    /// Edm.Int64: a JSON *string* on the wire (`"seqNumber":"1"`).
    Int64(i64),
    /// Edm.Decimal: a JSON string on the wire; kept as its canonical text.
    Decimal(String),
    Double(f64),
    /// Edm.DateTime: `/Date(ms)/`, no offset.
    DateTime(i64),
    /// Edm.DateTimeOffset: `/Date(ms+0000)/`; the offset is in minutes.
    DateTimeOffset { ms: i64, offset_minutes: i16 },
}

/// Why a literal or wire value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

/// Midnight UTC of 9999-12-31: SuccessFactors' open end date.
pub const OPEN_END_MS: i64 = 253_402_214_400_000;

impl ODataValue {
    /// The Edm type this value carries (`None` for `Null`).
    pub fn edm_type(&self) -> Option<crate::edm::EdmType> {
        todo!()
    }

    /// Appends the SuccessFactors wire JSON for this value: Int64 and Decimal
    /// as JSON strings, `/Date(ms)/`, `/Date(ms+hhmm)/`.
    pub fn write_json(&self, out: &mut String) {
        let _ = out;
        todo!()
    }

    /// Parses an OData v2 URI literal (`'O''Neil'`, `12`, `12L`, `1.5M`,
    /// `true`, `null`, `datetime'…'`, `datetimeoffset'…'`).
    pub fn parse_literal(src: &str) -> Result<ODataValue, ValueError> {
        let _ = src;
        todo!()
    }

    /// The URI literal for this value as used in key predicates
    /// (`'x'` with `'` doubled, `1L`, `datetime'2024-01-01T00:00:00'`).
    pub fn key_literal(&self) -> String {
        todo!()
    }
}

/// `/Date(ms)/`.
pub fn format_wire_datetime(ms: i64) -> String {
    let _ = ms;
    todo!()
}

/// `/Date(ms+hhmm)/` (offset in minutes).
pub fn format_wire_datetimeoffset(ms: i64, offset_minutes: i16) -> String {
    let _ = (ms, offset_minutes);
    todo!()
}

/// Parses `/Date(ms)/` or `/Date(ms±hhmm)/` into (ms, offset minutes if any).
pub fn parse_wire_date(s: &str) -> Result<(i64, Option<i16>), ValueError> {
    let _ = s;
    todo!()
}

/// Parses the body of a `datetime'…'` literal (no offset allowed, read as UTC).
pub fn parse_datetime_body(s: &str) -> Result<i64, ValueError> {
    let _ = s;
    todo!()
}

/// Parses the body of a `datetimeoffset'…'` literal (`Z` or `±hh:mm`).
pub fn parse_datetimeoffset_body(s: &str) -> Result<(i64, i16), ValueError> {
    let _ = s;
    todo!()
}

/// Parses `yyyy-MM-dd` (asOfDate, fromDate, toDate) into midnight UTC ms.
pub fn parse_day(s: &str) -> Result<i64, ValueError> {
    let _ = s;
    todo!()
}
