//! The connector against servers that misbehave: fake SuccessFactors
//! responders (a small axum server per test, or a bare TLS listener) that
//! loop their paging, redirect elsewhere, answer HTML with 200, put bytes
//! that are not text into one record, or present a certificate nobody
//! trusts. Each asserts what the connector reports and how many requests it
//! took, so a loop or a retry storm fails the test instead of passing slowly.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Response, StatusCode, Uri};
use hrsync_source_sf::{
    Credentials, Page, PersonQuery, RetryPolicy, SfClient, SourceConfig, SourceError,
};
use secrecy::SecretString;

/// Requests a fake answered, as path and query.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn all(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
    fn len(&self) -> usize {
        self.all().len()
    }
}

/// A listener on a free loopback port and its base URL.
async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, base)
}

/// Serve `respond(n, path_and_query)` (`n`: 0-based request number).
fn serve(
    listener: tokio::net::TcpListener,
    respond: impl Fn(usize, &str) -> Response<Body> + Send + Sync + 'static,
) -> Log {
    let log = Log::default();
    let seen = log.clone();
    let respond = Arc::new(respond);
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let respond = Arc::clone(&respond);
        let seen = seen.clone();
        async move {
            let pq = uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
            let n = {
                let mut l = seen.0.lock().expect("log");
                l.push(pq.clone());
                l.len() - 1
            };
            respond(n, &pq)
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    log
}

fn json(status: StatusCode, body: impl Into<Vec<u8>>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json;charset=utf-8")
        .body(Body::from(body.into()))
        .expect("response")
}

fn page(ids: &[&str], next: Option<&str>) -> Response<Body> {
    let results: Vec<serde_json::Value> =
        ids.iter().map(|id| serde_json::json!({"personIdExternal": id})).collect();
    let mut d = serde_json::json!({ "results": results });
    if let Some(n) = next {
        d["__next"] = n.into();
    }
    json(StatusCode::OK, serde_json::json!({ "d": d }).to_string())
}

fn client(base: &str, attempts: u32) -> SfClient {
    let mut c = SourceConfig::new(
        base,
        Credentials::Basic {
            username: "u".into(),
            company_id: "C".into(),
            password: SecretString::from("p".to_owned()),
        },
    );
    c.retry = RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_retry_after: Duration::from_millis(5),
    };
    SfClient::new(&c).expect("client")
}

fn query() -> PersonQuery {
    PersonQuery { page_size: 2, ..Default::default() }
}

/// Every page of a read, or its first error.
async fn read(client: &SfClient) -> Result<Vec<Page>, SourceError> {
    let mut pages = client.persons(&query())?;
    let mut out = Vec::new();
    while let Some(p) = pages.next_page().await? {
        out.push(p);
    }
    Ok(out)
}

/// A responder that would page for ever: after 50 requests it stops
/// linking on, so a connector without the check ends (and fails the test)
/// instead of hanging it.
fn bounded(n: usize, next: String) -> Response<Body> {
    if n >= 50 { page(&["last"], None) } else { page(&["a", "b"], Some(&next)) }
}

#[tokio::test]
async fn a_next_link_that_repeats_ends_the_read_with_an_error() {
    let (listener, base) = bind().await;
    let next = format!("{base}/odata/v2/PerPerson?$skiptoken=1");
    let log = serve(listener, move |n, _| bounded(n, next.clone()));
    match read(&client(&base, 3)).await {
        Err(SourceError::Paging { pages: 2, reason, .. }) => {
            assert!(reason.contains("already read"), "{reason}")
        }
        other => {
            panic!("expected a paging error after two pages, got {:?}", other.map(|p| p.len()))
        }
    }
    assert_eq!(log.len(), 2, "{:?}", log.all());
}

#[tokio::test]
async fn a_paging_cycle_through_two_links_is_caught_too() {
    let (listener, base) = bind().await;
    let b = base.clone();
    let log = serve(listener, move |n, pq| {
        let to = if pq.contains("skiptoken=1") { 2 } else { 1 };
        bounded(n, format!("{b}/odata/v2/PerPerson?$skiptoken={to}"))
    });
    let err = read(&client(&base, 3)).await.map(|p| p.len()).expect_err("a cycle");
    assert!(matches!(err, SourceError::Paging { pages: 3, .. }), "{err}");
    assert_eq!(log.len(), 3, "{:?}", log.all());
    let message = err.to_string();
    assert!(message.contains("skiptoken=1") && message.contains("already read"), "{message}");
}

