//! Target attribute mappings: the TOML/serde shape the config uses, and their
//! compiled, checked form.
//!
//! Entra's mapping types all fit one shape: *Direct* is the expression
//! `[attr]`, *Constant* is `"text"`, *Expression* is any expression, and
//! *None* is no expression with a `default`.
//!
//! ```toml
//! [[mapping]]
//! target = "employeeID"
//! expression = "[personIdExternal]"
//! matching = 1            # matching precedence: lowest is tried first
//! apply = "always"        # or "on-create" (Entra: ObjectAddOnly)
//! flow = "when-changed"   # or "always" (Entra: FlowAlways)
//! default = "n/a"         # used on create when the expression yields null
//! ```

use std::collections::BTreeSet;

use hrsync_expr::{Attributes, EvalContext, EvalError, Expr, Outcome, Value};
use serde::{Deserialize, Serialize};

use crate::catalog::{SourceAttributeConfig, SourceSchema};
use crate::scope::ScopingFilter;

/// When a mapping applies (Entra `flowType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Apply {
    /// On create and on every update (`Always`).
    #[default]
    Always,
    /// Only when the target object is created (`ObjectAddOnly`).
    OnCreate,
}

/// When a value is exported (Entra `flowBehavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowBehavior {
    /// Only when the value differs from the target's (`FlowWhenChanged`).
    #[default]
    WhenChanged,
    /// Every time the object is processed (`FlowAlways`).
    Always,
}

/// One target attribute mapping as config writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeMapping {
    /// Target attribute name.
    pub target: String,
    /// Expression over source attributes; absent for Entra's "None" mapping
    /// (only `default`, on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// Value used on create when the expression yields null (never on update).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Matching precedence (1 = tried first); absent = not a matching attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching: Option<u32>,
    /// When the mapping applies.
    #[serde(default)]
    pub apply: Apply,
    /// When the value is exported.
    #[serde(default)]
    pub flow: FlowBehavior,
    /// The worker is not provisioned (it fails and is escrowed) while this
    /// attribute would be empty on create: an account without it is worse
    /// than no account.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// The value is a secret (an initial password): written to the target,
    /// never kept in the state store, the provisioning log or any output.
    /// Attributes every target treats as passwords (`unicodePwd`,
    /// `userPassword`, `password`) are secret whether or not this is set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// A flow's mapping file: extra/overridden source attributes, the scoping
/// filter and the target mappings. The default SuccessFactors-to-AD mapping
/// (`defaults/sf-to-ad.toml`) has this shape.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// Human name of the flow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Source attributes added to or overriding the catalog.
    #[serde(default, rename = "source_attribute", skip_serializing_if = "Vec::is_empty")]
    pub source_attributes: Vec<SourceAttributeConfig>,
    /// Source object scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopingFilter>,
    /// Target attribute mappings.
    #[serde(default, rename = "mapping")]
    pub mappings: Vec<AttributeMapping>,
}

/// The built-in default SuccessFactors-to-Active-Directory mapping.
pub const SF_TO_AD_TOML: &str = include_str!("../defaults/sf-to-ad.toml");

/// The built-in default SuccessFactors-to-OpenLDAP (`inetOrgPerson`) mapping.
pub const SF_TO_OPENLDAP_TOML: &str = include_str!("../defaults/sf-to-openldap.toml");

/// The built-in default SuccessFactors-to-SCIM 2.0 mapping (core User and
/// the enterprise extension, matched by `externalId`).
pub const SF_TO_SCIM_TOML: &str = include_str!("../defaults/sf-to-scim.toml");

/// The built-in SuccessFactors-to-Salesforce (SCIM) mapping: the SCIM
/// mapping plus Salesforce's required user fields.
pub const SF_TO_SALESFORCE_TOML: &str = include_str!("../defaults/sf-to-salesforce.toml");

/// The built-in SuccessFactors-to-Microsoft-Entra-ID mapping (cloud-only
/// users through Microsoft Graph, Graph user property names, matched by
/// `employeeId`).
pub const SF_TO_ENTRA_TOML: &str = include_str!("../defaults/sf-to-entra.toml");

/// The built-in writeback mapping of Entra's scenario 1: the directory's
/// `mail` as the business email, primary (`builtin:writeback-email`).
pub const WRITEBACK_EMAIL_TOML: &str = include_str!("../defaults/writeback-email.toml");

/// The built-in writeback mapping of Entra's scenario 2: business email,
/// business phone (primary) and cell phone (`builtin:writeback-email-phone`).
pub const WRITEBACK_EMAIL_PHONE_TOML: &str = include_str!("../defaults/writeback-email-phone.toml");

