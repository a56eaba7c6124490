//! The netscript grammar for tree-sitter, from the committed generated parser: with the
//! `tree-sitter` crate, `parser.set_language(&tree_sitter_netscript::LANGUAGE.into())`.

use tree_sitter_language::LanguageFn;

unsafe extern "C" {
    fn tree_sitter_netscript() -> *const ();
}

/// The grammar (src/parser.c).
pub const LANGUAGE: LanguageFn = unsafe { LanguageFn::from_raw(tree_sitter_netscript) };

/// The highlight query, with nvim-treesitter's capture names.
pub const HIGHLIGHTS_QUERY: &str = include_str!("../../queries/highlights.scm");

/// The node types of the grammar (src/node-types.json).
pub const NODE_TYPES: &str = include_str!("../../src/node-types.json");
