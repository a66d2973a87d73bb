//! `hrsync-targets`: the registry of target kinds. It owns the typed
//! configuration of every kind ([`TargetConfig`], each variant the kind's
//! own `config.rs` type) and the one function that turns it into a target
//! ([`build`]). The config loader deserializes `[target]` /
//! `[target.connection]` into [`TargetConfig`] through
//! [`TargetConfig::from_connection`], so target settings are reported with
//! `file:line:col: field` like every other key; the binary calls [`build`].
//!
//! Adding a kind touches this crate in five places, all in this file: a
//! [`Kind`] variant, a [`TargetConfig`] variant, its arm in
//! [`TargetConfig::from_connection`] (with `problems`, `warnings`,
//! `resolve_paths` and `set_secret`), its [`Kind::secret_keys`] and its arm in
//! [`build`].

use std::path::Path;

use hrsync_target::Target;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};

pub use hrsync_target::attr;
pub use hrsync_target_embedded::{EmbeddedConfig, EmbeddedTarget};
pub use hrsync_target_graph::{GraphConfig, GraphTarget};
pub use hrsync_target_ldap::{LdapConfig, LdapTarget};
pub use hrsync_target_scim::{ScimConfig, ScimTarget};

/// The `kind` of `[target]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// hrsync's own SQLite directory (`path`, `unique` in `[target]`).
    Embedded,
    /// LDAP or Active Directory (`[target.connection]`: [`LdapConfig`]).
    Ldap,
    /// SCIM 2.0 (`[target.connection]`: [`ScimConfig`]).
    Scim,
    /// Microsoft Entra ID through Microsoft Graph (`[target.connection]`:
    /// [`GraphConfig`]).
    Graph,
}

impl Kind {
    /// The name as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Embedded => "embedded",
            Kind::Ldap => "ldap",
            Kind::Scim => "scim",
            Kind::Graph => "graph",
        }
    }

    /// Whether hrsync can provision into this kind yet.
    pub fn implemented(self) -> bool {
        true
    }

    /// The keys of `[target.connection]` that name its secrets: the config
    /// loader reads the first pair present (an environment variable or a
    /// file; the inline key is refused) and hands the secret over with
    /// [`TargetConfig::set_secret_named`].
    pub fn secret_keys(self) -> &'static [SecretKeys] {
        const PASSWORD: SecretKeys =
            SecretKeys { inline: "password", env: "password_env", file: "password_file" };
        const TOKEN: SecretKeys =
            SecretKeys { inline: "token", env: "token_env", file: "token_file" };
        const CLIENT_SECRET: SecretKeys = SecretKeys {
            inline: "client_secret",
            env: "client_secret_env",
            file: "client_secret_file",
        };
        match self {
            Kind::Embedded => &[],
            Kind::Ldap => &[PASSWORD],
            Kind::Scim => &[TOKEN, CLIENT_SECRET],
            Kind::Graph => &[CLIENT_SECRET],
        }
    }

    /// Whether the kind's settings are a `[target.connection]` table (as
    /// opposed to keys of `[target]` itself, as for `embedded`).
    pub fn has_connection(self) -> bool {
        !matches!(self, Kind::Embedded)
    }

    /// The kinds that can be used, for messages.
    pub fn implemented_names() -> Vec<&'static str> {
        [Kind::Embedded, Kind::Ldap, Kind::Scim, Kind::Graph]
            .into_iter()
            .filter(|k| k.implemented())
            .map(Kind::name)
            .collect()
    }
}

/// The names of one secret in `[target.connection]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretKeys {
    /// The inline key, always refused (`password`, `token`).
    pub inline: &'static str,
    /// The key naming an environment variable (`password_env`).
    pub env: &'static str,
    /// The key naming a file (`password_file`).
    pub file: &'static str,
}

