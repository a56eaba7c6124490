//! The planner against hand-built kernel states and records (no kernel): what it plans
//! when links were made otherwise since the last run, and what each operation's undo
//! puts back. Each plan is rendered one operation a line, its undo indented under it
//! (golden files, `insta`); the same situations run against the kernel in
//! tests/link_remake.rs. Pure and fast, so mutation testing of the planner can use it.
//! Regenerate with `INSTA_UPDATE=always cargo test --test plan_states`.

use netscript::check::{self, FsLoader};
use netscript::model::{Desired, IfAddr, MacvlanMode};
use netscript::plan::action::{Action, LinkAttrs, LinkKind};
use netscript::plan::observed::{ObservedLink, ObservedNs};
use netscript::plan::ownership::Owned;
use netscript::plan::{self, describe, Observed};
use netscript::source::SourceMap;

/// Plans `script` against `observed`, with the script's record holding `owned`; the
/// operations and their undos, one a line.
fn planned(script: &str, observed: &Observed, owned: &[Owned]) -> String {
    let ownership = plan::Ownership { entries: owned, ..Default::default() };
    let plan = plan::plan_owned(&desired(script), observed, ownership).unwrap_or_else(|d| panic!("refused: {d:?}"));
    let mut out = String::new();
    for (i, op) in plan.ops.iter().enumerate() {
        out += &format!("{i}: {} (after {:?})\n", describe(&op.action), op.deps);
        for u in &op.undo {
            out += &format!("     undo: {}\n", describe(u));
        }
    }
    out
}

/// What `script` declares, checked (it must check clean).
fn desired(script: &str) -> Desired {
    let mut sources = SourceMap::new();
    let file = sources.add("states.ns".to_string(), None, script.to_string());
    let checked = check::check(&mut sources, file, &FsLoader);
    assert!(!checked.has_errors(), "does not check: {:?}", checked.diagnostics);
    checked.desired
}

fn observed(namespaces: &[(&str, Vec<ObservedLink>)]) -> Observed {
    let mut o = Observed { offline: false, ..Observed::empty() };
    for (name, links) in namespaces {
        let mut ns = ObservedNs::default();
        for l in std::iter::once(link("lo", None, 1)).chain(links.iter().cloned()) {
            ns.links.insert(l.name.clone(), l);
        }
        o.namespaces.insert(name.to_string(), ns);
    }
    o
}

fn link(name: &str, kind: Option<&str>, index: u32) -> ObservedLink {
    ObservedLink { name: name.into(), index, kind: kind.map(str::to_string), up: true, mtu: 1500, mac: Some([2, 0, 0, 0, 0, index as u8]), master: None, addrs: Vec::new(), vrf_table: None, lower: None, made_as: None, ipvlan: None, tunnel: None }
}

fn on(parent: &str, kind: LinkKind, l: ObservedLink) -> ObservedLink {
    ObservedLink { lower: Some(parent.into()), made_as: Some(kind), ..l }
}

fn with_addr(mut l: ObservedLink, addr: &str) -> ObservedLink {
    l.addrs.push(addr.parse::<IfAddr>().unwrap());
    l
}

/// A record entry for a link the script made.
fn made(ns: &str, name: &str, kind: LinkKind) -> Owned {
    Owned { made: Some(Action::CreateLink { ns: ns.into(), name: name.into(), kind, attrs: LinkAttrs { up: true, ..Default::default() } }), undo: vec![Action::DeleteLink { ns: ns.into(), name: name.into() }] }
}

fn veth_to(peer_ns: &str, peer: &str) -> LinkKind {
    LinkKind::Veth { peer_ns: peer_ns.into(), peer_name: peer.into(), peer_attrs: LinkAttrs { up: true, ..Default::default() } }
}

fn macvlan(parent: &str, mode: MacvlanMode) -> LinkKind {
    LinkKind::Macvlan { parent: parent.into(), mode }
}

#[test]
fn a_macvlan_the_record_made_found_in_another_mode_is_made_again() {
    let state = observed(&[
        ("a", vec![link("v0", Some("veth"), 2), with_addr(on("v0", macvlan("v0", MacvlanMode::Private), link("m0", Some("macvlan"), 3)), "10.9.0.1/24")]),
        ("b", vec![link("v1", Some("veth"), 2)]),
    ]);
    let owned = [made("a", "v0", veth_to("b", "v1")), made("a", "m0", macvlan("v0", MacvlanMode::Bridge))];
    let text = planned("netns a <\n  veth v0 <-> b.v1\n  macvlan m0 on v0 mode bridge < addr 10.9.0.1/24 >\n>\nnetns b\n", &state, &owned);
    insta::assert_snapshot!(text);
}

