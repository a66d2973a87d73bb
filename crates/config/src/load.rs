//! Validation: raw serde shapes (with spans) to the typed [`Config`].
//!
//! Each section is deserialized on its own, and each mapping entry too, so
//! one bad entry does not hide the problems of the others.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hrsync_mapping::mapping::{
    SF_TO_AD_TOML, SF_TO_ENTRA_TOML, SF_TO_OPENLDAP_TOML, SF_TO_SALESFORCE_TOML, SF_TO_SCIM_TOML,
    WRITEBACK_EMAIL_PHONE_TOML, WRITEBACK_EMAIL_TOML,
};
use hrsync_mapping::{
    AttributeMapping, Catalog, CompiledMapping, CompiledScope, MappingConfig, MappingError,
    SchemaError, ScopingFilter, SourceAttributeConfig, SourceSchema, directory_schema,
};
use hrsync_sf_auth::{AssertionSource, AuthConfig, AuthError, Diagnosis};
use hrsync_source_sf::{Credentials, SourceConfig, SourceError};
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::Spanned;
use toml::de::DeValue;

use crate::doc::{Doc, FieldPath, offset_in_string, path};
use crate::error::{ConfigError, ConfigErrors};
use crate::{
    AccountStatusSource, Actions, ApiSettings, ApiTls, Config, EscrowSettings, FlowSettings, Guard,
    MappingOrigin, Schedule, Source, StateSettings, WritebackSettings,
};
use hrsync_targets::{EmbeddedConfig, Kind, TargetConfig, attr};

/// The name `flow.mapping` uses for the shipped default mapping.
const BUILTIN_SF_TO_AD: &str = "builtin:sf-to-ad";

/// Every shipped mapping `writeback.mapping` may name, with its text (the
/// first is the default). These names are a contract.
const WRITEBACK_BUILTINS: [(&str, &str); 2] = [
    ("builtin:writeback-email", WRITEBACK_EMAIL_TOML),
    ("builtin:writeback-email-phone", WRITEBACK_EMAIL_PHONE_TOML),
];

/// Every shipped mapping `flow.mapping` may name, with its text.
const BUILTINS: [(&str, &str); 5] = [
    (BUILTIN_SF_TO_AD, SF_TO_AD_TOML),
    ("builtin:sf-to-openldap", SF_TO_OPENLDAP_TOML),
    ("builtin:sf-to-scim", SF_TO_SCIM_TOML),
    ("builtin:sf-to-salesforce", SF_TO_SALESFORCE_TOML),
    ("builtin:sf-to-entra", SF_TO_ENTRA_TOML),
];

const EMPL_STATUS_ACCOUNT_DISABLED: &str =
    r#"Switch([emplStatus], "True", "A", "False", "U", "False", "P", "False")"#;

/// Graph's `accountEnabled` (a boolean, `builtin:sf-to-entra`) from the
/// employment status: the integration reference's expression for the
/// SuccessFactors to Microsoft Entra app.
const ACCOUNT_ENABLED: &str = "accountEnabled";
const EMPL_STATUS_ACCOUNT_ENABLED: &str =
    r#"CBool(Switch([emplStatus], "False", "A", "True", "U", "True", "P", "True"))"#;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoot {
    #[allow(dead_code)]
    source: IgnoredAny,
    #[allow(dead_code)]
    target: IgnoredAny,
    #[allow(dead_code)]
    flow: IgnoredAny,
    #[allow(dead_code)]
    guard: Option<IgnoredAny>,
    #[allow(dead_code)]
    escrow: Option<IgnoredAny>,
    #[allow(dead_code)]
    schedule: Option<IgnoredAny>,
    #[allow(dead_code)]
    state: Option<IgnoredAny>,
    #[allow(dead_code)]
    flows: Option<IgnoredAny>,
    #[allow(dead_code)]
    api: Option<IgnoredAny>,
    #[allow(dead_code)]
    writeback: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWriteback {
    // `mapping`, `scope` and `source_attribute` are read entry by entry.
    #[allow(dead_code)]
    mapping: Option<IgnoredAny>,
    #[allow(dead_code)]
    scope: Option<IgnoredAny>,
    #[allow(dead_code)]
    source_attribute: Option<IgnoredAny>,
    actions: Option<Vec<Spanned<String>>>,
    primary: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    url: Spanned<String>,
    company_id: Spanned<String>,
    page_size: Option<Spanned<i64>>,
    select: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    ca_file: Option<Spanned<PathBuf>>,
    tls_verify: Option<bool>,
    // Read separately: its shape depends on `method`.
    #[allow(dead_code)]
    auth: IgnoredAny,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBasicAuth {
    #[allow(dead_code)]
    method: String,
    username: Spanned<String>,
    password_env: Option<Spanned<String>>,
    password_file: Option<Spanned<PathBuf>>,
    // Accepted by the parser only to reject it with a clear message; never read.
    password: Option<IgnoredAny>,
}

/// `method = "saml-bearer"`: [`AuthConfig::SamlBearer`] with spans; the
/// company comes from `[source]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSamlAuth {
    #[allow(dead_code)]
    method: String,
    client_id: Spanned<String>,
    user_id: Spanned<String>,
    private_key_file: Spanned<PathBuf>,
    certificate_file: Option<Spanned<PathBuf>>,
    token_url: Option<Spanned<String>>,
    audience: Option<Spanned<String>>,
    assertion_lifetime: Option<Spanned<i64>>,
    // Accepted by the parser only to reject it with a clear message; never read.
    private_key: Option<IgnoredAny>,
}

/// `method = "workload-identity"`: [`AuthConfig::WorkloadIdentity`] with spans.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkloadAuth {
    #[allow(dead_code)]
    method: String,
    ias_url: Spanned<String>,
    client_id: Spanned<String>,
    dependency: Spanned<String>,
    // Read separately: its shape depends on `type`.
    #[allow(dead_code)]
    assertion: Option<IgnoredAny>,
}

/// `[source.auth.assertion]` with `type = "federated-file"`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFederatedFile {
    #[allow(dead_code)]
    r#type: String,
    path: Spanned<PathBuf>,
}

/// `[source.auth.assertion]` with `type = "self-signed"`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelfSigned {
    #[allow(dead_code)]
    r#type: String,
    private_key_file: Spanned<PathBuf>,
    key_id: Spanned<String>,
    issuer: Spanned<String>,
    subject: Spanned<String>,
    audience: Spanned<String>,
    lifetime: Option<Spanned<i64>>,
    // Accepted by the parser only to reject it with a clear message; never read.
    private_key: Option<IgnoredAny>,
}

/// `[source.auth.assertion]` with `type = "entra"`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntra {
    #[allow(dead_code)]
    r#type: String,
    tenant_id: Spanned<String>,
    client_id: Spanned<String>,
    certificate_file: Option<Spanned<PathBuf>>,
    private_key_file: Option<Spanned<PathBuf>>,
    federated_token_file: Option<Spanned<PathBuf>>,
    login_url: Option<Spanned<String>>,
    scope: Spanned<String>,
    // Accepted by the parser only to reject it with a clear message; never read.
    private_key: Option<IgnoredAny>,
    client_secret: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    kind: Spanned<Kind>,
    concurrency: Option<Spanned<i64>>,
    path: Option<Spanned<PathBuf>>,
    unique: Option<Vec<String>>,
    // Read separately: its shape depends on `kind` (the registry's types).
    #[allow(dead_code)]
    connection: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    // `mapping`, `scope` and `source_attribute` are read entry by entry.
    #[allow(dead_code)]
    mapping: Option<IgnoredAny>,
    #[allow(dead_code)]
    scope: Option<IgnoredAny>,
    #[allow(dead_code)]
    source_attribute: Option<IgnoredAny>,
    time_zone: Spanned<String>,
    actions: Option<Vec<Spanned<String>>>,
    prehire_lead_days: Option<Spanned<i64>>,
    onboarding_prehires: Option<bool>,
    account_status: Option<AccountStatusSource>,
    /// Only in a `[[flows]]` entry: its name.
    name: Option<Spanned<String>>,
    /// Only in a `[[flows]]` entry: its `[flows.target]` (read separately).
    #[allow(dead_code)]
    target: Option<IgnoredAny>,
}

