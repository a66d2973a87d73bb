//! The plan-equality proof for the SF-to-AD fixture: import
//! `sf-to-ad-edited.json` (the built-in SF-to-AD mapping plus the documented
//! edits E1-E8, see the fixture README), run `hrsync plan --full` against
//! the emulator with the written config (source and target pointed at the
//! emulator and an empty embedded directory), and compare worker by worker
//! and attribute by attribute with
//! - the built-in `builtin:sf-to-ad` with the same edits written by hand as
//!   hrsync TOML (must be identical: the import carried every edit, and
//!   nothing else changed), and
//! - the plain built-in (must differ only where an edit says it does).
//!
//! And for the SF-to-Entra ID fixture, written with the odd shapes seen in
//! the wild and no edit: its plan equals `builtin:sf-to-entra`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hrsync_mapping::{Apply, AttributeMapping, FlowBehavior, MappingConfig};
use sf_emulator::Emulator;
use sf_emulator::model::{Scenario, UserStatus};

use crate::common::{TempDir, hrsync, source_toml, text};
use crate::import_cli::{fixture, import};

/// person -> (action, attribute -> planned value, error).
pub(crate) type Plan =
    BTreeMap<String, (String, BTreeMap<String, serde_json::Value>, Option<String>)>;

pub(crate) fn plan(config: &Path) -> Plan {
    let o = hrsync(config, &["plan", "--full", "--format", "json", "--all"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("plan JSON");
    let mut out = Plan::new();
    for d in v["details"].as_array().into_iter().flatten() {
        let person = d["person_id"].as_str().unwrap_or_default().to_owned();
        let attrs = d["modified"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| (c["attribute"].as_str().unwrap_or_default().to_owned(), c["new"].clone()))
            .collect();
        let action = d["action"].as_str().unwrap_or_default().to_owned();
        let mut error = d["error"].as_str().map(str::to_owned);
        if action == "skip" {
            // Why it is skipped (scope, pre-hire, ...): the steps' details.
            let why: Vec<String> = d["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    format!(
                        "{}: {}",
                        s["name"].as_str().unwrap_or(""),
                        s["detail"].as_str().unwrap_or("")
                    )
                })
                .collect();
            error = Some(why.join("; "));
        }
        assert!(out.insert(person.clone(), (action, attrs, error)).is_none(), "{person} twice");
    }
    out
}

/// The imported config with `[source]` at the emulator, an empty embedded
/// target, and `flow.mapping` set to `mapping`; everything else (actions,
/// time zone) as imported.
pub(crate) fn adapted(
    imported: &toml::Table,
    base_url: &str,
    mapping: &str,
    unique: &[&str],
) -> String {
    let mut t = imported.clone();
    let source: toml::Table = toml::from_str(&source_toml(base_url, 100)).expect("source TOML");
    t.insert("source".into(), source["source"].clone());
    let mut target = toml::Table::new();
    target.insert("kind".into(), "embedded".into());
    target.insert("path".into(), "target.sqlite".into());
    target.insert("unique".into(), unique.to_vec().into());
    t.insert("target".into(), toml::Value::Table(target));
    if let Some(toml::Value::Table(flow)) = t.get_mut("flow") {
        flow.insert("mapping".into(), mapping.into());
    }
    toml::to_string(&t).expect("config TOML")
}

