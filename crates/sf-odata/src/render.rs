//! JSON rendering in SuccessFactors' OData v2 verbose shape, written straight
//! into a `String` (no intermediate JSON tree).
//!
//! Shapes: collection `{"d":{"results":[…],"__next":"…"}}` with `__next`
//! absent on the last page; single entity `{"d":{…}}`; every entity, nested
//! ones included, starts with `"__metadata":{"uri":…,"type":"SFOData.<T>"}`;
//! properties follow in schema order, then navigations: unexpanded as
//! `{"__deferred":{"uri":"…/<nav>"}}`, expanded to-many as `{"results":[…]}`,
//! expanded to-one as an object or `null`. With `$select`, only the named
//! properties and navigations of each level are written.
//!
//! Effective dating (KBA-2853045): `asOfDate` applies at every level; without
//! it the navigations of an effective-dated entity use that entity's own
//! start date and those of other entities use today.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::entity::{EntityNode, NavView};
use crate::query::{ExpandTree, Selection};
use crate::value::{ODataValue, push_json_escaped, push_quoted, write_json_string};

/// What rendering needs to know about the request.
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    /// Service root for `__metadata.uri`/`__deferred.uri`, e.g.
    /// `https://api4.successfactors.com:443/odata/v2` (no trailing `/`).
    pub service_root: &'a str,
    /// `asOfDate` of the request, midnight UTC ms.
    pub as_of_date: Option<i64>,
    /// Today, midnight UTC ms (the emulator's clock).
    pub today: i64,
}

impl RenderContext<'_> {
    /// The view used for the navigations of `node`: `asOfDate` if given;
    /// otherwise the node's own effective start for an effective-dated node,
    /// today for others (KBA-2853045).
    pub fn view_for(&self, node: &dyn EntityNode) -> NavView {
        if let Some(d) = self.as_of_date {
            return NavView::AsOf(d);
        }
        let ty = node.entity_type();
        if ty.effective_dated
            && let Some(ms) =
                ty.effective_start_property().and_then(|p| node.property(p).instant_ms())
        {
            return NavView::AsOf(ms);
        }
        NavView::AsOf(self.today)
    }
}

