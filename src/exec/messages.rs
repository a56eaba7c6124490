//! Pure construction of rtnetlink requests from actions (names already resolved to
//! indexes) and decoding of dumps into the observed model. No I/O here.

mod kind_data;
mod ipvlan;
mod links;
mod routing;
mod rule_selectors;
mod tunnel;
mod vlan;

pub use kind_data::*;
pub use ipvlan::{change_ipvlan, change_tunnel};
pub use links::*;
pub use routing::*;
pub use rule_selectors::*;
