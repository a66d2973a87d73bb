//! A scripted HTTP responder in front of a real server: each request is
//! shown to a rule, which forwards it (the real server answers) or answers
//! itself (a 409 with Salesforce's body, a 429 burst, a 5xx, a 404 for an
//! account deleted behind hrsync's back). For answers a real server cannot
//! be made to give; tests name it as such. Plain threads and blocking
//! sockets, one connection per request (`Connection: close`), so it works
//! under any test runtime.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::TestkitError;

/// A request as the responder received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the rule does with a request.
#[derive(Clone)]
pub enum Verdict {
    /// Send it on to the real server and return its answer.
    Forward,
    /// Answer it here (`Content-Type: application/scim+json` unless
    /// `headers` names one).
    Respond { status: u16, headers: Vec<(String, String)>, body: String },
    /// Send it on, and return the real answer with its body (de-chunked)
    /// passed through this function: a record the real server cannot be
    /// made to hold (a number where a string belongs, a bad byte).
    Edit(Edit),
}

/// A body rewrite for [`Verdict::Edit`].
pub type Edit = Arc<dyn Fn(Vec<u8>) -> Vec<u8> + Send + Sync>;

type Rule = dyn Fn(&Request) -> Verdict + Send + Sync;

/// The running responder; stopped when dropped.
pub struct Responder {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    served: Arc<Mutex<Vec<(String, String, u16)>>>,
}

impl Responder {
    /// Listen on a free loopback port in front of `upstream`
    /// (`http://host:port`, any path ignored: requests keep their own).
    pub fn start(
        upstream: &str,
        rule: impl Fn(&Request) -> Verdict + Send + Sync + 'static,
    ) -> Result<Responder, TestkitError> {
        let step = "start the scripted responder";
        let hostport =
            upstream.trim_start_matches("http://").split('/').next().unwrap_or_default().to_owned();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| TestkitError::Step { step, message: e.to_string() })?;
        let addr = listener
            .local_addr()
            .map_err(|e| TestkitError::Step { step, message: e.to_string() })?;
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(Mutex::new(Vec::new()));
        let rule: Arc<Rule> = Arc::new(rule);
        let (stop2, served2) = (stop.clone(), served.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (rule, served, hostport) = (rule.clone(), served2.clone(), hostport.clone());
                std::thread::spawn(move || {
                    if let Some(entry) = serve(conn, &hostport, &*rule)
                        && let Ok(mut s) = served.lock()
                    {
                        s.push(entry);
                    }
                });
            }
        });
        Ok(Responder { addr, stop, served })
    }

    /// The responder's base URL (`http://127.0.0.1:port`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `(method, target, status)` of every request answered so far.
    pub fn served(&self) -> Vec<(String, String, u16)> {
        self.served.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.trim_end().split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).ok()?;
    Some(Request { method, target, headers, body })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Scripted",
    }
}

/// Answer one connection; the log entry of what was answered.
fn serve(mut conn: TcpStream, upstream: &str, rule: &Rule) -> Option<(String, String, u16)> {
    let request = read_request(&mut conn)?;
    let entry = |status| Some((request.method.clone(), request.target.clone(), status));
    match rule(&request) {
        Verdict::Respond { status, headers, body } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                head.push_str("Content-Type: application/scim+json\r\n");
            }
            for (k, v) in &headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
            conn.write_all(head.as_bytes()).ok()?;
            conn.write_all(body.as_bytes()).ok()?;
            entry(status)
        }
        Verdict::Forward => {
            let answer = forward(&request, upstream)?;
            conn.write_all(&answer).ok()?;
            entry(status_of(&answer))
        }
        Verdict::Edit(edit) => {
            let answer = forward(&request, upstream)?;
            let split = answer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
            let (head, raw) = answer.split_at(split);
            let head = String::from_utf8_lossy(head).into_owned();
            let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
            let body = edit(if chunked { dechunk(raw) } else { raw.to_vec() });
            let mut out = String::new();
            for line in head.trim_end().split("\r\n") {
                let lower = line.to_ascii_lowercase();
                if !["content-length:", "transfer-encoding:", "connection:"]
                    .iter()
                    .any(|h| lower.starts_with(h))
                {
                    out.push_str(line);
                    out.push_str("\r\n");
                }
            }
            out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
            conn.write_all(out.as_bytes()).ok()?;
            conn.write_all(&body).ok()?;
            entry(status_of(&answer))
        }
    }
}

/// The request sent on to the real server; its whole answer.
fn forward(request: &Request, upstream: &str) -> Option<Vec<u8>> {
    let mut up = TcpStream::connect(upstream).ok()?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (k, v) in &request.headers {
        if !k.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes()).ok()?;
    up.write_all(&request.body).ok()?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer).ok()?;
    Some(answer)
}

fn status_of(answer: &[u8]) -> u16 {
    String::from_utf8_lossy(&answer[..answer.len().min(16)])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A chunked body's data.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || raw.len() < end + 2 + size {
            break;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[(end + 2 + size + 2).min(raw.len())..];
    }
    out
}