/// A target's configuration, typed per kind.
// One per loaded config: the size of the LDAP variant costs nothing, and
// unboxed variants keep `TargetConfig::Ldap(c)` patterns plain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum TargetConfig {
    Embedded(EmbeddedConfig),
    Ldap(LdapConfig),
    Scim(ScimConfig),
    Graph(GraphConfig),
    /// A kind that is planned but not implemented (`scim`): such configs
    /// always loaded (commands that need no target, such as `logs`, work),
    /// so they still do, with a warning; [`build`] refuses them.
    Planned(PlannedConfig),
}

/// The settings of a planned kind, kept as written.
#[derive(Debug, Clone)]
pub struct PlannedConfig {
    pub kind: Kind,
    /// `[target.connection]` without its secret keys.
    pub connection: serde_json::Map<String, serde_json::Value>,
    /// The secret read from `password_env` / `password_file`, if any.
    pub secret: Option<SecretString>,
}

/// A `[target.connection]` table, read.
#[derive(Debug, Clone)]
pub struct Connection {
    pub config: TargetConfig,
    /// Keys no setting of the kind reads, as dotted paths inside the table
    /// (`start_tls`, `disable.vaule`).
    pub unknown: Vec<String>,
}

impl Kind {
    /// Whether an unknown key in `[target.connection]` is an error. It is
    /// for every kind with such a table: a mistyped LDAP `starttls` would
    /// send the bind password in clear, a mistyped SCIM `token_env` or
    /// `concurrency` would silently run with the default.
    pub fn refuses_unknown_keys(self) -> bool {
        matches!(self, Kind::Ldap | Kind::Scim | Kind::Graph)
    }

    /// The keys that may be written in the table at `parent` (a dotted path
    /// inside `[target.connection]`, `""` for the table itself), as their
    /// types declare them to serde, secret keys included.
    pub fn known_keys(self, parent: &str) -> Vec<&'static str> {
        let mut keys = match (self, parent) {
            (Kind::Ldap, "") => struct_fields::<LdapConfig>(),
            (Kind::Ldap, "disable") => struct_fields::<hrsync_target_ldap::DisableStrategy>(),
            (Kind::Scim, "") => struct_fields::<ScimConfig>(),
            (Kind::Scim, "quirks") => struct_fields::<hrsync_target_scim::Quirks>(),
            (Kind::Graph, "") => struct_fields::<GraphConfig>(),
            _ => Vec::new(),
        };
        if parent.is_empty() {
            keys.extend(self.secret_keys().iter().flat_map(|k| [k.env, k.file]));
        }
        keys
    }

    /// The known key an unknown `key` (dotted path) was probably meant to
    /// be: same letters but for case, `_` and `-`, or at most one edit away
    /// (two for longer keys), as `start_tls` for `starttls`.
    pub fn suggest(self, key: &str) -> Option<&'static str> {
        let (parent, leaf) = key.rsplit_once('.').unwrap_or(("", key));
        let fold = |s: &str| -> String {
            s.chars().filter(|c| !matches!(c, '_' | '-')).flat_map(char::to_lowercase).collect()
        };
        let leaf_folded = fold(leaf);
        let known = self.known_keys(parent);
        if let Some(k) = known.iter().find(|k| fold(k) == leaf_folded) {
            return Some(k);
        }
        let limit = if leaf.chars().count() >= 8 { 2 } else { 1 };
        known
            .into_iter()
            .map(|k| (strsim::damerau_levenshtein(&leaf.to_lowercase(), k), k))
            .filter(|(d, _)| *d <= limit)
            .min_by_key(|(d, _)| *d)
            .map(|(_, k)| k)
    }
}

