//! `expect`: reachability checked after a run applies.

use crate::source::{Span, Spanned};
use crate::units::Duration;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExpectKind {
    Reach,
    Noreach,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Expect {
    #[serde(skip)]
    pub span: Span,
    pub ns: Spanned<String>,
    pub kind: ExpectKind,
    pub addr: Spanned<IpAddr>,
    pub port: Option<Spanned<u16>>,
    pub within: Option<Spanned<Duration>>,
}

/// Default bound on an `expect`'s wait.
pub const EXPECT_DEFAULT_WITHIN: Duration = Duration(2_000_000_000);