#[test]
fn a_vxlan_without_port_is_made_with_4789_so_the_kernels_4789_is_no_change() {
    let vxlan = |port| LinkKind::Vxlan { vni: 42, remote: Some("10.1.0.2".parse().unwrap()), group: None, local: None, dev: Some("v0".into()), port };
    let state = observed(&[("a", vec![link("v0", Some("veth"), 2), on("v0", vxlan(Some(4789)), link("x0", Some("vxlan"), 3))]), ("b", vec![link("v1", Some("veth"), 2)])]);
    let owned = [made("a", "v0", veth_to("b", "v1")), made("a", "x0", vxlan(None))];
    let script = "netns a <\n  veth v0 <-> b.v1\n  vxlan x0 id 42 remote 10.1.0.2 dev v0\n>\nnetns b\n";
    assert_eq!(planned(script, &state, &owned), "");
    // With another port in the kernel, it is made again.
    let moved = observed(&[("a", vec![link("v0", Some("veth"), 2), on("v0", vxlan(Some(8472)), link("x0", Some("vxlan"), 3))]), ("b", vec![link("v1", Some("veth"), 2)])]);
    insta::assert_snapshot!(planned(script, &moved, &owned));
}

/// The veth pairs with another end now: made anew, and the kernel deletes the macvlan on
/// it. The macvlan is made again after it; the veth's deletion, undone, makes the old
/// pair and then the macvlan on it as it was (its MAC, mode, address).
#[test]
fn a_macvlan_on_a_veth_made_again_is_made_again_and_comes_back_on_rollback() {
    let state = observed(&[
        ("a", vec![link("v0", Some("veth"), 2), with_addr(on("v0", macvlan("v0", MacvlanMode::Vepa), link("m0", Some("macvlan"), 3)), "10.9.0.1/24")]),
        ("b", vec![link("v1", Some("veth"), 2)]),
        ("c", vec![]),
    ]);
    let owned = [made("a", "v0", veth_to("b", "v1")), made("a", "m0", macvlan("v0", MacvlanMode::Vepa))];
    let text = planned("netns a <\n  veth v0 <-> c.v1\n  macvlan m0 on v0 mode vepa < addr 10.9.0.1/24 >\n>\nnetns b\nnetns c\n", &state, &owned);
    insta::assert_snapshot!(text);
}

/// The script drops the veth someone else's macvlan sits on: the deletion's undo makes
/// the macvlan again after the veth.
#[test]
fn dropping_a_veth_puts_back_what_sits_on_it_on_rollback() {
    let state = observed(&[
        ("a", vec![link("v0", Some("veth"), 2), link("v2", Some("veth"), 4), with_addr(on("v0", macvlan("v0", MacvlanMode::Private), link("theirs", Some("macvlan"), 3)), "10.8.0.1/24")]),
        ("b", vec![link("v1", Some("veth"), 2), link("v3", Some("veth"), 3)]),
    ]);
    let owned = [made("a", "v0", veth_to("b", "v1")), made("a", "v2", veth_to("b", "v3"))];
    insta::assert_snapshot!(planned("netns a < veth v2 <-> b.v3 >\nnetns b\n", &state, &owned));
}

/// Someone enslaved a link the script made and gives no master: freed again, the undo
/// enslaves it back.
#[test]
fn a_master_someone_set_on_a_link_the_script_made_is_taken_off() {
    let mut v0 = link("v0", Some("veth"), 3);
    v0.master = Some("br0".into());
    let state = observed(&[("a", vec![link("br0", Some("bridge"), 2), v0]), ("b", vec![link("v1", Some("veth"), 2)])]);
    let owned = [made("a", "br0", LinkKind::Bridge), made("a", "v0", veth_to("b", "v1"))];
    insta::assert_snapshot!(planned("netns a <\n  bridge br0\n  veth v0 <-> b.v1\n>\nnetns b\n", &state, &owned));
}

/// A link the script did not make, enslaved by someone else, and the script gives it no
/// master: its master stays (only a link the script made is freed).
#[test]
fn a_master_on_a_link_the_script_did_not_make_stays() {
    let mut e0 = link("e0", Some("veth"), 3);
    e0.master = Some("br9".into());
    let state = observed(&[("a", vec![link("br9", Some("bridge"), 2), e0])]);
    assert_eq!(planned("netns a < link e0 < addr 10.7.0.1/24 > >\n", &state, &[]), "0: add address 10.7.0.1/24 to a.e0 (after [])\n     undo: delete address 10.7.0.1/24 from a.e0\n");
}

/// A captured state (`tests/captured_states/NAME.json.gz`: a kernel test's re-run of an
/// htb with a u32 filter at prio 1, which the record made), to edit by hand.
fn captured_state(name: &str) -> netscript::run::capture::PlanInputs {
    captured::read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/captured_states").join(format!("{name}.json.gz")))
}

#[path = "support/captured.rs"]
mod captured;

/// Someone put a filter netscript cannot read where its own u32 filter was (same
/// priority): refused, not taken for netscript's (there is nothing to give back).
#[test]
fn a_filter_netscript_cannot_read_at_its_own_filters_priority_is_refused() {
    let mut inputs = captured_state("htb_filter_rerun");
    assert_eq!(plan::plan_owned(&inputs.desired, &inputs.observed, inputs.ownership()).map(|p| p.ops.len()).ok(), Some(0), "as captured: nothing to do");
    inputs.observed.namespaces.get_mut("ta").unwrap().filters[0].spec = None;
    let refused = plan::plan_owned(&inputs.desired, &inputs.observed, inputs.ownership()).expect_err("refused");
    assert_eq!(refused.iter().map(|d| d.code).collect::<Vec<_>>(), ["netscript::plan::filter_conflict"]);
}