/// A mapping file's top level (the [`MappingConfig`] shape).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMappingFile {
    name: Option<String>,
    #[allow(dead_code)]
    source_attribute: Option<IgnoredAny>,
    #[allow(dead_code)]
    scope: Option<IgnoredAny>,
    #[allow(dead_code)]
    mapping: Option<IgnoredAny>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGuard {
    max_count: Option<Spanned<i64>>,
    max_share: Option<Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEscrow {
    first_retry: Option<Spanned<String>>,
    max_retry: Option<Spanned<String>>,
    flag_after: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    interval: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawApi {
    listen: Option<Spanned<String>>,
    tls_cert_file: Option<Spanned<PathBuf>>,
    tls_key_file: Option<Spanned<PathBuf>>,
    insecure_listen: Option<Spanned<bool>>,
    metrics_token_required: Option<Spanned<bool>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawState {
    path: Option<Spanned<PathBuf>>,
    lease_ttl: Option<Spanned<String>>,
    log_retention_days: Option<Spanned<i64>>,
    log_retention_cycles: Option<Spanned<i64>>,
}

/// Problems found so far, in all documents involved; whether secrets are
/// read, and where `*_env` settings are looked up (carried here because
/// every loader has it at hand).
struct Errors<'e>(Vec<ConfigError>, Secrets, Env<'e>);

/// Where `password_env`-style settings are looked up: the process
/// environment (`std::env::var`), or a fixed table (tests, so that they
/// never call the `unsafe` `set_var`).
pub type Env<'e> = &'e dyn Fn(&str) -> Result<String, std::env::VarError>;

/// Whether loading reads secrets: the SuccessFactors password, the
/// target's bind secret and the OAuth key and certificate files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secrets {
    Read,
    /// For commands that only read hrsync's own state (`status`, `logs`):
    /// every other check is made; each secret is an empty placeholder.
    Skip,
}

impl Errors<'_> {
    fn push(&mut self, e: ConfigError) {
        self.0.push(e);
    }

    /// Keep the value, or record the error.
    fn ok<T>(&mut self, r: Result<T, ConfigError>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }

    /// A required section: missing or broken sections both yield `None`
    /// (a missing one is reported by the top-level check).
    fn section<T: serde::de::DeserializeOwned>(&mut self, doc: &Doc<'_>, name: &str) -> Option<T> {
        self.ok(doc.de(&path(&[name]))).flatten()
    }

    /// An optional section: its defaults when absent, `None` when broken.
    fn optional<T: serde::de::DeserializeOwned + Default>(
        &mut self,
        doc: &Doc<'_>,
        name: &str,
    ) -> Option<T> {
        self.ok(doc.de(&path(&[name]))).map(Option::unwrap_or_default)
    }
}

pub(crate) fn parse(
    text: &str,
    origin: &Path,
    secrets: Secrets,
    env: Env<'_>,
) -> Result<Config, ConfigErrors> {
    let doc = Doc::parse(origin, text)?;
    let dir = origin.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut errs = Errors(Vec::new(), secrets, env);

    errs.ok(doc.de_value::<RawRoot>(&root_value(&doc)));

    let source = errs
        .section::<RawSource>(&doc, "source")
        .and_then(|raw| load_source(&doc, &dir, &mut errs, raw));
    let mut target_concurrency = DEFAULT_TARGET_CONCURRENCY;
    let target = errs.section::<RawTarget>(&doc, "target").and_then(|raw| {
        let (concurrency, target) = target_section(&doc, &dir, &mut errs, raw, &path(&["target"]));
        target_concurrency = concurrency;
        target
    });
    let flow = errs.section::<RawFlow>(&doc, "flow").and_then(|raw| {
        if let Some(name) = &raw.name {
            let msg = format!(
                "`[flow]` is the flow `{INBOUND_FLOW}`; a name is given to the further flows of `[[flows]]`"
            );
            errs.push(doc.error_at(name.span(), &path(&["flow", "name"]), msg));
        }
        if raw.target.is_some() {
            let msg = "the `[flow]` section's target is `[target]`; `[flows.target]` belongs to a `[[flows]]` entry";
            errs.push(doc.error(&path(&["flow", "target"]), msg));
        }
        load_flow(&doc, &dir, &mut errs, raw, &path(&["flow"]))
    });
    let more_flows = load_more_flows(&doc, &dir, &mut errs);
    // A broken section records its errors (and the load fails).
    let writeback = if doc.get(&path(&["writeback"])).is_some() {
        errs.section::<RawWriteback>(&doc, "writeback")
            .and_then(|raw| load_writeback(&doc, &dir, &mut errs, raw))
    } else {
        None
    };
    let guard =
        errs.optional::<RawGuard>(&doc, "guard").map(|raw| load_guard(&doc, &mut errs, raw));
    let escrow =
        errs.optional::<RawEscrow>(&doc, "escrow").map(|raw| load_escrow(&doc, &mut errs, raw));
    let schedule = errs.optional::<RawSchedule>(&doc, "schedule").map(|raw| Schedule {
        interval: duration(
            &doc,
            &mut errs,
            &path(&["schedule", "interval"]),
            raw.interval,
            Duration::from_secs(60),
        ),
    });
    let state =
        errs.optional::<RawState>(&doc, "state").map(|raw| load_state(&doc, &dir, &mut errs, raw));
    let api = match doc.get(&path(&["api"])) {
        None => Some(None),
        Some(_) => {
            errs.optional::<RawApi>(&doc, "api").map(|raw| load_api(&doc, &dir, &mut errs, raw))
        }
    };

    match (source, target, flow, guard, escrow, schedule, state, api) {
        (
            Some(source),
            Some(target),
            Some(flow),
            Some(guard),
            Some(escrow),
            Some(schedule),
            Some(state),
            Some(api),
        ) if errs.0.is_empty() => Ok(Config {
            path: origin.to_owned(),
            source,
            target,
            target_concurrency,
            flow,
            more_flows,
            writeback,
            guard,
            escrow,
            schedule,
            state,
            api,
            secrets_read: secrets == Secrets::Read,
        }),
        _ => {
            errs.0.sort_by_key(|e| (e.file.clone(), e.position.map(|p| (p.line, p.column))));
            Err(ConfigErrors(errs.0))
        }
    }
}

/// `[api]`: a listen address that parses, TLS files that go together and
/// can be read, and no plain HTTP off loopback unless asked for.
fn load_api(doc: &Doc<'_>, dir: &Path, errs: &mut Errors, raw: RawApi) -> Option<ApiSettings> {
    let listen_field = path(&["api", "listen"]);
    let listen = match &raw.listen {
        None => ApiSettings::DEFAULT_LISTEN.parse().ok()?,
        Some(l) => match l.get_ref().trim().parse::<std::net::SocketAddr>() {
            Ok(a) => a,
            Err(_) => {
                errs.push(doc.error_at(
                    l.span(),
                    &listen_field,
                    format!(
                        "`{}` is not an address and port like 127.0.0.1:8750 or [::1]:8750",
                        l.get_ref()
                    ),
                ));
                return None;
            }
        },
    };
    let cert_field = path(&["api", "tls_cert_file"]);
    let key_field = path(&["api", "tls_key_file"]);
    let tls = match (&raw.tls_cert_file, &raw.tls_key_file) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            let cert = readable_file(doc, dir, errs, &cert_field, cert, "TLS certificate");
            let key = readable_file(doc, dir, errs, &key_field, key, "TLS key");
            Some(ApiTls { cert_file: cert?, key_file: key? })
        }
        (Some(_), None) => {
            errs.push(doc.error(&cert_field, "`tls_cert_file` needs `tls_key_file` beside it"));
            return None;
        }
        (None, Some(_)) => {
            errs.push(doc.error(&key_field, "`tls_key_file` needs `tls_cert_file` beside it"));
            return None;
        }
    };
    let insecure_listen = raw.insecure_listen.as_ref().is_some_and(|v| *v.get_ref());
    if !listen.ip().is_loopback() && tls.is_none() && !insecure_listen {
        let msg = format!(
            "{listen} is not a loopback address: set `tls_cert_file` and `tls_key_file`, \
             or `insecure_listen = true` if a TLS-terminating proxy is in front"
        );
        match &raw.listen {
            Some(l) => errs.push(doc.error_at(l.span(), &listen_field, msg)),
            None => errs.push(doc.error(&listen_field, msg)),
        }
        return None;
    }
    Some(ApiSettings {
        listen,
        tls,
        insecure_listen,
        metrics_token_required: raw.metrics_token_required.is_some_and(|v| v.into_inner()),
    })
}

fn load_state(doc: &Doc<'_>, dir: &Path, errs: &mut Errors, raw: RawState) -> StateSettings {
    let ttl_field = path(&["state", "lease_ttl"]);
    let ttl_span = raw.lease_ttl.as_ref().map(Spanned::span);
    let mut lease_ttl =
        duration(doc, errs, &ttl_field, raw.lease_ttl, StateSettings::DEFAULT_LEASE_TTL);
    // Renewed every third of it: below a second the renewals would be most
    // of what the state file does.
    if let Some(span) = ttl_span
        && lease_ttl < Duration::from_secs(1)
    {
        errs.push(doc.error_at(span, &ttl_field, "must be at least 1s"));
        lease_ttl = StateSettings::DEFAULT_LEASE_TTL;
    }
    let log_retention_days = int_in(
        doc,
        errs,
        &path(&["state", "log_retention_days"]),
        raw.log_retention_days,
        0..=36_500,
        StateSettings::DEFAULT_LOG_RETENTION_DAYS,
    );
    let log_retention_cycles = raw.log_retention_cycles.map(|v| {
        int_in(doc, errs, &path(&["state", "log_retention_cycles"]), Some(v), 1..=10_000_000, 1)
    });
    StateSettings {
        path: raw
            .path
            .map_or_else(|| dir.join("hrsync-state.sqlite"), |p| dir.join(p.into_inner())),
        lease_ttl,
        log_retention_days,
        log_retention_cycles,
    }
}

