//! The `SFOData` entity data model served by the emulator.
//!
//! The property lists follow the SAP Cloud SDK classes generated from a real
//! SuccessFactors EDMX (robypag/sdk-gen-sfsf, "R1" in
//! shared/emulator-fidelity-sources.md) and Microsoft's attribute reference
//! for the Entra connector; navigation names keep SuccessFactors' irregular
//! spellings (`addressNavDEFLT`, `homeAddressNavDEFLT`,
//! `empGlobalAssignmentNav` to-one, `managerUserNav`, `manager`, `empInfo`).
//! Properties are listed in the order the renderer writes them.
//!
//! # Tenant-configured fields
//!
//! Some fields exist only where a tenant's data model (Succession Data Model)
//! enables them: `EmpEmployment.customString1-15`, `isContingentWorker`,
//! `okToRehire`, `serviceDate`, `lastDateWorked`, `EmpJob.customString1-15`,
//! `PerPersonal.displayName`, `preferredName`, `firstNameAlt1`,
//! `lastNameAlt1` (R1's tenant has none of the EmpEmployment ones and only
//! some EmpJob custom strings). A [`Schema`] is built for one
//! [`TenantFields`] choice and holds only the fields it enables, so `$select`,
//! `$filter`, `$expand`, rendering and `$metadata` all agree on what exists:
//! a field the tenant lacks is `COE_PROPERTY_NOT_FOUND`, as on SuccessFactors.
//! [`schema()`] is the emulator's default tenant
//! ([`TenantFields::emulator_default`]).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::{LazyLock, Mutex, OnceLock};

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
    /// `sap:upsertable`: the property may be written by `upsert`. Audit
    /// stamps and server-derived values are not.
    pub upsertable: bool,
    /// `MaxLength` of a string property (SuccessFactors' Data Dictionary).
    pub max_length: Option<u32>,
    /// `sap:label`.
    pub label: &'static str,
    /// A tenant-configured field (see the module docs).
    pub configurable: bool,
}

pub struct NavProperty {
    pub name: &'static str,
    /// Target entity type name, e.g. `EmpJob`.
    pub target: &'static str,
    /// To-many (`{"results":[...]}`) or to-one (object or `null`).
    pub many: bool,
    /// The target in the same schema, set once the schema is built.
    resolved: OnceLock<&'static EntityType>,
}

impl std::fmt::Debug for NavProperty {
    // Not derived: the target type's navigations lead back here.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NavProperty")
            .field("name", &self.name)
            .field("target", &self.target)
            .field("many", &self.many)
            .finish()
    }
}

impl NavProperty {
    /// The target entity type, in the schema this navigation belongs to.
    /// Every nav of a built schema names a type that exists (checked by a
    /// unit test), so this only fails for hand-built types outside a schema.
    pub fn target_type(&self) -> Option<&'static EntityType> {
        self.resolved.get().copied()
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
    /// `sap:upsertable` of the entity set.
    pub upsertable: bool,
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

/// The whole `SFOData` schema of one tenant configuration.
#[derive(Debug)]
pub struct Schema {
    /// Always `SFOData`.
    pub namespace: &'static str,
    /// Entity container name. Unverified: mocks use `SFODataContainer`; no real
    /// SuccessFactors `$metadata` was available to check it.
    pub container: &'static str,
    pub entities: &'static [EntityType],
    /// The tenant-configured fields this schema holds.
    pub tenant: TenantFields,
    by_name: HashMap<&'static str, usize>,
    edmx: OnceLock<String>,
}

impl Schema {
    /// The entity type with this name (no namespace), case-sensitive.
    pub fn entity(&self, name: &str) -> Option<&'static EntityType> {
        let all: &'static [EntityType] = self.entities;
        self.by_name.get(name).map(|&i| &all[i])
    }