/// The script drops its u32 filter, and someone has put another filter at its priority
/// since: that one is not netscript's to delete (its own is gone already).
#[test]
fn a_dropped_filter_someone_replaced_is_not_deleted() {
    let mut inputs = captured_state("htb_filter_rerun");
    let v0 = inputs.desired.namespaces.get_mut("ta").unwrap().interfaces.get_mut("v0").unwrap();
    let Some(netscript::model::Qdisc::Htb(htb)) = v0.root_qdisc.as_mut().map(|q| &mut q.node) else { panic!("the captured state has an htb on ta.v0") };
    htb.filters.clear();
    let plan_now = |inputs: &netscript::run::capture::PlanInputs| plan::plan_owned(&inputs.desired, &inputs.observed, inputs.ownership()).expect("plans").ops.iter().map(|o| describe(&o.action)).collect::<Vec<_>>();
    assert_eq!(plan_now(&inputs), ["delete filter ta.v0 u32 prio 1 match ip dport 5003 flowid 1:10"], "its own filter, still there, is deleted");
    let seen = &mut inputs.observed.namespaces.get_mut("ta").unwrap().filters[0];
    let Some(netscript::plan::action::FilterSpec::U32 { dport, .. }) = seen.spec.as_mut() else { panic!("a u32 filter") };
    *dport = Some(5999);
    assert_eq!(plan_now(&inputs), Vec::<String>::new(), "another's filter at the same priority stays");
}

/// Planned without a kernel (`check`, `--dry-run --offline`), an interface named by
/// `link` is taken to exist as declared.
#[test]
fn offline_a_link_the_script_names_is_assumed_to_exist() {
    let plan = plan::plan(&desired("host < link eth7 < mtu 1400; master br7 > ; bridge br7 >\n"), &Observed::empty()).expect("plans offline");
    let ops: Vec<String> = plan.ops.iter().map(|o| describe(&o.action)).collect();
    assert_eq!(ops, ["create bridge host.br7 (up)", "set link host.eth7 mtu 1400 master br7"]);
    // lo too (in a namespace the plan makes, it is set as declared with an undo).
    let plan = plan::plan(&desired("host < link lo < mtu 1400 > >\nnetns n < link lo < mtu 1300 > >\n"), &Observed::empty()).expect("plans offline");
    let ops: Vec<(String, Vec<String>)> = plan.ops.iter().map(|o| (describe(&o.action), o.undo.iter().map(describe).collect())).collect();
    assert_eq!(ops, [("create netns n".to_string(), vec!["delete netns n".to_string()]), ("set link host.lo up mtu 1400".into(), vec![]), ("set link n.lo up mtu 1300".into(), vec!["set link n.lo mtu 65536".into()])]);
}

/// A vxlan the record made on `v0`, which the script now puts on `v2`: made again, and
/// the deletion's undo makes the old one on `v0`, where the kernel has it.
#[test]
fn a_vxlan_moved_to_another_device_comes_back_on_its_old_one() {
    let vxlan = |dev: &str| LinkKind::Vxlan { vni: 42, remote: Some("10.1.0.2".parse().unwrap()), group: None, local: None, dev: Some(dev.into()), port: Some(4789) };
    let state = observed(&[
        ("a", vec![link("v0", Some("veth"), 2), link("v2", Some("veth"), 4), on("v0", vxlan("v0"), link("x0", Some("vxlan"), 3))]),
        ("b", vec![link("v1", Some("veth"), 2), link("v3", Some("veth"), 3)]),
    ]);
    let owned = [made("a", "v0", veth_to("b", "v1")), made("a", "v2", veth_to("b", "v3")), made("a", "x0", vxlan("v0"))];
    let text = planned("netns a <\n  veth v0 <-> b.v1\n  veth v2 <-> b.v3\n  vxlan x0 id 42 remote 10.1.0.2 dev v2\n>\nnetns b\n", &state, &owned);
    assert!(text.contains("undo: create vxlan a.x0 id 42 remote 10.1.0.2 dev v0"), "{text}");
    insta::assert_snapshot!(text);
}

/// An htb whose default class changes is made again (the kernel cannot change it in
/// place): its classes and its filter are made again after it, not taken as in place.
#[test]
fn an_htb_made_again_for_its_default_gets_its_classes_and_filters_again() {
    let mut inputs = captured_state("htb_filter_rerun");
    let v0 = inputs.desired.namespaces.get_mut("ta").unwrap().interfaces.get_mut("v0").unwrap();
    let Some(netscript::model::Qdisc::Htb(htb)) = v0.root_qdisc.as_mut().map(|q| &mut q.node) else { panic!("the captured state has an htb on ta.v0") };
    htb.default_class.as_mut().expect("a default class").node = 0x10;
    let plan = plan::plan_owned(&inputs.desired, &inputs.observed, inputs.ownership()).expect("plans");
    let ops: Vec<String> = plan.ops.iter().map(|o| describe(&o.action)).collect();
    insta::assert_snapshot!(ops.join("\n"));
}