fn root_value<'i>(doc: &Doc<'i>) -> Spanned<DeValue<'i>> {
    Spanned::new(doc.root.span(), DeValue::Table(doc.root.get_ref().clone()))
}

// ---------------------------------------------------------------- source

fn load_source(doc: &Doc<'_>, dir: &Path, errs: &mut Errors, raw: RawSource) -> Option<Source> {
    let url = check_url(doc, errs, &raw.url);
    let company_id = raw.company_id.get_ref().trim().to_owned();
    if company_id.is_empty() {
        errs.push(doc.error_at(
            raw.company_id.span(),
            &path(&["source", "company_id"]),
            "must not be empty",
        ));
    }
    let page_size =
        int_in(doc, errs, &path(&["source", "page_size"]), raw.page_size, 1..=1000, 500);
    let select = match raw.select.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("all") => false,
        Some("mapped") => true,
        Some(other) => {
            let span = raw.select.as_ref().map(|s| s.span()).unwrap_or_default();
            errs.push(doc.error_at(
                span,
                &path(&["source", "select"]),
                format!("`{other}` is not `all` or `mapped`"),
            ));
            false
        }
    };
    let timeout =
        duration(doc, errs, &path(&["source", "timeout"]), raw.timeout, Duration::from_secs(120));
    let ca_file = raw.ca_file.and_then(|f| {
        let resolved = dir.join(f.get_ref());
        match std::fs::metadata(&resolved) {
            Ok(_) => Some(resolved),
            Err(e) => {
                let msg = format!("cannot read CA file `{}`: {e}", resolved.display());
                errs.push(doc.error_at(f.span(), &path(&["source", "ca_file"]), msg));
                None
            }
        }
    });
    let verify = raw.tls_verify.unwrap_or(true);
    if !verify {
        tracing::warn!(file = %doc.origin.display(), "source.tls_verify = false: SuccessFactors' TLS certificate is not checked (test set-ups only)");
    }
    let auth = load_auth(doc, dir, errs, &company_id);

    let (auth, credentials) = auth?;
    // The token methods send no basic credentials; SourceConfig still wants a value.
    let credentials = credentials.unwrap_or_else(|| Credentials::Basic {
        username: String::new(),
        company_id: company_id.clone(),
        password: SecretString::from(String::new()),
    });
    let mut client = SourceConfig::new(url?, credentials);
    client.timeout = timeout;
    client.ca_file = ca_file;
    client.danger_accept_invalid_certs = !verify;
    if !matches!(auth, AuthConfig::Basic { .. }) && errs.1 == Secrets::Read {
        // Reads and checks keys and certificate now, so a broken set-up fails at start.
        client = match client.with_auth(&auth) {
            Ok(c) => c,
            Err(e) => {
                errs.push(token_setup_error(doc, &auth, &e));
                return None;
            }
        };
    }
    Some(Source { client, company_id, page_size, select, auth })
}