    /// The entity type served under this entity-set name, case-sensitive.
    pub fn entity_set(&self, set: &str) -> Option<&'static EntityType> {
        // Every set is named after its type.
        self.entity(set).filter(|e| e.set == set)
    }

    /// The `$metadata` document of this schema, built once.
    pub fn edmx(&self) -> &str {
        self.edmx.get_or_init(|| render_edmx(self))
    }
}

/// Which tenant-configured fields a tenant has (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TenantFields {
    /// (entity type, property).
    fields: BTreeSet<(String, String)>,
}

/// The fields the emulator's default tenant (used by `hrsync demo`, the
/// emulator command and the tests) configures: the ones hrsync's built-in
/// mappings and the generated population use (`EmpJob.customString1` is
/// mapped by both built-in mappings, `PerPersonal.displayName` and
/// `preferredName` by the catalog's name attributes; the rest carry seeded
/// data: badge numbers, desk locations, contingent workers, last days).
const DEFAULT_FIELDS: &[(&str, &str)] = &[
    ("EmpEmployment", "customString1"),
    ("EmpEmployment", "isContingentWorker"),
    ("EmpEmployment", "lastDateWorked"),
    ("EmpJob", "customString1"),
    ("EmpJob", "customString15"),
    ("PerPersonal", "displayName"),
    ("PerPersonal", "preferredName"),
];

impl TenantFields {
    /// No tenant-configured field: only what every tenant has.
    pub fn none() -> Self {
        TenantFields::default()
    }

    /// Every field the emulator knows as tenant-configured.
    pub fn all() -> Self {
        let mut t = TenantFields::default();
        for (e, p) in configurable_fields() {
            t.fields.insert(((*e).to_owned(), (*p).to_owned()));
        }
        t
    }

    /// The emulator's default tenant (see [`DEFAULT_FIELDS`]).
    pub fn emulator_default() -> Self {
        let mut t = TenantFields::default();
        for (e, p) in DEFAULT_FIELDS {
            t.fields.insert(((*e).to_owned(), (*p).to_owned()));
        }
        t
    }

    /// Adds `entity`/`property`; it must be one of [`configurable_fields`].
    pub fn enable(&mut self, entity: &str, property: &str) -> Result<(), String> {
        if !configurable_fields().iter().any(|(e, p)| *e == entity && *p == property) {
            return Err(format!(
                "{entity}/{property} is not a tenant-configured field the emulator knows (known: {})",
                configurable_fields()
                    .iter()
                    .map(|(e, p)| format!("{e}/{p}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        self.fields.insert((entity.to_owned(), property.to_owned()));
        Ok(())
    }

    /// Builder form of [`TenantFields::enable`].
    pub fn with(mut self, entity: &str, property: &str) -> Result<Self, String> {
        self.enable(entity, property)?;
        Ok(self)
    }

    /// `none`, `all`, `default`, or a comma-separated list of
    /// `Entity/property` (optionally after `default,` to extend it).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut t = TenantFields::none();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item {
                "none" => {}
                "all" => t.fields.extend(TenantFields::all().fields),
                "default" => t.fields.extend(TenantFields::emulator_default().fields),
                other => {
                    let (e, p) = other
                        .split_once('/')
                        .ok_or_else(|| format!("`{other}`: expected Entity/property"))?;
                    t.enable(e, p)?;
                }
            }
        }
        Ok(t)
    }

    /// Whether the tenant has `entity`/`property`.
    pub fn contains(&self, entity: &str, property: &str) -> bool {
        self.fields.iter().any(|(e, p)| e == entity && p == property)
    }

    /// The configured fields as `Entity/property`, sorted.
    pub fn names(&self) -> Vec<String> {
        self.fields.iter().map(|(e, p)| format!("{e}/{p}")).collect()
    }
}

/// Every tenant-configured field the emulator knows, as (entity, property).
pub fn configurable_fields() -> &'static [(&'static str, &'static str)] {
    static ALL: LazyLock<Vec<(&'static str, &'static str)>> = LazyLock::new(|| {
        let mut out = Vec::new();
        for e in build_entities(&|_, _| true) {
            for p in e.properties.iter().filter(|p| p.configurable) {
                out.push((e.name, p.name));
            }
        }
        out
    });
    &ALL
}

/// The emulator's default tenant schema, built once.
pub fn schema() -> &'static Schema {
    static SCHEMA: LazyLock<&'static Schema> =
        LazyLock::new(|| schema_for(&TenantFields::emulator_default()));
    &SCHEMA
}