/// `link lo` in a namespace that exists already: compared with the kernel's like any
/// link (only in a namespace this plan makes is lo set as declared without looking).
#[test]
fn loopback_in_an_existing_namespace_as_declared_is_nothing_to_do() {
    let mut state = observed(&[("a", vec![])]);
    let lo = state.namespaces.get_mut("a").unwrap().links.get_mut("lo").unwrap();
    lo.mtu = 1400;
    assert_eq!(planned("netns a < link lo < mtu 1400 > >\n", &state, &[]), "");
    state.namespaces.get_mut("a").unwrap().links.get_mut("lo").unwrap().mtu = 1500;
    assert_eq!(planned("netns a < link lo < mtu 1400 > >\n", &state, &[]), "0: set link a.lo mtu 1400 (after [])\n     undo: set link a.lo mtu 1500\n");
}

/// A netem the record made without tables, changed by someone since (`netem_drift`
/// with no tables; captured in the full-kernel lane): put back as declared, not refused
/// (only a table netscript cannot know is refused).
#[test]
fn a_netem_without_tables_someone_changed_is_put_back() {
    let mut inputs = captured_state("netem_rerun");
    let fk1 = inputs.observed.namespaces.get_mut("fk1").unwrap();
    let Some(netscript::plan::action::QdiscSpec::Netem(netem)) = fk1.qdiscs.iter_mut().find(|q| q.dev == "v0").map(|q| &mut q.spec) else { panic!("a netem on fk1.v0") };
    netem.delay = netscript::units::Duration(20_000_000);
    fk1.netem_drift = vec![("v0".to_string(), Default::default())];
    let plan = plan::plan_owned(&inputs.desired, &inputs.observed, inputs.ownership()).unwrap_or_else(|d| panic!("refused: {d:?}"));
    let ops: Vec<String> = plan.ops.iter().map(|o| describe(&o.action)).collect();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert!(ops[0].contains("netem delay 10ms"), "{ops:?}");
}

/// A master an earlier run set on a link it did not make (its record gives back "no
/// master"): the script drops it, and the link leaves the bridge again.
#[test]
fn a_master_the_script_set_and_drops_is_taken_off() {
    let state = observed(&[("a", vec![link("br7", Some("bridge"), 2), ObservedLink { master: Some("br7".into()), ..link("eth7", Some("veth"), 3) }])]);
    let set = |master: Option<&str>| netscript::plan::action::LinkSet { master: Some(master.map(str::to_string)), ..Default::default() };
    let owned = [Owned { made: Some(Action::SetLink { ns: "a".into(), name: "eth7".into(), set: set(Some("br7")) }), undo: vec![Action::SetLink { ns: "a".into(), name: "eth7".into(), set: set(None) }] }];
    assert_eq!(planned("netns a < link br7; link eth7 < master br7 > >\n", &state, &owned), "", "as declared: nothing to do");
    assert_eq!(planned("netns a\n", &state, &owned), "0: set link a.eth7 nomaster (after [])\n     undo: set link a.eth7 master br7\n");
}

/// Five veths the record made from `b`; the script now makes the third one from `c`,
/// with the same end in `b` (still declared, so no removal takes the old pair): that old
/// pair goes first, to free the name, and the others stay (whatever order the record's
/// index lists them in).
#[test]
fn a_veth_made_anew_at_an_old_pairs_end_takes_only_that_pair() {
    let ends = |prefix: &str| (0..5).map(|i| link(&format!("{prefix}{i}"), Some("veth"), 2 + i)).collect::<Vec<_>>();
    let state = observed(&[("a", ends("v")), ("b", ends("w")), ("c", vec![])]);
    let owned: Vec<Owned> = (0..5).map(|i| made("b", &format!("w{i}"), veth_to("a", &format!("v{i}")))).collect();
    let stay: String = [0, 1, 3, 4].iter().map(|i| format!("  veth w{i} <-> a.v{i}\n")).collect();
    let text = planned(&format!("netns a\nnetns b <\n{stay}>\nnetns c < veth v2 <-> b.w2 >\n"), &state, &owned);
    insta::assert_snapshot!(text);
    assert!(text.contains("delete link b.w2"), "{text}");
    assert_eq!(text.lines().filter(|l| !l.trim_start().starts_with("undo:") && l.contains("delete link")).count(), 1, "{text}");
}

/// A vxlan the record made whose `dev` the kernel reports in another namespace (read as
/// no name) is made again for another id: the undo makes the old one on the script's
/// `dev`, not on a device without a name.
#[test]
fn a_vxlan_made_again_with_its_dev_unread_comes_back_on_the_scripts_dev() {
    let vxlan = |vni: u32, dev: &str| LinkKind::Vxlan { vni, remote: Some("10.1.0.2".parse().unwrap()), group: None, local: None, dev: Some(dev.into()), port: Some(4789) };
    let state = observed(&[("a", vec![link("v0", Some("veth"), 2), on("", vxlan(42, ""), link("x0", Some("vxlan"), 3))]), ("b", vec![link("v1", Some("veth"), 2)])]);
    let owned = [made("a", "v0", veth_to("b", "v1")), made("a", "x0", vxlan(42, "v0"))];
    let script = |vni: u32| format!("netns a <\n  veth v0 <-> b.v1\n  vxlan x0 id {vni} remote 10.1.0.2 dev v0\n>\nnetns b\n");
    assert_eq!(planned(&script(42), &state, &owned), "", "its dev unread is not a difference");
    let text = planned(&script(43), &state, &owned);
    assert!(text.contains("undo: create vxlan a.x0 id 42 remote 10.1.0.2 dev v0"), "{text}");
}

