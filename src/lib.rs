//! netscript: a scripting language for Linux networking.
//!
//! The pipeline, one module a stage: [`syntax`] (pest, source text → AST) → [`ast`] →
//! [`check`] (evaluation of let/for/include into the [`model`], and every diagnostic) →
//! [`plan`] (pure: desired + observed → operations) → [`exec`] (the only module that
//! talks to the kernel) → front ends ([`cli`]).

// Diagnostics are returned by value: they are the product, not an exceptional path.
#![allow(clippy::result_large_err)]

pub mod bounded;
pub mod diagnostic;
pub mod exec;
pub mod model;
pub mod paths;
pub mod plan;
pub mod source;
pub mod units;
pub mod ast;
pub mod syntax;
pub mod check;
pub mod fmt;
pub mod cli;
pub mod cni;
pub mod lsp;
pub mod console;
pub mod repl;
pub mod live;
pub mod run;
pub mod timing;
#[doc(hidden)]
pub mod fuzzing;