/// `builtin:sf-to-ad` with the fixture's edits E1-E7 written by hand (E8,
/// `exportMissingReferences`, has no hrsync equivalent and no effect on a
/// plan).
fn builtin_with_edits() -> MappingConfig {
    let mut m = MappingConfig::sf_to_ad().expect("built-in");
    let extra = MappingConfig::from_toml(
        r#"
[[source_attribute]] # E1
name = "startDate"
jsonpath = "$.employmentNav.results[-1:].startDate"
[[source_attribute]] # E2
name = "userStatus"
jsonpath = "$.employmentNav.results[-1:].userNav.status"
[[source_attribute]] # E3
name = "empJobNavCustomString35"
jsonpath = "$.employmentNav.results[-1:].jobInfoNav.results[0].customString35"
[[source_attribute]] # E4
name = "positionNameFR"
jsonpath = "$.employmentNav.results[0].jobInfoNav.results[0].positionNav.externalName_fr_FR"
[[source_attribute]]
name = "positionNameDE"
jsonpath = "$.employmentNav.results[0].jobInfoNav.results[0].positionNav.externalName_de_DE"
[scope] # E2
[[scope.groups]]
name = "Onboarding"
clauses = [{ attribute = "userStatus", operator = "NOT EQUALS", values = ["active_external_suite"] }]
[[mapping]] # E4
target = "extensionAttribute10"
expression = "[positionNameFR]"
[[mapping]]
target = "extensionAttribute11"
expression = "[positionNameDE]"
"#,
    )
    .expect("edits TOML");
    m.source_attributes = extra.source_attributes;
    m.scope = extra.scope;
    let mut edit = |t: &str, f: &dyn Fn(&mut AttributeMapping)| {
        let a = m.mappings.iter_mut().find(|a| a.target == t).expect("built-in target");
        f(a);
    };
    edit("displayName", &|a| {
        // E5
        a.expression = Some("Join(\" \", [firstName], [lastName])".into());
        a.apply = Apply::OnCreate;
    });
    edit("extensionAttribute1", &|a| a.expression = Some("[empJobNavCustomString35]".into())); // E3
    edit("employeeType", &|a| {
        // E6
        a.default = Some("Employee".into());
        a.flow = FlowBehavior::Always;
    });
    edit("parentDistinguishedName", &|a| {
        // E7
        a.expression = None;
        a.default = Some("OU=Users,DC=contoso,DC=com".into());
        a.apply = Apply::OnCreate;
    });
    m.mappings.extend(extra.mappings);
    m
}