/// Addresses put in the script's order are deleted and added again: each deletion
/// points at its own address in the script (where an error of the kernel's is shown).
#[test]
fn an_address_deleted_for_the_order_points_at_its_own_statement() {
    let mut state = observed(&[("a", vec![with_addr(with_addr(link("e0", Some("veth"), 2), "10.7.0.1/24"), "10.7.0.2/24")])]);
    state.namespaces.get_mut("a").unwrap().links.get_mut("e0").unwrap().up = true;
    let addr = |a: &str| Owned { made: Some(Action::AddAddr { ns: "a".into(), dev: "e0".into(), addr: a.parse().unwrap() }), undo: vec![Action::DelAddr { ns: "a".into(), dev: "e0".into(), addr: a.parse().unwrap() }] };
    let owned = [addr("10.7.0.1/24"), addr("10.7.0.2/24")];
    let script = "netns a < link e0 < addr 10.7.0.2/24; addr 10.7.0.1/24 > >\n";
    let declared = desired(script);
    let plan = plan::plan_owned(&declared, &state, plan::Ownership { entries: &owned, ..Default::default() }).expect("plans");
    let deletions: Vec<(String, &str)> = plan
        .ops
        .iter()
        .filter_map(|o| match &o.action {
            Action::DelAddr { addr, .. } => Some((addr.to_string(), &script[o.origin.start as usize..o.origin.end as usize])),
            _ => None,
        })
        .collect();
    assert_eq!(deletions.len(), 2, "{deletions:?}");
    for (addr, at) in &deletions {
        assert!(at.contains(addr.as_str()), "the deletion of {addr} points at `{at}`");
    }
}

/// The script drops a veth whose other end carries someone else's macvlan: the kernel
/// deletes it with the pair, so the deletion's undo makes it again on that end too.
#[test]
fn dropping_a_veth_puts_back_what_sits_on_its_other_end_on_rollback() {
    let state = observed(&[
        ("a", vec![link("v0", Some("veth"), 2), link("v2", Some("veth"), 4)]),
        ("b", vec![link("v1", Some("veth"), 2), link("v3", Some("veth"), 3), with_addr(on("v1", macvlan("v1", MacvlanMode::Bridge), link("theirs", Some("macvlan"), 5)), "10.8.1.1/24")]),
    ]);
    let owned = [made("a", "v0", veth_to("b", "v1")), made("a", "v2", veth_to("b", "v3"))];
    let text = planned("netns a < veth v2 <-> b.v3 >\nnetns b\n", &state, &owned);
    assert!(text.contains("undo: create macvlan b.theirs on v1 mode bridge"), "{text}");
    assert!(text.contains("undo: add address 10.8.1.1/24 to b.theirs"), "{text}");
}

/// An ifb at the name ingress shaping uses, which the script did not make: refused, not
/// taken (netscript would shape on, and later delete, someone else's device).
#[test]
fn an_ifb_of_someone_elses_at_the_shaping_name_is_refused() {
    let state = observed(&[("a", vec![link("v0", Some("veth"), 2), link("ifb-v0", Some("ifb"), 3)]), ("b", vec![link("v1", Some("veth"), 2)])]);
    let owned = [made("a", "v0", veth_to("b", "v1"))];
    assert_eq!(refusal_codes("netns a < veth v0 <-> b.v1 < shape ingress 1mbit > >\nnetns b\n", &state, &owned), ["netscript::plan::foreign_link"]);
}

/// A rule and a route the record made, which the script drops: deleted while there;
/// forgotten, not deleted again, once someone deleted them.
#[test]
fn a_dropped_rule_or_route_someone_deleted_is_forgotten() {
    let declared = desired("netns a < veth v0 <-> b.v1 < addr 10.6.0.1/24 >; rule from 10.6.0.0/24 table 106; route 10.60.0.0/16 via 10.6.0.2 table 106 >\nnetns b\n");
    let state = observed(&[("a", vec![with_addr(link("v0", Some("veth"), 2), "10.6.0.1/24")]), ("b", vec![link("v1", Some("veth"), 2)])]);
    let first = plan::plan_owned(&declared, &state, plan::Ownership { entries: &[made("a", "v0", veth_to("b", "v1"))], ..Default::default() }).expect("plans");
    let owned: Vec<Owned> = std::iter::once(made("a", "v0", veth_to("b", "v1"))).chain(first.ops.iter().map(|o| Owned { made: Some(o.action.clone()), undo: o.undo.clone() })).collect();
    let (mut with_both, rule, route) = (state.clone(), first.ops.iter().find_map(|o| match &o.action {
        Action::AddRule { rule, .. } => Some(rule.clone()),
        _ => None,
    }), first.ops.iter().find_map(|o| match &o.action {
        Action::AddRoute { route, .. } => Some(route.clone()),
        _ => None,
    }));
    let a = with_both.namespaces.get_mut("a").unwrap();
    a.rules.push(rule.expect("the first plan adds the rule"));
    a.routes.push(route.expect("the first plan adds the route"));
    let dropped = "netns a < veth v0 <-> b.v1 < addr 10.6.0.1/24 > >\nnetns b\n";
    let text = planned(dropped, &with_both, &owned);
    assert!(text.contains(": delete rule") && text.contains(": delete route"), "{text}");
    assert_eq!(planned(dropped, &state, &owned), "", "deleted by someone: forgotten");
}

