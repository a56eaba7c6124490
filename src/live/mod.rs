//! The live state of namespaces as `show` and `export` present it: everything a script
//! can declare, read by the executor ([`crate::exec::inventory`]), and its renderings —
//! show's text ([`text`]), show's JSON in iproute2's conventions ([`json`], the stable
//! format of `docs/SHOW-FORMAT.md`), the topology for Graphviz ([`dot`]) and a script
//! that recreates it ([`export`]).
//!
//! # Object kinds
//!
//! Each kind of object (links with their addresses, routes, rules, qdiscs, classes,
//! filters, sysctls, eBPF programs) is one implementation of [`Kind`], listed in
//! [`KINDS`]: its JSON, its lines of show's text and its statements in an export. A new
//! kind (the firewall) is a field of [`LiveNs`] that the reader fills and one more
//! implementation in that list; nothing else changes.

pub mod dot;
pub mod export;
pub mod firewall;
pub mod json;
pub mod kinds;
pub mod text;
pub mod bpf_stats;
mod tc_options;
mod route_attrs;

pub use crate::exec::inventory::state::*;

pub use kinds::KINDS;

/// The protocol of a route or rule, as iproute2 names it (`/etc/iproute2/rt_protos`).
pub fn protocol_name(p: u8) -> String {
    match p {
        0 => "unspec".into(),
        1 => "redirect".into(),
        2 => "kernel".into(),
        3 => "boot".into(),
        4 => "static".into(),
        8 => "gated".into(),
        9 => "ra".into(),
        10 => "mrt".into(),
        11 => "zebra".into(),
        12 => "bird".into(),
        13 => "dnrouted".into(),
        14 => "xorp".into(),
        15 => "ntk".into(),
        16 => "dhcp".into(),
        42 => "babel".into(),
        186 => "bgp".into(),
        187 => "isis".into(),
        188 => "ospf".into(),
        189 => "rip".into(),
        192 => "eigrp".into(),
        n => n.to_string(),
    }
}

/// The scope of a route as iproute2 names it.
pub fn scope_name(s: u8) -> String {
    match s {
        0 => "global".into(),
        200 => "site".into(),
        253 => "link".into(),
        254 => "host".into(),
        255 => "nowhere".into(),
        n => n.to_string(),
    }
}

/// A table by its name: main, local, default, a name from rt_tables, else its number.
pub fn table_name(live: &Live, table: u32) -> String {
    match table {
        crate::model::TABLE_MAIN => "main".into(),
        crate::model::TABLE_LOCAL => "local".into(),
        crate::model::TABLE_DEFAULT => "default".into(),
        n => live.table_names.get(&n).cloned().unwrap_or_else(|| n.to_string()),
    }
}

pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// tc's handle text: `1:`, `1:10`, `ffff:`.
pub fn handle_text(major: u32, minor: u32) -> String {
    if minor == 0 { format!("{major:x}:") } else { format!("{major:x}:{minor:x}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles() {
        assert_eq!(handle_text(1, 0), "1:");
        assert_eq!(handle_text(1, 0x10), "1:10");
        assert_eq!(handle_text(0xffff, 0), "ffff:");
    }
}
