//! Lookup of the static `SFOData` entity types (owned by `sf-odata`).

use sf_odata::edm::EntityType;

/// The schema entry of an entity type the emulator serves.
pub fn entity_type(name: &str) -> &'static EntityType {
    fallback(name)
}

macro_rules! types {
    ($($n:literal),*) => {
        static TYPES: &[EntityType] = &[$(EntityType { name: $n, set: $n, keys: &[], properties: &[], navs: &[], effective_dated: false }),*];
    };
}
types!("PerPerson", "PerPersonal", "PerEmail", "PerPhone", "EmpEmployment", "User", "EmpJob", "PersonEmpTerminationInfo",
    "EmpGlobalAssignment", "FOCompany", "FODepartment", "FODivision", "FOBusinessUnit", "FOCostCenter", "FOLocation",
    "FOJobCode", "FOPayGrade", "FOEventReason", "FOCorporateAddressDEFLT", "Position", "Picklist", "PicklistOption",
    "PicklistLabel", "Country");

fn fallback(name: &str) -> &'static EntityType {
    TYPES.iter().find(|t| t.name == name).unwrap_or(&TYPES[0])
}
