//! `hrsync-mapping`: the source side of a provisioning flow, Entra-style, over
//! SAP SuccessFactors `PerPerson` records. No I/O.
//!
//! Two layers, as in Microsoft Entra:
//! 1. **Source attributes**: each a JSONPath over the expanded PerPerson
//!    record ([`path::SourcePath`], Entra's dialect). The built-in
//!    [`Catalog`] (`catalog/successfactors.toml`) predefines Entra's
//!    SuccessFactors attributes; config adds attributes and overrides paths
//!    ([`SourceSchema`]). Only the attributes a flow uses are compiled
//!    ([`CompiledSource`]) and extracted, once per record, into a
//!    [`SourceRecord`] that implements [`hrsync_expr::Attributes`].
//! 2. **Target mappings**: each an expression in Entra's language
//!    ([`CompiledMapping`]), statically checked at load against the known
//!    source attributes.
//!
//! Plus the `$expand` list derived from the mapped attributes
//! ([`SourceSchema::expand_for`], [`expand_for`]) and scoping filters
//! ([`ScopingFilter`]).
//!
//! Typical use:
//! ```ignore
//! let config = MappingConfig::sf_to_ad()?;
//! let schema = SourceSchema::new(Catalog::builtin().clone(), &config.source_attributes)?;
//! let mapping = CompiledMapping::compile(&config.mappings, &schema)?;
//! let scope = config.scope.unwrap_or_default().compile(&schema)?;
//! let source = schema.compile(mapping.referenced_attributes().into_iter()
//!     .chain(config.scope.iter().flat_map(|s| s.attributes())))?;
//! // connector: $expand = source.expand()
//! let record = source.extract(&serde_json::from_slice(bytes)?);
//! if scope.is_in_scope(&record) { mapping.evaluate(&record, &mut ctx, Phase::Create); }
//! ```

pub mod catalog;
pub mod directory;
pub mod mapping;
pub mod path;
pub mod scope;
pub mod select;
pub mod source;

pub use catalog::{
    AttrType, AttributeDef, Catalog, Navigation, SchemaError, SourceAttributeConfig, SourceSchema,
    expand_for,
};
pub use directory::directory_schema;
pub use mapping::{
    Apply, AttributeMapping, CompiledAttributeMapping, CompiledMapping, ConfigError, FlowBehavior,
    MAX_VALUE_BYTES, MappingConfig, MappingError, Phase, TargetValue,
};
pub use path::{PathError, SourcePath};
pub use scope::{Clause, CompiledScope, ScopeGroup, ScopeOperator, ScopeResult, ScopingFilter};
pub use source::{AttributeExplain, CompiledSource, SourceRecord};
