//! The route table: the router is built from it and the OpenAPI document
//! (`/api/v1/openapi.json`) is written from it, so neither can list a
//! route the other lacks. Every [`Op`] has its handler in
//! [`crate::api::handler`] (an exhaustive match), so a route in the table
//! without a handler does not compile.

use serde_json::{Map, Value, json};

use crate::api::MAX_LIMIT;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Delete => "delete",
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    /// Open unless `metrics_token_required`.
    Metrics,
    Viewer,
    Operator,
}

/// What a route does: one handler each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Healthz,
    Readyz,
    Metrics,
    OpenApi,
    Flows,
    Pause,
    Resume,
    Cycles,
    Cycle,
    Log,
    Escrows,
    RetryEscrow,
    DropEscrow,
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Text,
    /// A positive whole number.
    Id,
    /// `limit`: 1.., capped.
    Limit,
    /// An RFC 3339 instant.
    Time,
    Enum(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub path: bool,
    pub kind: Kind,
    pub doc: &'static str,
}

const fn q(name: &'static str, kind: Kind, doc: &'static str) -> Param {
    Param { name, path: false, kind, doc }
}

const fn p(name: &'static str, kind: Kind, doc: &'static str) -> Param {
    Param { name, path: true, kind, doc }
}

#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub op: Op,
    pub auth: Auth,
    pub summary: &'static str,
    pub params: &'static [Param],
    /// Status codes it answers besides 200 and the auth ones.
    pub errors: &'static [u16],
}

const ACTIONS: &[&str] = &["create", "update", "disable", "delete", "skip", "failed"];
const STATUSES: &[&str] = &["success", "failure", "skipped", "warning"];
const FLOW_Q: Param = q("flow", Kind::Text, "Only this flow (default: every flow).");
const LIMIT: Param = q("limit", Kind::Limit, "Page size (default 50; capped at 500).");
const FLOW_P: Param = p("flow", Kind::Text, "The flow's name.");
const PERSON_P: Param = p("person", Kind::Text, "The worker's personIdExternal.");

pub const ROUTES: &[Route] = &[
    Route {
        method: Method::Get,
        path: "/healthz",
        op: Op::Healthz,
        auth: Auth::None,
        summary: "The process is up.",
        params: &[],
        errors: &[],
    },
    Route {
        method: Method::Get,
        path: "/readyz",
        op: Op::Readyz,
        auth: Auth::None,
        summary: "Every flow's state store answers and the runner runs.",
        params: &[],
        errors: &[503],
    },
    Route {
        method: Method::Get,
        path: "/metrics",
        op: Op::Metrics,
        auth: Auth::Metrics,
        summary: "Prometheus metrics (text format 0.0.4).",
        params: &[],
        errors: &[503],
    },
    Route {
        method: Method::Get,
        path: "/api/v1/openapi.json",
        op: Op::OpenApi,
        auth: Auth::None,
        summary: "This document.",
        params: &[],
        errors: &[],
    },
    Route {
        method: Method::Get,
        path: "/api/v1/flows",
        op: Op::Flows,
        auth: Auth::Viewer,
        summary: "Each flow: state, watermark, last cycle, next run and why, escrow.",
        params: &[],
        errors: &[503],
    },
    Route {
        method: Method::Post,
        path: "/api/v1/flows/{flow}/pause",
        op: Op::Pause,
        auth: Auth::Operator,
        summary: "Hold the flow's scheduled cycles (the one in flight finishes); watermarks are kept.",
        params: &[FLOW_P],
        errors: &[404, 503],
    },
    Route {
        method: Method::Post,
        path: "/api/v1/flows/{flow}/resume",
        op: Op::Resume,
        auth: Auth::Operator,
        summary: "Scheduled cycles again; one that fell due meanwhile runs at once.",
        params: &[FLOW_P],
        errors: &[404, 503],
    },
    Route {
        method: Method::Get,
        path: "/api/v1/cycles",
        op: Op::Cycles,
        auth: Auth::Viewer,
        summary: "Cycles, newest first.",
        params: &[FLOW_Q, LIMIT],
        errors: &[400, 404, 503],
    },
    Route {
        method: Method::Get,
        path: "/api/v1/cycles/{id}",
        op: Op::Cycle,
        auth: Auth::Viewer,
        summary: "One cycle, with its log entries counted by status.",
        params: &[p("id", Kind::Id, "The cycle's id.")],
        errors: &[400, 404, 503],
    },
    Route {
        method: Method::Get,
        path: "/api/v1/log",
        op: Op::Log,
        auth: Auth::Viewer,
        summary: "The provisioning log, newest first, paged by cursor.",
        params: &[
            FLOW_Q,
            q("person", Kind::Text, "Only this worker (404 if the log has no entry of theirs)."),
            q("action", Kind::Enum(ACTIONS), "Only this action."),
            q("status", Kind::Enum(STATUSES), "Only this status."),
            q("cycle", Kind::Id, "Only this cycle."),
            q("from", Kind::Time, "Entries at or after this instant."),
            q("to", Kind::Time, "Entries before this instant."),
            q("q", Kind::Text, "Text in the person id, target id, error or steps."),
            LIMIT,
            q("cursor", Kind::Id, "The previous page's `next_cursor`."),
        ],
        errors: &[400, 404, 503],
    },
    Route {
        method: Method::Get,
        path: "/api/v1/escrow",
        op: Op::Escrows,
        auth: Auth::Viewer,
        summary: "Workers in escrow (failed, awaiting retry).",
        params: &[FLOW_Q],
        errors: &[400, 404, 503],
    },
    Route {
        method: Method::Post,
        path: "/api/v1/escrow/{flow}/{person}/retry",
        op: Op::RetryEscrow,
        auth: Auth::Operator,
        summary: "Retry an escrowed worker now (provisioned on demand).",
        params: &[FLOW_P, PERSON_P],
        errors: &[404, 502, 503],
    },
    Route {
        method: Method::Delete,
        path: "/api/v1/escrow/{flow}/{person}",
        op: Op::DropEscrow,
        auth: Auth::Operator,
        summary: "Drop a worker's escrow: no more retries until the source changes it.",
        params: &[FLOW_P, PERSON_P],
        errors: &[404, 409, 503],
    },
];

