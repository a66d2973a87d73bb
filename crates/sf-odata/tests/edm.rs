//! The static schema and its EDMX.

use sf_odata::edm::{EdmType, edmx, schema};

#[test]
fn entities_navs_and_types() {
    let s = schema();
    for name in [
        "PerPerson",
        "PerPersonal",
        "PerEmail",
        "PerPhone",
        "EmpEmployment",
        "User",
        "EmpJob",
        "PersonEmpTerminationInfo",
        "FOCompany",
        "FODepartment",
        "FOBusinessUnit",
        "FOCostCenter",
        "FODivision",
        "FOJobCode",
        "FOPayGrade",
        "FOLocation",
        "FOCorporateAddressDEFLT",
        "FOEventReason",
        "EmpGlobalAssignment",
        "PicklistOption",
        "Picklist",
        "PicklistLabel",
        "Position",
        "Country",
    ] {
        let e = s.entity(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(s.entity_set(e.set).map(|x| x.name), Some(name));
    }
    assert!(s.entity("perperson").is_none(), "names are case-sensitive");

    // (entity, nav, target, many)
    let navs = [
        ("PerPerson", "personalInfoNav", "PerPersonal", true),
        ("PerPerson", "emailNav", "PerEmail", true),
        ("PerPerson", "phoneNav", "PerPhone", true),
        ("PerPerson", "employmentNav", "EmpEmployment", true),
        ("PerPerson", "personEmpTerminationInfoNav", "PersonEmpTerminationInfo", false),
        ("EmpEmployment", "userNav", "User", false),
        ("EmpEmployment", "jobInfoNav", "EmpJob", true),
        ("EmpEmployment", "empGlobalAssignmentNav", "EmpGlobalAssignment", false),
        ("EmpEmployment", "personNav", "PerPerson", false),
        ("EmpGlobalAssignment", "assignmentTypeNav", "PicklistOption", false),
        ("User", "manager", "User", false),
        ("User", "empInfo", "EmpEmployment", false),
        ("EmpJob", "managerUserNav", "User", false),
        ("EmpJob", "emplStatusNav", "PicklistOption", false),
        ("EmpJob", "employmentTypeNav", "PicklistOption", false),
        ("EmpJob", "employeeClassNav", "PicklistOption", false),
        ("EmpJob", "companyNav", "FOCompany", false),
        ("EmpJob", "positionNav", "Position", false),
        ("EmpJob", "eventReasonNav", "FOEventReason", false),
        ("FOCompany", "countryOfRegistrationNav", "Country", false),
        ("FOLocation", "addressNavDEFLT", "FOCorporateAddressDEFLT", false),
        ("PerEmail", "emailTypeNav", "PicklistOption", false),
        ("PerPhone", "phoneTypeNav", "PicklistOption", false),
        ("Picklist", "picklistOptions", "PicklistOption", true),
        ("PicklistOption", "picklistLabels", "PicklistLabel", true),
    ];
    for (e, n, target, many) in navs {
        let nav = s.entity(e).and_then(|t| t.nav(n)).unwrap_or_else(|| panic!("{e}/{n} missing"));
        assert_eq!((nav.target, nav.many), (target, many), "{e}/{n}");
    }

    // (entity, property, type)
    let props = [
        ("PerPerson", "personId", EdmType::Int64),
        ("PerPerson", "dateOfBirth", EdmType::DateTime),
        ("PerPerson", "lastModifiedDateTime", EdmType::DateTimeOffset),
        ("PerPerson", "lastModifiedOn", EdmType::DateTime),
        ("PerPerson", "createdDateTime", EdmType::DateTimeOffset),
        ("EmpJob", "seqNumber", EdmType::Int64),
        ("EmpJob", "customString15", EdmType::String),
        ("EmpEmployment", "customString1", EdmType::String),
        ("EmpEmployment", "jobNumber", EdmType::Int64),
        ("EmpEmployment", "isContingentWorker", EdmType::Boolean),
        ("User", "custom01", EdmType::String),
        ("User", "custom15", EdmType::String),
        ("PersonEmpTerminationInfo", "activeEmploymentsCount", EdmType::Int32),
        ("PersonEmpTerminationInfo", "latestTerminationDate", EdmType::DateTime),
        ("PerEmail", "isPrimary", EdmType::Boolean),
        ("PicklistOption", "id", EdmType::Int64),
        ("Position", "externalName_localized", EdmType::String),
        ("Position", "externalName_defaultValue", EdmType::String),
        ("Position", "externalName_de_DE", EdmType::String),
        ("FOCompany", "name_localized", EdmType::String),
        ("FOCompany", "name_en_US", EdmType::String),
        ("FOCorporateAddressDEFLT", "zipCode", EdmType::String),
    ];
    for (e, p, ty) in props {
        let prop =
            s.entity(e).and_then(|t| t.property(p)).unwrap_or_else(|| panic!("{e}/{p} missing"));
        assert_eq!(prop.ty, ty, "{e}/{p}");
    }
    assert!(s.entity("User").and_then(|u| u.property("custom16")).is_none());
    assert!(
        s.entity("EmpJob")
            .is_some_and(|t| t.effective_dated && t.keys == ["seqNumber", "startDate", "userId"])
    );
    assert!(s.entity("PerPerson").is_some_and(|t| !t.effective_dated));
}

#[test]
fn edmx_document() {
    let x = edmx();
    assert!(
        x.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<edmx:Edmx Version=\"1.0\"")
    );
    assert!(x.contains(r#"m:DataServiceVersion="2.0""#));
    assert!(x.contains(r#"<Schema Namespace="SFOData""#));
    assert!(x.contains(r#"<EntityContainer Name="SFODataContainer""#));
    assert!(x.contains(r#"<EntityType Name="EmpJob"><Key><PropertyRef Name="seqNumber"/><PropertyRef Name="startDate"/><PropertyRef Name="userId"/></Key>"#.replace("><Key>", ">\n<Key>").as_str()));
    assert!(x.contains(
        r#"<Property Name="lastModifiedDateTime" Type="Edm.DateTimeOffset" Nullable="true"/>"#
    ));
    assert!(x.contains(r#"<NavigationProperty Name="manager" Relationship="SFOData.User_manager" FromRole="User" ToRole="User_manager"/>"#));
    assert!(x.contains(r#"<EntitySet Name="PerPerson" EntityType="SFOData.PerPerson"/>"#));
    assert_eq!(x.matches("<EntityType ").count(), schema().entities.len());
    let navs: usize = schema().entities.iter().map(|e| e.navs.len()).sum();
    assert_eq!(x.matches("<Association ").count(), navs);
    assert_eq!(x.matches("<AssociationSet ").count(), navs);
    // Balanced elements.
    for tag in ["EntityType", "Schema", "EntityContainer", "edmx:Edmx", "edmx:DataServices", "Key"]
    {
        assert_eq!(
            x.matches(&format!("<{tag}")).count(),
            x.matches(&format!("</{tag}>")).count(),
            "{tag}"
        );
    }
}