/// The schema of a tenant with these configured fields. Built once per
/// distinct configuration and kept for the life of the process (a handful
/// of configurations at most: each is a few hundred small strings).
pub fn schema_for(fields: &TenantFields) -> &'static Schema {
    static CACHE: Mutex<Vec<&'static Schema>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = cache.iter().find(|s| s.tenant == *fields) {
        return s;
    }
    let s: &'static Schema = Box::leak(Box::new(build(fields)));
    cache.push(s);
    s
}

// ---------------------------------------------------------------------------
// Schema construction. Built at first use rather than as literal statics so
// that the numbered custom fields, labels and localized name variants are
// generated instead of typed out (the strings are leaked once per tenant
// configuration: a schema lives for the whole process anyway).

use EdmType::{Boolean, DateTime, DateTimeOffset, Double, Int32, Int64, String as Str};

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// `personIdExternal` → `Person Id External` (SuccessFactors' labels are
/// human names like "Global Job Title"; ours are derived from the name).
fn label_of(name: &str) -> &'static str {
    static LABELS: LazyLock<Mutex<HashMap<String, &'static str>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let mut labels = LABELS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(l) = labels.get(name) {
        return l;
    }
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev_lower = false;
    for (i, c) in name.chars().enumerate() {
        if c == '_' {
            out.push(' ');
            prev_lower = false;
            continue;
        }
        if i == 0 {
            out.extend(c.to_uppercase());
        } else {
            if c.is_ascii_uppercase() && prev_lower {
                out.push(' ');
            }
            out.push(c);
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
    }
    let l = leak(out);
    labels.insert(name.to_owned(), l);
    l
}

/// `MaxLength` of a string property: SuccessFactors' Data Dictionary lengths
/// as R1 shows them (ids 100, FO codes 32, names and free text 256).
fn string_length(name: &str) -> u32 {
    match name {
        "personIdExternal" | "userId" | "createdBy" | "lastModifiedBy" | "username" => 100,
        "company" | "department" | "division" | "businessUnit" | "costCenter" | "jobCode"
        | "emplStatus" | "employmentType" | "event" | "externalCode" | "code" => 32,
        "location" | "position" | "timezone" | "timeZone" => 128,
        "perPersonUuid" => 32,
        "emailType" | "phoneType" | "assignmentType" | "cardType" | "addressType" => 38,
        _ => 256,
    }
}

/// Audit and server-derived properties: never written by `upsert`.
fn derived(name: &str) -> bool {
    matches!(
        name,
        "createdBy"
            | "createdDateTime"
            | "createdOn"
            | "lastModifiedBy"
            | "lastModifiedDateTime"
            | "lastModifiedOn"
            | "lastModified"
            | "lastModifiedWithTZ"
            | "personId"
            | "perPersonUuid"
    )
}

/// Whether a tenant-configured field is enabled.
type Enabled<'a> = &'a dyn Fn(&str, &str) -> bool;

struct B<'a> {
    entity: &'static str,
    enabled: Enabled<'a>,
    props: Vec<Property>,
    navs: Vec<NavProperty>,
}

fn prop(name: &'static str, ty: EdmType, nullable: bool, configurable: bool) -> Property {
    Property {
        name,
        ty,
        nullable,
        upsertable: !derived(name),
        max_length: (ty == Str).then(|| string_length(name)),
        label: label_of(name),
        configurable,
    }
}