fn schema(kind: Kind) -> Value {
    match kind {
        Kind::Text => json!({"type": "string", "minLength": 1, "maxLength": 256}),
        Kind::Id => {
            json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX})
        }
        Kind::Limit => {
            json!({"type": "integer", "minimum": 1, "description": format!("at most {MAX_LIMIT} are returned")})
        }
        Kind::Time => json!({"type": "string", "format": "date-time"}),
        Kind::Enum(values) => json!({"type": "string", "enum": values}),
    }
}

fn describe(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "A malformed or unknown parameter.",
        401 => "No live API token.",
        403 => "The token's role is not enough.",
        404 => "No such flow, cycle, person or route.",
        409 => "The flow is running a job; try again.",
        502 => "The retry ran and failed (the source or target said why).",
        503 => "The state store or the runner does not answer.",
        _ => "",
    }
}

/// The OpenAPI 3.0 document of [`ROUTES`].
pub fn openapi() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let mut paths = Map::new();
    for r in ROUTES {
        let mut responses = Map::new();
        let ok = match r.op {
            Op::Metrics => {
                json!({"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}})
            }
            _ => {
                json!({"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}})
            }
        };
        responses.insert("200".into(), ok);
        let mut codes: Vec<u16> = r.errors.to_vec();
        match r.auth {
            Auth::None => {}
            Auth::Metrics | Auth::Viewer => codes.push(401),
            Auth::Operator => codes.extend([401, 403]),
        }
        codes.sort_unstable();
        codes.dedup();
        for code in codes {
            let body = json!({"description": describe(code), "content": {"application/json": {"schema": error}}});
            responses.insert(code.to_string(), body);
        }
        let params: Vec<Value> = r
            .params
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "in": if p.path { "path" } else { "query" },
                    "required": p.path,
                    "description": p.doc,
                    "schema": schema(p.kind),
                })
            })
            .collect();
        let mut op = json!({
            "operationId": format!("{:?}", r.op),
            "summary": r.summary,
            "parameters": params,
            "responses": responses,
        });
        op["security"] = match r.auth {
            Auth::None => json!([]),
            Auth::Metrics => json!([{}, {"bearer": []}]),
            Auth::Viewer | Auth::Operator => json!([{"bearer": []}]),
        };
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method.as_str()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "hrsync API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Served by `hrsync run` with an `[api]` section. Tokens: `hrsync api-token create --role viewer|operator|admin`.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    }},
                },
            },
        },
    })
}
