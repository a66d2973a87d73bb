//! `hrsync-config`: hrsync's configuration file (TOML), parsed into typed,
//! validated settings the engine uses without reparsing.
//!
//! Contract:
//! - [`Config::load`] / [`Config::parse`] report **every** problem they can
//!   find (syntax errors stop at the first), each as
//!   `file:line:col: field `flow.mapping[3].expression`: cause`
//!   ([`ConfigError`]). Array indices in field paths are 0-based.
//! - Unknown keys are errors everywhere.
//! - Secrets are never written inline: the SuccessFactors password comes from
//!   an environment variable (`password_env`) or a file (`password_file`),
//!   resolved at load into a [`secrecy::SecretString`]; the OAuth methods
//!   (`saml-bearer`, `workload-identity`) take their private key from
//!   `private_key_file` (inline `password`/`private_key` keys are refused).
//!   Errors name the variable or file, never the value; `Debug` of
//!   [`Config`] redacts it.
//! - For the OAuth methods the key and certificate are read and checked at
//!   load (an unreadable or unusable file, or a key not matching the
//!   certificate, is an error at the field naming the file, with the
//!   explanation of [`hrsync_sf_auth::AuthError::explanation`]). Certificate
//!   expiry is checked whenever an assertion is signed, and a federated token
//!   file is read whenever a token is needed, so both show up in
//!   `hrsync check` and at run time rather than at load.
//! - Relative paths (state file, embedded target, mapping file, CA file,
//!   password file, key, certificate and federated token files) are resolved
//!   against the config file's directory.
//! - The mapping is compiled at load ([`hrsync_mapping::CompiledMapping`],
//!   scoping filter, source schema); its errors point at the mapping entry's
//!   line, and inside the expression where the text allows.
//! - TLS verification is on unless `source.tls_verify = false` (logged as a
//!   warning). Plain `http` is accepted only for loopback hosts.
//! - `[target]` is read into the registry's typed [`TargetConfig`]: the
//!   kind's own config type (`hrsync_target_ldap::LdapConfig` for
//!   `[target.connection]` of `kind = "ldap"`), so unknown keys (each with
//!   the key it was probably meant to be) and the kind's own checks (a DN
//!   that does not parse, `pool_size = 0`, a simple bind in clear to a
//!   remote host without `allow_plaintext_bind = true`) are errors with
//!   `file:line:col` too, and its security warnings (`tls_verify = false`,
//!   an allowed bind in clear) are logged with the position. `scim`'s
//!   unknown keys are warnings (they always loaded). The connection's
//!   secret comes from `password_env` / `password_file` (an inline
//!   `password` is refused) and is handed to the typed config as a
//!   [`secrecy::SecretString`].
//!
//! - `[flow]` and `[target]` are the flow `inbound`; each `[[flows]]` entry
//!   is a further inbound flow ([`NamedFlow`]: a `name`, the keys of
//!   `[flow]`, a `[flows.target]` read like `[target]`), with errors at
//!   `flows[i].…` fields. [`Config::flows`] lists them all, `inbound` first.
//!
//! - `[writeback]` is the flow `writeback` ([`WritebackSettings`]): its
//!   `mapping` (a file, inline `[[writeback.mapping]]` tables, or
//!   `builtin:writeback-email` / `builtin:writeback-email-phone`, Entra's
//!   writeback scenarios 1 and 2), `[writeback.scope]`, `actions` (only
//!   `update`) and `primary = "keep" | "take"`.
//!
//! `account_status` (`activeEmploymentsCount` or `emplStatus`) picks the
//! `accountDisabled` expression of the built-in mapping (`builtin:sf-to-ad`),
//! after Entra's integration reference: `Switch([activeEmploymentsCount],
//! "False", "0", "True")` or `Switch([emplStatus], "True", "A", "False", "U",
//! "False", "P", "False")`; for `builtin:sf-to-entra` the `accountEnabled`
//! expression likewise (`CBool(Switch([activeEmploymentsCount], "True", "0",
//! "False"))` or `CBool(Switch([emplStatus], "False", "A", "True", "U",
//! "True", "P", "True"))`). Mapping files and inline mappings are taken as
//! written; the setting is still passed to the engine.
//!
//! The starter config written by `hrsync init` is [`STARTER`].

mod doc;
mod error;
mod load;
mod starter;