fn check_url(doc: &Doc<'_>, errs: &mut Errors, raw: &Spanned<String>) -> Option<String> {
    let field = path(&["source", "url"]);
    let fail = |errs: &mut Errors, cause: String| {
        errs.push(doc.error_at(raw.span(), &field, cause));
        None
    };
    let url = match url::Url::parse(raw.get_ref()) {
        Ok(u) => u,
        Err(e) => return fail(errs, format!("not a valid URL: {e}")),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return fail(errs, "the URL must not carry credentials; use [source.auth]".into());
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {
            tracing::info!(url = %url, "source.url uses plain http to a loopback host (emulator or test set-up)");
        }
        "http" => {
            return fail(errs, "plain http is allowed only for loopback hosts; use https".into());
        }
        other => return fail(errs, format!("scheme `{other}` is not supported; use https")),
    }
    Some(raw.get_ref().clone())
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The `[source.auth]` table: its `method`, then the fields of that method.
/// Returns the [`AuthConfig`] with paths resolved against the config's
/// directory (and `company_id` taken from `[source]`), plus the basic
/// credentials with the password already read.
fn load_auth(
    doc: &Doc<'_>,
    dir: &Path,
    errs: &mut Errors,
    company_id: &str,
) -> Option<(AuthConfig, Option<Credentials>)> {
    let auth = path(&["source", "auth"]);
    let value = doc.get(&auth)?;
    let method = tag(
        doc,
        errs,
        value,
        &auth,
        "method",
        &["basic", "saml-bearer", "workload-identity"],
        "auth method",
    )?;
    match method {
        "saml-bearer" => load_saml_auth(doc, dir, errs, value, company_id).map(|a| (a, None)),
        "workload-identity" => load_workload_auth(doc, dir, errs, value).map(|a| (a, None)),
        _ => load_basic_auth(doc, dir, errs, value, company_id).map(|(a, c)| (a, Some(c))),
    }
}

/// The value of the tag key (`method`, `type`) of the table at `field`,
/// checked against `allowed`; errors point at the tag's value.
fn tag(
    doc: &Doc<'_>,
    errs: &mut Errors,
    value: &Spanned<DeValue<'_>>,
    field: &FieldPath,
    key: &str,
    allowed: &[&'static str],
    what: &str,
) -> Option<&'static str> {
    let expected = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
    let Some(table) = value.get_ref().as_table() else {
        errs.push(doc.error_at(value.span(), field, format!("expected a table with `{key}`")));
        return None;
    };
    let tag_field = field.key(key);
    let Some((_, tag)) = table.iter().find(|(k, _)| k.get_ref() == key) else {
        errs.push(doc.error_at(
            value.span(),
            &tag_field,
            format!("missing field `{key}` ({})", allowed.join(" | ")),
        ));
        return None;
    };
    let Some(name) = tag.get_ref().as_str() else {
        errs.push(doc.error_at(tag.span(), &tag_field, "expected a string"));
        return None;
    };
    match allowed.iter().find(|a| **a == name) {
        Some(a) => Some(a),
        None => {
            errs.push(doc.error_at(
                tag.span(),
                &tag_field,
                format!("unknown {what} `{name}`, expected one of {expected}"),
            ));
            None
        }
    }
}

/// Inline key material is refused like inline passwords, with a message
/// saying what to write instead (`deny_unknown_fields` would only call it unknown).
fn refuse_inline_key(doc: &Doc<'_>, errs: &mut Errors, table: &FieldPath, given: bool) -> bool {
    if given {
        let field = table.key("private_key");
        let span = doc.key_span(&field).unwrap_or(0..0);
        errs.push(doc.error_at(
            span,
            &field,
            "inline private keys are not accepted; use `private_key_file`",
        ));
    }
    given
}

fn load_basic_auth(
    doc: &Doc<'_>,
    dir: &Path,
    errs: &mut Errors,
    value: &Spanned<DeValue<'_>>,
    company_id: &str,
) -> Option<(AuthConfig, Credentials)> {
    let auth = path(&["source", "auth"]);
    let raw: RawBasicAuth = errs.ok(doc.de_value(value))?;
    if raw.password.is_some() {
        let field = auth.key("password");
        let span = doc.key_span(&field).unwrap_or(value.span());
        errs.push(doc.error_at(
            span,
            &field,
            "inline passwords are not accepted; use `password_env` (an environment variable's name) or `password_file`",
        ));
        return None;
    }
    let password_env = raw.password_env.as_ref().map(|v| v.get_ref().clone());
    let password_file = raw.password_file.as_ref().map(|f| dir.join(f.get_ref()));
    let password = match (raw.password_env, raw.password_file) {
        (Some(var), None) => secret_from_env(doc, errs, &auth.key("password_env"), &var)?,
        (None, Some(file)) => secret_from_file(doc, dir, errs, &auth.key("password_file"), &file)?,
        (Some(_), Some(_)) => {
            let span = doc.key_span(&auth.key("password_file")).unwrap_or(value.span());
            errs.push(doc.error_at(
                span,
                &auth.key("password_file"),
                "give exactly one of `password_env` and `password_file`",
            ));
            return None;
        }
        (None, None) => {
            errs.push(doc.error_at(
                value.span(),
                &auth,
                "missing field `password_env` or `password_file`",
            ));
            return None;
        }
    };
    let username = raw.username.get_ref().trim().to_owned();
    if username.is_empty() {
        errs.push(doc.error_at(raw.username.span(), &auth.key("username"), "must not be empty"));
        return None;
    }
    let config = AuthConfig::Basic {
        username: username.clone(),
        company_id: Some(company_id.to_owned()),
        password_env,
        password_file,
    };
    Some((config, Credentials::Basic { username, company_id: company_id.to_owned(), password }))
}

fn load_saml_auth(
    doc: &Doc<'_>,
    dir: &Path,
    errs: &mut Errors,
    value: &Spanned<DeValue<'_>>,
    company_id: &str,
) -> Option<AuthConfig> {
    let auth = path(&["source", "auth"]);
    let raw: RawSamlAuth = errs.ok(doc.de_value(value))?;
    if refuse_inline_key(doc, errs, &auth, raw.private_key.is_some()) {
        return None;
    }
    let client_id = non_empty(doc, errs, &auth.key("client_id"), raw.client_id);
    let user_id = non_empty(doc, errs, &auth.key("user_id"), raw.user_id);
    let private_key_file = readable_file(
        doc,
        dir,
        errs,
        &auth.key("private_key_file"),
        &raw.private_key_file,
        "private key",
    );
    let certificate_file = match &raw.certificate_file {
        Some(f) => {
            Some(readable_file(doc, dir, errs, &auth.key("certificate_file"), f, "certificate")?)
        }
        None => None,
    };
    let token_url = match &raw.token_url {
        Some(u) => Some(http_url(doc, errs, &auth.key("token_url"), u)?),
        None => None,
    };
    let audience = match raw.audience {
        Some(a) => non_empty(doc, errs, &auth.key("audience"), a)?,
        None => hrsync_sf_auth::config::SF_AUDIENCE.to_owned(),
    };
    let assertion_lifetime =
        int_in(doc, errs, &auth.key("assertion_lifetime"), raw.assertion_lifetime, 10..=3600, 300);
    Some(AuthConfig::SamlBearer {
        client_id: client_id?,
        user_id: user_id?,
        company_id: Some(company_id.to_owned()),
        private_key_file: private_key_file?,
        certificate_file,
        token_url,
        audience,
        assertion_lifetime: u64::from(assertion_lifetime),
    })
}

fn load_workload_auth(
    doc: &Doc<'_>,
    dir: &Path,
    errs: &mut Errors,
    value: &Spanned<DeValue<'_>>,
) -> Option<AuthConfig> {
    let auth = path(&["source", "auth"]);
    let raw: RawWorkloadAuth = errs.ok(doc.de_value(value))?;
    let ias_url = http_url(doc, errs, &auth.key("ias_url"), &raw.ias_url);
    let client_id = non_empty(doc, errs, &auth.key("client_id"), raw.client_id);
    let dependency = non_empty(doc, errs, &auth.key("dependency"), raw.dependency);
    let field = auth.key("assertion");
    let assertion = match doc.get(&field) {
        None => {
            errs.push(doc.error_at(value.span(), &field, "missing field `assertion` (a table with type = \"federated-file\", \"self-signed\" or \"entra\")"));
            None
        }
        Some(a) => match tag(
            doc,
            errs,
            a,
            &field,
            "type",
            &["federated-file", "self-signed", "entra"],
            "assertion type",
        )? {
            "entra" => load_entra_assertion(doc, dir, errs, a),
            "federated-file" => {
                let raw: RawFederatedFile = errs.ok(doc.de_value(a))?;
                // The platform may write the token only after start; its
                // absence is reported when a token is first needed (and by `hrsync check`).
                let path = dir.join(raw.path.get_ref());
                Some(AssertionSource::FederatedFile { path })
            }
            _ => {
                let raw: RawSelfSigned = errs.ok(doc.de_value(a))?;
                if refuse_inline_key(doc, errs, &field, raw.private_key.is_some()) {
                    return None;
                }
                let private_key_file = readable_file(
                    doc,
                    dir,
                    errs,
                    &field.key("private_key_file"),
                    &raw.private_key_file,
                    "private key",
                );
                let key_id = non_empty(doc, errs, &field.key("key_id"), raw.key_id);
                let issuer = non_empty(doc, errs, &field.key("issuer"), raw.issuer);
                let subject = non_empty(doc, errs, &field.key("subject"), raw.subject);
                let audience = non_empty(doc, errs, &field.key("audience"), raw.audience);
                let lifetime =
                    int_in(doc, errs, &field.key("lifetime"), raw.lifetime, 10..=3600, 300);
                Some(AssertionSource::SelfSigned {
                    private_key_file: private_key_file?,
                    key_id: key_id?,
                    issuer: issuer?,
                    subject: subject?,
                    audience: audience?,
                    lifetime: u64::from(lifetime),
                })
            }
        },
    };
    Some(AuthConfig::WorkloadIdentity {
        ias_url: ias_url?,
        client_id: client_id?,
        dependency: dependency?,
        assertion: assertion?,
    })
}

/// `[source.auth.assertion]` with `type = "entra"`: AT1 from the customer's
/// Microsoft Entra tenant.
fn load_entra_assertion(
    doc: &Doc<'_>,
    dir: &Path,
    errs: &mut Errors,
    a: &Spanned<DeValue<'_>>,
) -> Option<AssertionSource> {
    let field = path(&["source", "auth", "assertion"]);
    let raw: RawEntra = errs.ok(doc.de_value(a))?;
    if refuse_inline_key(doc, errs, &field, raw.private_key.is_some()) {
        return None;
    }
    if raw.client_secret.is_some() {
        let f = field.key("client_secret");
        let span = doc.key_span(&f).unwrap_or(a.span());
        errs.push(doc.error_at(
            span,
            &f,
            "client secrets are not accepted for AT1; use `certificate_file` + `private_key_file` or `federated_token_file`",
        ));
        return None;
    }
    let tenant_id = non_empty(doc, errs, &field.key("tenant_id"), raw.tenant_id);
    let client_id = non_empty(doc, errs, &field.key("client_id"), raw.client_id);
    let login_url = match &raw.login_url {
        Some(u) => http_url(doc, errs, &field.key("login_url"), u),
        None => Some(hrsync_sf_auth::config::ENTRA_LOGIN_URL.to_owned()),
    };
    let scope_span = raw.scope.span();
    let scope = non_empty(doc, errs, &field.key("scope"), raw.scope);
    let scope = match scope {
        Some(s) if !s.ends_with("/.default") => {
            errs.push(doc.error_at(
                scope_span,
                &field.key("scope"),
                format!("Entra's client credentials grant wants `<audience>/.default`: write `{s}/.default` if `{s}` is the audience SAP Cloud Identity Service's trust rule expects"),
            ));
            None
        }
        other => other,
    };
    let (certificate_file, private_key_file, federated_token_file) = match (
        &raw.certificate_file,
        &raw.private_key_file,
        &raw.federated_token_file,
    ) {
        (Some(c), Some(k), None) => (
            Some(readable_file(doc, dir, errs, &field.key("certificate_file"), c, "certificate")?),
            Some(readable_file(doc, dir, errs, &field.key("private_key_file"), k, "private key")?),
            None,
        ),
        // The platform may write the token only after start.
        (None, None, Some(f)) => (None, None, Some(dir.join(f.get_ref()))),
        (Some(c), None, None) => {
            errs.push(doc.error_at(
                c.span(),
                &field.key("private_key_file"),
                "certificate_file needs private_key_file (the key of that certificate)",
            ));
            return None;
        }
        (None, Some(k), None) => {
            errs.push(doc.error_at(
                k.span(),
                &field.key("certificate_file"),
                "private_key_file needs certificate_file (the certificate registered on the app)",
            ));
            return None;
        }
        (_, _, Some(f)) => {
            errs.push(doc.error_at(f.span(), &field.key("federated_token_file"), "give either `federated_token_file` or `certificate_file` + `private_key_file`, not both"));
            return None;
        }
        (None, None, None) => {
            errs.push(doc.error_at(a.span(), &field, "missing the app's credential: `certificate_file` + `private_key_file`, or `federated_token_file`"));
            return None;
        }
    };
    Some(AssertionSource::Entra {
        tenant_id: tenant_id?,
        client_id: client_id?,
        certificate_file,
        private_key_file,
        federated_token_file,
        login_url: login_url?,
        scope: scope?,
    })
}

/// The trimmed string, or an error at it when empty.
fn non_empty(
    doc: &Doc<'_>,
    errs: &mut Errors,
    field: &FieldPath,
    raw: Spanned<String>,
) -> Option<String> {
    let v = raw.get_ref().trim();
    if v.is_empty() {
        errs.push(doc.error_at(raw.span(), field, "must not be empty"));
        return None;
    }
    Some(v.to_owned())
}

/// The file resolved against the config's directory, if it can be read.
fn readable_file(
    doc: &Doc<'_>,
    dir: &Path,
    errs: &mut Errors,
    field: &FieldPath,
    raw: &Spanned<PathBuf>,
    what: &str,
) -> Option<PathBuf> {
    let resolved = dir.join(raw.get_ref());
    if errs.1 == Secrets::Skip {
        // Key and certificate files are secrets too (and may be readable
        // only by the service account that syncs).
        return Some(resolved);
    }
    match std::fs::File::open(&resolved) {
        Ok(_) => Some(resolved),
        Err(e) => {
            errs.push(doc.error_at(
                raw.span(),
                field,
                format!("cannot read {what} file `{}`: {}", resolved.display(), e.kind()),
            ));
            None
        }
    }
}

/// An endpoint URL: https, or plain http to a loopback host (emulator).
fn http_url(
    doc: &Doc<'_>,
    errs: &mut Errors,
    field: &FieldPath,
    raw: &Spanned<String>,
) -> Option<String> {
    let cause = match url::Url::parse(raw.get_ref()) {
        Err(e) => format!("not a valid URL: {e}"),
        Ok(u) if u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)) => {
            return Some(raw.get_ref().clone());
        }
        Ok(_) => "use https (plain http is allowed only for loopback hosts)".to_owned(),
    };
    errs.push(doc.error_at(raw.span(), field, cause));
    None
}

