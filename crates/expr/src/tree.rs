//! The syntax tree as Entra's `attributeMappingSource` writes it: every node
//! with its own expression text, Attributes and Constants by `name`,
//! Functions with their parameters keyed by parameter name. Used by
//! `hrsync export entra-schema`.

use crate::Expr;
use crate::ast::{Kind, Node};

/// One node of an expression's source tree.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceNode {
    /// `[name]`.
    Attribute {
        /// The attribute name.
        name: String,
        /// The node's expression text (`[name]`).
        text: String,
    },
    /// A literal: its value as text in `value` (a string's content, a
    /// number's digits), its text as written in `text` (quotes kept).
    Constant { value: String, text: String },
    /// A bare identifier (`vbTextCompare`), as written.
    Identifier { name: String, text: String },
    /// A function call. `parameters` are (parameter name, argument) in
    /// order; an omitted argument (`f(a, , b)`) is not listed.
    Function { name: String, text: String, parameters: Vec<(String, SourceNode)> },
    /// A comparison inside a condition (`[c]="x"`): `op` is `=`, `<>`,
    /// `<`, `<=`, `>` or `>=`.
    Comparison { op: &'static str, text: String, left: Box<SourceNode>, right: Box<SourceNode> },
}

impl SourceNode {
    /// The node's expression text.
    pub fn text(&self) -> &str {
        match self {
            SourceNode::Attribute { text, .. }
            | SourceNode::Constant { text, .. }
            | SourceNode::Identifier { text, .. }
            | SourceNode::Function { text, .. }
            | SourceNode::Comparison { text, .. } => text,
        }
    }
}

fn convert(src: &str, node: &Node) -> SourceNode {
    let text = src.get(node.span.clone()).unwrap_or_default().to_owned();
    match &node.kind {
        Kind::Attr(name) => SourceNode::Attribute { name: name.clone(), text },
        Kind::Literal(v) => {
            SourceNode::Constant { value: v.as_str_lossy().unwrap_or_default().into_owned(), text }
        }
        Kind::Ident(name) => SourceNode::Identifier { name: name.clone(), text },
        Kind::Call(c) => {
            let name = c.func.map_or_else(|| c.name.clone(), |f| f.name().to_owned());
            let parameters = c
                .args
                .iter()
                .enumerate()
                .filter_map(|(i, a)| {
                    let a = a.as_ref()?;
                    let key = c
                        .func
                        .map_or_else(|| format!("argument{}", i + 1), |f| f.param(i).to_owned());
                    Some((key, convert(src, a)))
                })
                .collect();
            SourceNode::Function { name, text, parameters }
        }
        Kind::Compare(l, op, r) => SourceNode::Comparison {
            op: op.symbol(),
            text,
            left: Box::new(convert(src, l)),
            right: Box::new(convert(src, r)),
        },
    }
}

impl Expr {
    /// The expression as a source tree (see [`SourceNode`]).
    pub fn tree(&self) -> SourceNode {
        convert(&self.source, &self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_keeps_text_names_and_parameters() {
        let e = crate::parse(r#"Mid([userPrincipalName], 1, 8)"#).unwrap();
        let SourceNode::Function { name, text, parameters } = e.tree() else { panic!() };
        assert_eq!((name.as_str(), text.as_str()), ("Mid", "Mid([userPrincipalName], 1, 8)"));
        let keys: Vec<&str> = parameters.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["source", "start", "length"]);
        assert_eq!(
            parameters[0].1,
            SourceNode::Attribute {
                name: "userPrincipalName".into(),
                text: "[userPrincipalName]".into()
            }
        );
        assert_eq!(parameters[1].1, SourceNode::Constant { value: "1".into(), text: "1".into() });
        let e = crate::parse(r#"IIF([c]="x", "a", )"#).unwrap();
        let SourceNode::Function { parameters, .. } = e.tree() else { panic!() };
        assert_eq!(parameters.len(), 2);
        assert!(
            matches!(&parameters[0].1, SourceNode::Comparison { op: "=", text, .. } if text == "[c]=\"x\"")
        );
        let SourceNode::Constant { value, text } = &parameters[1].1 else { panic!() };
        assert_eq!((value.as_str(), text.as_str()), ("a", "\"a\""));
    }
}
