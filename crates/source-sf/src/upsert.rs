//! Writing to SuccessFactors: `POST /odata/v2/upsert?$format=json`.
//!
//! SuccessFactors answers an upsert with HTTP 200 even when records fail,
//! and one `UpsertResult` per record in `d`:
//! `{"key":"PerEmail/emailType=8448,PerEmail/personIdExternal=103208","status":"OK","editStatus":"UPSERTED","message":null,"index":0,"httpCode":200}`
//! or `"status":"ERROR"` with SuccessFactors' `message` (`... for Key <key>
//! with the index <n>`). The status is read from `status`, never from
//! `httpCode` (some entities answer 204 on success).
//!
//! [`SfClient::upsert`] sends at most [`MAX_UPSERT_RECORDS`] records per
//! request (SuccessFactors refuses the whole request above that,
//! KBA-3145174) and returns one [`RecordStatus`] per record, in the order
//! given. A request refused as a whole (a top-level error, a server that
//! stays down) fails only that request's records; the other requests are
//! still sent. Only a refusal every request would meet (credentials, TLS,
//! a redirect elsewhere, the token service) stops the remaining requests,
//! whose records are then reported [`UpsertOutcome::RequestFailed`] as not
//! sent.
//!
//! Pure helpers ([`split_chunks`], [`parse_upsert_response`],
//! [`record_key`]) are public so the flow and its tests can use them
//! without a server.

use serde_json::Value;

use crate::client::{SfClient, SourceError, Unusable, describe_body, looks_like_json_object};

/// SuccessFactors' limit of records per upsert request (KBA-3145174).
pub const MAX_UPSERT_RECORDS: usize = 1000;

/// The result of one record of an upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordStatus {
    /// Position of the record in the slice given to [`SfClient::upsert`].
    pub index: usize,
    /// The record's key: SuccessFactors' `key` of the result
    /// (`PerEmail/emailType=8448,PerEmail/personIdExternal=103208`) when it
    /// sent one, else the record's `__metadata.uri` ([`record_key`]).
    pub key: String,
    pub outcome: UpsertOutcome,
}

impl RecordStatus {
    /// Whether SuccessFactors wrote the record.
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, UpsertOutcome::Ok { .. })
    }

    /// What went wrong, when something did: SuccessFactors' message for a
    /// refused record, the request's error otherwise.
    pub fn message(&self) -> Option<&str> {
        match &self.outcome {
            UpsertOutcome::Ok { .. } => None,
            UpsertOutcome::Refused { message, .. } | UpsertOutcome::RequestFailed { message } => {
                Some(message)
            }
        }
    }
}

/// What SuccessFactors did with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// `status` `OK` (or `ACCEPTED` under `purgeType=full`, which this
    /// client does not send); `editStatus` as given (`UPSERTED`, ...).
    Ok { edit_status: Option<String> },
    /// `status` `ERROR`: SuccessFactors refused this record and said why.
    /// Retrying the same record gets the same answer until the cause is
    /// fixed (escrow it).
    Refused { message: String, http_code: Option<u16> },
    /// The record's request failed as a whole, or was not sent because an
    /// earlier one met a refusal every request would meet, or the answer
    /// held no result for it. Nothing is known to be written.
    RequestFailed { message: String },
}

/// The record slices of at most `max` records (at least 1) each, in order.
pub fn split_chunks(records: &[Value], max: usize) -> impl Iterator<Item = &[Value]> {
    records.chunks(max.max(1))
}

/// A record's identity for reports: its `__metadata.uri`, else its
/// `__metadata.type`, else `?`.
pub fn record_key(record: &Value) -> String {
    let meta = record.get("__metadata");
    meta.and_then(|m| m.get("uri"))
        .or_else(|| meta.and_then(|m| m.get("type")))
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

/// Why an upsert answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpsertResponseError {
    #[error("not JSON: {0}")]
    NotJson(String),
    /// Cut short in transit: asking again (the upsert is idempotent) may
    /// get it whole.
    #[error("truncated JSON: {0}")]
    Truncated(String),
    #[error("no `d` array of UpsertResult")]
    NoResults,
}

