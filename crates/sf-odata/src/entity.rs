//! The one seam between the protocol layer and the HR data.

use crate::edm::EntityType;
use crate::value::ODataValue;

/// Which instances of an effective-dated navigation to visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NavView {
    /// Every time slice, past and future: what `$filter` sees (SuccessFactors
    /// evaluates filters across all slices, KBA-2920680).
    AllSlices,
    /// Only the slice valid on this day (ms since epoch of midnight UTC):
    /// what a response shows. Non-effective-dated navigations ignore it.
    AsOf(i64),
}

/// An entity instance the protocol layer can read: filter evaluation and JSON
/// rendering are written against this trait only.
pub trait EntityNode {
    /// The entity's type in the static schema (`crate::edm`).
    fn entity_type(&self) -> &'static EntityType;
    /// The value of a scalar property named in the schema; `Null` when unset.
    fn property(&self, name: &str) -> ODataValue;
    /// Visit the targets of a navigation property named in the schema: every
    /// element of a to-many navigation, the target of a to-one navigation (not
    /// called when it is null).
    fn navigate(&self, nav: &str, view: NavView, visit: &mut dyn FnMut(&dyn EntityNode));
    /// An identity for reusing this entity's rendering within one response:
    /// two nodes of the same entity type with the same key must render the
    /// same bytes under the same expand, select, view and context (e.g. a
    /// reference-data record id, or the address of the model record while
    /// the data is locked for reading). `None` (the default): never reused.
    /// Worth it for entities many rows of a page share (FO objects,
    /// picklist options, managers).
    fn fragment_key(&self) -> Option<usize> {
        None
    }
    /// Whether a to-one navigation is null (rendered as JSON `null` when expanded).
    fn is_null_nav(&self, nav: &str) -> bool {
        let mut any = false;
        self.navigate(nav, NavView::AllSlices, &mut |_| any = true);
        !any
    }
}

/// References to nodes are nodes, so collections can be rendered from `&N`.
impl<T: EntityNode + ?Sized> EntityNode for &T {
    fn entity_type(&self) -> &'static EntityType {
        (**self).entity_type()
    }
    fn property(&self, name: &str) -> ODataValue {
        (**self).property(name)
    }
    fn navigate(&self, nav: &str, view: NavView, visit: &mut dyn FnMut(&dyn EntityNode)) {
        (**self).navigate(nav, view, visit)
    }
    fn fragment_key(&self) -> Option<usize> {
        (**self).fragment_key()
    }
    fn is_null_nav(&self, nav: &str) -> bool {
        (**self).is_null_nav(nav)
    }
}
