//! Planning a writeback: what to upsert so that SuccessFactors holds the
//! email addresses and phone numbers the directory has, without I/O.
//!
//! Input: a person's current records ([`ContactRecords`], read with
//! [`crate::SfClient::contact_records`]), what the writeback mapping wants
//! ([`Desired`], built from the Writeback app's attribute names with
//! [`Desired::from_writeback`]) and a [`PrimaryPolicy`]. Output: a
//! [`Plan`] of upsert records in two phases, and the conflicts that kept
//! records from being written.
//!
//! Rules (per kind, email or phone):
//! - A record equal to what SuccessFactors holds (same type, same
//!   address/number, same primary flag) is not sent: a person with nothing
//!   changed gets an empty plan and no request.
//! - Writeback never deletes: an absent or empty value writes nothing.
//! - A primary flag the mapping does not set keeps the record's current
//!   flag (`false` for a new record).
//! - At most one primary: the mapping asking two records of one kind to be
//!   primary is a conflict; both are skipped.
//! - A primary on a type the mapping does not write (HR set a personal
//!   email primary) is never demoted silently: under
//!   [`PrimaryPolicy::Keep`] the record that would take the primary is
//!   skipped with a [`Conflict`]; under [`PrimaryPolicy::Take`] that
//!   primary is demoted (only its flag changes) and exactly one remains.
//! - Demoting a primary so that the person is left with none is a conflict
//!   (the record is skipped) under both policies.
//! - Every conflict skips the one record it names; the others go ahead.
//!
//! Records whose primary flag goes from true to false are in
//! [`Plan::demote`] and must be sent before [`Plan::records`]:
//! SuccessFactors (and the emulator) refuse a second primary, and check a
//! request's records against what is stored. If a demotion fails, the
//! promotion that needed it is refused by SuccessFactors in turn ("already
//! has a primary") and reported like any refused record.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Value, json};

use crate::contact::{ContactRecords, EmailRecord, PhoneRecord};
use crate::picklist::{ContactTypes, PicklistError};

/// What to do when the mapping wants a record primary and SuccessFactors
/// has another type (one the mapping does not write) primary.
/// Configuration: `primary = "keep" | "take"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PrimaryPolicy {
    /// Leave HR's primary alone; report a conflict and skip the record.
    #[default]
    Keep,
    /// Demote the other primary and make the mapped record the one primary.
    Take,
}

impl std::str::FromStr for PrimaryPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "keep" => Ok(PrimaryPolicy::Keep),
            "take" => Ok(PrimaryPolicy::Take),
            other => Err(format!("primary = `{other}`: expected \"keep\" or \"take\"")),
        }
    }
}

/// Email or phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Email,
    Phone,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
        })
    }
}

/// One record the mapping wants: type (picklist option id), value and,
/// when the mapping sets it, the primary flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub type_id: String,
    pub value: String,
    pub is_primary: Option<bool>,
}

/// What the writeback mapping wants for one person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    pub emails: Vec<Want>,
    pub phones: Vec<Want>,
}

/// Who a writeback change is for, by the Writeback app's rule: the
/// `userId` when the change set has one (the active employment's user,
/// right after a rehire or conversion), else `personIdExternal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonKey {
    UserId(String),
    PersonIdExternal(String),
}

/// Why the mapped values could not be turned into a [`Desired`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DesiredError {
    #[error("writeback attribute {attribute}: {source}")]
    Type { attribute: &'static str, source: PicklistError },
    #[error(
        "writeback attribute {attribute} = `{}`: not a flag (true/false)",
        hrsync_display::escape(.value)
    )]
    Flag { attribute: &'static str, value: String },
    #[error("the writeback change has neither userId nor personIdExternal")]
    NoKey,
}

/// One record of a kind the Writeback app maps: the value, type and flag
/// attribute names (the first is the name this crate documents, the others
/// aliases: the names Microsoft's attribute reference gives, as in an
/// imported Entra schema), and the type used when the type is not mapped.
struct Slot {
    kind: Kind,
    value: &'static [&'static str],
    ty: &'static str,
    primary: &'static [&'static str],
    default_type: &'static str,
}

