//! Test Connection: the whole runtime flow, step by step, with timings.

use std::time::{Duration, Instant};

use secrecy::ExposeSecret;

use crate::config::AuthConfig;
use crate::error::AuthError;
use crate::provider::{ProviderOptions, TokenProvider, error_chain};

/// One step of a connection check.
#[derive(Debug)]
pub struct Step {
    pub name: String,
    pub duration: Duration,
    /// What was learnt (never a secret), or why the step failed.
    pub outcome: Result<String, AuthError>,
}

/// Runs the flow of `config` against the SuccessFactors API server at
/// `api_base_url`: obtain the assertion or AT1, exchange it for an access
/// token, then `GET /odata/v2/PerPerson?$top=1`. Stops at the first failed
/// step; every failed step's error has an [`AuthError::explanation`].
pub async fn check(
    config: &AuthConfig,
    api_base_url: &str,
    http: reqwest::Client,
    options: ProviderOptions,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let timed = |steps: &mut Vec<Step>,
                 name: &str,
                 started: Instant,
                 outcome: Result<String, AuthError>| {
        let ok = outcome.is_ok();
        steps.push(Step { name: name.to_owned(), duration: started.elapsed(), outcome });
        ok
    };
    let started = Instant::now();
    if let AuthConfig::Basic { .. } = config {
        let creds = config
            .basic_credentials()
            .and_then(|c| c.ok_or_else(|| AuthError::Config("no basic credentials".into())));
        let Ok((user, company, password)) = creds else {
            let err =
                creds.err().unwrap_or_else(|| AuthError::Config("no basic credentials".into()));
            timed(&mut steps, "read basic credentials", started, Err(err));
            return steps;
        };
        timed(
            &mut steps,
            "read basic credentials",
            started,
            Ok(format!("{user}@{company} (SAP retired basic authentication on 2026-11-20)")),
        );
        let started = Instant::now();
        let req = |r: reqwest::RequestBuilder| {
            r.basic_auth(format!("{user}@{company}"), Some(password.expose_secret()))
        };
        let outcome = odata_probe(&http, api_base_url, req).await;
        timed(&mut steps, "call OData PerPerson?$top=1", started, outcome);
        return steps;
    }
    let provider = match TokenProvider::new(config, api_base_url, http.clone(), options) {
        Ok(p) => p,
        Err(e) => {
            timed(&mut steps, "load keys and certificate", started, Err(e));
            return steps;
        }
    };
    let token = match config {
        AuthConfig::WorkloadIdentity { .. } => {
            let started = Instant::now();
            let at1 = provider.obtain_at1().await;
            let name = if provider.entra_token_url().is_some() {
                "acquire AT1 from Microsoft Entra ID"
            } else {
                "obtain AT1"
            };
            let at1 = match at1 {
                Ok(t) => {
                    let what = match provider.entra_token_url() {
                        Some(url) => format!("{url} issued AT1"),
                        None => "signed JWT ready".into(),
                    };
                    timed(&mut steps, name, started, Ok(what));
                    t
                }
                Err(e) => {
                    timed(&mut steps, name, started, Err(e));
                    return steps;
                }
            };
            let started = Instant::now();
            match provider
                .exchange_at1(&at1)
                .await
                .and_then(|t| technical_access(provider.token_url(), &t.value).map(|()| t))
            {
                Ok(t) => {
                    timed(
                        &mut steps,
                        "exchange AT1 for AT2 at SAP Cloud Identity Service",
                        started,
                        Ok(format!(
                            "{} (expires in {} s)",
                            provider.token_url(),
                            t.lifetime.as_secs()
                        )),
                    );
                    t.value
                }
                Err(e) => {
                    timed(
                        &mut steps,
                        "exchange AT1 for AT2 at SAP Cloud Identity Service",
                        started,
                        Err(e),
                    );
                    return steps;
                }
            }
        }
        _ => {
            let started = Instant::now();
            match provider.fetch().await {
                Ok(t) => {
                    timed(
                        &mut steps,
                        "sign SAML assertion and get an access token",
                        started,
                        Ok(format!(
                            "{} (expires in {} s)",
                            provider.token_url(),
                            t.lifetime.as_secs()
                        )),
                    );
                    t.value
                }
                Err(e) => {
                    timed(
                        &mut steps,
                        "sign SAML assertion and get an access token",
                        started,
                        Err(e),
                    );
                    return steps;
                }
            }
        }
    };
    let started = Instant::now();
    let outcome = odata_probe(&http, api_base_url, |r| r.bearer_auth(token.expose_secret())).await;
    timed(&mut steps, "call OData PerPerson?$top=1", started, outcome);
    steps
}

/// `GET <root>/odata/v2/PerPerson?$top=1`; 401/403 become [`AuthError::ODataRefused`].
async fn odata_probe(
    http: &reqwest::Client,
    api_base_url: &str,
    auth: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> Result<String, AuthError> {
    let base = api_base_url.trim_end_matches('/');
    let root =
        if base.ends_with("/odata/v2") { base.to_owned() } else { format!("{base}/odata/v2") };
    let url = format!("{root}/PerPerson?$top=1&$select=personIdExternal&$format=json");
    let transport =
        |e: reqwest::Error| AuthError::Transport { url: url.clone(), cause: error_chain(&e) };
    let resp = auth(http.get(&url).header(reqwest::header::ACCEPT, "application/json"))
        .send()
        .await
        .map_err(transport)?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(transport)?;
    if (200..300).contains(&status) {
        return Ok(format!("HTTP {status}"));
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let message = json
        .as_ref()
        .and_then(|v| v.pointer("/error/message/value"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
    Err(AuthError::ODataRefused { url, status, message })
}

/// AT2 (a JWT from IAS) must carry `ias_apis` with `sf_technical_access`;
/// an opaque AT2 or one without `ias_apis` is left to the OData call.
fn technical_access(url: &str, at2: &secrecy::SecretString) -> Result<(), AuthError> {
    let Some(claims) = crate::jwt::unverified_claims(at2.expose_secret()) else { return Ok(()) };
    let Some(apis) = claims.get("ias_apis") else { return Ok(()) };
    let list: Vec<&str> = match apis {
        serde_json::Value::Array(a) => a.iter().filter_map(serde_json::Value::as_str).collect(),
        serde_json::Value::String(s) => vec![s.as_str()],
        _ => Vec::new(),
    };
    if list.contains(&"sf_technical_access") {
        return Ok(());
    }
    Err(AuthError::At2WithoutTechnicalAccess {
        url: url.to_owned(),
        apis: if list.is_empty() { "none".into() } else { list.join(", ") },
    })
}