/// Someone deleted a namespace the script uses but did not make (no record of making
/// it): what the record holds in it is forgotten, even what the script still declares
/// (the plan makes it anew, and records that instead).
#[test]
fn what_the_record_holds_in_a_namespace_someone_deleted_is_forgotten() {
    let state = observed(&[("b", vec![link("v1", Some("veth"), 2)])]);
    let owned = [made("x", "v0", veth_to("b", "v1"))];
    let declared = desired("netns x < veth v0 <-> b.v2 >\nnetns b\n");
    let plan = plan::plan_owned(&declared, &state, plan::Ownership { entries: &owned, ..Default::default() }).expect("plans");
    assert_eq!(plan.forget, [0], "{:?}", plan.ops.iter().map(|o| describe(&o.action)).collect::<Vec<_>>());
}

/// A vxlan the record made without `dev`, which the script now gives one (and the
/// other way round): made again, as the kernel cannot change its device.
#[test]
fn a_vxlan_given_a_dev_or_none_any_more_is_made_again() {
    let vxlan = |dev: Option<&str>| LinkKind::Vxlan { vni: 42, remote: Some("10.1.0.2".parse().unwrap()), group: None, local: None, dev: dev.map(str::to_string), port: Some(4789) };
    let script = |dev: &str| format!("netns a <\n  veth v0 <-> b.v1\n  vxlan x0 id 42 remote 10.1.0.2{dev}\n>\nnetns b\n");
    for (was, now) in [(None, " dev v0"), (Some("v0"), "")] {
        let x0 = match was {
            Some(dev) => on(dev, vxlan(was), link("x0", Some("vxlan"), 3)),
            None => ObservedLink { made_as: Some(vxlan(None)), ..link("x0", Some("vxlan"), 3) },
        };
        let state = observed(&[("a", vec![link("v0", Some("veth"), 2), x0]), ("b", vec![link("v1", Some("veth"), 2)])]);
        let owned = [made("a", "v0", veth_to("b", "v1")), made("a", "x0", vxlan(was))];
        let as_made = if was.is_some() { " dev v0" } else { "" };
        assert_eq!(planned(&script(as_made), &state, &owned), "", "as made: nothing to do");
        let text = planned(&script(now), &state, &owned);
        assert!(text.contains("0: delete link a.x0") && text.contains(": create vxlan a.x0"), "{was:?} → `{now}`: {text}");
    }
}

/// The script takes a link down that has IPv6 addresses: the kernel drops them, so the
/// script's are added again after (down, they stay), and a rollback puts them back once
/// the link is up again.
#[test]
fn a_link_taken_down_gets_its_ipv6_addresses_again() {
    let state = observed(&[("a", vec![with_addr(with_addr(link("e0", Some("veth"), 2), "2001:db8::1/64"), "10.4.0.1/24")])]);
    let addr = |a: &str| Owned { made: Some(Action::AddAddr { ns: "a".into(), dev: "e0".into(), addr: a.parse().unwrap() }), undo: vec![Action::DelAddr { ns: "a".into(), dev: "e0".into(), addr: a.parse().unwrap() }] };
    let owned = [addr("2001:db8::1/64"), addr("10.4.0.1/24")];
    assert_eq!(planned("netns a < link e0 < addr 2001:db8::1/64; addr 10.4.0.1/24 > >\n", &state, &owned), "", "up, as declared");
    let text = planned("netns a < link e0 < down; addr 2001:db8::1/64; addr 10.4.0.1/24 > >\n", &state, &owned);
    insta::assert_snapshot!(text);
    assert!(text.contains("undo: add address 2001:db8::1/64 to a.e0"), "{text}");
    assert!(text.contains(": add address 2001:db8::1/64 to a.e0"), "{text}");
}

/// Plans `script` against `observed` with the record `owned`, which must refuse it; what
/// it refuses, by code.
fn refusal_codes(script: &str, observed: &Observed, owned: &[Owned]) -> Vec<&'static str> {
    let refused = plan::plan_owned(&desired(script), observed, plan::Ownership { entries: owned, ..Default::default() }).expect_err("refused");
    refused.iter().map(|d| d.code).collect()
}

