//! JSON rendering in SuccessFactors' OData v2 verbose shape, written straight
//! into a `String`.

use crate::entity::{EntityNode, NavView};
use crate::query::{ExpandTree, Selection};

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
        let _ = node;
        todo!()
    }
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
    let _ = (out, node, ctx, select, expand, view);
    todo!()
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
    let _ = (out, nodes.into_iter(), ctx, select, expand, next_link, inline_count);
    todo!()
}

/// Writes `{"d":{…entity…}}`.
pub fn write_single(
    out: &mut String,
    node: &dyn EntityNode,
    ctx: &RenderContext<'_>,
    select: Option<&Selection>,
    expand: &ExpandTree,
) {
    let _ = (out, node, ctx, select, expand);
    todo!()
}

/// The canonical URI of `node`: `<service_root>/<Set>(<key predicate>)`.
pub fn entity_uri(service_root: &str, node: &dyn EntityNode) -> String {
    let _ = (service_root, node);
    todo!()
}

/// The key predicate: `('x')` for one key, `(a=…,b=…)` for composite keys.
pub fn key_predicate(node: &dyn EntityNode) -> String {
    let _ = node;
    todo!()
}
