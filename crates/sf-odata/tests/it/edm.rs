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
    assert!(x.contains(r#"<EntityType Name="EmpJob" sap:label="Emp Job"><Key><PropertyRef Name="seqNumber"/><PropertyRef Name="startDate"/><PropertyRef Name="userId"/></Key>"#.replace("><Key>", ">\n<Key>").as_str()));
    // The sap: annotations connectors read: audit stamps are not upsertable,
    // keys are required and not updatable, strings carry MaxLength (R1/R2).
    assert!(x.contains(
        r#"<Property Name="lastModifiedDateTime" Type="Edm.DateTimeOffset" Nullable="true" sap:label="Last Modified Date Time" sap:required="false" sap:creatable="false" sap:updatable="false" sap:upsertable="false" sap:visible="true" sap:sortable="true" sap:filterable="true"/>"#
    ));
    assert!(x.contains(
        r#"<Property Name="personIdExternal" Type="Edm.String" Nullable="false" MaxLength="100" sap:label="Person Id External" sap:required="true" sap:creatable="true" sap:updatable="false" sap:upsertable="true" sap:visible="true" sap:sortable="true" sap:filterable="true"/>"#
    ));
    assert!(x.contains(
        r#"<Property Name="emailAddress" Type="Edm.String" Nullable="true" MaxLength="256" sap:label="Email Address" sap:required="false" sap:creatable="true" sap:updatable="true" sap:upsertable="true""#
    ));
    assert!(x.contains(r#"<NavigationProperty Name="manager" Relationship="SFOData.User_manager" FromRole="User" ToRole="User_manager" sap:label="Manager"/>"#));
    assert!(x.contains(r#"<EntitySet Name="PerPerson" EntityType="SFOData.PerPerson" sap:label="Per Person" sap:creatable="true" sap:updatable="true" sap:upsertable="true" sap:deletable="true"/>"#));
    assert!(x.contains(r#"<EntitySet Name="PersonEmpTerminationInfo" EntityType="SFOData.PersonEmpTerminationInfo" sap:label="Person Emp Termination Info" sap:creatable="false""#));
    // R1 function-imports.ts / UpsertResult.ts.
    assert!(x.contains(r#"<FunctionImport Name="upsert" ReturnType="Collection(SFOData.UpsertResult)" EntitySet="UpsertResult" m:HttpMethod="POST""#));
    assert!(x.contains(r#"<EntityType Name="UpsertResult" sap:label="Upsert Result">"#));
    assert!(x.contains(r#"<Property Name="httpCode" Type="Edm.Int32""#));
    assert_eq!(x.matches("<FunctionImport ").count(), 1);
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

/// Item 4 of issue 12: the schema holds only what a real tenant has. Fields
/// R1's tenant lacks are gone; tenant-configured fields exist only when the
/// tenant has them, and then `$select`/`$filter` accept them.
#[test]
fn tenant_schema_holds_only_configured_fields() {
    use sf_odata::edm::{TenantFields, configurable_fields, schema_for};
    use sf_odata::query::QueryOptions;
    let default = schema();
    // Never in a tenant (R1, R2): invented members are gone.
    for (e, p) in [
        ("PersonEmpTerminationInfo", "lastModifiedDateTime"),
        ("User", "displayName"),
        ("User", "jobTitle"),
        ("EmpGlobalAssignment", "company"),
    ] {
        let ty = default.entity(e).unwrap_or_else(|| panic!("{e}"));
        assert!(ty.property(p).is_none(), "{e}/{p} must not exist");
    }
    assert!(default.entity("EmpGlobalAssignment").is_some_and(|t| t.nav("companyNav").is_none()));
    assert!(default.entity("User").is_some_and(|t| t.property("title").is_some()));

    let bare = schema_for(&TenantFields::none());
    let all = schema_for(&TenantFields::all());
    assert!(std::ptr::eq(bare, schema_for(&TenantFields::none())), "built once per configuration");
    for (e, p) in configurable_fields() {
        assert!(
            bare.entity(e).is_some_and(|t| t.property(p).is_none()),
            "{e}/{p} in a bare tenant"
        );
        assert!(all.entity(e).is_some_and(|t| t.property(p).is_some()), "{e}/{p} when configured");
        assert_eq!(
            default.entity(e).is_some_and(|t| t.property(p).is_some()),
            TenantFields::emulator_default().contains(e, p),
            "{e}/{p}"
        );
    }
    for field in ["EmpEmployment/okToRehire", "EmpEmployment/customString7", "EmpJob/customString3"]
    {
        assert!(configurable_fields().iter().any(|(e, p)| format!("{e}/{p}") == field), "{field}");
    }
    // What hrsync's built-in mappings and seeded data use is in the default tenant.
    for (e, p) in [
        ("EmpJob", "customString1"),
        ("PerPersonal", "displayName"),
        ("PerPersonal", "preferredName"),
        ("EmpEmployment", "isContingentWorker"),
    ] {
        assert!(default.entity(e).is_some_and(|t| t.property(p).is_some()), "{e}/{p}");
    }

    // A query naming a field the tenant lacks fails as on SuccessFactors.
    let person = |s: &'static sf_odata::edm::Schema| s.entity("PerPerson").expect("PerPerson");
    let q = "$select=employmentNav/okToRehire&$expand=employmentNav";
    let e = QueryOptions::parse(q, person(bare)).expect_err("bare tenant");
    assert_eq!(
        (e.status, e.code.as_str(), e.message.as_str()),
        (
            400,
            "COE_PROPERTY_NOT_FOUND",
            "[COE0021]Invalid property names: EmpEmployment/okToRehire."
        )
    );
    assert!(QueryOptions::parse(q, person(all)).is_ok());
    let f = "$filter=employmentNav/jobInfoNav/customString2%20eq%20'x'";
    assert!(QueryOptions::parse(f, person(bare)).is_err());
    assert!(QueryOptions::parse(f, person(all)).is_ok());
    // Navigations of one schema lead to that schema's types.
    let nav = person(bare).nav("employmentNav").and_then(|n| n.target_type()).expect("target");
    assert!(std::ptr::eq(nav, bare.entity("EmpEmployment").expect("EmpEmployment")));
    // The metadata agrees.
    assert!(!bare.edmx().contains(r#"Name="okToRehire""#));
    assert!(all.edmx().contains(r#"<Property Name="okToRehire" Type="Edm.Boolean""#));

    assert_eq!(
        TenantFields::parse("default,EmpEmployment/okToRehire")
            .map(|t| t.contains("EmpEmployment", "okToRehire")),
        Ok(true)
    );
    assert!(TenantFields::parse("User/displayName").is_err(), "not a configurable field");
    assert!(TenantFields::parse("nonsense").is_err());
}

#[test]
fn navigations_of_entras_documented_queries_and_real_tenants_exist() {
    let s = schema();
    for (e, n, target, many) in [
        ("FOCorporateAddressDEFLT", "stateNav", "PicklistOption", false),
        ("FOCorporateAddressDEFLT", "countryNav", "PicklistOption", false),
        ("PerPerson", "nationalIdNav", "PerNationalId", true),
        ("PerPerson", "homeAddressNavDEFLT", "PerAddressDEFLT", true),
        ("PerEmail", "personNav", "PerPerson", false),
        ("PerPhone", "personNav", "PerPerson", false),
        ("PerPersonal", "personNav", "PerPerson", false),
        ("EmpJob", "eventNav", "PicklistOption", false),
        ("EmpJob", "countryOfCompanyNav", "PicklistOption", false),
        ("EmpJob", "managerEmploymentNav", "EmpEmployment", false),
        ("FOEventReason", "eventNav", "PicklistOption", false),
        ("EmpEmploymentTermination", "jobInfoNav", "EmpJob", false),
    ] {
        let nav = s.entity(e).and_then(|t| t.nav(n)).unwrap_or_else(|| panic!("{e}/{n} missing"));
        assert_eq!((nav.target, nav.many), (target, many), "{e}/{n}");
    }
    assert_eq!(
        s.entity_set("EmpEmploymentTermination").map(|t| t.keys),
        Some(&["endDate", "personIdExternal", "userId"][..])
    );
    // R1 types.
    for (e, p, ty) in [
        ("EmpJob", "fte", EdmType::Double),
        ("EmpJob", "standardHours", EdmType::Double),
        ("PicklistOption", "optionValue", EdmType::Double),
        ("Country", "numericCountryCode", EdmType::Int64),
    ] {
        assert_eq!(s.entity(e).and_then(|t| t.property(p)).map(|p| p.ty), Some(ty), "{e}/{p}");
    }
    // Entra's delta/pre-hire expansion parses.
    let person = s.entity("PerPerson").expect("PerPerson");
    let q = "$expand=employmentNav/userNav,employmentNav/jobInfoNav,personalInfoNav,personEmpTerminationInfoNav,phoneNav,emailNav,employmentNav/userNav/manager/empInfo,employmentNav/jobInfoNav/companyNav,employmentNav/jobInfoNav/departmentNav,employmentNav/jobInfoNav/locationNav,employmentNav/jobInfoNav/locationNav/addressNavDEFLT,employmentNav/jobInfoNav/locationNav/addressNavDEFLT/stateNav";
    assert!(sf_odata::query::QueryOptions::parse(q, person).is_ok());
}