/// Addresses of one subnet in another order than the script's are deleted and added
/// again in its order (the first is the kernel's primary) only when all of them are the
/// script's: someone else's address of the subnet is never deleted for it.
#[test]
fn addresses_are_put_in_order_only_when_every_one_of_the_subnet_is_the_scripts() {
    let script = "netns a < veth v0 <-> b.v1 < addr 10.7.0.2/24; addr 10.7.0.1/24 > >\nnetns b\n";
    let addr_made = |addr: &str| Owned { made: Some(Action::AddAddr { ns: "a".into(), dev: "v0".into(), addr: addr.parse().unwrap() }), undo: vec![Action::DelAddr { ns: "a".into(), dev: "v0".into(), addr: addr.parse().unwrap() }] };
    let owned = [made("a", "v0", veth_to("b", "v1")), addr_made("10.7.0.1/24")];
    let ours_only = observed(&[("a", vec![with_addr(link("v0", Some("veth"), 2), "10.7.0.1/24")]), ("b", vec![link("v1", Some("veth"), 2)])]);
    let text = planned(script, &ours_only, &owned);
    let deletes = |text: &str| text.lines().filter(|l| !l.starts_with(' ') && l.contains("delete address")).count();
    assert_eq!(deletes(&text), 1, "all the script's: put in order\n{text}");
    let with_theirs = observed(&[("a", vec![with_addr(with_addr(link("v0", Some("veth"), 2), "10.7.0.5/24"), "10.7.0.1/24")]), ("b", vec![link("v1", Some("veth"), 2)])]);
    let text = planned(script, &with_theirs, &owned);
    assert!(text.contains("add address 10.7.0.2/24 to a.v0"), "{text}");
    assert_eq!(deletes(&text), 0, "someone's 10.7.0.5 in the subnet: left as it is\n{text}");
}

/// A veth made anew (its other end changes) takes the script's macvlan on it, and the
/// kernel would take someone's vxlan on that macvlan too: refused, for the vxlan.
#[test]
fn someone_elses_link_two_levels_up_refuses_making_the_veth_again() {
    let state = observed(&[
        ("a", vec![link("v0", Some("veth"), 2), on("v0", macvlan("v0", MacvlanMode::Bridge), link("m0", Some("macvlan"), 3)), ObservedLink { lower: Some("m0".into()), ..link("vx", Some("vxlan"), 4) }]),
        ("b", vec![link("v1", Some("veth"), 2), link("v2", Some("veth"), 3)]),
    ]);
    let owned = [made("a", "v0", veth_to("b", "v2")), made("a", "m0", macvlan("v0", MacvlanMode::Bridge))];
    let script = "netns a <\n  veth v0 <-> b.v1\n  macvlan m0 on v0 mode bridge\n>\nnetns b\n";
    assert_eq!(refusal_codes(script, &state, &owned), ["netscript::plan::stacked_link"]);
}

/// A namespace the record made, known by its inode only (records before cookies): the
/// same inode is the same namespace, whose links the script dropped are deleted; another
/// inode is someone else's namespace of that name, where nothing of the record's is.
#[test]
fn a_namespace_known_by_its_inode_is_the_records_while_the_inode_is_the_same() {
    let netns_made = |ns: &str| Owned { made: Some(Action::CreateNetns { ns: ns.into() }), undo: vec![Action::DeleteNetns { ns: ns.into() }] };
    let owned = [netns_made("a"), netns_made("b"), made("a", "v0", veth_to("b", "v1"))];
    let mut state = observed(&[("a", vec![link("v0", Some("veth"), 2)]), ("b", vec![link("v1", Some("veth"), 2)])]);
    state.namespaces.get_mut("a").unwrap().id = Some(4_026_532_001);
    let declared = desired("netns a\nnetns b\n");
    let plan_with = |inode: u64| {
        let ids = std::collections::BTreeMap::from([("a".to_string(), inode)]);
        let plan = plan::plan_owned(&declared, &state, plan::Ownership { entries: &owned, netns_ids: &ids, ..Default::default() }).expect("plans");
        plan.ops.iter().map(|o| describe(&o.action)).collect::<Vec<_>>()
    };
    assert_eq!(plan_with(4_026_532_001), ["delete link a.v0"]);
    assert_eq!(plan_with(4_026_532_002), Vec::<String>::new(), "another namespace named a");
}

/// A macvlan the record made, found in another mode on a parent the kernel reports in
/// another namespace (read as no name): made again, and the rollback makes it again in
/// its old mode on the script's parent (a macvlan on no name could not be made).
#[test]
fn a_macvlan_on_an_unread_parent_comes_back_on_the_scripts_parent() {
    let state = observed(&[
        ("a", vec![link("v0", Some("veth"), 2), ObservedLink { made_as: Some(macvlan("", MacvlanMode::Private)), ..link("m0", Some("macvlan"), 3) }]),
        ("b", vec![link("v1", Some("veth"), 2)]),
    ]);
    let owned = [made("a", "v0", veth_to("b", "v1")), made("a", "m0", macvlan("v0", MacvlanMode::Private))];
    let text = planned("netns a <\n  veth v0 <-> b.v1\n  macvlan m0 on v0 mode bridge\n>\nnetns b\n", &state, &owned);
    assert!(text.contains("undo: create macvlan a.m0 on v0 mode private"), "{text}");
    assert!(text.contains(": create macvlan a.m0 on v0 mode bridge"), "{text}");
}

