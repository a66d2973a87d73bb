//! The request log: what a connector sent, the way SuccessFactors' OData API
//! audit log lets an admin see it. Bounded: the oldest entries are dropped.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// One logged request.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LoggedRequest {
    /// Position since the emulator started (keeps counting after clears).
    pub seq: u64,
    pub method: String,
    /// Path and query as sent, percent-decoded once for readability.
    pub url: String,
    pub status: u16,
    pub duration_ms: f64,
    /// The authenticated user (`user@company`), when authentication succeeded.
    pub user: Option<String>,
    /// The emulator clock's time of the request (RFC 3339).
    pub at: String,
    /// The fault injected, if any (`429`, `503`, `drop`, `truncate`).
    pub fault: Option<&'static str>,
}

/// Bounded ring buffer of requests.
#[derive(Debug)]
pub struct RequestLog {
    inner: Mutex<(VecDeque<LoggedRequest>, u64)>,
    capacity: usize,
}

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        RequestLog { inner: Mutex::new((VecDeque::new(), 0)), capacity: capacity.max(1) }
    }

    /// Appends an entry (its `seq` is assigned here).
    pub fn push(&self, mut entry: LoggedRequest) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (entries, seq) = &mut *guard;
        *seq += 1;
        entry.seq = *seq;
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The retained entries, oldest first.
    pub fn entries(&self) -> Vec<LoggedRequest> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0.iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0.clear();
    }
}

/// Percent-decodes once (invalid escapes are kept as written); `+` stays `+`.
pub fn decode_once(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_once_and_keeps_bad_escapes() {
        assert_eq!(decode_once("%24filter=a%20eq%20%27x%27"), "$filter=a eq 'x'");
        assert_eq!(decode_once("%2520"), "%20");
        assert_eq!(decode_once("100%"), "100%");
        assert_eq!(decode_once("%zz%4"), "%zz%4");
    }

    #[test]
    fn ring_buffer_drops_oldest() {
        let log = RequestLog::new(2);
        for i in 0..3 {
            log.push(LoggedRequest {
                seq: 0,
                method: "GET".into(),
                url: format!("/{i}"),
                status: 200,
                duration_ms: 0.0,
                user: None,
                at: String::new(),
                fault: None,
            });
        }
        let urls: Vec<_> = log.entries().into_iter().map(|e| (e.seq, e.url)).collect();
        assert_eq!(urls, vec![(2, "/1".to_owned()), (3, "/2".to_owned())]);
    }
}