/// Places a failure to set up the token provider (key unusable, key and
/// certificate not a pair, certificate expired) at the field naming the file,
/// with the admin-terms explanation.
fn token_setup_error(doc: &Doc<'_>, auth: &AuthConfig, e: &SourceError) -> ConfigError {
    let base = path(&["source", "auth"]);
    let mut cause = e.to_string();
    let SourceError::Auth(err) = e else { return doc.error(&base, cause) };
    if err.diagnosis() != Diagnosis::Configuration {
        cause = format!("{cause}. {}", err.explanation());
    }
    let culprit = match err {
        AuthError::Key { path, .. } => Some(path),
        AuthError::Certificate { path, .. }
        | AuthError::CertificateExpired { path, .. }
        | AuthError::CertificateNotYetValid { path, .. } => Some(path),
        AuthError::KeyMismatch { certificate, .. } => Some(certificate),
        _ => None,
    };
    let field = match (auth, culprit) {
        (AuthConfig::SamlBearer { private_key_file, .. }, Some(p)) if p == private_key_file => {
            base.key("private_key_file")
        }
        (AuthConfig::SamlBearer { certificate_file: Some(c), .. }, Some(p)) if p == c => {
            base.key("certificate_file")
        }
        (
            AuthConfig::WorkloadIdentity {
                assertion: AssertionSource::SelfSigned { private_key_file, .. },
                ..
            },
            Some(p),
        ) if p == private_key_file => base.key("assertion").key("private_key_file"),
        (
            AuthConfig::WorkloadIdentity {
                assertion: AssertionSource::Entra { private_key_file: Some(k), .. },
                ..
            },
            Some(p),
        ) if p == k => base.key("assertion").key("private_key_file"),
        (
            AuthConfig::WorkloadIdentity {
                assertion: AssertionSource::Entra { certificate_file: Some(c), .. },
                ..
            },
            Some(p),
        ) if p == c => base.key("assertion").key("certificate_file"),
        _ => base,
    };
    doc.error(&field, cause)
}

fn secret_from_env(
    doc: &Doc<'_>,
    errs: &mut Errors,
    field: &FieldPath,
    var: &Spanned<String>,
) -> Option<SecretString> {
    if errs.1 == Secrets::Skip {
        return Some(SecretString::from(String::new()));
    }
    let name = var.get_ref();
    let cause = match (errs.2)(name) {
        Ok(v) if !v.is_empty() => return Some(SecretString::from(v)),
        Ok(_) => format!("environment variable `{name}` is empty"),
        Err(std::env::VarError::NotPresent) => format!("environment variable `{name}` is not set"),
        Err(std::env::VarError::NotUnicode(_)) => {
            format!("environment variable `{name}` is not valid UTF-8")
        }
    };
    errs.push(doc.error_at(var.span(), field, cause));
    None
}

fn secret_from_file(
    doc: &Doc<'_>,
    dir: &Path,
    errs: &mut Errors,
    field: &FieldPath,
    file: &Spanned<PathBuf>,
) -> Option<SecretString> {
    if errs.1 == Secrets::Skip {
        return Some(SecretString::from(String::new()));
    }
    let resolved = dir.join(file.get_ref());
    let cause = match std::fs::read_to_string(&resolved) {
        Ok(text) => {
            // Files written by `echo` or editors end in a newline that is not part of the secret.
            let secret = text.trim_end_matches(['\n', '\r']);
            if !secret.is_empty() {
                return Some(SecretString::from(secret.to_owned()));
            }
            format!("password file `{}` is empty", resolved.display())
        }
        Err(e) => format!("cannot read password file `{}`: {}", resolved.display(), e.kind()),
    };
    errs.push(doc.error_at(file.span(), field, cause));
    None
}

// ---------------------------------------------------------------- target

