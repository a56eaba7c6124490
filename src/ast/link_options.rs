//! The options of link declarations that take them in any order: vxlan's and the IPv4
//! tunnels'.

use super::{IntValue, IpValue, Name};
use crate::source::Spanned;

#[derive(Debug, Clone, serde::Serialize)]
pub enum TunnelOpt {
    Local(Spanned<IpValue>),
    Remote(Spanned<IpValue>),
    Ttl(Spanned<IntValue>),
    Key(Spanned<IntValue>),
}

#[derive(Debug, Clone, serde::Serialize)]
pub enum VxlanOpt {
    Id(Spanned<IntValue>),
    Remote(Spanned<IpValue>),
    Group(Spanned<IpValue>),
    Local(Spanned<IpValue>),
    Dev(Spanned<Name>),
    Port(Spanned<IntValue>),
}