/// Characters percent-encoded inside key predicates: URL delimiters,
/// whitespace, controls and (via `utf8_percent_encode`) all non-ASCII.
const KEY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Where in the output an entity was already written, by (entity type,
/// [`EntityNode::fragment_key`], expand subtree, select subtree, view). The
/// subtrees are compared by address: within one response they are fixed.
#[derive(Default)]
struct Fragments {
    seen: HashMap<(usize, usize, usize, usize, NavView), Range<usize>>,
}

/// Writes one entity object (no `{"d":…}` wrapper). `view` is used for the
/// navigations of `node`; nested levels use [`RenderContext::view_for`].
pub fn write_entity(
    out: &mut String,
    node: &dyn EntityNode,
    ctx: &RenderContext<'_>,
    select: Option<&Selection>,
    expand: &ExpandTree,
    view: NavView,
) {
    write_entity_in(out, node, ctx, select, expand, view, &mut Fragments::default());
}

fn write_entity_in(
    out: &mut String,
    node: &dyn EntityNode,
    ctx: &RenderContext<'_>,
    select: Option<&Selection>,
    expand: &ExpandTree,
    view: NavView,
    fragments: &mut Fragments,
) {
    let ty = node.entity_type();
    let key = node.fragment_key().map(|k| {
        let addr = |p: Option<*const ()>| p.map_or(0, |p| p as usize);
        (
            std::ptr::from_ref(ty) as usize,
            k,
            std::ptr::from_ref(expand) as usize,
            addr(select.map(|s| std::ptr::from_ref(s).cast())),
            view,
        )
    });
    if let Some(range) = key.as_ref().and_then(|k| fragments.seen.get(k)) {
        out.extend_from_within(range.clone());
        return;
    }
    let start = out.len();
    write_fresh(out, node, ty, ctx, select, expand, view, fragments);
    if let Some(key) = key {
        fragments.seen.insert(key, start..out.len());
    }
}

#[allow(clippy::too_many_arguments)]
fn write_fresh(
    out: &mut String,
    node: &dyn EntityNode,
    ty: &'static crate::edm::EntityType,
    ctx: &RenderContext<'_>,
    select: Option<&Selection>,
    expand: &ExpandTree,
    view: NavView,
    fragments: &mut Fragments,
) {
    let mut uri = String::with_capacity(ctx.service_root.len() + 64);
    push_entity_uri(&mut uri, ctx.service_root, node);

    out.push_str("{\"__metadata\":{\"uri\":");
    write_json_string(out, &uri);
    out.push_str(",\"type\":\"SFOData.");
    out.push_str(ty.name);
    out.push_str("\"}");

    for p in ty.properties {
        if select.is_some_and(|s| !s.has_property(p.name)) {
            continue;
        }
        out.push_str(",\"");
        out.push_str(p.name);
        out.push_str("\":");
        node.property(p.name).write_json(out);
    }

    for nav in ty.navs {
        // With $select, a navigation is written only if the selection names it.
        let nav_sel: Option<Option<&Selection>> = match select {
            None => Some(None),
            Some(s) => s.nav(nav.name),
        };
        let Some(child_sel) = nav_sel else { continue };
        out.push_str(",\"");
        out.push_str(nav.name);
        out.push_str("\":");
        match expand.child(nav.name) {
            None => {
                // The JSON string of `uri/nav`, written without building it.
                out.push_str("{\"__deferred\":{\"uri\":\"");
                push_json_escaped(out, &uri);
                out.push('/');
                push_json_escaped(out, nav.name);
                out.push_str("\"}}");
            }
            Some(sub) if nav.many => {
                out.push_str("{\"results\":[");
                let mut first = true;
                node.navigate(nav.name, view, &mut |child| {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    write_entity_in(
                        out,
                        child,
                        ctx,
                        child_sel,
                        sub,
                        ctx.view_for(child),
                        fragments,
                    );
                });
                out.push_str("]}");
            }
            Some(sub) => {
                let mut written = false;
                node.navigate(nav.name, view, &mut |child| {
                    // A to-one navigation has at most one target; ignore extras
                    // rather than emit invalid JSON.
                    if !written {
                        written = true;
                        write_entity_in(
                            out,
                            child,
                            ctx,
                            child_sel,
                            sub,
                            ctx.view_for(child),
                            fragments,
                        );
                    }
                });
                if !written {
                    out.push_str("null");
                }
            }
        }
    }
    out.push('}');
}

/// How many records expanding `expand` under `node` yields (the node itself
/// not counted), for SuccessFactors' limit of 300,000 expanded records per
/// query (`ODataError::expand_limit`, KBA-2819037). Uses the same views as
/// [`write_entity`].
pub fn expanded_record_count(
    node: &dyn EntityNode,
    ctx: &RenderContext<'_>,
    expand: &ExpandTree,
    view: NavView,
) -> u64 {
    let mut n = 0u64;
    for (nav, sub) in &expand.children {
        node.navigate(nav.name, view, &mut |child| {
            n += 1 + expanded_record_count(child, ctx, sub, ctx.view_for(child));
        });
    }
    n
}

/// Writes `{"d":{"results":[…],"__next":"…"}}`; `__next` absent when
/// `next_link` is `None`, `"__count":"n"` first when `inline_count` is given.
pub fn write_collection_page<N: EntityNode>(
    out: &mut String,
    nodes: impl IntoIterator<Item = N>,
    ctx: &RenderContext<'_>,
    select: Option<&Selection>,
    expand: &ExpandTree,
    next_link: Option<&str>,
    inline_count: Option<u64>,
) {
    out.push_str("{\"d\":{");
    if let Some(n) = inline_count {
        let _ = write!(out, "\"__count\":\"{n}\",");
    }
    out.push_str("\"results\":[");
    let mut fragments = Fragments::default();
    for (i, n) in nodes.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_entity_in(out, &n, ctx, select, expand, ctx.view_for(&n), &mut fragments);
    }
    out.push(']');
    if let Some(next) = next_link {
        out.push_str(",\"__next\":");
        write_json_string(out, next);
    }
    out.push_str("}}");
}

/// Writes `{"d":{…entity…}}`.
pub fn write_single(
    out: &mut String,
    node: &dyn EntityNode,
    ctx: &RenderContext<'_>,
    select: Option<&Selection>,
    expand: &ExpandTree,
) {
    out.push_str("{\"d\":");
    write_entity(out, node, ctx, select, expand, ctx.view_for(node));
    out.push('}');
}

/// The canonical URI of `node`: `<service_root>/<Set>(<key predicate>)`.
pub fn entity_uri(service_root: &str, node: &dyn EntityNode) -> String {
    let mut s = String::with_capacity(service_root.len() + 64);
    push_entity_uri(&mut s, service_root, node);
    s
}

pub(crate) fn push_entity_uri(out: &mut String, service_root: &str, node: &dyn EntityNode) {
    out.push_str(service_root.trim_end_matches('/'));
    out.push('/');
    out.push_str(node.entity_type().set);
    push_key_predicate(out, node);
}

/// The key predicate: `('x')` for one key, `(a=…,b=…)` for composite keys;
/// string quotes doubled, URL-unsafe characters percent-encoded.
pub fn key_predicate(node: &dyn EntityNode) -> String {
    let mut s = String::new();
    push_key_predicate(&mut s, node);
    s
}

pub(crate) fn push_key_predicate(out: &mut String, node: &dyn EntityNode) {
    let ty = node.entity_type();
    out.push('(');
    let single = ty.keys.len() == 1;
    for (i, k) in ty.keys.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if !single {
            out.push_str(k);
            out.push('=');
        }
        match node.property(k) {
            // `'` is not in KEY_VALUE, so encoding the quoted literal is
            // quoting the encoded text (with `'` doubled).
            ODataValue::String(text) => push_quoted(out, &text, |out, part| {
                out.extend(utf8_percent_encode(part, KEY_VALUE))
            }),
            v => v.push_key_literal(out),
        }
    }
    out.push(')');
}