fn load_target(
    doc: &Doc<'_>,
    dir: &Path,
    errs: &mut Errors,
    raw: RawTarget,
    base: &FieldPath,
) -> Option<TargetConfig> {
    let field = |k: &str| base.key(k);
    let unused = |errs: &mut Errors, k: &str, kind: &str| {
        let f = field(k);
        let span = doc.key_span(&f).unwrap_or(0..0);
        errs.push(doc.error_at(span, &f, format!("not used by kind `{kind}`")));
    };
    let kind = *raw.kind.get_ref();
    if !kind.implemented() {
        let msg = format!(
            "target kind `{}` is not implemented yet; use one of {}",
            kind.name(),
            Kind::implemented_names()
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        // Such configs always loaded (`logs` and `status` need no target),
        // so they still do; building the target is what refuses them.
        tracing::warn!("{}", doc.error_at(raw.kind.span(), &field("kind"), msg));
    }
    let conn = field("connection");
    if !kind.has_connection() {
        if doc.get(&conn).is_some() {
            unused(errs, "connection", kind.name());
            return None;
        }
        let Some(p) = raw.path else {
            errs.push(doc.error(
                &field("path"),
                "missing field `path` (the embedded target's database file)",
            ));
            return None;
        };
        let config = TargetConfig::Embedded(EmbeddedConfig {
            path: dir.join(p.into_inner()),
            unique: raw.unique.unwrap_or_default(),
        });
        return findings(doc, errs, base, config, &[]);
    }
    for (k, present) in [("path", raw.path.is_some()), ("unique", raw.unique.is_some())] {
        if present {
            unused(errs, k, kind.name());
        }
    }
    let Some(value) = doc.get(&conn) else {
        errs.push(doc.error(
            &conn,
            format!("missing table `[target.connection]` for kind `{}`", kind.name()),
        ));
        return None;
    };
    let Some(table) = value.get_ref().as_table() else {
        errs.push(doc.error_at(value.span(), &conn, "expected a table"));
        return None;
    };
    // The kind's secret keys (`password_env`/`password_file`; SCIM's
    // `token_*` or `client_secret_*`): the first pair present is read.
    let secret_keys = kind.secret_keys();
    let keys = secret_keys
        .iter()
        .find(|k| {
            table.iter().any(|(key, _)| [k.inline, k.env, k.file].contains(&key.get_ref().as_ref()))
        })
        .or(secret_keys.first());
    let secret = match keys {
        Some(k) => connection_secret(doc, dir, errs, table, &conn, k),
        None => Some(None),
    };
    // The secret's keys are the loader's, never the target's: the typed
    // config gets the secret itself, not a table holding it.
    let mut stripped = toml::de::DeTable::new();
    let is_secret_key =
        |k: &str| secret_keys.iter().any(|s| [s.inline, s.env, s.file].contains(&k));
    for (k, v) in table.iter().filter(|(k, _)| !is_secret_key(k.get_ref().as_ref())) {
        stripped.insert(k.clone(), v.clone());
    }
    let stripped = Spanned::new(value.span(), DeValue::Table(stripped));
    let read = errs.ok(doc.de_value_with(&stripped, |d| TargetConfig::from_connection(kind, d)))?;
    // Unknown keys, in file order, with the key probably meant. For LDAP
    // they are errors like everywhere else in the config (a mistyped
    // `starttls` would send the bind password in clear); SCIM's always
    // loaded and are warned about.
    let mut unknown: Vec<(FieldPath, std::ops::Range<usize>, &String)> = read
        .unknown
        .iter()
        .map(|key| {
            let f = key.split('.').fold(conn.clone(), |p, k| p.key(k));
            let span = doc.key_span(&f).unwrap_or(0..0);
            (f, span, key)
        })
        .collect();
    unknown.sort_by_key(|(_, span, _)| span.start);
    for (f, span, key) in unknown {
        let leaf = key.rsplit('.').next().unwrap_or(key);
        let hint = match kind.suggest(key) {
            Some(k) => format!("did you mean `{k}`?"),
            None => format!("kind `{}` has no such setting", kind.name()),
        };
        if kind.refuses_unknown_keys() {
            errs.push(doc.error_at(span, &f, format!("unknown field `{leaf}`: {hint}")));
        } else {
            let e = doc.error_at(span, &f, format!("unknown key `{key}` is ignored: {hint}"));
            tracing::warn!("{e}");
        }
    }
    let mut config = read.config;
    config.resolve_paths(dir);
    let secret_read = match secret {
        Some(Some(s)) => {
            config.set_secret_named(keys.map_or("password", |k| k.inline), s);
            true
        }
        Some(None) => true,
        None => false,
    };
    // A secret that could not be read is reported already; the kind's
    // "no secret given" would only repeat it. A local load reads none (the
    // placeholder is empty), so it has nothing to say about it either.
    let envs: Vec<&str> = secret_keys.iter().map(|k| k.env).collect();
    let skip: &[&str] = if secret_read && errs.1 == Secrets::Read { &[] } else { &envs };
    let config = findings(doc, errs, &conn, config, skip)?;
    secret_read.then_some(config)
}

/// A `[target]`-shaped table at `base`: its `concurrency` (default when
/// absent) and the typed target config.
fn target_section(
    doc: &Doc<'_>,
    dir: &Path,
    errs: &mut Errors,
    mut raw: RawTarget,
    base: &FieldPath,
) -> (u32, Option<TargetConfig>) {
    let concurrency = int_in(
        doc,
        errs,
        &base.key("concurrency"),
        raw.concurrency.take(),
        1..=256,
        DEFAULT_TARGET_CONCURRENCY,
    );
    (concurrency, load_target(doc, dir, errs, raw, base))
}

const INBOUND_FLOW: &str = Config::INBOUND;
/// Names the further flows may not take (the planned writeback flow's).
const RESERVED_FLOW_NAMES: [&str; 2] = [INBOUND_FLOW, "writeback"];

/// The `[[flows]]` entries: further inbound flows, each with the keys of
/// `[flow]`, a `name` and a `[flows.target]`.
fn load_more_flows(doc: &Doc<'_>, dir: &Path, errs: &mut Errors) -> Vec<crate::NamedFlow> {
    let base = path(&["flows"]);
    let Some(value) = doc.get(&base) else { return Vec::new() };
    let DeValue::Array(items) = value.get_ref() else {
        errs.push(doc.error_at(
            value.span(),
            &base,
            "expected `[[flows]]` tables (an array of flows)",
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for i in 0..items.len() {
        let at = base.index(i);
        let Some(raw) = errs.ok(doc.de::<RawFlow>(&at)).flatten() else { continue };
        let name = match &raw.name {
            None => {
                errs.push(doc.error(
                    &at.key("name"),
                    "missing field `name` (the flow's name in the state and in `--flow`)",
                ));
                None
            }
            Some(n) => {
                let text = n.get_ref();
                let valid = text.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && text.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                    })
                    && text.len() <= 64;
                let problem = if !valid {
                    Some(format!(
                        "flow name `{text}`: use 1 to 64 lowercase letters, digits, `-` or `_`, starting with a letter"
                    ))
                } else if RESERVED_FLOW_NAMES.contains(&text.as_str()) {
                    Some(format!(
                        "flow name `{text}` is reserved (`{INBOUND_FLOW}` is the flow of `[flow]`)"
                    ))
                } else if seen.contains(text) {
                    Some(format!("two flows are named `{text}`"))
                } else {
                    None
                };
                match problem {
                    Some(msg) => {
                        errs.push(doc.error_at(n.span(), &at.key("name"), msg));
                        None
                    }
                    None => {
                        seen.push(text.clone());
                        Some(text.clone())
                    }
                }
            }
        };
        let target_at = at.key("target");
        let target = match errs.ok(doc.de::<RawTarget>(&target_at)) {
            Some(Some(raw)) => Some(target_section(doc, dir, errs, raw, &target_at)),
            Some(None) => {
                errs.push(doc.error(
                    &target_at,
                    "missing table `[flows.target]`: each flow has its own target",
                ));
                None
            }
            None => None,
        };
        let flow = load_flow(doc, dir, errs, raw, &at);
        if let (Some(name), Some((target_concurrency, Some(target))), Some(flow)) =
            (name, target, flow)
        {
            out.push(crate::NamedFlow { name, target, target_concurrency, flow });
        }
    }
    out
}

/// Report the kind's problems at their fields (below `base`; those at a
/// field in `skip` are left out) and log its warnings with their
/// positions; the config when there was no problem.
fn findings(
    doc: &Doc<'_>,
    errs: &mut Errors,
    base: &FieldPath,
    config: TargetConfig,
    skip: &[&str],
) -> Option<TargetConfig> {
    let at = |field: &str| field.split('.').fold(base.clone(), |p, k| p.key(k));
    for w in config.warnings() {
        let e = doc.error(&at(&w.field), w.message);
        tracing::warn!("{e}");
    }
    let mut problems = config.problems();
    problems.retain(|p| !skip.contains(&p.field.as_str()));
    let ok = problems.is_empty();
    for p in problems {
        errs.push(doc.error(&at(&p.field), p.message));
    }
    ok.then_some(config)
}

/// The connection's secret from `password_env` or `password_file`;
/// `Some(None)` when neither is given, `None` after an error (inline
/// `password`, both keys, unreadable secret).
fn connection_secret(
    doc: &Doc<'_>,
    dir: &Path,
    errs: &mut Errors,
    table: &toml::de::DeTable<'_>,
    conn: &FieldPath,
    keys: &hrsync_targets::SecretKeys,
) -> Option<Option<SecretString>> {
    let has = |k: &str| table.iter().any(|(key, _)| key.get_ref() == k);
    if has(keys.inline) {
        let f = conn.key(keys.inline);
        let span = doc.key_span(&f).unwrap_or(0..0);
        let what = if keys.inline == "password" { "passwords" } else { "secrets" };
        errs.push(doc.error_at(
            span,
            &f,
            format!(
                "inline {what} are not accepted; use `{}` (an environment variable's name) or `{}`",
                keys.env, keys.file
            ),
        ));
        return None;
    }
    let spanned = |k: &str| -> Option<Result<Spanned<String>, ConfigError>> {
        let f = conn.key(k);
        let v = doc.get(&f)?;
        Some(match v.get_ref() {
            DeValue::String(s) => Ok(Spanned::new(v.span(), s.to_string())),
            _ => Err(doc.error_at(v.span(), &f, "must be a string")),
        })
    };
    let env = spanned(keys.env);
    let file = spanned(keys.file);
    match (env, file) {
        (None, None) => Some(None),
        (Some(Err(e)), _) | (_, Some(Err(e))) => {
            errs.push(e);
            None
        }
        (Some(Ok(_)), Some(Ok(file))) => {
            errs.push(doc.error_at(
                file.span(),
                &conn.key(keys.file),
                format!("give exactly one of `{}` and `{}`", keys.env, keys.file),
            ));
            None
        }
        (Some(Ok(var)), None) => secret_from_env(doc, errs, &conn.key(keys.env), &var).map(Some),
        (None, Some(Ok(file))) => {
            let file = Spanned::new(file.span(), PathBuf::from(file.into_inner()));
            secret_from_file(doc, dir, errs, &conn.key(keys.file), &file).map(Some)
        }
    }
}

// ---------------------------------------------------------------- flow

/// Where one part of a mapping (entries, source attributes, scope) is written.
struct Part<'d, 'i> {
    doc: &'d Doc<'i>,
    base: FieldPath,
}

fn load_flow(
    doc: &Doc<'_>,
    dir: &Path,
    errs: &mut Errors,
    raw: RawFlow,
    base: &FieldPath,
) -> Option<FlowSettings> {
    let flow = base.clone();
    let time_zone = {
        let tz = &raw.time_zone;
        match jiff::tz::TimeZone::get(tz.get_ref()) {
            Ok(z) => Some(z),
            Err(_) => {
                let msg = format!(
                    "unknown time zone `{}`; use an IANA name such as `Europe/Berlin` or `UTC`",
                    tz.get_ref()
                );
                errs.push(doc.error_at(tz.span(), &flow.key("time_zone"), msg));
                None
            }
        }
    };
    let actions = load_actions(doc, errs, raw.actions, &flow.key("actions"));
    let prehire_lead_days =
        int_in(doc, errs, &flow.key("prehire_lead_days"), raw.prehire_lead_days, 0..=365, 14);
    let account_status = raw.account_status.unwrap_or_default();

    let m = load_mapping(doc, dir, errs, &flow, MappingKind::Inbound, account_status)?;
    Some(FlowSettings {
        mapping: m.mapping,
        origin: m.origin,
        schema: m.schema,
        compiled: m.compiled,
        scope: m.scope,
        time_zone: time_zone?,
        actions: actions?,
        prehire_lead_days,
        onboarding_prehires: raw.onboarding_prehires.unwrap_or(true),
        account_status,
    })
}

/// Which flow a mapping is for: its built-ins and its source schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MappingKind {
    /// SuccessFactors records (the catalog), into a target.
    Inbound,
    /// Directory records (each mapped name is the record's own key), into
    /// SuccessFactors.
    Writeback,
}

impl MappingKind {
    fn builtins(self) -> &'static [(&'static str, &'static str)] {
        match self {
            MappingKind::Inbound => &BUILTINS,
            MappingKind::Writeback => &WRITEBACK_BUILTINS,
        }
    }
}

/// A flow's mapping, resolved and compiled.
struct LoadedMapping {
    mapping: MappingConfig,
    origin: MappingOrigin,
    schema: SourceSchema,
    compiled: CompiledMapping,
    scope: CompiledScope,
}

