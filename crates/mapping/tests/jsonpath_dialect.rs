use hrsync_mapping::path::{SourcePath, translate_entra_dialect};
use serde_json::json;

#[test]
fn entra_paths_parse_verbatim() {
    let paths = [
        "$.employmentNav.results[0].jobInfoNav.results[0].departmentNav.name_localized",
        "$.employmentNav.results[-1:].jobInfoNav.results[0].departmentNav.name_localized",
        "$.employmentNav.results[-1:].startDate",
        "$.employmentNav.results[1].jobInfoNav.results[0].departmentNav.name_localized",
        "$.employmentNav.results[?(@.assignmentClass == 'ST')].jobInfoNav.results[0].departmentNav.name_localized",
        "$.employmentNav.results[?(@.assignmentClass == 'GA')].jobInfoNav.results[0].departmentNav.name_localized",
        "$.employmentNav..jobInfoNav..results[?(@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P' )].emplStatusNav.externalCode",
        "$.employmentNav..jobInfoNav..results[?(@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P')]",
        "$.employmentNav..results[?(@.jobInfoNav..results[?(@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P')])]",
        "$.employmentNav..results[?(@.jobInfoNav..results[?(@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P')])].userNav.username",
        "$.employmentNav.results[0].userNav.status",
        "$.employmentNav.results[0].jobInfoNav.results[0].positionNav.externalName_fr_FR",
    ];
    for p in paths {
        assert!(SourcePath::parse(p).is_ok(), "{p}: {:?}", SourcePath::parse(p).err());
    }
}
