//! A flow's compiled mapping: what is read from each record, how it maps to
//! target attributes, who is in scope and how workers are matched.

use hrsync_mapping::{
    CompiledAttributeMapping, CompiledMapping, CompiledScope, CompiledSource, MappingConfig,
    SourceSchema,
};

/// Target attributes that are passwords wherever they appear (AD, LDAP,
/// SCIM).
const WELL_KNOWN_SECRETS: &[&str] = &["unicodePwd", "userPassword", "password"];

/// The compiled mapping of one flow: source paths, target expressions,
/// scoping filter and the matching precedence.
#[derive(Clone)]
pub struct CompiledFlow {
    pub source: CompiledSource,
    pub mapping: CompiledMapping,
    pub scope: Option<CompiledScope>,
    /// Indices of the mappings whose values come from `SelectUniqueValue`.
    pub(crate) unique: Vec<usize>,
}

/// A mapping that does not compile.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Mapping(Vec<hrsync_mapping::MappingError>),
    #[error(transparent)]
    Scope(#[from] hrsync_mapping::scope::ScopeError),
    #[error(transparent)]
    Schema(#[from] hrsync_mapping::SchemaError),
}

impl CompiledFlow {
    /// Compile a mapping against a source schema: the mapped attributes'
    /// paths, the expressions (with static checks) and the scoping filter.
    pub fn compile(schema: &SourceSchema, config: &MappingConfig) -> Result<Self, FlowError> {
        let mapping =
            CompiledMapping::compile(&config.mappings, schema).map_err(FlowError::Mapping)?;
        let scope = config.scope.as_ref().map(|s| s.compile(schema)).transpose()?;
        let mut names: Vec<&str> = mapping.referenced_attributes();
        if let Some(s) = &config.scope {
            names.extend(s.attributes());
        }
        let source = schema.compile(names)?;
        let unique = mapping
            .mappings()
            .iter()
            .enumerate()
            .filter(|(_, m)| m.expr().is_some_and(|e| e.calls("SelectUniqueValue")))
            .map(|(i, _)| i)
            .collect();
        Ok(CompiledFlow { source, mapping, scope, unique })
    }

    /// Target attributes the engine looks workers up by, in precedence order.
    pub fn matching_attributes(&self) -> Vec<&str> {
        self.mapping.matching().into_iter().map(|m| m.config.target.as_str()).collect()
    }

    /// Target attributes the engine searches the target by: the matching
    /// ones and those whose values come from `SelectUniqueValue` (each
    /// candidate is a uniqueness lookup). Targets that index selectively
    /// should index these.
    pub fn lookup_attributes(&self) -> Vec<&str> {
        let mut out = self.matching_attributes();
        for m in self.unique_mappings() {
            if !out.contains(&m.config.target.as_str()) {
                out.push(m.config.target.as_str());
            }
        }
        out
    }

    /// The mappings whose values come from `SelectUniqueValue` (each
    /// candidate is a uniqueness question to the target).
    pub(crate) fn unique_mappings(&self) -> impl Iterator<Item = &CompiledAttributeMapping> {
        self.unique.iter().filter_map(|&i| self.mapping.mappings().get(i))
    }

    /// Whether a target attribute holds a secret: marked `secret` in the
    /// mapping, or one every target treats as a password. Secrets are
    /// written to the target and never kept or shown.
    pub fn is_secret(&self, attribute: &str) -> bool {
        WELL_KNOWN_SECRETS.iter().any(|s| s.eq_ignore_ascii_case(attribute))
            || self
                .mapping
                .mappings()
                .iter()
                .any(|m| m.config.secret && m.config.target.eq_ignore_ascii_case(attribute))
    }

    /// Whether mapping `i` takes its value from `SelectUniqueValue`.
    pub(crate) fn is_unique(&self, i: usize) -> bool {
        self.unique.contains(&i)
    }
}