use std::path::PathBuf;

use std::time::Duration;

use hrsync_mapping::{CompiledMapping, CompiledScope, MappingConfig, SourceSchema};
use hrsync_source_sf::SourceConfig;
use jiff::tz::TimeZone;

pub use error::{ConfigError, ConfigErrors, Position};
pub use hrsync_targets::{EmbeddedConfig, LdapConfig, TargetConfig};
pub use load::Env;
pub use starter::{InitError, MAPPING_FILE_NAME, STARTER, write_starter};

/// A loaded, validated hrsync configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file it was read from (relative paths below are resolved against its directory).
    pub path: PathBuf,
    /// SuccessFactors connection.
    pub source: Source,
    /// Where accounts are provisioned: the `[target]` section, typed per
    /// kind (paths resolved, the connection's secret set).
    pub target: TargetConfig,
    /// `[target] concurrency`: how many creates and updates are in flight
    /// at once (1..=256, default 32).
    pub target_concurrency: u32,
    /// What is provisioned and how: the flow `inbound`, into `[target]`.
    pub flow: FlowSettings,
    /// `[[flows]]`: further inbound flows from the same source, each into
    /// its own target with its own mapping, and its own rows in the one
    /// state file (watermark, joins, escrow, history).
    pub more_flows: Vec<NamedFlow>,
    /// `[writeback]`: the flow `writeback`, from the directory of `[target]`
    /// (the accounts the inbound flow joined) back to SuccessFactors.
    pub writeback: Option<WritebackSettings>,
    /// Accidental-deletion guard.
    pub guard: Guard,
    /// Retry of failed workers.
    pub escrow: EscrowSettings,
    /// Cycle timing.
    pub schedule: Schedule,
    /// State store.
    pub state: StateSettings,
    /// `[api]`: the HTTP API `hrsync run` serves; `None` without the section.
    pub api: Option<ApiSettings>,
    /// Whether the secrets were read: false for [`Config::load_local`],
    /// whose passwords and tokens are empty placeholders (such a config
    /// must not be used to reach SuccessFactors or the target).
    pub secrets_read: bool,
}

/// The `[source]` section, resolved.
#[derive(Debug, Clone)]
pub struct Source {
    /// Client settings with credentials resolved (password redacted in `Debug`).
    pub client: SourceConfig,
    /// SuccessFactors company id.
    pub company_id: String,
    /// Server page size (`customPageSize`), 1..=1000.
    pub page_size: u32,
    /// `select = "mapped"`: request only the properties the mapping reads
    /// (`$select` derived from its JSONPaths); `"all"` (default) sends no
    /// `$select`, as Entra does. Either way hrsync parses only those
    /// properties of each record.
    pub select: bool,
    /// The `[source.auth]` block as [`hrsync_sf_auth::AuthConfig`], paths
    /// resolved and `company_id` filled from `[source]` (for `hrsync check`,
    /// which runs [`hrsync_sf_auth::check()`] on it). For the token methods
    /// [`Source::client`] already carries a token provider built from it.
    pub auth: hrsync_sf_auth::AuthConfig,
}

/// Where the mapping came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingOrigin {
    /// A mapping shipped with hrsync (`builtin:sf-to-ad`).
    Builtin(String),
    /// A mapping file (resolved path).
    File(PathBuf),
    /// `[[flow.mapping]]` tables in the config file.
    Inline,
}

/// Which SuccessFactors field decides whether an account is enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub enum AccountStatusSource {
    /// `personEmpTerminationInfoNav.activeEmploymentsCount` (Entra's default).
    #[default]
    #[serde(rename = "activeEmploymentsCount")]
    ActiveEmploymentsCount,
    /// The employment status code `emplStatusNav.externalCode` (A/U/P active).
    #[serde(rename = "emplStatus")]
    EmplStatus,
}

/// Target object actions the flow may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actions {
    /// Create accounts for new workers.
    pub create: bool,
    /// Update attributes of existing accounts.
    pub update: bool,
    /// Disable accounts of workers who left or fell out of scope.
    pub disable: bool,
    /// Delete those accounts instead (off unless listed).
    pub delete: bool,
}

