//! The static `SFOData` entity data model served by the emulator.
//!
//! The property lists follow the SAP Cloud SDK classes generated from a real
//! SuccessFactors EDMX (robypag/sdk-gen-sfsf) and Microsoft's attribute
//! reference for the Entra connector; navigation names keep SuccessFactors'
//! irregular spellings (`addressNavDEFLT`, `empGlobalAssignmentNav` to-one,
//! `managerUserNav`, `manager`, `empInfo`). Properties are listed in the order
//! the renderer writes them.

use std::fmt::Write as _;
use std::sync::LazyLock;

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

impl EdmType {
    /// The EDMX spelling, e.g. `Edm.DateTimeOffset`.
    pub fn edm_name(self) -> &'static str {
        match self {
            EdmType::String => "Edm.String",
            EdmType::Boolean => "Edm.Boolean",
            EdmType::Int32 => "Edm.Int32",
            EdmType::Int64 => "Edm.Int64",
            EdmType::Decimal => "Edm.Decimal",
            EdmType::Double => "Edm.Double",
            EdmType::DateTime => "Edm.DateTime",
            EdmType::DateTimeOffset => "Edm.DateTimeOffset",
        }
    }
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

impl NavProperty {
    /// The target entity type. Every nav in [`schema`] names a type that
    /// exists (checked by a unit test), so this only fails for hand-built
    /// types outside the schema.
    pub fn target_type(&self) -> Option<&'static EntityType> {
        schema().entity(self.target)
    }
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

impl EntityType {
    /// The scalar property with this exact (case-sensitive) name.
    pub fn property(&self, name: &str) -> Option<&'static Property> {
        let props: &'static [Property] = self.properties;
        props.iter().find(|p| p.name == name)
    }

    /// The navigation property with this exact (case-sensitive) name.
    pub fn nav(&self, name: &str) -> Option<&'static NavProperty> {
        let navs: &'static [NavProperty] = self.navs;
        navs.iter().find(|n| n.name == name)
    }

    /// The property that holds the start of an effective-dated slice
    /// (`startDate`, or `effectiveStartDate` on MDF objects such as Position).
    pub fn effective_start_property(&self) -> Option<&'static str> {
        ["startDate", "effectiveStartDate"].into_iter().find(|n| self.property(n).is_some())
    }
}

/// The whole `SFOData` schema.
#[derive(Debug)]
pub struct Schema {
    /// Always `SFOData`.
    pub namespace: &'static str,
    /// Entity container name. Unverified: mocks use `SFODataContainer`; no real
    /// SuccessFactors `$metadata` was available to check it.
    pub container: &'static str,
    pub entities: &'static [EntityType],
}

impl Schema {
    /// The entity type with this name (no namespace), case-sensitive.
    pub fn entity(&self, name: &str) -> Option<&'static EntityType> {
        let all: &'static [EntityType] = self.entities;
        all.iter().find(|e| e.name == name)
    }

    /// The entity type served under this entity-set name, case-sensitive.
    pub fn entity_set(&self, set: &str) -> Option<&'static EntityType> {
        let all: &'static [EntityType] = self.entities;
        all.iter().find(|e| e.set == set)
    }
}

/// The static schema, built once.
pub fn schema() -> &'static Schema {
    static SCHEMA: LazyLock<Schema> = LazyLock::new(build);
    &SCHEMA
}

// ---------------------------------------------------------------------------
// Schema construction. Built at first use rather than as literal statics so
// that the numbered custom fields and localized name variants are generated
// instead of typed out (the strings are leaked once: the schema lives for the
// whole process anyway).

use EdmType::{Boolean, DateTime, DateTimeOffset, Decimal, Int32, Int64, String as Str};

struct B {
    props: Vec<Property>,
    navs: Vec<NavProperty>,
}