/// Reads the answer to an upsert of `sent` records: `{"d":[UpsertResult...]}`
/// (also `{"d":{"results":[...]}}`). Each result is matched to its record by
/// its `index`, else by its position; a record with no result is
/// [`UpsertOutcome::RequestFailed`]. `index`es of the returned statuses are
/// positions within `sent`.
pub fn parse_upsert_response(
    body: &[u8],
    sent: &[Value],
) -> Result<Vec<RecordStatus>, UpsertResponseError> {
    let parsed: Value = serde_json::from_slice(body).map_err(|e| {
        if e.is_eof() {
            UpsertResponseError::Truncated(e.to_string())
        } else {
            UpsertResponseError::NotJson(e.to_string())
        }
    })?;
    let results = match parsed.get("d") {
        Some(Value::Array(items)) => items,
        Some(Value::Object(o)) => match o.get("results") {
            Some(Value::Array(items)) => items,
            _ => return Err(UpsertResponseError::NoResults),
        },
        _ => return Err(UpsertResponseError::NoResults),
    };
    let mut out: Vec<Option<RecordStatus>> = vec![None; sent.len()];
    for (pos, result) in results.iter().enumerate() {
        let index = result
            .get("index")
            .and_then(|i| i.as_u64().or_else(|| i.as_str().and_then(|s| s.trim().parse().ok())))
            .and_then(|i| usize::try_from(i).ok())
            .unwrap_or(pos);
        let Some(slot) = out.get_mut(index) else { continue };
        let text = |name: &str| match result.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let key = text("key")
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| sent.get(index).map(record_key).unwrap_or_default());
        let status = text("status").unwrap_or_default();
        let outcome =
            if status.eq_ignore_ascii_case("OK") || status.eq_ignore_ascii_case("ACCEPTED") {
                UpsertOutcome::Ok { edit_status: text("editStatus") }
            } else {
                let http_code = result.get("httpCode").and_then(|c| {
                    c.as_u64()
                        .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
                        .and_then(|c| u16::try_from(c).ok())
                });
                let message = text("message").unwrap_or_else(|| {
                    format!("SuccessFactors answered status `{status}` without a message")
                });
                UpsertOutcome::Refused { message, http_code }
            };
        *slot = Some(RecordStatus { index, key, outcome });
    }
    Ok(out
        .into_iter()
        .enumerate()
        .map(|(index, s)| {
            s.unwrap_or_else(|| RecordStatus {
                index,
                key: sent.get(index).map(record_key).unwrap_or_default(),
                outcome: UpsertOutcome::RequestFailed {
                    message: "SuccessFactors' answer held no result for this record".into(),
                },
            })
        })
        .collect())
}

/// Whether an error would meet every further request too (so the rest are
/// not sent).
fn stops_all(e: &SourceError) -> bool {
    matches!(
        e,
        SourceError::Unauthorized { .. }
            | SourceError::Auth(_)
            | SourceError::Tls { .. }
            | SourceError::Redirected { .. }
            | SourceError::Config(_)
    )
}

impl SfClient {
    /// Upserts `records` (each a JSON object with `__metadata.uri`, e.g.
    /// `PerEmail(emailType='8448',personIdExternal='103208')`, and only
    /// upsertable properties) in requests of at most
    /// [`MAX_UPSERT_RECORDS`]. Returns one [`RecordStatus`] per record, in
    /// order; see the module docs for how failures are reported. `Err` only
    /// when no request could be built (a bad root URL).
    pub async fn upsert(&self, records: &[Value]) -> Result<Vec<RecordStatus>, SourceError> {
        self.upsert_chunked(records, MAX_UPSERT_RECORDS).await
    }

    /// [`SfClient::upsert`] with another request size (at most
    /// [`MAX_UPSERT_RECORDS`]; tests use small ones).
    pub async fn upsert_chunked(
        &self,
        records: &[Value],
        max_per_request: usize,
    ) -> Result<Vec<RecordStatus>, SourceError> {
        let url = self.resolve("upsert?$format=json")?;
        let mut out = Vec::with_capacity(records.len());
        let mut stopped: Option<String> = None;
        let mut offset = 0;
        for chunk in split_chunks(records, max_per_request.min(MAX_UPSERT_RECORDS)) {
            let failed_all = |message: &str| -> Vec<RecordStatus> {
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, r)| RecordStatus {
                        index: offset + i,
                        key: record_key(r),
                        outcome: UpsertOutcome::RequestFailed { message: message.to_owned() },
                    })
                    .collect()
            };
            if let Some(why) = &stopped {
                out.extend(failed_all(&format!(
                    "not sent: an earlier upsert request failed: {why}"
                )));
                offset += chunk.len();
                continue;
            }
            let body = serde_json::to_vec(chunk)
                .map_err(|e| SourceError::Config(format!("upsert body: {e}")))?;
            let answer = self
                .request_with_retries(&url, Some(&body), |body, content_type| {
                    if !looks_like_json_object(body) {
                        return Err(Unusable::Unexpected(format!(
                            "not an upsert result: {}",
                            describe_body(content_type, body)
                        )));
                    }
                    parse_upsert_response(body, chunk).map_err(|e| match e {
                        UpsertResponseError::Truncated(e) => Unusable::Damaged(e),
                        e => Unusable::Unexpected(format!(
                            "not an upsert result ({e}): {}",
                            describe_body(content_type, body)
                        )),
                    })
                })
                .await;
            match answer {
                Ok(statuses) => out.extend(statuses.into_iter().map(|mut s| {
                    s.index += offset;
                    s
                })),
                Err(e) => {
                    let message = e.to_string();
                    tracing::warn!(
                        message = "SuccessFactors upsert request failed; its records are not written.",
                        records = chunk.len(),
                        error = %message
                    );
                    if stops_all(&e) {
                        stopped = Some(message.clone());
                    }
                    out.extend(failed_all(&message));
                }
            }
            offset += chunk.len();
        }
        let refused = out.iter().filter(|s| !s.is_ok()).count();
        tracing::debug!(message = "SuccessFactors upsert done.", records = out.len(), refused);
        Ok(out)
    }
}

