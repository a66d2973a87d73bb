//! `hrsync check` for a Graph target: a token, then an authenticated read
//! of one user, without changing anything.

use reqwest::Method;
use serde_json::Value;

use hrsync_target::CheckStep;

use crate::service::{Service, rb_error};

pub(crate) async fn check(service: &Service) -> Vec<CheckStep> {
    let mut steps = Vec::new();
    let path = "/users?$top=1&$select=id,userPrincipalName";
    let url = service.url(path);
    let step = match service.send("check", Method::GET, path, None).await {
        Ok(a) if a.status.is_success() => {
            let n = a.json().and_then(|v| v.get("value").and_then(Value::as_array).map(Vec::len));
            CheckStep {
                name: "Microsoft Graph authenticated read".into(),
                ok: true,
                detail: format!(
                    "{url}: token accepted, {} user(s) on the first page",
                    n.unwrap_or(0)
                ),
            }
        }
        Ok(a) => CheckStep {
            name: "Microsoft Graph authenticated read".into(),
            ok: false,
            detail: format!("{url}: {}", rb_error(&a)),
        },
        Err(e) => CheckStep {
            name: "Microsoft Graph authenticated read".into(),
            ok: false,
            detail: e.to_string(),
        },
    };
    steps.push(step);
    let domain = service.config().domain.clone();
    steps.push(CheckStep {
        name: "userPrincipalName domain".into(),
        ok: domain.is_some(),
        detail: match domain {
            Some(d) => format!("user principal names are made in {d} (it must be a verified domain of the tenant)"),
            None => "target.connection.domain is not set: userPrincipalName values must carry a verified domain".into(),
        },
    });
    steps
}