impl<'a> B<'a> {
    fn new(entity: &'static str, enabled: Enabled<'a>) -> Self {
        B { entity, enabled, props: Vec::new(), navs: Vec::new() }
    }
    /// Key or otherwise non-nullable property.
    fn key(mut self, name: &'static str, ty: EdmType) -> Self {
        self.props.push(prop(name, ty, false, false));
        self
    }
    fn p(mut self, name: &'static str, ty: EdmType) -> Self {
        self.props.push(prop(name, ty, true, false));
        self
    }
    /// A tenant-configured property: present only when enabled.
    fn cfg(mut self, name: &'static str, ty: EdmType) -> Self {
        if (self.enabled)(self.entity, name) {
            self.props.push(prop(name, ty, true, true));
        }
        self
    }
    /// A property no write may set (values derived by the server).
    fn read_only(mut self, name: &'static str, ty: EdmType) -> Self {
        let mut p = prop(name, ty, true, false);
        p.upsertable = false;
        self.props.push(p);
        self
    }
    fn strings(mut self, names: &[&'static str]) -> Self {
        for n in names {
            self.props.push(prop(n, Str, true, false));
        }
        self
    }
    /// `prefix` + number for 1..=15, numbers zero-padded to `width`.
    fn numbered(mut self, prefix: &str, width: usize) -> Self {
        for i in 1..=15 {
            self.props.push(prop(leak(format!("{prefix}{i:0width$}")), Str, true, false));
        }
        self
    }
    /// Tenant-configured `prefix`1..15 (`customString1`..).
    fn numbered_cfg(mut self, prefix: &str) -> Self {
        for i in 1..=15 {
            let name = format!("{prefix}{i}");
            if (self.enabled)(self.entity, &name) {
                self.props.push(prop(leak(name), Str, true, true));
            }
        }
        self
    }
    /// `<base>_localized`, `<base>_defaultValue` and the three locales the
    /// emulator's reference data carries.
    fn localized(mut self, base: &str) -> Self {
        for suffix in ["localized", "defaultValue", "en_US", "de_DE", "fr_FR"] {
            self.props.push(prop(leak(format!("{base}_{suffix}")), Str, true, false));
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
        self.navs.push(NavProperty { name, target, many: false, resolved: OnceLock::new() });
        self
    }
    fn many(mut self, name: &'static str, target: &'static str) -> Self {
        self.navs.push(NavProperty { name, target, many: true, resolved: OnceLock::new() });
        self
    }
    fn build(self, keys: &'static [&'static str], effective_dated: bool) -> EntityType {
        EntityType {
            name: self.entity,
            set: self.entity,
            keys,
            properties: Box::leak(self.props.into_boxed_slice()),
            navs: Box::leak(self.navs.into_boxed_slice()),
            effective_dated,
            upsertable: true,
        }
    }
    /// An entity set no client writes (derived by SuccessFactors).
    fn build_read_only(self, keys: &'static [&'static str], effective_dated: bool) -> EntityType {
        EntityType { upsertable: false, ..self.build(keys, effective_dated) }
    }
}

/// Foundation objects share one shape: keyed by (externalCode, startDate),
/// effective-dated, with localized names.
fn fo<'a>(entity: &'static str, enabled: Enabled<'a>) -> B<'a> {
    B::new(entity, enabled)
        .key("externalCode", Str)
        .key("startDate", DateTime)
        .p("endDate", DateTime)
        .p("name", Str)
        .localized("name")
        .strings(&["description", "status"])
}

const FO_KEYS: &[&str] = &["externalCode", "startDate"];