/// The field names a struct's `Deserialize` asks for (serde passes them to
/// `deserialize_struct`), so key suggestions cannot drift from the types.
/// Empty for a type that is not read as a struct.
fn struct_fields<T: serde::de::DeserializeOwned>() -> Vec<&'static str> {
    use serde::de::{Error as _, Visitor, value::Error};

    struct Probe<'a>(&'a mut Vec<&'static str>);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Error> {
            self.0.extend_from_slice(fields);
            Err(Error::custom("fields read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields = Vec::new();
    // The error is the probe's own: the fields are what it was for.
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// A problem or warning at a key, as a dotted path inside the kind's
/// settings (`base_dn`, `disable.container`; for `embedded`, keys of `[target]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub field: String,
    pub message: String,
}

impl TargetConfig {
    /// Deserialize the `[target.connection]` table of `kind`. Unknown keys
    /// do not stop the read: all of them are returned in
    /// [`Connection::unknown`], for the loader to report at their lines
    /// (as errors when [`Kind::refuses_unknown_keys`], with
    /// [`Kind::suggest`]'s key). The secret keys (`password_env`,
    /// `password_file`) are the loader's: it resolves them and passes the
    /// secret to [`TargetConfig::set_secret`], so they must be taken out first.
    pub fn from_connection<'de, D: Deserializer<'de>>(
        kind: Kind,
        connection: D,
    ) -> Result<Connection, D::Error> {
        use serde::de::Error;
        let mut unknown = Vec::new();
        let config = match kind {
            Kind::Ldap => {
                // serde_ignored writes `?` for the `Some` of an optional
                // table (`disable.?.vaule`); the key path is without it.
                let found = |key: serde_ignored::Path<'_>| {
                    let key = key.to_string();
                    unknown.push(key.split('.').filter(|k| *k != "?").collect::<Vec<_>>().join("."))
                };
                serde_ignored::deserialize(connection, found).map(TargetConfig::Ldap)?
            }
            Kind::Scim => {
                let found = |key: serde_ignored::Path<'_>| {
                    let key = key.to_string();
                    unknown.push(key.split('.').filter(|k| *k != "?").collect::<Vec<_>>().join("."))
                };
                serde_ignored::deserialize(connection, found).map(TargetConfig::Scim)?
            }
            Kind::Graph => {
                let found = |key: serde_ignored::Path<'_>| {
                    let key = key.to_string();
                    unknown.push(key.split('.').filter(|k| *k != "?").collect::<Vec<_>>().join("."))
                };
                serde_ignored::deserialize(connection, found).map(TargetConfig::Graph)?
            }
            Kind::Embedded => {
                return Err(D::Error::custom(format!(
                    "target kind `{}` has no [target.connection] table",
                    kind.name()
                )));
            }
        };
        Ok(Connection { config, unknown })
    }

    pub fn kind(&self) -> Kind {
        match self {
            TargetConfig::Embedded(_) => Kind::Embedded,
            TargetConfig::Ldap(_) => Kind::Ldap,
            TargetConfig::Scim(_) => Kind::Scim,
            TargetConfig::Graph(_) => Kind::Graph,
            TargetConfig::Planned(p) => p.kind,
        }
    }

    /// The connection's secret (the LDAP bind password), read by the config
    /// loader from `password_env` / `password_file`.
    pub fn set_secret(&mut self, secret: SecretString) {
        match self {
            TargetConfig::Embedded(_) => {}
            TargetConfig::Ldap(c) => c.password = secret,
            TargetConfig::Scim(c) => c.token = Some(secret),
            TargetConfig::Graph(c) => c.client_secret = Some(secret),
            TargetConfig::Planned(p) => p.secret = Some(secret),
        }
    }

    /// A secret by its inline key name ([`SecretKeys::inline`]): SCIM's
    /// `token` or `client_secret`; any other name is the kind's one secret.
    pub fn set_secret_named(&mut self, name: &str, secret: SecretString) {
        match self {
            TargetConfig::Scim(c) if name == "client_secret" => c.client_secret = Some(secret),
            _ => self.set_secret(secret),
        }
    }

    /// Resolve relative paths in the settings (CA files) against `dir`, the
    /// config file's directory. The embedded target's `path` is resolved
    /// by the loader, which builds that config.
    pub fn resolve_paths(&mut self, dir: &Path) {
        match self {
            TargetConfig::Embedded(_) | TargetConfig::Planned(_) => {}
            TargetConfig::Ldap(c) => {
                if let Some(ca) = &mut c.ca_file {
                    *ca = dir.join(&*ca);
                }
            }
            TargetConfig::Scim(c) => {
                if let Some(ca) = &mut c.ca_file {
                    *ca = dir.join(&*ca);
                }
                if let Some(f) = &mut c.schema_file {
                    *f = dir.join(&*f);
                }
            }
            TargetConfig::Graph(c) => c.resolve_paths(dir),
        }
    }

    /// Everything wrong with the settings that can be found without
    /// connecting: each problem is a config error at its field.
    pub fn problems(&self) -> Vec<Finding> {
        match self {
            TargetConfig::Embedded(c) => c
                .problems()
                .into_iter()
                .map(|(field, message)| Finding { field, message })
                .collect(),
            TargetConfig::Ldap(c) => c
                .problems()
                .into_iter()
                .map(|e| Finding { field: e.field().to_owned(), message: e.reason() })
                .collect(),
            TargetConfig::Scim(c) => c
                .problems()
                .into_iter()
                .map(|e| Finding { field: e.field.to_owned(), message: e.reason })
                .collect(),
            TargetConfig::Graph(c) => c
                .problems()
                .into_iter()
                .map(|e| Finding { field: e.field.to_owned(), message: e.message })
                .collect(),
            TargetConfig::Planned(_) => Vec::new(),
        }
    }

    /// Settings that work but weaken security (logged as warnings).
    pub fn warnings(&self) -> Vec<Finding> {
        match self {
            TargetConfig::Embedded(_) | TargetConfig::Planned(_) => Vec::new(),
            TargetConfig::Ldap(c) => c
                .warnings()
                .into_iter()
                .map(|w| Finding { field: w.field.to_owned(), message: w.message })
                .collect(),
            TargetConfig::Scim(c) => c
                .warnings()
                .into_iter()
                .map(|w| Finding { field: w.field.to_owned(), message: w.message })
                .collect(),
            TargetConfig::Graph(c) => c
                .warnings()
                .into_iter()
                .map(|w| Finding { field: w.field.to_owned(), message: w.message })
                .collect(),
        }
    }
}

