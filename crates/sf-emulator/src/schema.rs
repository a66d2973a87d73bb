//! Lookup of the static `SFOData` entity types (owned by `sf-odata`).

use sf_odata::edm::{EntityType, schema};

/// The schema entry of an entity type the emulator serves. Every name the
/// emulator passes exists in the schema (checked by a test); an unknown name
/// falls back to the first type rather than panicking in a request.
pub fn entity_type(name: &str) -> &'static EntityType {
    let s = schema();
    s.entity(name).unwrap_or(&s.entities[0])
}

/// Every entity type name the emulator's nodes report.
#[cfg(test)]
pub const SERVED: &[&str] = &[
    "PerPerson",
    "PerPersonal",
    "PerEmail",
    "PerPhone",
    "EmpEmployment",
    "User",
    "EmpJob",
    "PersonEmpTerminationInfo",
    "EmpGlobalAssignment",
    "FOCompany",
    "FODepartment",
    "FODivision",
    "FOBusinessUnit",
    "FOCostCenter",
    "FOLocation",
    "FOJobCode",
    "FOPayGrade",
    "FOEventReason",
    "FOCorporateAddressDEFLT",
    "Position",
    "Picklist",
    "PicklistOption",
    "PicklistLabel",
    "Country",
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_served_type_is_in_the_schema() {
        for name in super::SERVED {
            assert!(sf_odata::edm::schema().entity(name).is_some(), "{name}");
        }
    }
}