/// The Writeback app's attributes (SFWB, SFREF).
const SLOTS: [Slot; 3] = [
    Slot {
        kind: Kind::Email,
        value: &["email"],
        ty: "emailType",
        primary: &["isPrimaryEmail", "emailIsPrimary"],
        default_type: "business",
    },
    Slot {
        kind: Kind::Phone,
        value: &["businessPhone", "businessPhoneNumber"],
        ty: "businessPhoneType",
        primary: &["isBusinessPhonePrimary", "businessPhoneIsPrimary"],
        default_type: "business",
    },
    Slot {
        kind: Kind::Phone,
        value: &["cellPhone", "cellPhoneNumber"],
        ty: "cellPhoneType",
        primary: &["isCellPhonePrimary", "cellPhoneIsPrimary"],
        default_type: "cell",
    },
];

/// The Writeback app's attribute names this module reads (aliases:
/// [`WRITEBACK_ALIASES`]).
pub const WRITEBACK_ATTRIBUTES: [&str; 11] = [
    "email",
    "emailType",
    "isPrimaryEmail",
    "businessPhone",
    "businessPhoneType",
    "isBusinessPhonePrimary",
    "cellPhone",
    "cellPhoneType",
    "isCellPhonePrimary",
    "personIdExternal",
    "userId",
];

/// Other names accepted for the same attributes: (alias, name).
pub const WRITEBACK_ALIASES: [(&str, &str); 5] = [
    ("emailIsPrimary", "isPrimaryEmail"),
    ("businessPhoneNumber", "businessPhone"),
    ("businessPhoneIsPrimary", "isBusinessPhonePrimary"),
    ("cellPhoneNumber", "cellPhone"),
    ("cellPhoneIsPrimary", "isCellPhonePrimary"),
];

/// A flag as mapping expressions produce it (`"true"`, `"False"`, `1`, ...).
pub fn parse_flag(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

impl Desired {
    /// Builds what the mapping wants from its evaluated values, keyed by the
    /// Writeback app's names ([`WRITEBACK_ATTRIBUTES`]); an absent or blank
    /// value is "not set". Types are names or ids resolved through `types`
    /// (`emailType` defaults to `business`, `businessPhoneType` to
    /// `business`, `cellPhoneType` to `cell`). With no phone mapped only the
    /// email is written.
    pub fn from_writeback(
        values: &BTreeMap<String, String>,
        types: &ContactTypes,
    ) -> Result<Desired, DesiredError> {
        let get = |name: &str| values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let first =
            |names: &'static [&'static str]| names.iter().find_map(|&n| get(n).map(|v| (n, v)));
        let mut out = Desired::default();
        for slot in &SLOTS {
            let Some((_, value)) = first(slot.value) else { continue };
            let ty_name = get(slot.ty).unwrap_or(slot.default_type);
            let type_id = match slot.kind {
                Kind::Email => types.email_type(ty_name),
                Kind::Phone => types.phone_type(ty_name),
            }
            .map_err(|source| DesiredError::Type { attribute: slot.ty, source })?
            .to_owned();
            let is_primary = match first(slot.primary) {
                None => None,
                Some((attribute, v)) => {
                    Some(parse_flag(v).ok_or(DesiredError::Flag { attribute, value: v.into() })?)
                }
            };
            let want = Want { type_id, value: value.to_owned(), is_primary };
            match slot.kind {
                Kind::Email => out.emails.push(want),
                Kind::Phone => out.phones.push(want),
            }
        }
        Ok(out)
    }

    /// Checks every type name a writeback mapping's constants use against
    /// the tenant's picklists (for `hrsync check` and config loading).
    pub fn check_type_names(
        values: &BTreeMap<String, String>,
        types: &ContactTypes,
    ) -> Result<(), DesiredError> {
        for slot in &SLOTS {
            if let Some(name) = values.get(slot.ty).map(|v| v.trim()).filter(|v| !v.is_empty()) {
                match slot.kind {
                    Kind::Email => types.email_type(name),
                    Kind::Phone => types.phone_type(name),
                }
                .map_err(|source| DesiredError::Type { attribute: slot.ty, source })?;
            }
        }
        Ok(())
    }
}