/// The `[flow]` section with its mapping compiled.
#[derive(Debug, Clone)]
pub struct FlowSettings {
    /// The mapping as resolved (built-in with `account_status` applied, file or inline).
    pub mapping: MappingConfig,
    /// Where [`FlowSettings::mapping`] came from.
    pub origin: MappingOrigin,
    /// Catalog plus the mapping's source attributes.
    pub schema: SourceSchema,
    /// Target mappings, parsed and checked.
    pub compiled: CompiledMapping,
    /// The scoping filter, compiled (empty: everyone in scope).
    pub scope: CompiledScope,
    /// Time zone for HR dates (start dates, termination days).
    pub time_zone: TimeZone,
    /// Target object actions (`flow.actions`; default create, update, disable).
    pub actions: Actions,
    /// How many days before their start date pre-hires are provisioned.
    pub prehire_lead_days: u32,
    /// Provision Onboarding 2.0 pre-hires (employment status `e`).
    pub onboarding_prehires: bool,
    /// Which field decides account status (see the crate docs).
    pub account_status: AccountStatusSource,
}

/// The `[writeback]` section with its mapping compiled: the flow
/// `writeback`, whose source is the directory of `[target]` (each account
/// the inbound flow joined, as a record of its attributes plus
/// `personIdExternal` from the join) and whose target is SuccessFactors.
/// Source attributes are the directory's own names (`[mail]` reads the
/// account's `mail`); target attributes the Writeback app's
/// ([`hrsync_source_sf::writeback::WRITEBACK_ATTRIBUTES`]).
#[derive(Debug, Clone)]
pub struct WritebackSettings {
    /// The mapping as resolved (built-in, file or inline).
    pub mapping: MappingConfig,
    /// Where [`WritebackSettings::mapping`] came from.
    pub origin: MappingOrigin,
    /// The directory schema: every name the mapping uses, plus its
    /// `source_attribute` entries.
    pub schema: SourceSchema,
    /// Target mappings, parsed and checked.
    pub compiled: CompiledMapping,
    /// The scoping filter (`[writeback.scope]`), compiled.
    pub scope: CompiledScope,
    /// `writeback.actions`: only `update` exists (writeback never creates,
    /// disables or deletes persons); default `["update"]`.
    pub actions: Actions,
    /// `writeback.primary`: `keep` (default) leaves a primary HR set on
    /// another type and skips the record with a conflict; `take` demotes it.
    pub primary: hrsync_source_sf::PrimaryPolicy,
}

/// One `[[flows]]` entry: a further inbound flow.
#[derive(Debug, Clone)]
pub struct NamedFlow {
    /// Its name in the state and in `--flow` (never `inbound` or `writeback`).
    pub name: String,
    /// `[flows.target]`, typed as `[target]` is.
    pub target: TargetConfig,
    /// `[flows.target] concurrency`.
    pub target_concurrency: u32,
    /// The entry's `[flow]` keys.
    pub flow: FlowSettings,
}

/// A flow of the config as commands use it: the `inbound` flow of
/// `[flow]` and `[target]`, or a `[[flows]]` entry.
#[derive(Debug, Clone, Copy)]
pub struct FlowRef<'c> {
    pub name: &'c str,
    pub target: &'c TargetConfig,
    pub target_concurrency: u32,
    pub flow: &'c FlowSettings,
}

/// The `[guard]` section: a cycle that would delete or disable more than
/// either limit stops and holds those changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guard {
    /// Most accounts one cycle may disable or delete.
    pub max_count: u32,
    /// Share of the accounts hrsync manages, in (0, 1].
    pub max_share: f64,
}

/// The `[escrow]` section: how failed workers are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscrowSettings {
    /// Delay before the first retry; doubles per attempt.
    pub first_retry: Duration,
    /// Upper bound of the retry delay.
    pub max_retry: Duration,
    /// After this many failed attempts the worker is flagged for a human.
    pub flag_after: u32,
}

/// The `[schedule]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Interval between incremental cycles of `hrsync run`.
    pub interval: Duration,
}

/// The `[state]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSettings {
    /// SQLite state file, resolved against the config file's directory.
    pub path: PathBuf,
    /// `lease_ttl`: how long a process's claim on a flow ("one cycle at a
    /// time") lasts without renewal; renewed every third of it while the
    /// process runs. After a crash on another host (or a hung process) the
    /// next process waits at most this long. At least 1s; default 30s.
    pub lease_ttl: Duration,
    /// `log_retention_days`: provisioning-log entries of cycles older than
    /// this are pruned after each cycle; 0 keeps them forever. Default 30.
    pub log_retention_days: u32,
    /// `log_retention_cycles`: keep the log of only the newest N cycles
    /// per flow (also), if set.
    pub log_retention_cycles: Option<u32>,
}

