//! The planner's diagnostics that only a kernel state can provoke (`missing_interface`,
//! `kind_conflict`, `link_conflict`, `stacked_link`, `filter_conflict`): planned against hand-built observed states, and
//! rendered as `netscript run` would print them (golden files, `insta`).
//! Regenerate with `INSTA_UPDATE=always cargo test --test plan_conflicts`.

use netscript::check::{self, FsLoader};
use netscript::diagnostic::{render_all, RenderOptions};
use netscript::model::MacvlanMode;
use netscript::plan::action::{Action, LinkAttrs, LinkKind, QdiscSpec};
use netscript::plan::ownership::Owned;
use netscript::plan::observed::{ObservedFilter, ObservedLink, ObservedNs, ObservedQdisc};
use netscript::plan::{self, Observed};
use netscript::source::SourceMap;

/// Checks `script` (it must check cleanly), plans it against `observed` and returns the
/// rendered diagnostics with their codes; the plan must be refused.
fn refused(name: &str, script: &str, observed: &Observed) -> (String, Vec<&'static str>) {
    refused_owning(name, script, observed, &[])
}

/// As [`refused`], with the script's record holding `owned`.
fn refused_owning(name: &str, script: &str, observed: &Observed, owned: &[Owned]) -> (String, Vec<&'static str>) {
    let mut sources = SourceMap::new();
    let file = sources.add(name.to_string(), None, script.to_string());
    let checked = check::check(&mut sources, file, &FsLoader);
    assert!(!checked.has_errors(), "{name} does not check: {:?}", checked.diagnostics);
    let ownership = plan::Ownership { entries: owned, ..Default::default() };
    let diagnostics = match plan::plan_owned(&checked.desired, observed, ownership) {
        Ok(p) => panic!("{name}: the plan was not refused: {} operations", p.ops.len()),
        Err(d) => d,
    };
    let codes = diagnostics.iter().map(|d| d.code).collect();
    (render_all(&diagnostics, &sources, RenderOptions::plain()), codes)
}

/// The host plus namespaces that exist, each with the given links.
fn observed(namespaces: &[(&str, Vec<ObservedLink>)]) -> Observed {
    let mut o = Observed { offline: false, ..Observed::empty() };
    for (name, links) in namespaces {
        let mut ns = ObservedNs::default();
        ns.links.insert("lo".into(), link("lo", None, 1));
        for l in links {
            ns.links.insert(l.name.clone(), l.clone());
        }
        o.namespaces.insert(name.to_string(), ns);
    }
    o
}

fn link(name: &str, kind: Option<&str>, index: u32) -> ObservedLink {
    ObservedLink { name: name.into(), index, kind: kind.map(str::to_string), up: true, mtu: 1500, mac: None, master: None, addrs: Vec::new(), vrf_table: None, lower: None, made_as: None, ipvlan: None, tunnel: None }
}

#[test]
fn a_link_that_does_not_exist() {
    let state = observed(&[("pbr", vec![link("eth0", Some("veth"), 2)])]);
    let (text, codes) = refused("missing.ns", "netns pbr < link eht0 < addr 10.0.0.1/24 > >\n", &state);
    assert_eq!(codes, ["netscript::plan::missing_interface"]);
    insta::assert_snapshot!(text);
}

#[test]
fn a_link_with_no_near_name() {
    let state = observed(&[("pbr", vec![link("eth0", Some("veth"), 2)])]);
    let (text, codes) = refused("unknown.ns", "netns pbr < link uplink < addr 10.0.0.1/24 > >\n", &state);
    assert_eq!(codes, ["netscript::plan::missing_interface"]);
    insta::assert_snapshot!(text);
}

#[test]
fn an_existing_veth_whose_peer_is_elsewhere() {
    // a.v0 exists, but its peer is not the b.v1 the script declares.
    let state = observed(&[("a", vec![link("v0", Some("veth"), 2)]), ("b", vec![])]);
    let (text, codes) = refused("peer.ns", "netns a < veth v0 <-> b.v1 >\nnetns b < link v1 < addr 10.0.0.2/24 > >\n", &state);
    assert_eq!(codes, ["netscript::plan::missing_interface"]);
    insta::assert_snapshot!(text);
}

#[test]
fn a_name_taken_by_another_kind_of_interface() {
    let state = observed(&[("lab", vec![link("br0", Some("macvlan"), 2)])]);
    let (text, codes) = refused("kind.ns", "netns lab < bridge br0 >\n", &state);
    assert_eq!(codes, ["netscript::plan::kind_conflict"]);
    insta::assert_snapshot!(text);
}

#[test]
fn a_foreign_filter_at_the_priority_netscript_would_use() {
    let script = "netns server <\n  link down0\n    htb default 20 <\n      class 1 rate 10mbit <\n        class 10 rate 8mbit\n        class 20 rate 2mbit\n      >\n      filter proto tcp sport 80 -> 10\n    >\n>\n";
    let mut state = observed(&[("server", vec![link("down0", Some("veth"), 2)])]);
    let server = state.namespaces.get_mut("server").expect("server");
    server.qdiscs.push(ObservedQdisc { dev: "down0".into(), spec: QdiscSpec::Htb { default_class: 0x20, r2q: None, direct_qlen: None } });
    // A filter netscript cannot decode (another classifier): it cannot be put back.
    server.filters.push(ObservedFilter { dev: "down0".into(), prio: 1, handle: 0, spec: None });
    let (text, codes) = refused("filter.ns", script, &state);
    assert_eq!(codes, ["netscript::plan::filter_conflict"]);
    insta::assert_snapshot!(text);
}

fn macvlan(name: &str, parent: &str, mode: MacvlanMode, index: u32) -> ObservedLink {
    ObservedLink { lower: Some(parent.into()), made_as: Some(LinkKind::Macvlan { parent: parent.into(), mode }), ..link(name, Some("macvlan"), index) }
}

#[test]
fn an_interface_someone_else_made_otherwise() {
    let state = observed(&[("lab", vec![link("v0", Some("veth"), 2), macvlan("m0", "v0", MacvlanMode::Private, 3)]), ("b", vec![link("v1", Some("veth"), 2)])]);
    let (text, codes) = refused("made.ns", "netns lab <\n  veth v0 <-> b.v1\n  macvlan m0 on v0 mode bridge\n>\nnetns b\n", &state);
    assert_eq!(codes, ["netscript::plan::link_conflict"]);
    insta::assert_snapshot!(text);
}

#[test]
fn a_link_of_someone_else_on_a_veth_made_again() {
    // The record made lab.v0 paired with b.v1; the script pairs it with c.v1 now, and
    // someone else's macvlan sits on it.
    let made = Action::CreateLink { ns: "lab".into(), name: "v0".into(), kind: LinkKind::Veth { peer_ns: "b".into(), peer_name: "v1".into(), peer_attrs: LinkAttrs::default() }, attrs: LinkAttrs::default() };
    let owned = [Owned { made: Some(made), undo: vec![Action::DeleteLink { ns: "lab".into(), name: "v0".into() }] }];
    let state = observed(&[("lab", vec![link("v0", Some("veth"), 2), macvlan("theirs", "v0", MacvlanMode::Vepa, 3)]), ("b", vec![link("v1", Some("veth"), 2)]), ("c", vec![])]);
    let (text, codes) = refused_owning("stacked.ns", "netns lab < veth v0 <-> c.v1 >\nnetns b\nnetns c\n", &state, &owned);
    assert_eq!(codes, ["netscript::plan::stacked_link"]);
    insta::assert_snapshot!(text);
}