impl PersonKey {
    /// The key of a change set by the Writeback app's rule.
    pub fn from_writeback(values: &BTreeMap<String, String>) -> Result<PersonKey, DesiredError> {
        let get = |name: &str| values.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        if let Some(u) = get("userId") {
            return Ok(PersonKey::UserId(u.to_owned()));
        }
        get("personIdExternal")
            .map(|p| PersonKey::PersonIdExternal(p.to_owned()))
            .ok_or(DesiredError::NoKey)
    }
}

/// One record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub kind: Kind,
    pub type_id: String,
    pub value: String,
    pub is_primary: bool,
}

/// A record the plan does not write, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub kind: Kind,
    /// The type of the skipped record.
    pub type_id: String,
    pub reason: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} type {} not written: {}", self.kind, self.type_id, self.reason)
    }
}

/// What to upsert for one person.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub person_id_external: String,
    /// Records losing their primary flag: send (and let land) first.
    pub demote: Vec<Write>,
    /// The other records, sent after [`Plan::demote`].
    pub records: Vec<Write>,
    pub conflicts: Vec<Conflict>,
}

impl Plan {
    /// Whether nothing is to be sent.
    pub fn is_empty(&self) -> bool {
        self.demote.is_empty() && self.records.is_empty()
    }

    /// [`Plan::demote`] as upsert records.
    pub fn demote_records(&self) -> Vec<Value> {
        self.demote.iter().map(|w| upsert_record(&self.person_id_external, w)).collect()
    }

    /// [`Plan::records`] as upsert records.
    pub fn upsert_records(&self) -> Vec<Value> {
        self.records.iter().map(|w| upsert_record(&self.person_id_external, w)).collect()
    }
}

/// A string literal of a key predicate: quoted, `'` doubled.
fn key_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The upsert record of a write: `__metadata` with the key predicate URI
/// and type, and only upsertable properties (`emailAddress`/`phoneNumber`,
/// `isPrimary`).
pub fn upsert_record(person_id_external: &str, w: &Write) -> Value {
    let pid = key_literal(person_id_external);
    let ty = key_literal(&w.type_id);
    match w.kind {
        Kind::Email => json!({
            "__metadata": {
                "uri": format!("PerEmail(emailType={ty},personIdExternal={pid})"),
                "type": "SFOData.PerEmail",
            },
            "emailAddress": w.value,
            "isPrimary": w.is_primary,
        }),
        Kind::Phone => json!({
            "__metadata": {
                "uri": format!("PerPhone(personIdExternal={pid},phoneType={ty})"),
                "type": "SFOData.PerPhone",
            },
            "phoneNumber": w.value,
            "isPrimary": w.is_primary,
        }),
    }
}

/// A current record of either kind.
#[derive(Debug, Clone)]
struct Held {
    type_id: String,
    value: String,
    primary: bool,
}

fn held(current: &ContactRecords, kind: Kind) -> Vec<Held> {
    match kind {
        Kind::Email => current
            .emails
            .iter()
            .map(|e| Held {
                type_id: e.email_type.clone(),
                value: e.address.clone(),
                primary: e.is_primary,
            })
            .collect(),
        Kind::Phone => current
            .phones
            .iter()
            .map(|p| Held {
                type_id: p.phone_type.clone(),
                value: p.number.clone(),
                primary: p.is_primary,
            })
            .collect(),
    }
}

/// Plans one person's writeback (see the module docs for the rules).
pub fn plan(current: &ContactRecords, desired: &Desired, policy: PrimaryPolicy) -> Plan {
    let mut out =
        Plan { person_id_external: current.person_id_external.clone(), ..Plan::default() };
    for (kind, wants) in [(Kind::Email, &desired.emails), (Kind::Phone, &desired.phones)] {
        plan_kind(kind, &held(current, kind), wants, policy, &mut out);
    }
    out
}