/// `route default` with an IPv6 gateway is the IPv6 default route (`::/0`), not IPv4's.
#[test]
fn an_ipv6_default_route_is_planned_as_ipv6() {
    let text = planned("netns a <\n  veth v0 <-> b.v1 < addr 2001:db8::1/64 >\n  route default via 2001:db8::2\n>\nnetns b\n", &observed(&[]), &[]);
    let route = text.lines().find(|l| l.contains(": add route")).unwrap_or_else(|| panic!("{text}"));
    insta::assert_snapshot!(route);
    assert!(!route.contains("0.0.0.0"), "{route}");
}

/// Someone else's vrf at the script's name: with the script's table it is as declared
/// (nothing to do); with another table it is refused, not made again or taken as it is.
#[test]
fn someone_elses_vrf_is_as_declared_only_with_the_scripts_table() {
    let vrf = |table| ObservedLink { vrf_table: Some(table), made_as: Some(LinkKind::Vrf { table }), ..link("blue", Some("vrf"), 2) };
    let script = "netns a < vrf blue table 10 >\n";
    assert_eq!(planned(script, &observed(&[("a", vec![vrf(10)])]), &[]), "");
    assert_eq!(refusal_codes(script, &observed(&[("a", vec![vrf(20)])]), &[]), ["netscript::plan::link_conflict"]);
}

/// A link an earlier run set up (its record takes it down again): the script drops the
/// line, the link goes down, and a rollback of that brings it up with the IPv6 address
/// the kernel drops on the way down.
#[test]
fn a_link_the_script_set_up_and_drops_goes_down_and_its_undo_gives_back_its_ipv6() {
    let state = observed(&[("a", vec![with_addr(link("e0", Some("veth"), 2), "2001:db8::7/64")])]);
    let up = |up| Action::SetLink { ns: "a".into(), name: "e0".into(), set: netscript::plan::action::LinkSet { up: Some(up), ..Default::default() } };
    let owned = [Owned { made: Some(up(true)), undo: vec![up(false)] }];
    assert_eq!(planned("netns a < link e0 < up > >\n", &state, &owned), "", "as declared: nothing to do");
    let text = planned("netns a\n", &state, &owned);
    insta::assert_snapshot!(text);
    assert!(text.contains("undo: add address 2001:db8::7/64 to a.e0"), "{text}");
}

/// The script drops two veths; the one someone's macvlan sits on goes after another
/// removal, and its undo still makes the macvlan again.
#[test]
fn what_sits_on_a_dropped_veth_comes_back_whatever_was_removed_before() {
    let state = observed(&[
        ("a", vec![link("v0", Some("veth"), 2), link("v2", Some("veth"), 4), on("v0", macvlan("v0", MacvlanMode::Private), link("theirs", Some("macvlan"), 3))]),
        ("b", vec![link("v1", Some("veth"), 2), link("v3", Some("veth"), 3)]),
    ]);
    // Either order of the record: one of them has the veth removed after the other.
    for owned in [[made("a", "v2", veth_to("b", "v3")), made("a", "v0", veth_to("b", "v1"))], [made("a", "v0", veth_to("b", "v1")), made("a", "v2", veth_to("b", "v3"))]] {
        let text = planned("netns a\nnetns b\n", &state, &owned);
        assert_eq!(text.lines().filter(|l| l.contains(": delete link")).count(), 2, "{text}");
        assert!(text.contains("undo: create macvlan a.theirs on v0 mode private"), "{text}");
    }
}

/// The script drops the macvlan on a veth end and lowers that end's mtu below the
/// macvlan's: the mtu change's undo does not set the macvlan's mtu back (the removal,
/// undone after it, makes the macvlan again as it was; before that, there is none).
/// Found by the fault property (500 cases): the rollback failed with ENODEV.
#[test]
fn a_dropped_macvlan_gets_no_mtu_put_back_from_its_parents_change() {
    let state = observed(&[("a", vec![link("v0", Some("veth"), 2), on("v0", macvlan("v0", MacvlanMode::Private), link("m1", Some("macvlan"), 3))]), ("b", vec![link("v1", Some("veth"), 2)])]);
    let owned = [made("a", "v0", veth_to("b", "v1")), made("a", "m1", macvlan("v0", MacvlanMode::Private))];
    let kept = planned("netns a <\n  veth v0 <-> b.v1 < mtu 1280 >\n  macvlan m1 on v0 mode private\n>\nnetns b\n", &state, &owned);
    assert!(kept.contains("undo: set link a.m1 mtu 1500"), "a macvlan that stays gets its mtu back\n{kept}");
    let text = planned("netns a < veth v0 <-> b.v1 < mtu 1280 > >\nnetns b\n", &state, &owned);
    assert!(text.contains(": delete link a.m1"), "{text}");
    assert!(!text.contains("set link a.m1 mtu"), "{text}");
}
