//! The raw u32 keys of a `filter`'s `match` and `sample`.

use super::IntValue;
use crate::source::{Span, Spanned};

/// `u32|u16|u8 VALUE MASK [at OFF]`, a raw u32 key as tc's `match` and `sample` read it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RawKeyAst {
    pub span: Span,
    pub width: Spanned<crate::model::KeyWidth>,
    pub value: Spanned<IntValue>,
    pub mask: Spanned<IntValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Spanned<IntValue>>,
}