fn plan_kind(kind: Kind, held: &[Held], wants: &[Want], policy: PrimaryPolicy, out: &mut Plan) {
    let conflict = |out: &mut Plan, type_id: &str, reason: String| {
        out.conflicts.push(Conflict { kind, type_id: type_id.to_owned(), reason })
    };
    let current = |type_id: &str| held.iter().find(|h| h.type_id == type_id);

    // One want per type: the mapping writing one type twice is a conflict.
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for w in wants {
        *seen.entry(w.type_id.as_str()).or_default() += 1;
    }
    let mut kept: Vec<(&Want, bool)> = Vec::new();
    for w in wants {
        if seen.get(w.type_id.as_str()).copied().unwrap_or(0) > 1 {
            conflict(
                out,
                &w.type_id,
                format!("the mapping writes {kind} type {} twice", w.type_id),
            );
            continue;
        }
        let target = w.is_primary.unwrap_or_else(|| current(&w.type_id).is_some_and(|h| h.primary));
        kept.push((w, target));
    }

    // At most one primary asked for.
    let promoting = kept.iter().filter(|(_, t)| *t).count();
    if promoting > 1 {
        let types: Vec<&str> =
            kept.iter().filter(|(_, t)| *t).map(|(w, _)| w.type_id.as_str()).collect();
        for ty in &types {
            conflict(
                out,
                ty,
                format!(
                    "the mapping marks {} {kind} records primary ({}); only one may be",
                    types.len(),
                    types.join(", ")
                ),
            );
        }
        kept.retain(|(_, t)| !*t);
    }
    let managed = |type_id: &str| kept.iter().any(|(w, _)| w.type_id == type_id);

    // The promoted want, and the primaries it would displace that the
    // mapping does not write.
    let mut demote_others: Vec<&Held> = Vec::new();
    let mut skipped: Option<&str> = None;
    if let Some((p, _)) = kept.iter().find(|(_, t)| *t) {
        let others: Vec<&Held> = held
            .iter()
            .filter(|h| h.primary && h.type_id != p.type_id && !managed(&h.type_id))
            .collect();
        if !others.is_empty() {
            match policy {
                PrimaryPolicy::Keep => {
                    let names: Vec<&str> = others.iter().map(|h| h.type_id.as_str()).collect();
                    conflict(
                        out,
                        &p.type_id,
                        format!(
                            "SuccessFactors has {kind} type {} primary, which the mapping does not write; not demoted (primary = \"keep\")",
                            names.join(", ")
                        ),
                    );
                    skipped = Some(p.type_id.as_str());
                }
                PrimaryPolicy::Take => demote_others = others,
            }
        }
    }

    // The primaries that remain if everything planned so far lands.
    let promoted = kept.iter().any(|(w, t)| *t && Some(w.type_id.as_str()) != skipped);
    let mut remaining: usize = held
        .iter()
        .filter(|h| h.primary)
        .filter(|h| !demote_others.iter().any(|d| d.type_id == h.type_id))
        .filter(|h| !kept.iter().any(|(w, t)| w.type_id == h.type_id && !*t))
        .count()
        + usize::from(promoted);

    for h in demote_others {
        out.demote.push(Write {
            kind,
            type_id: h.type_id.clone(),
            value: h.value.clone(),
            is_primary: false,
        });
    }
    for (w, target) in kept {
        if Some(w.type_id.as_str()) == skipped {
            continue;
        }
        let now = current(&w.type_id);
        if now.is_some_and(|h| h.value == w.value && h.primary == target) {
            continue;
        }
        let demoting = now.is_some_and(|h| h.primary) && !target;
        if demoting && remaining == 0 {
            // Keep this one primary: it is the last.
            remaining += 1;
            conflict(
                out,
                &w.type_id,
                format!("it is the person's only primary {kind}; the mapping would leave none"),
            );
            continue;
        }
        let write =
            Write { kind, type_id: w.type_id.clone(), value: w.value.clone(), is_primary: target };
        if demoting {
            out.demote.push(write);
        } else {
            out.records.push(write);
        }
    }
}