#[tokio::test]
async fn a_page_without_records_that_links_on_is_an_error() {
    let (listener, base) = bind().await;
    let b = base.clone();
    let log = serve(listener, move |n, _| {
        if n >= 50 {
            page(&[], None)
        } else {
            page(&[], Some(&format!("{b}/odata/v2/PerPerson?$skiptoken={n}")))
        }
    });
    let err = read(&client(&base, 3)).await.map(|p| p.len()).expect_err("no progress");
    match &err {
        SourceError::Paging { pages: 1, reason, .. } => {
            assert!(reason.contains("no records"), "{reason}")
        }
        other => panic!("{other}"),
    }
    assert_eq!(log.len(), 1);
}

#[tokio::test]
async fn a_malformed_next_link_is_a_paging_error() {
    let (listener, base) = bind().await;
    let log = serve(listener, |_, _| page(&["a"], Some("http://[::1")));
    let err = read(&client(&base, 3)).await.map(|p| p.len()).expect_err("malformed");
    assert!(
        matches!(&err, SourceError::Paging { reason, .. } if reason.contains("not a URL")),
        "{err}"
    );
    assert_eq!(log.len(), 1);
}

#[tokio::test]
async fn a_redirect_to_another_server_is_refused_naming_both_urls() {
    let (other_listener, other) = bind().await;
    let other_log = serve(other_listener, |_, _| page(&["foreign"], None));
    let (listener, base) = bind().await;
    let to = format!("{other}/odata/v2/PerPerson?$format=json");
    let log = serve(listener, move |_, _| {
        Response::builder()
            .status(StatusCode::FOUND)
            .header("location", to.as_str())
            .body(Body::empty())
            .expect("response")
    });
    let err = read(&client(&base, 3)).await.map(|p| p.len()).expect_err("refused");
    match &err {
        SourceError::Redirected { url, status: 302, location } => {
            assert!(url.starts_with(&base), "{url}");
            assert!(location.starts_with(&other), "{location}");
        }
        other => panic!("{other}"),
    }
    let message = err.to_string();
    assert!(message.contains(&base) && message.contains(&other), "{message}");
    assert_eq!(log.len(), 1, "a refused redirect is not retried");
    assert_eq!(other_log.len(), 0, "nothing, credentials included, went to the other server");
}

#[tokio::test]
async fn a_redirect_within_the_server_is_followed() {
    let (listener, base) = bind().await;
    let log = serve(listener, |_, pq| {
        if pq.starts_with("/odata/v2/PerPerson") {
            Response::builder()
                .status(StatusCode::TEMPORARY_REDIRECT)
                .header("location", "/odata/v2/Moved?$format=json")
                .body(Body::empty())
                .expect("response")
        } else {
            page(&["1", "2"], None)
        }
    });
    let pages = read(&client(&base, 3)).await.expect("followed");
    assert_eq!(pages[0].records.len(), 2);
    assert_eq!(log.len(), 2);
}

#[tokio::test]
async fn an_html_page_with_status_200_is_reported_at_once_as_what_it_is() {
    let (listener, base) = bind().await;
    let log = serve(listener, |_, _| {
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "text/html; charset=utf-8")
            .body(Body::from(
                "<!DOCTYPE html>\n<html><head><title>SAP SuccessFactors - Sign in</title></head><body>maintenance</body></html>",
            ))
            .expect("response")
    });
    let c = client(&base, 8);
    let err = read(&c).await.map(|p| p.len()).expect_err("not a page");
    assert!(matches!(err, SourceError::Unexpected { status: 200, .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("text/html"), "{message}");
    assert!(message.contains("Sign in"), "{message}");
    assert!(!message.contains("line 1 column 1"), "{message}");
    assert_eq!(log.len(), 1, "not retried");
    // `$count` the same way.
    let err = c.count(&query()).await.expect_err("not a count");
    assert!(matches!(err, SourceError::Unexpected { .. }), "{err}");
    assert!(err.to_string().contains("text/html"), "{err}");
    assert_eq!(log.len(), 2, "not retried");
}

#[tokio::test]
async fn server_errors_quote_successfactors_message_json_and_xml() {
    let (listener, base) = bind().await;
    let log = serve(listener, |n, _| {
        if n == 0 {
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":{"code":"COE_GENERAL_SERVER_FAILURE","message":{"lang":"en-US","value":"Database is down for maintenance"}}}"#,
            )
        } else {
            Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .header("content-type", "application/xml")
                .body(Body::from(
                    r#"<?xml version="1.0" encoding="utf-8"?><error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"><code>LGN0011</code><message lang="en-US">Company &amp; tenant locked</message></error>"#,
                ))
                .expect("response")
        }
    });
    let c = client(&base, 1);
    let first = read(&c).await.map(|p| p.len()).expect_err("503");
    let m = first.to_string();
    assert!(m.contains("HTTP 503") && m.contains("Database is down for maintenance"), "{m}");
    assert!(m.contains("COE_GENERAL_SERVER_FAILURE"), "{m}");
    let second = read(&c).await.map(|p| p.len()).expect_err("500");
    let m = second.to_string();
    assert!(m.contains("HTTP 500") && m.contains("LGN0011 Company & tenant locked"), "{m}");
    assert_eq!(log.len(), 2);
}