/// The mapping of the section at `flow` (its `mapping`, `scope` and
/// `source_attribute` keys): inline, a file or a built-in of `kind`.
fn load_mapping(
    doc: &Doc<'_>,
    dir: &Path,
    errs: &mut Errors,
    flow: &FieldPath,
    kind: MappingKind,
    account_status: AccountStatusSource,
) -> Option<LoadedMapping> {
    let builtins = kind.builtins();
    let default_builtin = builtins[0];
    // The mapping document: the config itself (inline), a file, or the built-in text.
    let mapping_field = flow.key("mapping");
    let file_text: String;
    let (origin, mapping_doc): (MappingOrigin, Option<Doc<'_>>) =
        match doc.get(&mapping_field).map(|v| (v.span(), v.get_ref())) {
            None => (
                MappingOrigin::Builtin(default_builtin.0.into()),
                Some(builtin_doc(default_builtin, errs)?),
            ),
            Some((_, DeValue::Array(_))) => (MappingOrigin::Inline, None),
            Some((span, DeValue::String(s))) if s.starts_with("builtin:") => {
                let Some(builtin) = builtins.iter().copied().find(|(name, _)| *name == s.as_ref())
                else {
                    let names = builtins
                        .iter()
                        .map(|(name, _)| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let msg = format!(
                        "unknown built-in mapping `{s}`; the built-in mappings are {names}"
                    );
                    errs.push(doc.error_at(span, &mapping_field, msg));
                    return None;
                };
                (MappingOrigin::Builtin(builtin.0.into()), Some(builtin_doc(builtin, errs)?))
            }
            Some((span, DeValue::String(s))) => {
                let resolved = dir.join(s.as_ref());
                file_text = match std::fs::read_to_string(&resolved) {
                    Ok(t) => t,
                    Err(e) => {
                        let msg = format!("cannot read mapping file `{}`: {e}", resolved.display());
                        errs.push(doc.error_at(span, &mapping_field, msg));
                        return None;
                    }
                };
                let file_doc = errs.ok(Doc::parse(&resolved, &file_text))?;
                (MappingOrigin::File(resolved), Some(file_doc))
            }
            Some((span, _)) => {
                let msg = format!(
                    "expected `\"{}\"`, a mapping file path, or [[{}]] tables",
                    default_builtin.0,
                    mapping_field.render()
                );
                errs.push(doc.error_at(span, &mapping_field, msg));
                return None;
            }
        };

    let inline = Part { doc, base: flow.clone() };
    let file = mapping_doc.as_ref().map(|m| Part { doc: m, base: FieldPath::default() });
    let mut name = None;
    let in_file =
        |key: &str| -> bool { file.as_ref().is_some_and(|f| f.doc.get(&path(&[key])).is_some()) };
    let (attrs_in_file, scope_in_file) = (in_file("source_attribute"), in_file("scope"));
    if let Some(f) = &file {
        name = errs.ok(f.doc.de_value::<RawMappingFile>(&root_value(f.doc)))?.name;
        // scope and source attributes may come from the mapping file or from [flow], not both.
        for (key, given) in [("source_attribute", attrs_in_file), ("scope", scope_in_file)] {
            if given && doc.get(&flow.key(key)).is_some() {
                let msg = format!(
                    "`{key}` is also given in the mapping file `{}`; give it in one place",
                    f.doc.origin.display()
                );
                errs.push(doc.error(&flow.key(key), msg));
            }
        }
    }
    let mapping_part = file.as_ref().unwrap_or(&inline);
    let attrs_part = if attrs_in_file { mapping_part } else { &inline };
    let scope_part = if scope_in_file { mapping_part } else { &inline };

    // Well-formed mapping entries are compiled even when others are not, so
    // their problems show up in the same run.
    let (mut mappings, mappings_ok) =
        read_entries::<AttributeMapping>(mapping_part, "mapping", errs);
    let (attrs, attrs_ok) =
        read_entries::<SourceAttributeConfig>(attrs_part, "source_attribute", errs);
    let scope: Option<Option<ScopingFilter>> =
        errs.ok(scope_part.doc.de(&scope_part.base.key("scope")));
    if let (MappingOrigin::Builtin(_), AccountStatusSource::EmplStatus) = (&origin, account_status)
    {
        for (_, m) in mappings.iter_mut() {
            if m.target == attr::ACCOUNT_DISABLED {
                m.expression = Some(EMPL_STATUS_ACCOUNT_DISABLED.to_owned());
            } else if m.target == ACCOUNT_ENABLED {
                m.expression = Some(EMPL_STATUS_ACCOUNT_ENABLED.to_owned());
            }
        }
    }
    // Without every source attribute, references to the broken ones would be
    // reported as unknown: stop here instead.
    if !attrs_ok {
        return None;
    }
    let scope = scope?;

    let attr_configs: Vec<SourceAttributeConfig> = attrs.iter().map(|(_, a)| a.clone()).collect();
    let mapping_configs: Vec<AttributeMapping> = mappings.iter().map(|(_, m)| m.clone()).collect();
    let schema = match kind {
        MappingKind::Inbound => SourceSchema::new(Catalog::builtin().clone(), &attr_configs),
        MappingKind::Writeback => directory_schema(&MappingConfig {
            name: None,
            source_attributes: attr_configs.clone(),
            scope: scope.clone(),
            mappings: mapping_configs.clone(),
        }),
    };
    let schema = match schema {
        Ok(s) => s,
        Err(e) => {
            errs.push(schema_error(attrs_part, &attrs, &e));
            return None;
        }
    };
    let compiled = match CompiledMapping::compile(&mapping_configs, &schema) {
        // Without a matching attribute no worker can be joined to an existing account.
        Ok(c) if mappings_ok && c.matching().is_empty() => {
            let field = mapping_part.base.key("mapping");
            let msg = "no matching attribute: mark the mapping that identifies a worker's account with `matching = 1`";
            errs.push(mapping_part.doc.error(&field, msg));
            None
        }
        Ok(c) => Some(c),
        Err(list) => {
            for e in &list {
                mapping_errors(mapping_part, &mappings, e, errs);
            }
            None
        }
    };
    let compiled_scope = match &scope {
        None => Some(CompiledScope::default()),
        Some(filter) => match filter.compile(&schema) {
            Ok(c) => Some(c),
            Err(e) => {
                let groups =
                    scope_part.base.key("scope").key("groups").index(e.group.saturating_sub(1));
                let field =
                    if e.clause == 0 { groups } else { groups.key("clauses").index(e.clause - 1) };
                errs.push(scope_part.doc.error(&field, e.to_string()));
                None
            }
        },
    };

    // A writeback mapping writes only the Writeback app's attributes.
    if kind == MappingKind::Writeback {
        use hrsync_source_sf::writeback::{WRITEBACK_ALIASES, WRITEBACK_ATTRIBUTES};
        for (i, m) in &mappings {
            let known = WRITEBACK_ATTRIBUTES.contains(&m.target.as_str())
                || WRITEBACK_ALIASES.iter().any(|(alias, _)| *alias == m.target);
            if !known {
                let field = mapping_part.base.key("mapping").index(*i).key("target");
                let msg = format!(
                    "`{}` is not a SuccessFactors Writeback attribute; the attributes are {}",
                    m.target,
                    WRITEBACK_ATTRIBUTES.join(", ")
                );
                errs.push(mapping_part.doc.error(&field, msg));
                return None;
            }
        }
    }
    if !mappings_ok {
        return None;
    }
    Some(LoadedMapping {
        mapping: MappingConfig {
            name,
            source_attributes: attr_configs,
            scope,
            mappings: mapping_configs,
        },
        origin,
        schema,
        compiled: compiled?,
        scope: compiled_scope?,
    })
}

/// The `[writeback]` section.
fn load_writeback(
    doc: &Doc<'_>,
    dir: &Path,
    errs: &mut Errors,
    raw: RawWriteback,
) -> Option<WritebackSettings> {
    let base = path(&["writeback"]);
    let actions = load_writeback_actions(doc, errs, raw.actions, &base.key("actions"));
    let primary = match &raw.primary {
        None => Some(hrsync_source_sf::PrimaryPolicy::default()),
        Some(p) => match p.get_ref().parse::<hrsync_source_sf::PrimaryPolicy>() {
            Ok(policy) => Some(policy),
            Err(msg) => {
                errs.push(doc.error_at(p.span(), &base.key("primary"), msg));
                None
            }
        },
    };
    let m = load_mapping(doc, dir, errs, &base, MappingKind::Writeback, Default::default())?;
    Some(WritebackSettings {
        mapping: m.mapping,
        origin: m.origin,
        schema: m.schema,
        compiled: m.compiled,
        scope: m.scope,
        actions: actions?,
        primary: primary?,
    })
}

/// `writeback.actions`: only `update` (writeback never creates, disables or
/// deletes persons in SuccessFactors).
fn load_writeback_actions(
    doc: &Doc<'_>,
    errs: &mut Errors,
    raw: Option<Vec<Spanned<String>>>,
    field: &FieldPath,
) -> Option<Actions> {
    let none = Actions { create: false, update: false, disable: false, delete: false };
    let Some(list) = raw else { return Some(Actions { update: true, ..none }) };
    let mut a = none;
    let mut ok = true;
    for (i, item) in list.iter().enumerate() {
        match item.get_ref().as_str() {
            "update" if a.update => {
                let msg = "action `update` is listed twice";
                errs.push(doc.error_at(item.span(), &field.index(i), msg));
                ok = false;
            }
            "update" => a.update = true,
            other => {
                let msg = format!(
                    "action `{other}` is not accepted: writeback only updates persons in SuccessFactors (it never creates, disables or deletes them); use `actions = [\"update\"]`"
                );
                errs.push(doc.error_at(item.span(), &field.index(i), msg));
                ok = false;
            }
        }
    }
    ok.then_some(a)
}

fn builtin_doc(
    (name, text): (&'static str, &'static str),
    errs: &mut Errors,
) -> Option<Doc<'static>> {
    errs.ok(Doc::parse(Path::new(name), text))
}

/// Every table of the array `key` under the part, each deserialized on its
/// own, with its index; and whether all of them (and the array) were well-formed.
fn read_entries<T: serde::de::DeserializeOwned>(
    part: &Part<'_, '_>,
    key: &str,
    errs: &mut Errors,
) -> (Vec<(usize, T)>, bool) {
    let field = part.base.key(key);
    let Some(value) = part.doc.get(&field) else { return (Vec::new(), true) };
    let Some(array) = value.get_ref().as_array() else {
        errs.push(part.doc.error_at(
            value.span(),
            &field,
            format!("expected an array of tables ([[{}]])", field.render()),
        ));
        return (Vec::new(), false);
    };
    let mut out = Vec::with_capacity(array.len());
    let mut ok = true;
    for (i, entry) in array.iter().enumerate() {
        match part.doc.de_value::<T>(entry) {
            Ok(t) => out.push((i, t)),
            Err(e) => {
                errs.push(e);
                ok = false;
            }
        }
    }
    (out, ok)
}

fn load_actions(
    doc: &Doc<'_>,
    errs: &mut Errors,
    raw: Option<Vec<Spanned<String>>>,
    field: &FieldPath,
) -> Option<Actions> {
    let Some(list) = raw else {
        return Some(Actions { create: true, update: true, disable: true, delete: false });
    };
    let mut a = Actions { create: false, update: false, disable: false, delete: false };
    let mut ok = true;
    for (i, item) in list.iter().enumerate() {
        let slot = match item.get_ref().as_str() {
            "create" => &mut a.create,
            "update" => &mut a.update,
            "disable" => &mut a.disable,
            "delete" => &mut a.delete,
            other => {
                let msg = format!(
                    "unknown action `{other}`, expected a subset of `create`, `update`, `disable`, `delete`"
                );
                errs.push(doc.error_at(item.span(), &field.index(i), msg));
                ok = false;
                continue;
            }
        };
        if *slot {
            let msg = format!("action `{}` is listed twice", item.get_ref());
            errs.push(doc.error_at(item.span(), &field.index(i), msg));
            ok = false;
        }
        *slot = true;
    }
    ok.then_some(a)
}

/// Attach a schema error to the source attribute entry it names.
fn schema_error(
    part: &Part<'_, '_>,
    attrs: &[(usize, SourceAttributeConfig)],
    e: &SchemaError,
) -> ConfigError {
    let entry = |name: &str, nth: usize| {
        attrs
            .iter()
            .filter(|(_, a)| a.name == name)
            .nth(nth)
            .map(|(i, _)| part.base.key("source_attribute").index(*i))
    };
    let field = match e {
        SchemaError::Duplicate(n) => entry(n, 1).map(|f| f.key("name")),
        SchemaError::MissingPath(n) => entry(n, 0),
        SchemaError::Path { attribute, .. } => entry(attribute, 0).map(|f| f.key("jsonpath")),
        SchemaError::Catalog(_) | SchemaError::Unknown(_) => None,
    };
    part.doc.error(&field.unwrap_or_else(|| part.base.key("source_attribute")), e.to_string())
}

/// Attach a mapping error to its entry's line, and inside the expression
/// where the error has a position.
fn mapping_errors(
    part: &Part<'_, '_>,
    entries: &[(usize, AttributeMapping)],
    e: &MappingError,
    errs: &mut Errors,
) {
    let entry = |target: &str, nth: usize| {
        entries
            .iter()
            .filter(|(_, m)| m.target == target)
            .nth(nth)
            .map(|(i, _)| part.base.key("mapping").index(*i))
    };
    let fallback = || part.base.key("mapping");
    match e {
        MappingError::Parse { target, expression, error } => {
            let field = entry(target, 0).map_or_else(fallback, |f| f.key("expression"));
            let cause = format!(
                "mapping for `{target}`: expression `{}`: {} (at byte {} of the expression)",
                compact(expression),
                error.message(),
                error.offset()
            );
            errs.push(at_expression(part, &field, expression, error.offset(), cause));
        }
        MappingError::Check { target, expression, errors } => {
            let field = entry(target, 0).map_or_else(fallback, |f| f.key("expression"));
            for c in errors {
                let cause = format!(
                    "mapping for `{target}`: expression `{}`: {} (at byte {} of the expression)",
                    compact(expression),
                    c.message,
                    c.span.start
                );
                errs.push(at_expression(part, &field, expression, c.span.start, cause));
            }
        }
        MappingError::DuplicateTarget(t) => {
            let field = entry(t, 1).map_or_else(fallback, |f| f.key("target"));
            errs.push(part.doc.error(&field, e.to_string()));
        }
        MappingError::Empty(t) => {
            errs.push(part.doc.error(&entry(t, 0).unwrap_or_else(fallback), e.to_string()));
        }
    }
}

/// The expression on one line, shortened: messages stay readable, and the
/// position points into the full text.
fn compact(expression: &str) -> String {
    const MAX: usize = 120;
    let one_line = expression.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

fn at_expression(
    part: &Part<'_, '_>,
    field: &FieldPath,
    expression: &str,
    offset: usize,
    cause: String,
) -> ConfigError {
    match part.doc.get(field) {
        Some(v) => {
            let at = offset_in_string(part.doc.text, v.span(), expression, offset);
            part.doc.error_at(at..at, field, cause)
        }
        None => part.doc.error(field, cause),
    }
}

// ---------------------------------------------------------------- guard, escrow

fn load_guard(doc: &Doc<'_>, errs: &mut Errors, raw: RawGuard) -> Guard {
    let max_count =
        int_in(doc, errs, &path(&["guard", "max_count"]), raw.max_count, 0..=u32::MAX as i64, 500);
    let max_share = match raw.max_share {
        None => 0.2,
        Some(s) if *s.get_ref() > 0.0 && *s.get_ref() <= 1.0 => *s.get_ref(),
        Some(s) => {
            errs.push(doc.error_at(
                s.span(),
                &path(&["guard", "max_share"]),
                "must be a share in (0, 1], e.g. 0.2 for 20 %",
            ));
            0.2
        }
    };
    Guard { max_count, max_share }
}

fn load_escrow(doc: &Doc<'_>, errs: &mut Errors, raw: RawEscrow) -> EscrowSettings {
    let first_span = raw.first_retry.as_ref().map(Spanned::span);
    let first_retry = duration(
        doc,
        errs,
        &path(&["escrow", "first_retry"]),
        raw.first_retry,
        Duration::from_secs(60),
    );
    let max_retry = duration(
        doc,
        errs,
        &path(&["escrow", "max_retry"]),
        raw.max_retry,
        Duration::from_secs(6 * 3600),
    );
    if first_retry > max_retry {
        let field = path(&["escrow", "first_retry"]);
        let e = match first_span {
            Some(span) => doc.error_at(span, &field, "must not exceed `escrow.max_retry`"),
            None => doc.error(&field, "the default (1m) exceeds `escrow.max_retry`"),
        };
        errs.push(e);
    }
    let flag_after =
        int_in(doc, errs, &path(&["escrow", "flag_after"]), raw.flag_after, 1..=10_000, 10);
    EscrowSettings { first_retry, max_retry, flag_after }
}

// ---------------------------------------------------------------- scalars

/// Target writes in flight at once when `[target] concurrency` is not given.
const DEFAULT_TARGET_CONCURRENCY: u32 = 32;

fn int_in(
    doc: &Doc<'_>,
    errs: &mut Errors,
    field: &FieldPath,
    raw: Option<Spanned<i64>>,
    range: std::ops::RangeInclusive<i64>,
    default: u32,
) -> u32 {
    let Some(v) = raw else { return default };
    match u32::try_from(*v.get_ref()) {
        Ok(n) if range.contains(v.get_ref()) => n,
        _ => {
            let msg =
                format!("{} is out of range {}..={}", v.get_ref(), range.start(), range.end());
            errs.push(doc.error_at(v.span(), field, msg));
            default
        }
    }
}

/// `"90s"`, `"1m"`, `"6h"`, `"1h 30m"` (jiff's friendly format) or ISO 8601 (`"PT40M"`); positive.
fn duration(
    doc: &Doc<'_>,
    errs: &mut Errors,
    field: &FieldPath,
    raw: Option<Spanned<String>>,
    default: Duration,
) -> Duration {
    let Some(v) = raw else { return default };
    // jiff's own messages talk about its types; say what to write instead.
    let parsed = match v.get_ref().parse::<jiff::SignedDuration>() {
        Ok(d) if d.is_positive() => Duration::try_from(d).map_err(|_| "too long"),
        Ok(_) => Err("must be positive"),
        Err(_) => Err("not a duration (units: s, m, h; days and longer are not accepted)"),
    };
    match parsed {
        Ok(d) => d,
        Err(cause) => {
            let msg = format!(
                "invalid duration `{}`: {cause}; write e.g. \"90s\", \"10m\", \"6h\", \"1h 30m\"",
                v.get_ref()
            );
            errs.push(doc.error_at(v.span(), field, msg));
            default
        }
    }
}
