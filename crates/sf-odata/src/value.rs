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
