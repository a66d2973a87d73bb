//! Atom XML rendering: what SuccessFactors answers when a client asks for
//! neither `$format=json` nor `Accept: application/json` (the OData v2
//! default; KBA 2489065 shows the `<link rel="next">` form, KBA 2994898 an
//! XML error body).
//!
//! Shapes: a collection is an Atom `<feed>` with one `<entry>` per entity,
//! `<m:count>` for `$inlinecount` and `<link rel="next">` for the next page;
//! a single entity is an `<entry>` document. Each entry carries its
//! `<id>` (the entity URI), an `edit` link, one `<link>` per navigation
//! (expanded ones hold `<m:inline>` with a nested feed, entry or nothing), a
//! `<category>` naming `SFOData.<Type>` and the properties under
//! `<content><m:properties>` as `<d:name m:type="Edm.X">`. `$select` and
//! effective dating behave exactly as in the JSON renderer.
//!
//! Only used when XML is asked for: the JSON path does not go through here.

use crate::entity::{EntityNode, NavView};
use crate::error::ODataError;
use crate::query::{ExpandTree, Selection};
use crate::render::{RenderContext, push_entity_uri, push_key_predicate};
use crate::value::{ODataValue, push_iso_civil};

const NS_ATOM: &str = "http://www.w3.org/2005/Atom";
const NS_M: &str = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata";
const NS_D: &str = "http://schemas.microsoft.com/ado/2007/08/dataservices";
const SCHEME: &str = "http://schemas.microsoft.com/ado/2007/08/dataservices/scheme";
const RELATED: &str = "http://schemas.microsoft.com/ado/2007/08/dataservices/related/";

/// `application/atom+xml;charset=utf-8`.
pub const ATOM_CONTENT_TYPE: &str = "application/atom+xml;charset=utf-8";
/// `application/xml;charset=utf-8` (error bodies, `$metadata`).
pub const XML_CONTENT_TYPE: &str = "application/xml;charset=utf-8";