/// What a target needs from the flow it serves.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildContext<'a> {
    /// Attributes the engine looks accounts up by (matching and unique
    /// attributes): the embedded target indexes them.
    pub lookup_attributes: &'a [&'a str],
}

/// Why a target could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("opening the embedded target {path}: {source}")]
    Embedded {
        path: std::path::PathBuf,
        #[source]
        source: hrsync_target::TargetError,
    },
    #[error("[target.connection]: {0}")]
    Ldap(#[from] hrsync_target_ldap::ConfigError),
    #[error("[target.connection]: {0}")]
    Scim(#[from] hrsync_target_scim::ConfigError),
    #[error("[target.connection]: {0}")]
    Graph(#[from] hrsync_target_graph::BuildError),
    #[error("target kind `{kind}` is not implemented yet")]
    NotImplemented { kind: &'static str },
}

/// The target a config describes. No connection is made yet (LDAP connects
/// on first use); the embedded file is opened and locked.
pub fn build(
    config: &TargetConfig,
    context: &BuildContext<'_>,
) -> Result<Box<dyn Target>, BuildError> {
    Ok(match config {
        TargetConfig::Embedded(c) => {
            let unique: Vec<&str> = c.unique.iter().map(String::as_str).collect();
            let t = EmbeddedTarget::open_indexed(&c.path, &unique, context.lookup_attributes)
                .map_err(|source| BuildError::Embedded { path: c.path.clone(), source })?;
            Box::new(t)
        }
        TargetConfig::Ldap(c) => Box::new(LdapTarget::new(c.clone())?),
        TargetConfig::Scim(c) => Box::new(ScimTarget::new(c.clone())?),
        TargetConfig::Graph(c) => Box::new(GraphTarget::new(c.clone())?),
        TargetConfig::Planned(p) => return Err(BuildError::NotImplemented { kind: p.kind.name() }),
    })
}

#[cfg(test)]
mod tests;