/// The most a mapped value may hold: 64 KiB of UTF-8 (a multi-valued
/// attribute's values together). Far above any directory's limits (AD's
/// largest name attributes take 256 to 1,024 characters), and small enough
/// that a hostile source value cannot grow the target, the state file and
/// the provisioning log without bound (a 50 MB name once gave a 52 MB
/// userPrincipalName and a 210 MB state file). A larger value fails its
/// worker, naming the attribute and the size.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// The size of a value as written to a target: the UTF-8 bytes of its text
/// (of every element, for a multi-valued attribute).
fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Null => 0,
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().map(value_bytes).sum(),
        other => other.as_str_lossy().map_or(0, |s| s.len()),
    }
}

/// A mapping file that is not valid TOML of the [`MappingConfig`] shape
/// (the message names the line and the offending key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mapping config: {0}")]
pub struct ConfigError(pub String);

impl MappingConfig {
    /// Parse a mapping file.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError(e.to_string()))
    }

    /// Entra's default SuccessFactors-to-AD mapping, as shipped.
    pub fn sf_to_ad() -> Result<Self, ConfigError> {
        Self::from_toml(SF_TO_AD_TOML)
    }

    /// The default SuccessFactors-to-OpenLDAP mapping, as shipped: entries
    /// placed under `ou=people,dc=example,dc=org` by company and department
    /// (rewrite the base for your tree), matched by `employeeNumber`.
    pub fn sf_to_openldap() -> Result<Self, ConfigError> {
        Self::from_toml(SF_TO_OPENLDAP_TOML)
    }

    /// The default SuccessFactors-to-Microsoft-Entra-ID mapping, as shipped:
    /// Microsoft Graph user properties, matched by `employeeId`, user
    /// principal names in `contoso.com` (rewrite it for your tenant).
    pub fn sf_to_entra() -> Result<Self, ConfigError> {
        Self::from_toml(SF_TO_ENTRA_TOML)
    }
}

/// A mapping that failed to compile. Names the target attribute.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingError {
    /// The expression does not parse.
    #[error("mapping for `{target}`: expression `{expression}`: {error}")]
    Parse {
        /// Target attribute.
        target: String,
        /// The expression text.
        expression: String,
        /// Parser error (carries the position).
        error: hrsync_expr::ParseError,
    },
    /// Static checks failed (unknown function, arity, unknown attribute).
    #[error("mapping for `{target}`: expression `{expression}`: {}", join_errors(.errors))]
    Check {
        /// Target attribute.
        target: String,
        /// The expression text.
        expression: String,
        /// Every problem found.
        errors: Vec<hrsync_expr::CheckError>,
    },
    /// Two mappings write the same target attribute.
    #[error("target attribute `{0}` is mapped twice")]
    DuplicateTarget(String),
    /// Neither expression nor default.
    #[error("mapping for `{0}` has neither expression nor default")]
    Empty(String),
}

fn join_errors(errors: &[hrsync_expr::CheckError]) -> String {
    errors.iter().map(|e| format!("{e} (at byte {})", e.span.start)).collect::<Vec<_>>().join("; ")
}

/// One compiled mapping.
#[derive(Debug, Clone)]
pub struct CompiledAttributeMapping {
    /// The mapping as configured.
    pub config: AttributeMapping,
    expr: Option<Expr>,
}

impl CompiledAttributeMapping {
    /// The parsed expression (`None` for a default-only mapping).
    pub fn expr(&self) -> Option<&Expr> {
        self.expr.as_ref()
    }
}

/// Whether the target object is being created or updated: decides which
/// mappings apply and whether defaults are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The target object does not exist yet.
    Create,
    /// The target object exists.
    Update,
}

/// The result for one target attribute.
#[derive(Debug)]
pub struct TargetValue<'m> {
    /// Target attribute name.
    pub target: &'m str,
    /// The mapping that produced it.
    pub mapping: &'m CompiledAttributeMapping,
    /// The expression's outcome, after the create-time default: a value
    /// (`Value::Null` means "no value") of at most [`MAX_VALUE_BYTES`],
    /// `IgnoreFlow`, or the evaluation error (a larger value is one).
    pub outcome: Result<Outcome, EvalError>,
    /// Whether `default` replaced a null result.
    pub defaulted: bool,
}

/// A set of target mappings, compiled and statically checked.
#[derive(Debug, Clone)]
pub struct CompiledMapping {
    mappings: Vec<CompiledAttributeMapping>,
}

impl CompiledMapping {
    /// Parse and check every mapping against the schema's attributes. All
    /// problems are reported, each naming its target attribute.
    pub fn compile(
        mappings: &[AttributeMapping],
        schema: &SourceSchema,
    ) -> Result<Self, Vec<MappingError>> {
        let mut errors = Vec::new();
        let mut out = Vec::with_capacity(mappings.len());
        let mut targets = BTreeSet::new();
        let known = |name: &str| schema.contains(name);
        for m in mappings {
            if !targets.insert(m.target.as_str()) {
                errors.push(MappingError::DuplicateTarget(m.target.clone()));
                continue;
            }
            let expr = match &m.expression {
                None if m.default.is_none() => {
                    errors.push(MappingError::Empty(m.target.clone()));
                    continue;
                }
                None => None,
                Some(src) => match hrsync_expr::parse(src) {
                    Err(error) => {
                        errors.push(MappingError::Parse {
                            target: m.target.clone(),
                            expression: src.clone(),
                            error,
                        });
                        continue;
                    }
                    Ok(expr) => {
                        let problems = hrsync_expr::check(&expr, &known);
                        if !problems.is_empty() {
                            errors.push(MappingError::Check {
                                target: m.target.clone(),
                                expression: src.clone(),
                                errors: problems,
                            });
                            continue;
                        }
                        Some(expr)
                    }
                },
            };
            out.push(CompiledAttributeMapping { config: m.clone(), expr });
        }
        if errors.is_empty() { Ok(Self { mappings: out }) } else { Err(errors) }
    }