impl B {
    fn new() -> Self {
        B { props: Vec::new(), navs: Vec::new() }
    }
    /// Key or otherwise non-nullable property.
    fn key(mut self, name: &'static str, ty: EdmType) -> Self {
        self.props.push(Property { name, ty, nullable: false });
        self
    }
    fn p(mut self, name: &'static str, ty: EdmType) -> Self {
        self.props.push(Property { name, ty, nullable: true });
        self
    }
    fn strings(mut self, names: &[&'static str]) -> Self {
        for n in names {
            self.props.push(Property { name: n, ty: Str, nullable: true });
        }
        self
    }
    /// `prefix` + number for 1..=15, numbers zero-padded to `width`.
    fn numbered(mut self, prefix: &str, width: usize) -> Self {
        for i in 1..=15 {
            let name: &'static str = Box::leak(format!("{prefix}{i:0width$}").into_boxed_str());
            self.props.push(Property { name, ty: Str, nullable: true });
        }
        self
    }
    /// `<base>_localized`, `<base>_defaultValue` and the three locales the
    /// emulator's reference data carries.
    fn localized(mut self, base: &str) -> Self {
        for suffix in ["localized", "defaultValue", "en_US", "de_DE", "fr_FR"] {
            let name: &'static str = Box::leak(format!("{base}_{suffix}").into_boxed_str());
            self.props.push(Property { name, ty: Str, nullable: true });
        }
        self
    }
    /// SuccessFactors' audit fields. `*On` are Edm.DateTime in data-centre
    /// local time (the trap documented in successfactors-odata.md §1).
    fn audit(self) -> Self {
        self.p("createdBy", Str)
            .p("createdDateTime", DateTimeOffset)
            .p("createdOn", DateTime)
            .p("lastModifiedBy", Str)
            .p("lastModifiedDateTime", DateTimeOffset)
            .p("lastModifiedOn", DateTime)
    }
    fn one(mut self, name: &'static str, target: &'static str) -> Self {
        self.navs.push(NavProperty { name, target, many: false });
        self
    }
    fn many(mut self, name: &'static str, target: &'static str) -> Self {
        self.navs.push(NavProperty { name, target, many: true });
        self
    }
    fn build(
        self,
        name: &'static str,
        keys: &'static [&'static str],
        effective_dated: bool,
    ) -> EntityType {
        EntityType {
            name,
            set: name,
            keys,
            properties: Box::leak(self.props.into_boxed_slice()),
            navs: Box::leak(self.navs.into_boxed_slice()),
            effective_dated,
        }
    }
}

/// Foundation objects share one shape: keyed by (externalCode, startDate),
/// effective-dated, with localized names.
fn fo() -> B {
    B::new()
        .key("externalCode", Str)
        .key("startDate", DateTime)
        .p("endDate", DateTime)
        .p("name", Str)
        .localized("name")
        .strings(&["description", "status"])
}

const FO_KEYS: &[&str] = &["externalCode", "startDate"];

