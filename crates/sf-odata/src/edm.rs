//! The static `SFOData` entity data model served by the emulator.

/// Edm primitive types used by SuccessFactors Employee Central.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdmType {
    String,
    Boolean,
    Int32,
    Int64,
    Decimal,
    Double,
    DateTime,
    DateTimeOffset,
}

#[derive(Debug)]
pub struct Property {
    pub name: &'static str,
    pub ty: EdmType,
    pub nullable: bool,
}

#[derive(Debug)]
pub struct NavProperty {
    pub name: &'static str,
    /// Target entity type name, e.g. `EmpJob`.
    pub target: &'static str,
    /// To-many (`{"results":[...]}`) or to-one (object or `null`).
    pub many: bool,
}

#[derive(Debug)]
pub struct EntityType {
    /// Type name without namespace, e.g. `PerPerson` (`SFOData.PerPerson` on the wire).
    pub name: &'static str,
    /// Entity set name used in URLs (usually equal to `name`).
    pub set: &'static str,
    /// Key properties in key-predicate order.
    pub keys: &'static [&'static str],
    pub properties: &'static [Property],
    pub navs: &'static [NavProperty],
    /// Effective-dated (startDate/endDate slices; `asOfDate` applies).
    pub effective_dated: bool,
}