    /// The compiled mappings, in config order.
    pub fn mappings(&self) -> &[CompiledAttributeMapping] {
        &self.mappings
    }

    /// Matching mappings, by precedence (lowest first).
    pub fn matching(&self) -> Vec<&CompiledAttributeMapping> {
        let mut m: Vec<_> = self.mappings.iter().filter(|m| m.config.matching.is_some()).collect();
        m.sort_by_key(|m| m.config.matching);
        m
    }

    /// Every source attribute the expressions reference (for
    /// [`SourceSchema::compile`] and `$expand`), sorted, without duplicates.
    pub fn referenced_attributes(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self
            .mappings
            .iter()
            .filter_map(|m| m.expr.as_ref())
            .flat_map(|e| e.attribute_refs())
            .collect();
        set.into_iter().collect()
    }

    /// Evaluate every mapping that applies in `phase` (on-create mappings
    /// only on [`Phase::Create`]), in config order. On create, a mapping's
    /// `default` replaces a null result.
    pub fn evaluate<'m>(
        &'m self,
        record: &dyn Attributes,
        ctx: &mut EvalContext,
        phase: Phase,
    ) -> Vec<TargetValue<'m>> {
        self.applicable(phase).filter_map(|m| m.evaluate(record, ctx, phase)).collect()
    }

    /// Like [`evaluate`](Self::evaluate), with the expression trace of each
    /// mapping (for explain / on-demand output).
    pub fn evaluate_traced<'m>(
        &'m self,
        record: &dyn Attributes,
        ctx: &mut EvalContext,
        phase: Phase,
    ) -> Vec<(TargetValue<'m>, Option<hrsync_expr::Trace>)> {
        self.applicable(phase)
            .map(|m| match &m.expr {
                Some(e) => {
                    let (outcome, trace) = hrsync_expr::eval_traced(e, record, ctx);
                    (finish(m, outcome, phase), Some(trace))
                }
                None => (finish(m, Ok(Outcome::Value(Value::Null)), phase), None),
            })
            .collect()
    }

    fn applicable(&self, phase: Phase) -> impl Iterator<Item = &CompiledAttributeMapping> {
        self.mappings
            .iter()
            .filter(move |m| phase == Phase::Create || m.config.apply == Apply::Always)
    }
}

impl CompiledAttributeMapping {
    /// Evaluate this one mapping for `phase`: `None` when it does not apply
    /// then (an on-create mapping on update). On create, `default` replaces
    /// a null result. [`CompiledMapping::evaluate`] is this over every
    /// mapping with one context; the engine calls it per mapping, each with
    /// the uniqueness answers of its own attribute.
    pub fn evaluate(
        &self,
        record: &dyn Attributes,
        ctx: &mut EvalContext,
        phase: Phase,
    ) -> Option<TargetValue<'_>> {
        if phase == Phase::Update && self.config.apply != Apply::Always {
            return None;
        }
        let outcome = match &self.expr {
            Some(e) => hrsync_expr::eval(e, record, ctx),
            None => Ok(Outcome::Value(Value::Null)),
        };
        Some(finish(self, outcome, phase))
    }
}

fn finish(
    m: &CompiledAttributeMapping,
    outcome: Result<Outcome, EvalError>,
    phase: Phase,
) -> TargetValue<'_> {
    let null = matches!(outcome, Ok(Outcome::Value(Value::Null)));
    let (outcome, defaulted) = match (&m.config.default, phase) {
        (Some(d), Phase::Create) if null => (Ok(Outcome::Value(Value::String(d.clone()))), true),
        _ => (outcome, false),
    };
    // Checked here, where every mapped value comes out, so no caller can
    // write or store a larger one. The message never quotes the value.
    let outcome = match outcome {
        Ok(Outcome::Value(v)) if value_bytes(&v) > MAX_VALUE_BYTES => Err(EvalError {
            function: String::new(),
            span: 0..m.config.expression.as_ref().map_or(0, String::len),
            message: format!(
                "the value is {} bytes of UTF-8, more than the {MAX_VALUE_BYTES} bytes a mapped value may have",
                value_bytes(&v)
            ),
        }),
        other => other,
    };
    TargetValue { target: &m.config.target, mapping: m, outcome, defaulted }
}