fn build() -> Schema {
    let entities = vec![
        B::new()
            .key("personIdExternal", Str)
            .p("personId", Int64)
            .p("perPersonUuid", Str)
            .p("dateOfBirth", DateTime)
            .strings(&["placeOfBirth", "countryOfBirth", "regionOfBirth", "birthName"])
            .p("dateOfDeath", DateTime)
            .audit()
            .many("personalInfoNav", "PerPersonal")
            .many("emailNav", "PerEmail")
            .many("phoneNav", "PerPhone")
            .many("employmentNav", "EmpEmployment")
            .one("personEmpTerminationInfoNav", "PersonEmpTerminationInfo")
            .one("countryOfBirthNav", "Country")
            .build("PerPerson", &["personIdExternal"], false),
        B::new()
            .key("personIdExternal", Str)
            .key("startDate", DateTime)
            .p("endDate", DateTime)
            .strings(&[
                "firstName",
                "lastName",
                "middleName",
                "preferredName",
                "displayName",
                "formalName",
                "salutation",
                "suffix",
                "gender",
                "nationality",
                "maritalStatus",
                "nativePreferredLang",
                "firstNameAlt1",
                "lastNameAlt1",
            ])
            .audit()
            .build("PerPersonal", &["personIdExternal", "startDate"], true),
        B::new()
            .key("emailType", Str)
            .key("personIdExternal", Str)
            .p("emailAddress", Str)
            .p("isPrimary", Boolean)
            .audit()
            .one("emailTypeNav", "PicklistOption")
            .build("PerEmail", &["emailType", "personIdExternal"], false),
        B::new()
            .key("personIdExternal", Str)
            .key("phoneType", Str)
            .strings(&["phoneNumber", "areaCode", "countryCode", "extension"])
            .p("isPrimary", Boolean)
            .audit()
            .one("phoneTypeNav", "PicklistOption")
            .build("PerPhone", &["personIdExternal", "phoneType"], false),
        B::new()
            .key("personIdExternal", Str)
            .key("userId", Str)
            .p("startDate", DateTime)
            .p("endDate", DateTime)
            .p("originalStartDate", DateTime)
            .p("seniorityDate", DateTime)
            .p("serviceDate", DateTime)
            .p("lastDateWorked", DateTime)
            .p("assignmentClass", Str)
            .p("isContingentWorker", Boolean)
            .p("hiringNotCompleted", Boolean)
            .p("okToRehire", Boolean)
            .p("jobNumber", Int64)
            .numbered("customString", 0)
            .audit()
            .one("userNav", "User")
            .many("jobInfoNav", "EmpJob")
            .one("empGlobalAssignmentNav", "EmpGlobalAssignment")
            .one("personNav", "PerPerson")
            .build("EmpEmployment", &["personIdExternal", "userId"], false),
        B::new()
            .key("userId", Str)
            .strings(&[
                "username",
                "status",
                "email",
                "firstName",
                "lastName",
                "mi",
                "displayName",
                "defaultFullName",
                "empId",
                "businessPhone",
                "cellPhone",
                "homePhone",
                "title",
                "jobTitle",
                "department",
                "division",
                "location",
                "addressLine1",
                "city",
                "state",
                "zipCode",
                "country",
                "gender",
                "timeZone",
                "defaultLocale",
            ])
            .p("hireDate", DateTime)
            .numbered("custom", 2)
            // User has no *On fields: `lastModified` is its local-time twin.
            .p("lastModified", DateTime)
            .p("lastModifiedDateTime", DateTimeOffset)
            .p("lastModifiedWithTZ", DateTimeOffset)
            .one("manager", "User")
            .one("hr", "User")
            .one("empInfo", "EmpEmployment")
            .one("personKeyNav", "PerPerson")
            .build("User", &["userId"], false),
        B::new()
            .key("seqNumber", Int64)
            .key("startDate", DateTime)
            .key("userId", Str)
            .p("endDate", DateTime)
            .strings(&[
                "emplStatus",
                "eventReason",
                "event",
                "company",
                "businessUnit",
                "division",
                "department",
                "costCenter",
                "location",
                "jobCode",
                "payGrade",
                "position",
                "employmentType",
                "employeeClass",
                "jobTitle",
                "managerId",
                "countryOfCompany",
                "timezone",
            ])
            .p("fte", Decimal)
            .p("standardHours", Decimal)
            .p("isFulltimeEmployee", Boolean)
            .numbered("customString", 0)
            .audit()
            .one("companyNav", "FOCompany")
            .one("businessUnitNav", "FOBusinessUnit")
            .one("divisionNav", "FODivision")
            .one("departmentNav", "FODepartment")
            .one("costCenterNav", "FOCostCenter")
            .one("locationNav", "FOLocation")
            .one("jobCodeNav", "FOJobCode")
            .one("payGradeNav", "FOPayGrade")
            .one("positionNav", "Position")
            .one("eventReasonNav", "FOEventReason")
            .one("emplStatusNav", "PicklistOption")
            .one("employmentTypeNav", "PicklistOption")
            .one("employeeClassNav", "PicklistOption")
            .one("managerUserNav", "User")
            .one("userNav", "User")
            .one("employmentNav", "EmpEmployment")
            // Listed by Microsoft's entity table (row 18) directly under
            // jobInfoNav; the real API also has it under locationNav.
            .one("addressNavDEFLT", "FOCorporateAddressDEFLT")
            .build("EmpJob", &["seqNumber", "startDate", "userId"], true),
        B::new()
            .key("personIdExternal", Str)
            .p("activeEmploymentsCount", Int32)
            .p("latestTerminationDate", DateTime)
            .p("lastModifiedDateTime", DateTimeOffset)
            .build("PersonEmpTerminationInfo", &["personIdExternal"], false),
        fo().strings(&["country", "currency", "defaultLocation", "standardHours"])
            .audit()
            .one("countryOfRegistrationNav", "Country")
            .build("FOCompany", FO_KEYS, true),
        fo().strings(&["costCenter", "headOfUnit", "parent"]).audit().build(
            "FODepartment",
            FO_KEYS,
            true,
        ),
        fo().strings(&["headOfUnit"]).audit().build("FOBusinessUnit", FO_KEYS, true),
        fo().strings(&["costcenterManager"]).audit().build("FOCostCenter", FO_KEYS, true),
        fo().strings(&["headOfUnit", "parent"]).audit().build("FODivision", FO_KEYS, true),
        fo().strings(&["grade", "jobFunction", "jobLevel", "employeeClass"])
            .p("isFulltimeEmployee", Boolean)
            .p("standardHours", Decimal)
            .audit()
            .build("FOJobCode", FO_KEYS, true),
        fo().p("paygradeLevel", Int64).audit().build("FOPayGrade", FO_KEYS, true),
        fo().strings(&["timezone", "locationGroup", "addressId"])
            .audit()
            .one("addressNavDEFLT", "FOCorporateAddressDEFLT")
            .build("FOLocation", FO_KEYS, true),
        B::new()
            .key("addressId", Str)
            .strings(&[
                "address1", "address2", "address3", "city", "county", "state", "province",
                "zipCode", "country",
            ])
            .audit()
            .build("FOCorporateAddressDEFLT", &["addressId"], false),
        fo().strings(&["event", "emplStatus"]).audit().build("FOEventReason", FO_KEYS, true),
        B::new()
            .key("userId", Str)
            .p("assignmentType", Str)
            .p("startDate", DateTime)
            .p("plannedEndDate", DateTime)
            .p("endDate", DateTime)
            .p("company", Str)
            .audit()
            .one("assignmentTypeNav", "PicklistOption")
            .one("companyNav", "FOCompany")
            .build("EmpGlobalAssignment", &["userId"], false),
        B::new()
            .key("id", Int64)
            .strings(&["externalCode", "localeLabel", "status"])
            .p("optionValue", Decimal)
            .p("minValue", Decimal)
            .p("maxValue", Decimal)
            .p("sortOrder", Int32)
            .many("picklistLabels", "PicklistLabel")
            .one("picklist", "Picklist")
            .build("PicklistOption", &["id"], false),
        B::new()
            .key("picklistId", Str)
            .p("name", Str)
            .p("status", Str)
            .many("picklistOptions", "PicklistOption")
            .build("Picklist", &["picklistId"], false),
        B::new()
            .key("locale", Str)
            .key("optionId", Int64)
            .p("label", Str)
            .one("picklistOption", "PicklistOption")
            .build("PicklistLabel", &["locale", "optionId"], false),
        B::new()
            .key("code", Str)
            .key("effectiveStartDate", DateTime)
            .p("effectiveEndDate", DateTime)
            .p("effectiveStatus", Str)
            .localized("externalName")
            .strings(&[
                "jobCode",
                "jobLevel",
                "jobTitle",
                "company",
                "businessUnit",
                "division",
                "department",
                "costCenter",
                "location",
            ])
            .p("vacant", Boolean)
            .p("createdDateTime", DateTimeOffset)
            .p("lastModifiedDateTime", DateTimeOffset)
            .build("Position", &["code", "effectiveStartDate"], true),
        B::new()
            .key("code", Str)
            .key("effectiveStartDate", DateTime)
            .p("effectiveEndDate", DateTime)
            .p("effectiveStatus", Str)
            .localized("externalName")
            .strings(&["twoCharCountryCode", "numericCountryCode", "currency"])
            .p("lastModifiedDateTime", DateTimeOffset)
            .build("Country", &["code", "effectiveStartDate"], true),
    ];
    Schema {
        namespace: "SFOData",
        container: "SFODataContainer",
        entities: Box::leak(entities.into_boxed_slice()),
    }
}