/// Every entity type, with the tenant-configured fields `enabled` selects.
fn build_entities(enabled: Enabled<'_>) -> Vec<EntityType> {
    let e = enabled;
    vec![
        B::new("PerPerson", e)
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
            .many("nationalIdNav", "PerNationalId")
            .many("homeAddressNavDEFLT", "PerAddressDEFLT")
            .build(&["personIdExternal"], false),
        B::new("PerPersonal", e)
            .key("personIdExternal", Str)
            .key("startDate", DateTime)
            .p("endDate", DateTime)
            .strings(&["firstName", "lastName", "middleName"])
            .cfg("preferredName", Str)
            .cfg("displayName", Str)
            .strings(&[
                "formalName",
                "salutation",
                "suffix",
                "gender",
                "nationality",
                "maritalStatus",
                "nativePreferredLang",
            ])
            .cfg("firstNameAlt1", Str)
            .cfg("lastNameAlt1", Str)
            .audit()
            .one("personNav", "PerPerson")
            .build(&["personIdExternal", "startDate"], true),
        B::new("PerEmail", e)
            .key("emailType", Str)
            .key("personIdExternal", Str)
            .p("emailAddress", Str)
            .p("isPrimary", Boolean)
            .p("operation", Str)
            .audit()
            .one("emailTypeNav", "PicklistOption")
            .one("personNav", "PerPerson")
            .build(&["emailType", "personIdExternal"], false),
        B::new("PerPhone", e)
            .key("personIdExternal", Str)
            .key("phoneType", Str)
            .strings(&["phoneNumber", "areaCode", "countryCode", "extension"])
            .p("isPrimary", Boolean)
            .p("operation", Str)
            .audit()
            .one("phoneTypeNav", "PicklistOption")
            .one("personNav", "PerPerson")
            .build(&["personIdExternal", "phoneType"], false),
        B::new("PerNationalId", e)
            .key("cardType", Str)
            .key("country", Str)
            .key("personIdExternal", Str)
            .p("nationalId", Str)
            .p("isPrimary", Boolean)
            .p("notes", Str)
            .audit()
            .one("personNav", "PerPerson")
            .build(&["cardType", "country", "personIdExternal"], false),
        B::new("PerAddressDEFLT", e)
            .key("addressType", Str)
            .key("personIdExternal", Str)
            .key("startDate", DateTime)
            .p("endDate", DateTime)
            .strings(&[
                "address1", "address2", "address3", "city", "county", "state", "province",
                "zipCode", "country",
            ])
            .audit()
            .one("stateNav", "PicklistOption")
            .one("personNav", "PerPerson")
            .build(&["addressType", "personIdExternal", "startDate"], true),
        B::new("EmpEmployment", e)
            .key("personIdExternal", Str)
            .key("userId", Str)
            .p("startDate", DateTime)
            .p("endDate", DateTime)
            .p("originalStartDate", DateTime)
            .p("seniorityDate", DateTime)
            .cfg("serviceDate", DateTime)
            .cfg("lastDateWorked", DateTime)
            .p("assignmentClass", Str)
            .cfg("isContingentWorker", Boolean)
            .key("hiringNotCompleted", Boolean)
            .cfg("okToRehire", Boolean)
            .p("jobNumber", Int64)
            .numbered_cfg("customString")
            .audit()
            .one("userNav", "User")
            .many("jobInfoNav", "EmpJob")
            .one("empGlobalAssignmentNav", "EmpGlobalAssignment")
            .one("personNav", "PerPerson")
            .build(&["personIdExternal", "userId"], false),
        B::new("EmpEmploymentTermination", e)
            .key("endDate", DateTime)
            .key("personIdExternal", Str)
            .key("userId", Str)
            .p("eventReason", Str)
            .p("payrollEndDate", DateTime)
            .audit()
            .one("employmentNav", "EmpEmployment")
            .one("jobInfoNav", "EmpJob")
            .one("personNav", "PerPerson")
            .one("userNav", "User")
            .build(&["endDate", "personIdExternal", "userId"], false),
        B::new("User", e)
            .key("userId", Str)
            .strings(&[
                "username",
                "status",
                "email",
                "firstName",
                "lastName",
                "mi",
                "defaultFullName",
                "empId",
                "businessPhone",
                "cellPhone",
                "homePhone",
                "title",
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
            .build(&["userId"], false),
        B::new("EmpJob", e)
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
            .p("fte", Double)
            .p("standardHours", Double)
            .p("isFulltimeEmployee", Boolean)
            .numbered_cfg("customString")
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
            .one("eventNav", "PicklistOption")
            .one("emplStatusNav", "PicklistOption")
            .one("employmentTypeNav", "PicklistOption")
            .one("employeeClassNav", "PicklistOption")
            .one("countryOfCompanyNav", "PicklistOption")
            .one("managerUserNav", "User")
            .one("managerEmploymentNav", "EmpEmployment")
            .one("userNav", "User")
            .one("employmentNav", "EmpEmployment")
            // Listed by Microsoft's entity table (row 18) directly under
            // jobInfoNav; the real API also has it under locationNav.
            .one("addressNavDEFLT", "FOCorporateAddressDEFLT")
            .build(&["seqNumber", "startDate", "userId"], true),
        B::new("PersonEmpTerminationInfo", e)
            .key("personIdExternal", Str)
            .read_only("activeEmploymentsCount", Int32)
            .read_only("latestTerminationDate", DateTime)
            .build_read_only(&["personIdExternal"], false),
        fo("FOCompany", e)
            .strings(&["country", "currency", "defaultLocation"])
            .p("standardHours", Double)
            .audit()
            .one("countryOfRegistrationNav", "Country")
            .build(FO_KEYS, true),
        fo("FODepartment", e)
            .strings(&["costCenter", "headOfUnit", "parent"])
            .audit()
            .build(FO_KEYS, true),
        fo("FOBusinessUnit", e).strings(&["headOfUnit"]).audit().build(FO_KEYS, true),
        fo("FOCostCenter", e).strings(&["costcenterManager"]).audit().build(FO_KEYS, true),
        fo("FODivision", e).strings(&["headOfUnit", "parent"]).audit().build(FO_KEYS, true),
        fo("FOJobCode", e)
            .strings(&["grade", "jobFunction", "jobLevel", "employeeClass"])
            .p("isFulltimeEmployee", Boolean)
            .p("standardHours", Double)
            .audit()
            .build(FO_KEYS, true),
        fo("FOPayGrade", e).p("paygradeLevel", Int64).audit().build(FO_KEYS, true),
        fo("FOLocation", e)
            .strings(&["timezone", "locationGroup", "addressId"])
            .audit()
            .one("addressNavDEFLT", "FOCorporateAddressDEFLT")
            .build(FO_KEYS, true),
        B::new("FOCorporateAddressDEFLT", e)
            .key("addressId", Str)
            .strings(&[
                "address1", "address2", "address3", "city", "county", "state", "province",
                "zipCode", "country",
            ])
            .audit()
            .one("stateNav", "PicklistOption")
            .one("countryNav", "PicklistOption")
            .build(&["addressId"], false),
        fo("FOEventReason", e)
            .strings(&["event", "emplStatus"])
            .audit()
            .one("eventNav", "PicklistOption")
            .one("emplStatusNav", "PicklistOption")
            .build(FO_KEYS, true),
        B::new("EmpGlobalAssignment", e)
            .key("userId", Str)
            .p("personIdExternal", Str)
            .p("assignmentClass", Str)
            .p("assignmentType", Str)
            .p("startDate", DateTime)
            .p("plannedEndDate", DateTime)
            .p("endDate", DateTime)
            .audit()
            .one("assignmentTypeNav", "PicklistOption")
            .one("employmentNav", "EmpEmployment")
            .one("userNav", "User")
            .build(&["userId"], false),
        B::new("PicklistOption", e)
            .key("id", Int64)
            .strings(&["externalCode", "localeLabel", "status"])
            .p("optionValue", Double)
            .p("minValue", Double)
            .p("maxValue", Double)
            .p("sortOrder", Int32)
            .many("picklistLabels", "PicklistLabel")
            .one("picklist", "Picklist")
            .build(&["id"], false),
        B::new("Picklist", e)
            .key("picklistId", Str)
            .p("name", Str)
            .p("status", Str)
            .many("picklistOptions", "PicklistOption")
            .build(&["picklistId"], false),
        B::new("PicklistLabel", e)
            .key("locale", Str)
            .key("optionId", Int64)
            .p("label", Str)
            .one("picklistOption", "PicklistOption")
            .build(&["locale", "optionId"], false),
        B::new("Position", e)
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
            .build(&["code", "effectiveStartDate"], true),
        B::new("Country", e)
            .key("code", Str)
            .key("effectiveStartDate", DateTime)
            .p("effectiveEndDate", DateTime)
            .p("effectiveStatus", Str)
            .localized("externalName")
            .strings(&["twoCharCountryCode", "currency"])
            .p("numericCountryCode", Int64)
            .p("lastModifiedDateTime", DateTimeOffset)
            .build(&["code", "effectiveStartDate"], true),
        // The result of the `upsert` function import (R1 `UpsertResult.ts`;
        // its `inlineResults`/`innermessage` navigations are not modelled).
        B::new("UpsertResult", e)
            .key("key", Str)
            .strings(&["status", "editStatus", "message"])
            .p("index", Int32)
            .p("httpCode", Int32)
            .build_read_only(&["key"], false),
    ]
}

fn build(fields: &TenantFields) -> Schema {
    let enabled = |e: &str, p: &str| fields.contains(e, p);
    let entities: &'static [EntityType] = Box::leak(build_entities(&enabled).into_boxed_slice());
    let by_name: HashMap<&'static str, usize> =
        entities.iter().enumerate().map(|(i, e)| (e.name, i)).collect();
    for e in entities {
        for n in e.navs {
            if let Some(&i) = by_name.get(n.target) {
                let _ = n.resolved.set(&entities[i]);
            }
        }
    }
    Schema {
        namespace: "SFOData",
        container: "SFODataContainer",
        entities,
        tenant: fields.clone(),
        by_name,
        edmx: OnceLock::new(),
    }
}

/// The default tenant's `$metadata` document (see [`Schema::edmx`]).
pub fn edmx() -> String {
    schema().edmx().to_owned()
}

/// The `$metadata` document: EDMX 1.0, `DataServiceVersion` 2.0, schema
/// namespace `SFOData`, with the `sap:` annotations connectors read
/// (`sap:label`, `sap:required`, `sap:creatable`/`updatable`/`upsertable`,
/// `sap:filterable`, `MaxLength`) and the `upsert` function import returning
/// `Collection(SFOData.UpsertResult)` as R1 declares it. Associations are
/// emitted per navigation property so a generic OData v2 client can resolve
/// every `NavigationProperty`.
fn render_edmx(s: &Schema) -> String {
    let mut x = String::with_capacity(256 * 1024);
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
        let _ = writeln!(x, r#"<EntityType Name="{}" sap:label="{}">"#, e.name, label_of(e.name));
        x.push_str("<Key>");
        for k in e.keys {
            let _ = write!(x, r#"<PropertyRef Name="{k}"/>"#);
        }
        x.push_str("</Key>\n");
        for p in e.properties {
            let key = e.keys.contains(&p.name);
            let writable = p.upsertable && e.upsertable;
            let _ = write!(
                x,
                r#"<Property Name="{}" Type="{}" Nullable="{}""#,
                p.name,
                p.ty.edm_name(),
                p.nullable
            );
            if let Some(n) = p.max_length {
                let _ = write!(x, r#" MaxLength="{n}""#);
            }
            let _ = writeln!(
                x,
                r#" sap:label="{}" sap:required="{}" sap:creatable="{writable}" sap:updatable="{}" sap:upsertable="{writable}" sap:visible="true" sap:sortable="true" sap:filterable="true"/>"#,
                p.label,
                !p.nullable,
                writable && !key,
            );
        }
        for n in e.navs {
            let _ = writeln!(
                x,
                r#"<NavigationProperty Name="{}" Relationship="{}.{}" FromRole="{}" ToRole="{}" sap:label="{}"/>"#,
                n.name,
                s.namespace,
                association_name(e, n),
                e.name,
                role_to(e, n),
                label_of(n.name)
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
        let _ = writeln!(
            x,
            r#"<EntitySet Name="{}" EntityType="{}.{}" sap:label="{}" sap:creatable="{u}" sap:updatable="{u}" sap:upsertable="{u}" sap:deletable="{u}"/>"#,
            e.set,
            s.namespace,
            e.name,
            label_of(e.name),
            u = e.upsertable
        );
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
    // R1 `function-imports.ts`: upsert is a POST without parameters
    // (`purgeType` and friends are plain query options) returning UpsertResults.
    let _ = writeln!(
        x,
        r#"<FunctionImport Name="upsert" ReturnType="Collection({ns}.UpsertResult)" EntitySet="UpsertResult" m:HttpMethod="POST" sap:label="Upsert"/>"#,
        ns = s.namespace
    );
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

/// The AtomPub service document (`GET /odata/v2/`): every entity set as a
/// collection, relative to `service_root` (`xml:base`).
pub fn service_document_xml(s: &Schema, service_root: &str) -> String {
    let mut x = String::with_capacity(4096);
    x.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    x.push('\n');
    x.push_str(r#"<service xml:base=""#);
    crate::atom::push_xml_escaped(&mut x, service_root.trim_end_matches('/'));
    x.push_str(r#"/" xmlns="http://www.w3.org/2007/app" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:app="http://www.w3.org/2007/app"><workspace><atom:title>Default</atom:title>"#);
    for e in s.entities {
        let _ = write!(
            x,
            r#"<collection href="{set}"><atom:title>{set}</atom:title></collection>"#,
            set = e.set
        );
    }
    x.push_str("</workspace></service>\n");
    x
}

/// The JSON service document: `{"d":{"EntitySets":[…]}}`.
pub fn service_document_json(s: &Schema) -> String {
    let mut x = String::from(r#"{"d":{"EntitySets":["#);
    for (i, e) in s.entities.iter().enumerate() {
        if i > 0 {
            x.push(',');
        }
        x.push('"');
        x.push_str(e.set);
        x.push('"');
    }
    x.push_str("]}}");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nav_target_exists_and_keys_are_properties() {
        for s in [schema(), schema_for(&TenantFields::none()), schema_for(&TenantFields::all())] {
            for e in s.entities {
                for n in e.navs {
                    assert!(n.target_type().is_some(), "{}.{} -> {}", e.name, n.name, n.target);
                    let t = n.target_type().map(|t| t.name);
                    assert_eq!(t, Some(n.target));
                    // Resolved inside the same schema, not another tenant's.
                    assert!(
                        n.target_type()
                            .is_some_and(|t| std::ptr::eq(t, s.entity(t.name).unwrap_or(t))),
                        "{}.{}",
                        e.name,
                        n.name
                    );
                }
                for k in e.keys {
                    assert!(e.property(k).is_some(), "{} key {k}", e.name);
                }
                let mut names: Vec<&str> = e
                    .properties
                    .iter()
                    .map(|p| p.name)
                    .chain(e.navs.iter().map(|n| n.name))
                    .collect();
                let len = names.len();
                names.sort_unstable();
                names.dedup();
                assert_eq!(len, names.len(), "duplicate member in {}", e.name);
            }
        }
    }

    #[test]
    fn labels_are_readable() {
        assert_eq!(label_of("personIdExternal"), "Person Id External");
        assert_eq!(label_of("name_localized"), "Name localized");
        assert_eq!(label_of("customString15"), "Custom String15");
    }
}