/// Appends `s` escaped for XML text and `"`-quoted attribute values (`'`
/// stays as it is: key predicates are full of it). Characters XML 1.0
/// cannot carry at all (most C0 controls) become U+FFFD.
pub fn push_xml_escaped(out: &mut String, s: &str) {
    if !s.bytes().any(|b| matches!(b, b'&' | b'<' | b'>' | b'"') || b < 0x20) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// The XML error body: `<error xmlns="…/metadata"><code>…</code><message lang="en-US">…</message></error>`.
pub fn error_xml(e: &ODataError) -> String {
    let mut out = String::with_capacity(160 + e.message.len());
    out.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    out.push('\n');
    out.push_str(r#"<error xmlns=""#);
    out.push_str(NS_M);
    out.push_str(r#""><code>"#);
    push_xml_escaped(&mut out, &e.code);
    out.push_str(r#"</code><message lang="en-US">"#);
    push_xml_escaped(&mut out, &e.message);
    out.push_str("</message></error>");
    out
}

/// `2025-03-01T12:00:00Z` (Atom `<updated>`).
fn push_updated(out: &mut String, now_ms: i64) {
    push_iso_civil(out, now_ms);
    out.push('Z');
}

fn open_root(out: &mut String, element: &str, service_root: &str) {
    out.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    out.push('\n');
    out.push('<');
    out.push_str(element);
    out.push_str(r#" xml:base=""#);
    push_xml_escaped(out, service_root.trim_end_matches('/'));
    out.push_str(r#"/" xmlns=""#);
    out.push_str(NS_ATOM);
    out.push_str(r#"" xmlns:m=""#);
    out.push_str(NS_M);
    out.push_str(r#"" xmlns:d=""#);
    out.push_str(NS_D);
    out.push('"');
}

/// Opens a feed document: root element, title, id, updated, self link and
/// `<m:count>`; entries follow ([`write_feed_entry`]), then [`close_feed`].
pub fn open_feed(
    out: &mut String,
    set: &str,
    ctx: &RenderContext<'_>,
    inline_count: Option<u64>,
    now_ms: i64,
) {
    open_root(out, "feed", ctx.service_root);
    out.push('>');
    out.push_str(r#"<title type="text">"#);
    push_xml_escaped(out, set);
    out.push_str("</title><id>");
    push_xml_escaped(out, ctx.service_root.trim_end_matches('/'));
    out.push('/');
    push_xml_escaped(out, set);
    out.push_str("</id><updated>");
    push_updated(out, now_ms);
    out.push_str(r#"</updated><link rel="self" title=""#);
    push_xml_escaped(out, set);
    out.push_str(r#"" href=""#);
    push_xml_escaped(out, set);
    out.push_str(r#""/>"#);
    if let Some(n) = inline_count {
        out.push_str("<m:count>");
        out.push_str(itoa::Buffer::new().format(n));
        out.push_str("</m:count>");
    }
}

/// One `<entry>` of a feed opened by [`open_feed`].
pub fn write_feed_entry(
    out: &mut String,
    node: &dyn EntityNode,
    ctx: &RenderContext<'_>,
    select: Option<&Selection>,
    expand: &ExpandTree,
    now_ms: i64,
) {
    write_entry(out, node, ctx, select, expand, ctx.view_for(node), now_ms);
}

/// Closes a feed, with `<link rel="next">` when there is a next page.
pub fn close_feed(out: &mut String, next_link: Option<&str>) {
    if let Some(next) = next_link {
        out.push_str(r#"<link rel="next" href=""#);
        push_xml_escaped(out, next);
        out.push_str(r#""/>"#);
    }
    out.push_str("</feed>");
}

/// Writes a collection page as an Atom feed document.
#[allow(clippy::too_many_arguments)]
pub fn write_feed<N: EntityNode>(
    out: &mut String,
    set: &str,
    nodes: impl IntoIterator<Item = N>,
    ctx: &RenderContext<'_>,
    select: Option<&Selection>,
    expand: &ExpandTree,
    next_link: Option<&str>,
    inline_count: Option<u64>,
    now_ms: i64,
) {
    open_feed(out, set, ctx, inline_count, now_ms);
    for n in nodes {
        write_feed_entry(out, &n, ctx, select, expand, now_ms);
    }
    close_feed(out, next_link);
}

/// A single property document (`GET Set(key)/property`).
pub fn property_document(name: &str, value: &ODataValue) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    out.push('\n');
    let mut prop = String::new();
    push_property(&mut prop, name, value);
    // The element carries the namespaces of `d:` and `m:`.
    let ns = format!(r#"<d:{name} xmlns:d="{NS_D}" xmlns:m="{NS_M}""#);
    out.push_str(&ns);
    out.push_str(prop.strip_prefix(&format!("<d:{name}")).unwrap_or(&prop));
    out
}

/// Writes one entity as an Atom entry document.
pub fn write_entry_document(
    out: &mut String,
    node: &dyn EntityNode,
    ctx: &RenderContext<'_>,
    select: Option<&Selection>,
    expand: &ExpandTree,
    now_ms: i64,
) {
    // The root element carries the namespaces; `write_entry` writes `<entry>`
    // itself, so the document's root is opened and the entry's own start tag
    // is merged into it.
    let mut body = String::new();
    write_entry(&mut body, node, ctx, select, expand, ctx.view_for(node), now_ms);
    open_root(out, "entry", ctx.service_root);
    out.push_str(body.strip_prefix("<entry").unwrap_or(&body));
}

fn write_entry(
    out: &mut String,
    node: &dyn EntityNode,
    ctx: &RenderContext<'_>,
    select: Option<&Selection>,
    expand: &ExpandTree,
    view: NavView,
    now_ms: i64,
) {
    let ty = node.entity_type();
    let mut rel = String::with_capacity(64);
    rel.push_str(ty.set);
    push_key_predicate(&mut rel, node);
    out.push_str("<entry><id>");
    let mut uri = String::with_capacity(ctx.service_root.len() + rel.len() + 1);
    push_entity_uri(&mut uri, ctx.service_root, node);
    push_xml_escaped(out, &uri);
    out.push_str(r#"</id><title type="text"></title><updated>"#);
    push_updated(out, now_ms);
    out.push_str(r#"</updated><author><name></name></author><link rel="edit" title=""#);
    out.push_str(ty.name);
    out.push_str(r#"" href=""#);
    push_xml_escaped(out, &rel);
    out.push_str(r#""/>"#);

    for nav in ty.navs {
        let nav_sel: Option<Option<&Selection>> = match select {
            None => Some(None),
            Some(s) => s.nav(nav.name),
        };
        let Some(child_sel) = nav_sel else { continue };
        out.push_str(r#"<link rel=""#);
        out.push_str(RELATED);
        out.push_str(nav.name);
        out.push_str(r#"" type="application/atom+xml;type="#);
        out.push_str(if nav.many { "feed" } else { "entry" });
        out.push_str(r#"" title=""#);
        out.push_str(nav.name);
        out.push_str(r#"" href=""#);
        push_xml_escaped(out, &rel);
        out.push('/');
        out.push_str(nav.name);
        out.push('"');
        match expand.child(nav.name) {
            None => out.push_str("/>"),
            Some(sub) if nav.many => {
                out.push_str("><m:inline><feed><title type=\"text\">");
                out.push_str(nav.name);
                out.push_str("</title><id>");
                push_xml_escaped(out, &uri);
                out.push('/');
                out.push_str(nav.name);
                out.push_str("</id><updated>");
                push_updated(out, now_ms);
                out.push_str("</updated>");
                node.navigate(nav.name, view, &mut |child| {
                    write_entry(out, child, ctx, child_sel, sub, ctx.view_for(child), now_ms);
                });
                out.push_str("</feed></m:inline></link>");
            }
            Some(sub) => {
                out.push_str("><m:inline>");
                let mut written = false;
                node.navigate(nav.name, view, &mut |child| {
                    if !written {
                        written = true;
                        write_entry(out, child, ctx, child_sel, sub, ctx.view_for(child), now_ms);
                    }
                });
                out.push_str("</m:inline></link>");
            }
        }
    }

    out.push_str(r#"<category term="SFOData."#);
    out.push_str(ty.name);
    out.push_str(r#"" scheme=""#);
    out.push_str(SCHEME);
    out.push_str(r#""/><content type="application/xml"><m:properties>"#);
    for p in ty.properties {
        if select.is_some_and(|s| !s.has_property(p.name)) {
            continue;
        }
        push_property(out, p.name, &node.property(p.name));
    }
    out.push_str("</m:properties></content></entry>");
}

/// One `<d:name m:type="…">value</d:name>` (or `m:null="true"`).
pub fn push_property(out: &mut String, name: &str, value: &ODataValue) {
    out.push_str("<d:");
    out.push_str(name);
    let ty = value.edm_type().filter(|t| *t != crate::edm::EdmType::String);
    if let Some(t) = ty {
        out.push_str(r#" m:type=""#);
        out.push_str(t.edm_name());
        out.push('"');
    }
    match value {
        ODataValue::Null => {
            out.push_str(r#" m:null="true"/>"#);
            return;
        }
        _ => out.push('>'),
    }
    match value {
        ODataValue::Null => {}
        ODataValue::String(s) | ODataValue::Decimal(s) => push_xml_escaped(out, s),
        ODataValue::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        ODataValue::Int32(i) => out.push_str(itoa::Buffer::new().format(*i)),
        ODataValue::Int64(i) => out.push_str(itoa::Buffer::new().format(*i)),
        ODataValue::Double(f) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{f:?}");
        }
        ODataValue::DateTime(ms) => push_iso_civil(out, *ms),
        ODataValue::DateTimeOffset { ms, offset_minutes } => {
            let local = ms.saturating_add(i64::from(*offset_minutes) * 60_000);
            push_iso_civil(out, local);
            if *offset_minutes == 0 {
                out.push('Z');
            } else {
                use std::fmt::Write as _;
                let a = offset_minutes.unsigned_abs();
                let _ = write!(
                    out,
                    "{}{:02}:{:02}",
                    if *offset_minutes < 0 { '-' } else { '+' },
                    a / 60,
                    a % 60
                );
            }
        }
    }
    out.push_str("</d:");
    out.push_str(name);
    out.push('>');
}