/// What SuccessFactors holds after `plan` lands in full (pure; for tests and
/// for showing a plan's result).
pub fn apply(current: &ContactRecords, plan: &Plan) -> ContactRecords {
    let mut out = current.clone();
    for w in plan.demote.iter().chain(&plan.records) {
        match w.kind {
            Kind::Email => match out.emails.iter_mut().find(|e| e.email_type == w.type_id) {
                Some(e) => {
                    e.address = w.value.clone();
                    e.is_primary = w.is_primary;
                }
                None => out.emails.push(EmailRecord {
                    email_type: w.type_id.clone(),
                    address: w.value.clone(),
                    is_primary: w.is_primary,
                }),
            },
            Kind::Phone => match out.phones.iter_mut().find(|p| p.phone_type == w.type_id) {
                Some(p) => {
                    p.number = w.value.clone();
                    p.is_primary = w.is_primary;
                }
                None => out.phones.push(PhoneRecord {
                    phone_type: w.type_id.clone(),
                    number: w.value.clone(),
                    country_code: None,
                    area_code: None,
                    extension: None,
                    is_primary: w.is_primary,
                }),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(emails: &[(&str, &str, bool)]) -> ContactRecords {
        ContactRecords {
            person_id_external: "p1".into(),
            emails: emails
                .iter()
                .map(|&(t, a, p)| EmailRecord {
                    email_type: t.into(),
                    address: a.into(),
                    is_primary: p,
                })
                .collect(),
            phones: Vec::new(),
        }
    }

    fn want(t: &str, v: &str, p: Option<bool>) -> Want {
        Want { type_id: t.into(), value: v.into(), is_primary: p }
    }

    fn emails(w: Vec<Want>) -> Desired {
        Desired { emails: w, phones: Vec::new() }
    }

    #[test]
    fn nothing_changed_plans_nothing() {
        let cur = person(&[("8448", "a@x", true), ("8449", "h@x", false)]);
        let p = plan(&cur, &emails(vec![want("8448", "a@x", Some(true))]), PrimaryPolicy::Keep);
        assert!(p.is_empty() && p.conflicts.is_empty(), "{p:?}");
    }

    #[test]
    fn a_new_address_is_written_with_its_flag() {
        let cur = person(&[("8448", "old@x", true)]);
        let p = plan(&cur, &emails(vec![want("8448", "new@x", Some(true))]), PrimaryPolicy::Keep);
        assert_eq!(p.records.len(), 1);
        assert_eq!(
            p.upsert_records()[0],
            json!({"__metadata": {"uri": "PerEmail(emailType='8448',personIdExternal='p1')", "type": "SFOData.PerEmail"}, "emailAddress": "new@x", "isPrimary": true})
        );
    }

    #[test]
    fn an_hr_set_personal_primary_is_kept_and_reported() {
        let cur = person(&[("8448", "a@x", false), ("8449", "h@x", true)]);
        let d = emails(vec![want("8448", "b@x", Some(true))]);
        let p = plan(&cur, &d, PrimaryPolicy::Keep);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(p.conflicts.len(), 1);
        assert!(p.conflicts[0].to_string().contains("8449 primary"), "{}", p.conflicts[0]);

        let p = plan(&cur, &d, PrimaryPolicy::Take);
        assert_eq!(
            p.demote,
            vec![Write {
                kind: Kind::Email,
                type_id: "8449".into(),
                value: "h@x".into(),
                is_primary: false
            }]
        );
        assert_eq!(p.records.len(), 1);
        let after = apply(&cur, &p);
        assert_eq!(after.emails.iter().filter(|e| e.is_primary).count(), 1);
        assert!(plan(&after, &d, PrimaryPolicy::Take).is_empty());
    }

    #[test]
    fn moving_the_primary_between_mapped_types_demotes_first() {
        let cur = ContactRecords {
            person_id_external: "p1".into(),
            emails: Vec::new(),
            phones: vec![
                PhoneRecord {
                    phone_type: "10605".into(),
                    number: "1".into(),
                    country_code: None,
                    area_code: None,
                    extension: None,
                    is_primary: true,
                },
                PhoneRecord {
                    phone_type: "10606".into(),
                    number: "2".into(),
                    country_code: None,
                    area_code: None,
                    extension: None,
                    is_primary: false,
                },
            ],
        };
        let d = Desired {
            emails: Vec::new(),
            phones: vec![want("10605", "1", Some(false)), want("10606", "2", Some(true))],
        };
        let p = plan(&cur, &d, PrimaryPolicy::Keep);
        assert_eq!(p.demote.len(), 1);
        assert_eq!(p.demote[0].type_id, "10605");
        assert_eq!(p.records.len(), 1);
        assert_eq!(
            p.demote_records()[0]["__metadata"]["uri"],
            "PerPhone(personIdExternal='p1',phoneType='10605')"
        );
    }

    #[test]
    fn two_primaries_asked_and_the_last_primary_demoted_are_conflicts() {
        let cur = person(&[("8448", "a@x", true)]);
        let p = plan(&cur, &emails(vec![want("8448", "a@x", Some(false))]), PrimaryPolicy::Take);
        assert!(p.is_empty());
        assert_eq!(p.conflicts.len(), 1);
        let p = plan(
            &person(&[]),
            &emails(vec![want("8448", "a@x", Some(true)), want("8449", "b@x", Some(true))]),
            PrimaryPolicy::Take,
        );
        assert!(p.is_empty());
        assert_eq!(p.conflicts.len(), 2);
    }

    #[test]
    fn desired_from_writeback_names() {
        use crate::picklist::{Picklist, PicklistEntry};
        let pl = |id: &str, opts: &[(&str, &str, &str)]| Picklist {
            picklist_id: id.into(),
            options: opts
                .iter()
                .map(|&(i, c, l)| PicklistEntry {
                    id: i.into(),
                    external_code: c.into(),
                    labels: vec![l.into()],
                })
                .collect(),
        };
        let types = ContactTypes {
            email: pl("ecEmailType", &[("8448", "B", "Business"), ("8449", "P", "Personal")]),
            phone: pl("ecPhoneType", &[("10605", "B", "Business"), ("10606", "C", "Cell")]),
        };
        let v: BTreeMap<String, String> = [
            ("email", "a@x"),
            ("isPrimaryEmail", "true"),
            ("businessPhone", "+1 555"),
            ("businessPhoneIsPrimary", "False"),
            ("cellPhone", " "),
            ("personIdExternal", "p1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let d = Desired::from_writeback(&v, &types).unwrap();
        assert_eq!(d.emails, vec![want("8448", "a@x", Some(true))]);
        assert_eq!(d.phones, vec![want("10605", "+1 555", Some(false))]);
        assert_eq!(PersonKey::from_writeback(&v), Ok(PersonKey::PersonIdExternal("p1".into())));
        let mut v2 = v.clone();
        v2.insert("userId".into(), "u9".into());
        v2.insert("emailType".into(), "work".into());
        assert_eq!(PersonKey::from_writeback(&v2), Ok(PersonKey::UserId("u9".into())));
        let e = Desired::from_writeback(&v2, &types).unwrap_err().to_string();
        assert!(
            e.contains("emailType") && e.contains("`work`") && e.contains("personal (P, 8449)"),
            "{e}"
        );
        assert!(Desired::check_type_names(&v2, &types).is_err());
        v2.insert("emailType".into(), "8448".into());
        v2.insert("isPrimaryEmail".into(), "maybe".into());
        assert!(matches!(Desired::from_writeback(&v2, &types), Err(DesiredError::Flag { .. })));
    }
}