/// The result of one planned write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStatus {
    pub person_id_external: String,
    pub write: crate::writeback::Write,
    pub status: RecordStatus,
}

impl SfClient {
    /// Sends writeback plans: every plan's [`Plan::demote`] records first
    /// (one batch for all persons), then every plan's [`Plan::records`].
    /// Empty plans send nothing; with all plans empty no request is made.
    /// A promotion whose demotion failed is refused by SuccessFactors and
    /// reported like any refused record. Statuses come in the order sent.
    ///
    /// [`Plan::demote`]: crate::writeback::Plan::demote
    /// [`Plan::records`]: crate::writeback::Plan::records
    pub async fn write_plans(
        &self,
        plans: &[crate::writeback::Plan],
    ) -> Result<Vec<PlannedStatus>, SourceError> {
        let mut out = Vec::new();
        for demote in [true, false] {
            let mut writes = Vec::new();
            let mut records = Vec::new();
            for plan in plans {
                let (ws, rs) = if demote {
                    (&plan.demote, plan.demote_records())
                } else {
                    (&plan.records, plan.upsert_records())
                };
                writes.extend(ws.iter().map(|w| (plan.person_id_external.clone(), w.clone())));
                records.extend(rs);
            }
            if records.is_empty() {
                continue;
            }
            let statuses = self.upsert(&records).await?;
            for ((person_id_external, write), status) in writes.into_iter().zip(statuses) {
                out.push(PlannedStatus { person_id_external, write, status });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(uri: &str) -> Value {
        json!({"__metadata": {"uri": uri, "type": "SFOData.PerEmail"}, "emailAddress": "a@x.com"})
    }

    #[test]
    fn results_are_matched_by_index_and_missing_ones_fail() {
        let sent = vec![rec("PerEmail(a)"), rec("PerEmail(b)"), rec("PerEmail(c)")];
        let body = br#"{"d":[
            {"key":"PerEmail/emailType=8449,PerEmail/personIdExternal=b","status":"ERROR","editStatus":null,"message":"Invalid picklist option id for Key x with the index 1","index":1,"httpCode":500,"inlineResults":null},
            {"key":"PerEmail/emailType=8448,PerEmail/personIdExternal=a","status":"OK","editStatus":"UPSERTED","message":null,"index":0,"httpCode":200,"inlineResults":null}
        ]}"#;
        let got = parse_upsert_response(body, &sent).unwrap();
        assert_eq!(got.len(), 3);
        assert!(got[0].is_ok());
        assert_eq!(got[0].key, "PerEmail/emailType=8448,PerEmail/personIdExternal=a");
        assert_eq!(
            got[1].outcome,
            UpsertOutcome::Refused {
                message: "Invalid picklist option id for Key x with the index 1".into(),
                http_code: Some(500)
            }
        );
        assert!(matches!(got[2].outcome, UpsertOutcome::RequestFailed { .. }));
        assert_eq!(got[2].key, "PerEmail(c)");
    }

    #[test]
    fn results_without_index_follow_position_and_status_not_http_code_decides() {
        let sent = vec![rec("PerEmail(a)")];
        let body = br#"{"d":{"results":[{"key":"k","status":"OK","httpCode":204}]}}"#;
        let got = parse_upsert_response(body, &sent).unwrap();
        assert!(got[0].is_ok());
        let body = br#"{"d":[{"status":"ERROR","httpCode":200}]}"#;
        let got = parse_upsert_response(body, &sent).unwrap();
        assert!(!got[0].is_ok());
        assert_eq!(got[0].key, "PerEmail(a)");
        assert!(got[0].message().is_some_and(|m| m.contains("ERROR")));
    }

    #[test]
    fn a_cut_answer_is_truncated_not_foreign() {
        let sent = vec![rec("PerEmail(a)")];
        let body = br#"{"d":[{"key":"k","status":"OK","#;
        assert!(matches!(
            parse_upsert_response(body, &sent),
            Err(UpsertResponseError::Truncated(_))
        ));
    }

    #[test]
    fn bad_answers_are_errors() {
        assert!(parse_upsert_response(b"<html>", &[]).is_err());
        assert_eq!(parse_upsert_response(br#"{"d":{}}"#, &[]), Err(UpsertResponseError::NoResults));
    }

    #[test]
    fn chunks_hold_at_most_the_limit() {
        let records: Vec<Value> = (0..2501).map(|i| json!(i)).collect();
        let sizes: Vec<usize> =
            split_chunks(&records, MAX_UPSERT_RECORDS).map(<[_]>::len).collect();
        assert_eq!(sizes, vec![1000, 1000, 501]);
        assert_eq!(split_chunks(&records[..3], 0).count(), 3);
    }
}