/// Every (person, attribute) whose planned value differs, and the persons
/// planned in only one of the two.
pub(crate) fn diff(a: &Plan, b: &Plan) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let mut attrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut persons = Vec::new();
    for p in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
        match (a.get(p), b.get(p)) {
            (Some((aa, av, ae)), Some((ba, bv, be))) => {
                if aa != ba || ae != be {
                    persons.push(format!("{p}: {aa} {ae:?} vs {ba} {be:?}"));
                }
                for k in av.keys().chain(bv.keys()).collect::<BTreeSet<_>>() {
                    if av.get(k) != bv.get(k) {
                        attrs.entry(k.clone()).or_default().push(p.clone());
                    }
                }
            }
            _ => persons.push(format!("{p}: only in one plan")),
        }
    }
    (attrs, persons)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_sf_to_ad_plans_as_the_builtin_with_the_documented_edits() {
    let emu = Emulator::builder().workers(150).seed(17).start().await.expect("emulator");
    let dir = TempDir::new("import-plan");
    let o = import(&fixture("sf-to-ad-edited.json"), &dir.0);
    assert!(o.status.success(), "{}", text(&o));
    let imported: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.0.join("hrsync.toml")).expect("config"))
            .expect("imported config TOML");
    let expected_mapping = toml::to_string(&builtin_with_edits()).expect("mapping TOML");
    std::fs::write(dir.0.join("expected-mapping.toml"), expected_mapping).expect("write");
    let url = emu.base_url();
    let configs = [
        ("imported.toml", "mapping.toml"),
        ("expected.toml", "expected-mapping.toml"),
        ("builtin.toml", "builtin:sf-to-ad"),
    ];
    for (file, mapping) in configs {
        std::fs::write(
            dir.0.join(file),
            adapted(&imported, &url, mapping, &["userPrincipalName", "sAMAccountName"]),
        )
        .expect("write");
    }
    let d = dir.0.clone();
    let [imp, exp, bi] =
        tokio::task::spawn_blocking(move || configs.map(|(file, _)| plan(&d.join(file))))
            .await
            .expect("task");

    assert!(imp.len() >= 100, "{} workers planned", imp.len());
    let creates = imp.values().filter(|(a, _, _)| a == "create").count();
    assert!(creates >= 100, "{creates} creates");

    // 1. The import is the built-in with exactly the documented edits.
    let (attrs, persons) = diff(&imp, &exp);
    assert!(persons.is_empty(), "imported vs built-in+edits, workers: {persons:#?}");
    assert!(attrs.is_empty(), "imported vs built-in+edits, attributes: {attrs:#?}");

    // 2. Against the plain built-in. E2, the Onboarding filter, skips the
    // workers whose userStatus (latest employment's userNav.status, after the
    // engine orders employmentNav) is active_external_suite (Onboarding 2.0
    // pre-hires) or absent (a null value makes a clause false, as in Entra):
    // each skip must give that reason and agree with the emulator's records.
    let scoped_out: BTreeSet<String> = imp
        .iter()
        .filter(|(p, (a, _, _))| a == "skip" && bi.get(*p).is_some_and(|b| b.0 != "skip"))
        .map(|(p, _)| p.clone())
        .collect();
    let clause = "userStatus NOT EQUALS [\"active_external_suite\"]";
    for p in &scoped_out {
        let why = imp[p].2.clone().unwrap_or_default();
        let w = emu.worker(p).expect("emulator worker");
        let users: Vec<_> =
            w.employments.iter().map(|e| e.user.as_ref().map(|u| u.status)).collect();
        if why.contains(&format!("{clause} (was empty)")) {
            assert!(
                users.contains(&None),
                "{p}: status empty, yet every employment has a user: {why}"
            );
        } else {
            assert!(
                why.contains(&format!("{clause} (was \"active_external_suite\")")),
                "{p}: {why}"
            );
            assert!(users.contains(&Some(UserStatus::ActiveExternalSuite)), "{p}: {users:?}");
        }
    }
    for p in imp.keys() {
        let w = emu.worker(p).expect("emulator worker");
        let all_onboarding = !w.employments.is_empty()
            && w.employments.iter().all(|e| {
                e.user.as_ref().is_some_and(|u| u.status == UserStatus::ActiveExternalSuite)
            });
        if all_onboarding && bi[p].0 != "skip" {
            assert!(scoped_out.contains(p), "{p}: Onboarding pre-hire not scoped out");
        }
    }
    let pre_hires = &emu.scenarios()[&Scenario::PreHireOnboarding];
    assert!(
        pre_hires.iter().any(|p| scoped_out.contains(p)),
        "an Onboarding pre-hire is scoped out: {pre_hires:?} {scoped_out:?}"
    );
    let in_both = |p: &Plan| -> Plan {
        p.iter()
            .filter(|(k, _)| !scoped_out.contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    // For every other worker, only the edited attributes differ.
    let (attrs, persons) = diff(&in_both(&imp), &in_both(&bi));
    let edited: BTreeSet<&str> = [
        "extensionAttribute5",     // E1 startDate of the latest employment
        "extensionAttribute1",     // E3 customString35 instead of userId
        "extensionAttribute10",    // E4 new
        "extensionAttribute11",    // E4 new
        "displayName",             // E5 plain Join, no cleaning, no Coalesce
        "employeeType",            // E6 default "Employee" when employeeClass is empty
        "parentDistinguishedName", // E7 one OU instead of the Switch on country
    ]
    .into();
    let unexpected: Vec<&String> = attrs.keys().filter(|k| !edited.contains(k.as_str())).collect();
    assert!(unexpected.is_empty(), "differ without an edit: {unexpected:?} {attrs:#?}");
    assert!(persons.is_empty(), "{persons:#?}");
    // Stated differences, value by value.
    for (p, (action, v, _)) in &imp {
        if action != "create" || scoped_out.contains(p) {
            continue;
        }
        assert_eq!(
            v.get("parentDistinguishedName").and_then(|x| x.as_str()),
            Some("OU=Users,DC=contoso,DC=com"),
            "{p}"
        );
        let b = &bi[p].1;
        for t in ["extensionAttribute10", "extensionAttribute11"] {
            assert!(!b.contains_key(t), "{p}: built-in has no {t}");
        }
        let (fr, de) = (v.get("extensionAttribute10"), v.get("extensionAttribute11"));
        assert!(fr.is_some() && de.is_some(), "{p}: position names {fr:?} {de:?}");
    }
    assert!(
        attrs.contains_key("parentDistinguishedName") && attrs.contains_key("extensionAttribute10")
    );
    let counts: Vec<String> = attrs.iter().map(|(k, ps)| format!("{k}: {}", ps.len())).collect();
    eprintln!(
        "import plan proof: {} workers, {creates} creates; identical to built-in+edits; vs the built-in: {} scoped out by E2 ({scoped_out:?}), attributes differing (workers): {}",
        imp.len(),
        scoped_out.len(),
        counts.join(", ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_sf_to_entra_with_odd_shapes_plans_as_the_builtin() {
    let emu = Emulator::builder().workers(150).seed(18).start().await.expect("emulator");
    let dir = TempDir::new("import-plan-entra");
    let o = import(&fixture("sf-to-entra-odd.json"), &dir.0);
    assert!(o.status.success(), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let am = "synchronizationRules[0].objectMappings[0].attributeMappings";
    // O1's unknown key and enum value are warned, by JSON path; nothing else.
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(warnings.iter().all(|w| w.starts_with(&format!("warning: {am}["))), "{warnings:#?}");
    assert!(warnings.iter().any(|w| w.contains(".mappingType: unknown key")), "{warnings:#?}");
    assert!(warnings.iter().any(|w| w.contains(".flowType: \"Add\"")), "{warnings:#?}");
    let imported_text = std::fs::read_to_string(dir.0.join("hrsync.toml")).expect("config");
    assert!(imported_text.lines().any(|l| l == "kind = \"graph\""), "{imported_text}");
    assert!(
        imported_text.lines().any(|l| l == "actions = [\"create\", \"update\", \"disable\"]"),
        "{imported_text}"
    );
    let imported: toml::Table = toml::from_str(&imported_text).expect("imported config TOML");
    let url = emu.base_url();
    let unique = ["userPrincipalName", "mailNickname"];
    let configs = [("imported.toml", "mapping.toml"), ("builtin.toml", "builtin:sf-to-entra")];
    for (file, mapping) in configs {
        std::fs::write(dir.0.join(file), adapted(&imported, &url, mapping, &unique))
            .expect("write");
    }
    let d = dir.0.clone();
    let [imp, bi] =
        tokio::task::spawn_blocking(move || configs.map(|(file, _)| plan(&d.join(file))))
            .await
            .expect("task");
    let creates = imp.values().filter(|(a, _, _)| a == "create").count();
    assert!(creates >= 100, "{creates} creates");
    let (attrs, persons) = diff(&imp, &bi);
    assert!(persons.is_empty(), "imported vs builtin:sf-to-entra, workers: {persons:#?}");
    assert!(attrs.is_empty(), "imported vs builtin:sf-to-entra, attributes: {attrs:#?}");
    let values: usize = imp.values().map(|(_, v, _)| v.len()).sum();
    eprintln!(
        "import plan proof (Entra): {} workers, {creates} creates, {values} planned values, identical to builtin:sf-to-entra",
        imp.len()
    );
}

/// The SCIM app fixture (`sf-to-salesforce-scim.json`: `builtin:sf-to-salesforce`
/// as a "salesforce.com" job, the profile entitlement as a Constant mapping
/// without expression text, S1-S3 of the fixture README): imported into a
/// scim config with the Salesforce profile, it plans as the built-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_salesforce_scim_app_plans_as_the_builtin() {
    let emu = Emulator::builder().workers(150).seed(20).start().await.expect("emulator");
    let dir = TempDir::new("import-plan-salesforce");
    let o = import(&fixture("sf-to-salesforce-scim.json"), &dir.0);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"), "{}", text(&o));
    let imported_text = std::fs::read_to_string(dir.0.join("hrsync.toml")).expect("config");
    for line in ["kind = \"scim\"", "profile = \"salesforce\""] {
        assert!(imported_text.lines().any(|l| l == line), "{line}: {imported_text}");
    }
    let mapping = std::fs::read_to_string(dir.0.join("mapping.toml")).expect("mapping");
    let m = MappingConfig::from_toml(&mapping).expect("mapping TOML");
    let ent = m.mappings.iter().find(|a| a.target == "entitlements").expect("entitlements");
    assert_eq!(ent.expression.as_deref(), Some("\"00e000000000000AAA\""));
    let imported: toml::Table = toml::from_str(&imported_text).expect("imported config TOML");
    let url = emu.base_url();
    let configs = [("imported.toml", "mapping.toml"), ("builtin.toml", "builtin:sf-to-salesforce")];
    for (file, mapping) in configs {
        std::fs::write(dir.0.join(file), adapted(&imported, &url, mapping, &["userName"]))
            .expect("write");
    }
    let d = dir.0.clone();
    let [imp, bi] =
        tokio::task::spawn_blocking(move || configs.map(|(file, _)| plan(&d.join(file))))
            .await
            .expect("task");
    let creates = imp.values().filter(|(a, _, _)| a == "create").count();
    assert!(creates >= 100, "{creates} creates");
    let (attrs, persons) = diff(&imp, &bi);
    assert!(persons.is_empty(), "imported vs builtin:sf-to-salesforce, workers: {persons:#?}");
    assert!(attrs.is_empty(), "imported vs builtin:sf-to-salesforce, attributes: {attrs:#?}");
    let profiles = imp
        .values()
        .filter(|(a, v, _)| {
            a == "create"
                && v.get("entitlements").is_some_and(|e| e.as_str() == Some("00e000000000000AAA"))
        })
        .count();
    assert_eq!(profiles, creates, "every create carries the profile entitlement");
    eprintln!(
        "import plan proof (Salesforce SCIM app): {} workers, {creates} creates with the profile entitlement, identical to builtin:sf-to-salesforce",
        imp.len()
    );
}

const J0: &str = "$.employmentNav.results[0].jobInfoNav.results[0]";
const E0: &str = "$.employmentNav.results[0]";
const ACTIVE: &str = "@.emplStatusNav.externalCode == 'A' || @.emplStatusNav.externalCode == 'U' || @.emplStatusNav.externalCode == 'P'";

/// The active-record fixture (`sf-to-ad-active-records.json`:
/// `builtin:sf-to-ad` with the integration reference's three ordered
/// find/replace-all rows applied to its source directory, startDate kept at
/// `results[0]`, A1-A3 of the fixture README): every filter path is accepted
/// by hrsync's JSONPath, carried as a `[[source_attribute]]`, and the plan
/// equals the built-in with those paths written by hand; against the plain
/// built-in only workers with more than one employment or job record, or an
/// ended employment, differ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_active_record_filters_plan_as_the_builtin_with_the_recipe() {
    let emu = Emulator::builder().workers(150).seed(21).start().await.expect("emulator");
    let dir = TempDir::new("import-plan-active");
    let o = import(&fixture("sf-to-ad-active-records.json"), &dir.0);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"), "{}", text(&o));
    let active_job = format!("$.employmentNav..jobInfoNav..results[?({ACTIVE})]");
    let active_employment =
        format!("$.employmentNav..results[?(@.jobInfoNav..results[?({ACTIVE})])]");
    // The expected mapping, from the catalog and the recipe's rows.
    let mut expected = MappingConfig::sf_to_ad().expect("built-in");
    let catalog = hrsync_mapping::Catalog::builtin();
    let mut refs: Vec<String> = vec![];
    for a in &expected.mappings {
        if let Some(e) = &a.expression {
            let e = hrsync_expr::parse(e).expect("built-in parses");
            refs.extend(e.attribute_refs().into_iter().map(str::to_owned));
        }
    }
    refs.push("userStatus".into());
    let mut overrides = Vec::new();
    for r in refs {
        let Some(def) = catalog.get(&r) else { continue };
        if r == "startDate"
            || !def.jsonpath.starts_with(E0)
            || overrides.iter().any(|(n, _)| *n == r)
        {
            continue;
        }
        let path = if r == "emplStatus" {
            format!("$.employmentNav..jobInfoNav..results[?({ACTIVE} )].emplStatusNav.externalCode")
        } else {
            def.jsonpath.replace(J0, &active_job).replace(E0, &active_employment)
        };
        overrides.push((r, path));
    }
    assert!(overrides.len() >= 10, "{overrides:?}");
    expected.source_attributes = overrides
        .iter()
        .map(|(n, p)| hrsync_mapping::SourceAttributeConfig {
            name: n.clone(),
            jsonpath: Some(p.clone()),
            ..Default::default()
        })
        .collect();
    // Each is carried, and parses as hrsync's JSONPath.
    let imported_mapping = MappingConfig::from_toml(
        &std::fs::read_to_string(dir.0.join("mapping.toml")).expect("mapping"),
    )
    .expect("imported mapping");
    let mut got: Vec<(String, String)> = imported_mapping
        .source_attributes
        .iter()
        .map(|a| (a.name.clone(), a.jsonpath.clone().unwrap_or_default()))
        .collect();
    let mut want = overrides.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    for (_, p) in &want {
        assert!(hrsync_mapping::SourcePath::parse(p).is_ok(), "{p}");
    }
    std::fs::write(dir.0.join("expected-mapping.toml"), toml::to_string(&expected).expect("TOML"))
        .expect("write");

    let imported: toml::Table =
        toml::from_str(&std::fs::read_to_string(dir.0.join("hrsync.toml")).expect("config"))
            .expect("imported config TOML");
    let url = emu.base_url();
    let configs = [
        ("imported.toml", "mapping.toml"),
        ("expected.toml", "expected-mapping.toml"),
        ("builtin.toml", "builtin:sf-to-ad"),
    ];
    for (file, mapping) in configs {
        std::fs::write(
            dir.0.join(file),
            adapted(&imported, &url, mapping, &["userPrincipalName", "sAMAccountName"]),
        )
        .expect("write");
    }
    let d = dir.0.clone();
    let [imp, exp, bi] =
        tokio::task::spawn_blocking(move || configs.map(|(file, _)| plan(&d.join(file))))
            .await
            .expect("task");
    let creates = imp.values().filter(|(a, _, _)| a == "create").count();
    assert!(creates >= 100, "{creates} creates");
    let (attrs, persons) = diff(&imp, &exp);
    assert!(persons.is_empty(), "imported vs built-in+recipe, workers: {persons:#?}");
    assert!(attrs.is_empty(), "imported vs built-in+recipe, attributes: {attrs:#?}");

    // Against the plain built-in: the recipe changes only workers whose
    // first employment or job record is not the (only) active one.
    let (attrs, persons) = diff(&imp, &bi);
    let mut changed: BTreeSet<String> = attrs.values().flatten().cloned().collect();
    for p in &persons {
        changed.insert(p.split(':').next().unwrap_or_default().to_owned());
    }
    for p in &changed {
        let w = emu.worker(p).expect("emulator worker");
        let several = w.employments.len() > 1
            || w.employments.iter().any(|e| e.jobs.len() > 1 || e.end.is_some());
        assert!(several, "{p}: one employment, one job record, not ended, yet changed");
    }
    let counts: Vec<String> = attrs.iter().map(|(k, ps)| format!("{k}: {}", ps.len())).collect();
    eprintln!(
        "import plan proof (active-record filters): {} workers, {creates} creates; identical to built-in+recipe; vs the built-in {} workers differ ({}), each with several employments or job records or an ended employment",
        imp.len(),
        changed.len(),
        counts.join(", ")
    );
}
