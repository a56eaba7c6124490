//! A route's path attributes (`mtu`, `advmss`) and, in an export, its `scope` and
//! `proto`, as words of show's line and of the exported `route` statement.

use crate::plan::action::RouteSpec;

/// ` nexthop via A dev D weight W …` of a multipath route and ` mtu N advmss N`, for
/// show's line (scope and protocol it prints already).
pub(super) fn path_words(r: &RouteSpec) -> String {
    let mut s = String::new();
    for hop in &r.nexthops {
        s.push_str(&format!(" nexthop via {}", hop.via));
        if let Some(d) = &hop.dev {
            s.push_str(&format!(" dev {d}"));
        }
        if hop.weight != 1 {
            s.push_str(&format!(" weight {}", hop.weight));
        }
    }
    if let Some(m) = r.mtu {
        s.push_str(&format!(" mtu {m}"));
    }
    if let Some(m) = r.advmss {
        s.push_str(&format!(" advmss {m}"));
    }
    s
}

/// The words an exported `route` statement needs to make the route again as it is:
/// its path attributes, a scope other than the default, and a protocol other than
/// netscript's and `boot` (what `ip route add` gives when none is named: such a route
/// becomes netscript's own, as it always did).
pub(super) fn script_words(r: &RouteSpec) -> String {
    let mut s = path_words(r);
    if let Some(scope) = r.scope {
        let word = match scope {
            0 => "global".to_string(),
            253 => "link".to_string(),
            254 => "host".to_string(),
            n => n.to_string(),
        };
        s.push_str(&format!(" scope {word}"));
    }
    if let Some(p) = r.proto.filter(|&p| p != 3) {
        match crate::model::route_protocol_name(p) {
            Some(name) => s.push_str(&format!(" proto {name}")),
            None => s.push_str(&format!(" proto {p}")),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> RouteSpec {
        RouteSpec { dest: text.parse().unwrap(), via: None, dev: Some("v0".into()), src: None, metric: None, table: 254, onlink: false, kind: Default::default(), mtu: None, advmss: None, scope: None, proto: None, nexthops: Vec::new() }
    }

    #[test]
    fn exported_words_name_what_differs_from_the_defaults() {
        let mut r = spec("10.1.0.0/24");
        assert_eq!(script_words(&r), "");
        r.mtu = Some(1400);
        r.advmss = Some(1360);
        r.scope = Some(254);
        r.proto = Some(186);
        assert_eq!(script_words(&r), " mtu 1400 advmss 1360 scope host proto bgp");
        r.proto = Some(3);
        r.scope = Some(7);
        assert_eq!(script_words(&r), " mtu 1400 advmss 1360 scope 7");
        r.proto = Some(77);
        assert_eq!(path_words(&r), " mtu 1400 advmss 1360");
        assert!(script_words(&r).ends_with(" proto 77"));
    }
}