/// The `[api]` section: where `hrsync run` serves the HTTP API, health
/// checks and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    /// `listen`: address and port; default `127.0.0.1:8750`. Anything not
    /// loopback needs `tls_cert_file` + `tls_key_file`, or
    /// `insecure_listen = true` (behind a TLS-terminating proxy).
    pub listen: std::net::SocketAddr,
    /// `tls_cert_file` + `tls_key_file` (PEM, resolved against the config
    /// file's directory): serve HTTPS.
    pub tls: Option<ApiTls>,
    /// `insecure_listen`: plain HTTP on a non-loopback address, on purpose.
    pub insecure_listen: bool,
    /// `metrics_token_required`: `/metrics` wants an API token (any role).
    pub metrics_token_required: bool,
}

/// The server's certificate chain and key files (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl ApiSettings {
    pub const DEFAULT_LISTEN: &str = "127.0.0.1:8750";
}

impl StateSettings {
    pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);
    pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 30;
}

impl Config {
    /// The name of the flow of `[flow]` and `[target]`.
    pub const INBOUND: &'static str = "inbound";
    /// The name of the flow of `[writeback]`.
    pub const WRITEBACK: &'static str = "writeback";

    /// Every flow: `inbound` first, then the `[[flows]]` entries in order.
    pub fn flows(&self) -> Vec<FlowRef<'_>> {
        let first = FlowRef {
            name: Self::INBOUND,
            target: &self.target,
            target_concurrency: self.target_concurrency,
            flow: &self.flow,
        };
        std::iter::once(first)
            .chain(self.more_flows.iter().map(|f| FlowRef {
                name: &f.name,
                target: &f.target,
                target_concurrency: f.target_concurrency,
                flow: &f.flow,
            }))
            .collect()
    }

    /// The flow named `name`.
    pub fn flow_named(&self, name: &str) -> Option<FlowRef<'_>> {
        self.flows().into_iter().find(|f| f.name == name)
    }

    /// Read and validate a config file. Every problem found is returned.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Config, ConfigErrors> {
        Self::load_with_env(path, &|name| std::env::var(name))
    }

    /// [`Config::load`] with `*_env` settings looked up in `env` instead of
    /// the process environment.
    pub fn load_with_env(
        path: impl AsRef<std::path::Path>,
        env: Env<'_>,
    ) -> Result<Config, ConfigErrors> {
        let path = path.as_ref();
        Self::parse_with_env(&read(path)?, path, env)
    }

    /// Read and validate a config file for a command that only reads
    /// hrsync's own state (`hrsync status`, `hrsync logs`): every check of
    /// [`Config::load`] except that no secret is read (the SuccessFactors
    /// password, the target's bind secret, the OAuth key and certificate
    /// files), so such a command runs without them. The result has
    /// [`Config::secrets_read`] false and empty placeholders for secrets.
    pub fn load_local(path: impl AsRef<std::path::Path>) -> Result<Config, ConfigErrors> {
        let path = path.as_ref();
        // No secret is read, so no variable is looked up.
        load::parse(&read(path)?, path, load::Secrets::Skip, &|_| {
            Err(std::env::VarError::NotPresent)
        })
    }

    /// Validate config text as if read from `origin` (used in messages and
    /// to resolve relative paths). Reads secrets and mapping files.
    pub fn parse(text: &str, origin: impl AsRef<std::path::Path>) -> Result<Config, ConfigErrors> {
        Self::parse_with_env(text, origin, &|name| std::env::var(name))
    }

    /// [`Config::parse`] with `*_env` settings looked up in `env`.
    pub fn parse_with_env(
        text: &str,
        origin: impl AsRef<std::path::Path>,
        env: Env<'_>,
    ) -> Result<Config, ConfigErrors> {
        load::parse(text, origin.as_ref(), load::Secrets::Read, env)
    }
}

fn read(path: &std::path::Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors::from(ConfigError {
            file: path.to_owned(),
            position: None,
            field: None,
            cause: format!("cannot read config file: {e}"),
        })
    })
}
