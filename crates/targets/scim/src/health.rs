//! `hrsync check` for a SCIM target: discovery, then an authenticated read,
//! without changing anything.

use reqwest::Method;
use serde_json::Value;

use hrsync_target::CheckStep;

use crate::request_builder::error_text;
use crate::service::Service;

pub(crate) async fn check(service: &Service) -> Vec<CheckStep> {
    let mut steps = Vec::new();
    let url = service.url("/ServiceProviderConfig");
    let step = match service.send("check", Method::GET, &url, &[], None).await {
        Ok(a) if a.status.is_success() => {
            let v = a.json().unwrap_or(Value::Null);
            let on = |k: &str| v.get(k).and_then(|f| f.get("supported")).and_then(Value::as_bool);
            let detail = format!(
                "{url}: patch {}, filter {}, etag {}",
                fmt(on("patch")),
                fmt(on("filter")),
                fmt(on("etag"))
            );
            let ok = on("patch") != Some(false) && on("filter") != Some(false);
            CheckStep { name: "SCIM service provider config".into(), ok, detail }
        }
        Ok(a) => CheckStep {
            name: "SCIM service provider config".into(),
            ok: false,
            detail: format!("{url}: {}", error_text(a.status.as_u16(), &a.body)),
        },
        Err(e) => CheckStep {
            name: "SCIM service provider config".into(),
            ok: false,
            detail: e.to_string(),
        },
    };
    steps.push(step);
    // Discovery is often open; reading /Users proves the credentials.
    let users = service.url("/Users");
    let step = match service.send("check", Method::GET, &users, &[("count", "1")], None).await {
        Ok(a) if a.status.is_success() => {
            let total = a.json().and_then(|v| v.get("totalResults").and_then(Value::as_u64));
            CheckStep {
                name: "SCIM authenticated read".into(),
                ok: true,
                detail: format!("{users}: {} users", total.map_or("?".into(), |t| t.to_string())),
            }
        }
        Ok(a) => CheckStep {
            name: "SCIM authenticated read".into(),
            ok: false,
            detail: format!("{users}: {}", error_text(a.status.as_u16(), &a.body)),
        },
        Err(e) => {
            CheckStep { name: "SCIM authenticated read".into(), ok: false, detail: e.to_string() }
        }
    };
    steps.push(step);
    steps
}

fn fmt(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "supported",
        Some(false) => "NOT supported",
        None => "not stated",
    }
}