/// The `$metadata` document: EDMX 1.0, `DataServiceVersion` 2.0, schema
/// namespace `SFOData`. Associations are emitted per navigation property so a
/// generic OData v2 client can resolve every `NavigationProperty`.
pub fn edmx() -> String {
    let s = schema();
    let mut x = String::with_capacity(64 * 1024);
    x.push_str(concat!(
        r#"<?xml version="1.0" encoding="utf-8"?>"#,
        "\n",
        r#"<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:sap="http://www.sap.com/Protocols/SAPData">"#,
        "\n",
        r#"<edmx:DataServices m:DataServiceVersion="2.0">"#,
        "\n"
    ));
    let _ = writeln!(
        x,
        r#"<Schema Namespace="{}" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">"#,
        s.namespace
    );
    for e in s.entities {
        let _ = writeln!(x, r#"<EntityType Name="{}">"#, e.name);
        x.push_str("<Key>");
        for k in e.keys {
            let _ = write!(x, r#"<PropertyRef Name="{k}"/>"#);
        }
        x.push_str("</Key>\n");
        for p in e.properties {
            let _ = writeln!(
                x,
                r#"<Property Name="{}" Type="{}" Nullable="{}"/>"#,
                p.name,
                p.ty.edm_name(),
                p.nullable
            );
        }
        for n in e.navs {
            let _ = writeln!(
                x,
                r#"<NavigationProperty Name="{}" Relationship="{}.{}" FromRole="{}" ToRole="{}"/>"#,
                n.name,
                s.namespace,
                association_name(e, n),
                e.name,
                role_to(e, n)
            );
        }
        x.push_str("</EntityType>\n");
    }
    for e in s.entities {
        for n in e.navs {
            let _ = writeln!(
                x,
                r#"<Association Name="{}"><End Type="{ns}.{}" Multiplicity="1" Role="{}"/><End Type="{ns}.{}" Multiplicity="{}" Role="{}"/></Association>"#,
                association_name(e, n),
                e.name,
                e.name,
                n.target,
                if n.many { "*" } else { "0..1" },
                role_to(e, n),
                ns = s.namespace
            );
        }
    }
    let _ = writeln!(
        x,
        r#"<EntityContainer Name="{}" m:IsDefaultEntityContainer="true">"#,
        s.container
    );
    for e in s.entities {
        let _ =
            writeln!(x, r#"<EntitySet Name="{}" EntityType="{}.{}"/>"#, e.set, s.namespace, e.name);
    }
    for e in s.entities {
        for n in e.navs {
            if let Some(t) = n.target_type() {
                let _ = writeln!(
                    x,
                    r#"<AssociationSet Name="{a}_Set" Association="{ns}.{a}"><End EntitySet="{}" Role="{}"/><End EntitySet="{}" Role="{}"/></AssociationSet>"#,
                    e.set,
                    e.name,
                    t.set,
                    role_to(e, n),
                    a = association_name(e, n),
                    ns = s.namespace
                );
            }
        }
    }
    x.push_str("</EntityContainer>\n</Schema>\n</edmx:DataServices>\n</edmx:Edmx>\n");
    x
}

fn association_name(e: &EntityType, n: &NavProperty) -> String {
    format!("{}_{}", e.name, n.name)
}

/// Self-referencing navs (`User.manager`) need distinct role names.
fn role_to(e: &EntityType, n: &NavProperty) -> String {
    if n.target == e.name { format!("{}_{}", n.target, n.name) } else { n.target.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nav_target_exists_and_keys_are_properties() {
        for e in schema().entities {
            for n in e.navs {
                assert!(n.target_type().is_some(), "{}.{} -> {}", e.name, n.name, n.target);
            }
            for k in e.keys {
                assert!(e.property(k).is_some(), "{} key {k}", e.name);
            }
            let mut names: Vec<&str> =
                e.properties.iter().map(|p| p.name).chain(e.navs.iter().map(|n| n.name)).collect();
            let len = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(len, names.len(), "duplicate member in {}", e.name);
        }
    }
}