#[tokio::test]
async fn server_text_is_escaped_and_long_urls_are_shortened_in_errors() {
    let (listener, base) = bind().await;
    let log = serve(listener, |_, _| {
        json(
            StatusCode::BAD_REQUEST,
            "{\"error\":{\"code\":\"X\\u001b[2J\",\"message\":{\"value\":\"bad \\u001b]0;pwned\\u0007 \\u202eexe.txt\"}}}",
        )
    });
    let q = PersonQuery {
        page_size: 2,
        filter: Some(hrsync_source_sf::Filter::is_in(
            "personIdExternal",
            (0..200).map(|i| format!("worker-{i}")).collect::<Vec<_>>().iter().map(String::as_str),
        )),
        ..Default::default()
    };
    let c = client(&base, 1);
    let err = match c.persons(&q).expect("stream").next_page().await {
        Err(e) => e,
        Ok(p) => panic!("expected a 400, got {p:?}"),
    };
    let SourceError::Rejected { url, .. } = &err else { panic!("{err}") };
    assert!(url.len() > 2000, "the whole URL is kept in the field: {}", url.len());
    let m = err.to_string();
    assert!(!m.chars().any(|c| c == '\u{1b}' || c == '\u{7}' || c == '\u{202e}'), "{m:?}");
    assert!(m.contains("\\u{1b}]0;pwned\\u{7}") && m.contains("\\u{202e}exe.txt"), "{m}");
    assert!(m.len() < 500, "{} chars: {m}", m.len());
    assert!(m.contains("$filter=") && m.contains("chars)"), "{m}");
    assert_eq!(log.len(), 1);
}

#[tokio::test]
async fn a_record_that_is_not_text_is_rejected_alone() {
    let (listener, base) = bind().await;
    let log = serve(listener, |_, _| {
        let mut body = br#"{"d":{"results":[{"personIdExternal":"1001","lastName":"Ok"},{"personIdExternal":"1002","lastName":"M"#.to_vec();
        body.push(0xff);
        body.extend_from_slice(br#"ller"},{"personIdExternal":"1003","firstName":"\ud800x"},{"personIdExternal":"1004","lastName":"\ud83d\ude00"}]}}"#);
        json(StatusCode::OK, body)
    });
    let pages = read(&client(&base, 3)).await.expect("the page is read");
    let ids: Vec<&str> =
        pages[0].records.iter().filter_map(|r| r["personIdExternal"].as_str()).collect();
    assert_eq!(ids, ["1001", "1004"]);
    assert_eq!(pages[0].records[1]["lastName"], "😀");
    let rejected: Vec<(Option<&str>, usize, &str)> = pages[0]
        .rejected
        .iter()
        .map(|r| (r.person_id.as_deref(), r.index, r.path.as_str()))
        .collect();
    assert_eq!(rejected, [(Some("1002"), 1, "lastName"), (Some("1003"), 2, "firstName")]);
    assert!(pages[0].rejected[0].to_string().contains("1002"), "{}", pages[0].rejected[0]);
    assert_eq!(log.len(), 1);
}

/// A TLS listener on loopback whose certificate no client trusts; counts
/// the connections it accepts.
fn untrusted_tls_server() -> (String, Arc<AtomicUsize>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("cert");
    let chain = vec![CertificateDer::from(cert.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server config"),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("https://{}", listener.local_addr().expect("addr"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let Ok(mut conn) = rustls::ServerConnection::new(config) else { return };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                while conn.is_handshaking() {
                    if conn.complete_io(&mut stream).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (base, accepted)
}

#[tokio::test]
async fn a_refused_certificate_fails_at_once_without_retries() {
    let (base, accepted) = untrusted_tls_server();
    let err = read(&client(&base, 8)).await.map(|p| p.len()).expect_err("untrusted");
    assert!(matches!(err, SourceError::Tls { .. }), "{err}");
    let m = err.to_string();
    assert!(m.contains("certificate") && m.contains("ca_file"), "{m}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one attempt, not retried: {m}");
}
