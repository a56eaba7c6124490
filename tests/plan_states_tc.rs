//! The planner's traffic control against kernel states captured by the kernel tests
//! (`tests/captured_states/`, see `src/run/capture.rs`) and edited by hand: what a
//! re-run plans when someone changed a qdisc, a class or a filter since, and what each
//! removal's undo puts back. Pure and fast, so mutation testing of the planner can use
//! it (docs/TESTING.md).

use netscript::model::{HookQdisc, IfaceKind, Qdisc};
use netscript::plan::action::{Action, ClassSpec, FilterSpec, QdiscParent};
use netscript::plan::observed::{ObservedFilter, SeenQdisc};
use netscript::plan::{self, describe};
use netscript::run::capture::PlanInputs;
use netscript::units::Rate;

#[path = "support/captured.rs"]
mod captured;

fn captured_state(name: &str) -> PlanInputs {
    captured::read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/captured_states").join(format!("{name}.json.gz")))
}

/// Each operation in the words of `netscript plan`, with its undo.
fn planned(inputs: &PlanInputs) -> Vec<(String, Vec<String>)> {
    let plan = plan::plan_owned(&inputs.desired, &inputs.observed, inputs.ownership()).unwrap_or_else(|d| panic!("refused: {d:?}"));
    plan.ops.iter().map(|o| (describe(&o.action), o.undo.iter().map(describe).collect())).collect()
}

fn actions(inputs: &PlanInputs) -> Vec<String> {
    planned(inputs).into_iter().map(|(action, _)| action).collect()
}

fn iface<'a>(inputs: &'a mut PlanInputs, ns: &str, dev: &str) -> &'a mut netscript::model::Interface {
    inputs.desired.namespaces.get_mut(ns).unwrap().interfaces.get_mut(dev).unwrap()
}

fn seen<'a>(inputs: &'a mut PlanInputs, ns: &str) -> &'a mut netscript::plan::observed::ObservedNs {
    inputs.observed.namespaces.get_mut(ns).unwrap()
}

/// The script pairs veth `ns.dev` with a new other end, `peer_ns.new_peer`, in place of
/// `old_peer` (the kernel's pair stays as it was): the veth is made again.
fn pair_with_another_end(inputs: &mut PlanInputs, (ns, dev): (&str, &str), (peer_ns, old_peer, new_peer): (&str, &str, &str)) {
    let IfaceKind::Veth { peer } = &mut iface(inputs, ns, dev).kind else { panic!("{ns}.{dev} is a veth") };
    peer.name = new_peer.into();
    let other = inputs.desired.namespaces.get_mut(peer_ns).unwrap();
    let mut end = other.interfaces.shift_remove(old_peer).unwrap_or_else(|| panic!("{peer_ns}.{old_peer} declared"));
    end.name = new_peer.into();
    other.interfaces.insert(new_peer.into(), end);
}

/// A u32 filter on the ingress of `dev` that no record holds.
fn foreign_ingress_filter(dev: &str, prio: u32, dport: u16) -> ObservedFilter {
    let spec = FilterSpec::U32 { ingress: true, prio, proto: None, src: None, dst: None, sport: None, dport: Some(dport), flowid: Some(1), link: None, hashkey: None, handle: None, action: None, raw: Vec::new(), ht: None };
    ObservedFilter { dev: dev.into(), prio, handle: 0x8000_0800, spec: Some(spec) }
}

/// The script drops a tbf someone already deleted: the kernel's default qdisc (handle 0)
/// is in its place, which is not the tbf, and nothing is left to do.
#[test]
fn a_dropped_qdisc_someone_deleted_already_is_forgotten() {
    let mut inputs = captured_state("htb_filter_rerun");
    assert_eq!(actions(&inputs), Vec::<String>::new(), "as captured: nothing to do");
    iface(&mut inputs, "ta", "u0").root_qdisc = None;
    assert_eq!(actions(&inputs), ["delete qdisc ta.u0 root"], "its own tbf, still there, is deleted");
    let ta = seen(&mut inputs, "ta");
    ta.qdiscs.retain(|q| q.dev != "u0");
    let root = ta.root_qdiscs.iter_mut().find(|q| q.dev == "u0").unwrap();
    *root = SeenQdisc { dev: "u0".into(), parent: QdiscParent::Root, kind: "noqueue".into(), handle: 0 };
    assert_eq!(actions(&inputs), Vec::<String>::new(), "the kernel's default qdisc is not netscript's tbf");
}

/// The captured htb state where an earlier run found class `1:id` of ta.v0 at `rate`
/// and changed it (its record gives back the class as it was), and the script no longer
/// declares it; and that class as it was.
fn class_the_record_changed_dropped(id: u32, rate: Rate) -> (PlanInputs, ClassSpec) {
    let mut inputs = captured_state("htb_filter_rerun");
    let found_before = ClassSpec { id, parent: None, rate, ceil: rate, prio: None, burst: None, cburst: None, quantum: None, mtu: None, framing: Default::default() };
    let entry = inputs.owned.iter_mut().find(|o| matches!(o.undo.first(), Some(Action::DelClass { id: made, .. }) if *made == id)).expect("the record made the class");
    entry.undo = vec![Action::ReplaceClass { ns: "ta".into(), dev: "v0".into(), class: found_before.clone() }];
    let Some(Qdisc::Htb(htb)) = iface(&mut inputs, "ta", "v0").root_qdisc.as_mut().map(|q| &mut q.node) else { panic!("the captured state has an htb on ta.v0") };
    htb.classes.retain(|c| c.id.node != id);
    (inputs, found_before)
}

/// A class an earlier run found and changed (its record gives back the class as it
/// was): when the script stops declaring it, it is given back, and a rollback of that
/// puts the run's class back.
#[test]
fn a_class_the_record_changed_is_given_back_when_the_script_drops_it() {
    let (mut inputs, found_before) = class_the_record_changed_dropped(0x10, Rate(1_000_000));
    let Some(Qdisc::Htb(htb)) = iface(&mut inputs, "ta", "v0").root_qdisc.as_mut().map(|q| &mut q.node) else { panic!("an htb on ta.v0") };
    htb.filters.clear();
    let plan = planned(&inputs);
    let given_back = plan.iter().find(|(action, _)| action.contains("classid 1:10")).unwrap_or_else(|| panic!("class 1:10 given back: {plan:?}"));
    insta::assert_snapshot!(format!("{given_back:#?}"));
    // As it was already: nothing to give back.
    let (_, class) = seen(&mut inputs, "ta").classes.iter_mut().find(|(d, c)| d == "v0" && c.id == 0x10).unwrap();
    *class = found_before;
    assert!(!actions(&inputs).iter().any(|a| a.contains("classid 1:10")), "{:?}", actions(&inputs));
}

/// The script drops its ingress shaping: the redirect to the ifb is deleted with its own
/// undo (a rollback of the ingress qdisc's deletion would not bring it back), and a
/// filter of someone else's on another device does not hold this device's ingress qdisc.
#[test]
fn dropped_ingress_shaping_deletes_its_redirect_and_qdisc() {
    let mut inputs = captured_state("ingress_shape_rerun");
    assert_eq!(actions(&inputs), Vec::<String>::new(), "as captured: nothing to do");
    iface(&mut inputs, "ia", "v0").ingress_shape = None;
    let dropped = planned(&inputs);
    insta::assert_snapshot!(dropped.iter().map(|(a, u)| format!("{a}\n    undo: {}", u.join("; "))).collect::<Vec<_>>().join("\n"));
    assert!(dropped.iter().any(|(a, u)| a.starts_with("delete filter ia.v0") && a.contains("redirect dev ifb-v0") && !u.is_empty()), "{dropped:?}");
    seen(&mut inputs, "ia").ingress_filters.push(foreign_ingress_filter("lo", 5, 7));
    assert_eq!(planned(&inputs), dropped, "another device's filter changes nothing here");
}

/// The script drops a hash table it made (and the node in it); someone else's filter at
/// another priority of the same ingress, outside the table, does not hold the table.
#[test]
fn a_dropped_table_is_deleted_beside_a_foreign_filter_outside_it() {
    let mut inputs = captured_state("ingress_ht_rerun");
    assert_eq!(actions(&inputs), Vec::<String>::new(), "as captured: nothing to do");
    let v0 = iface(&mut inputs, "a", "v0");
    v0.ingress_tables.clear();
    v0.ingress_filters.retain(|f| f.ht.is_none());
    seen(&mut inputs, "a").ingress_filters.push(foreign_ingress_filter("v0", 5, 7));
    let ops = actions(&inputs);
    assert!(ops.iter().any(|a| a.starts_with("delete filter a.v0") && a.contains("ht 1:")), "the node goes: {ops:?}");
    assert!(ops.iter().any(|a| a.starts_with("delete filter a.v0") && a.contains("divisor")), "the table goes: {ops:?}");
}

/// A node the script drops from its table: the undo puts back its own table first (should
/// the kernel take it with the priority's last node), not another table of the device.
#[test]
fn a_dropped_nodes_undo_puts_back_its_own_table() {
    let mut inputs = captured_state("ingress_ht_rerun");
    let other_table = ObservedFilter { dev: "v0".into(), prio: 98, handle: 0x2 << 20, spec: Some(FilterSpec::U32Table { prio: 98, table: 2, divisor: 16 }) };
    seen(&mut inputs, "a").ingress_filters.insert(0, other_table);
    iface(&mut inputs, "a", "v0").ingress_filters.retain(|f| f.ht.is_none());
    let plan = planned(&inputs);
    let (_, undo) = plan.iter().find(|(a, _)| a.contains("ht 1:")).unwrap_or_else(|| panic!("the node is deleted: {plan:?}"));
    insta::assert_snapshot!(undo.join("\n"));
    assert!(!undo.iter().any(|u| u.contains("table 2")), "{undo:?}");
}

/// The veth that holds the ingress filters is made again (its other end changes): the
/// kernel's filters on the old one go with it, so the filter, the table and its node are
/// made again on the new one, not taken as there.
#[test]
fn filters_on_a_link_made_again_are_made_again() {
    let mut inputs = captured_state("ingress_ht_rerun");
    pair_with_another_end(&mut inputs, ("a", "v0"), ("b", "v1", "v9"));
    let ops = actions(&inputs);
    insta::assert_snapshot!(ops.join("\n"));
    assert!(ops.iter().any(|a| a.starts_with("add filter a.v0") && a.contains("divisor")), "{ops:?}");
    assert!(ops.iter().any(|a| a.starts_with("add filter a.v0") && a.contains("ht 1:")), "{ops:?}");
    assert!(ops.iter().any(|a| a.starts_with("add filter a.v0") && a.contains("prio 3")), "{ops:?}");
}

/// An htb made again (its default changes) is put back by a rollback with its classes
/// parents first, whatever order the kernel listed them in, then its filter.
#[test]
fn an_htb_made_again_is_put_back_parents_first() {
    let mut inputs = captured_state("htb_filter_rerun");
    let class = |id: u32, parent: Option<u32>| ClassSpec { id, parent, rate: Rate(1_000_000), ceil: Rate(1_000_000), prio: None, burst: None, cburst: None, quantum: None, mtu: None, framing: Default::default() };
    // Grandchild, child, root: as the kernel could list them.
    seen(&mut inputs, "ta").classes = vec![("v0".into(), class(0x11, Some(0x10))), ("v0".into(), class(0x10, Some(0x1))), ("v0".into(), class(0x1, None))];
    let v0 = iface(&mut inputs, "ta", "v0");
    let Some(Qdisc::Htb(htb)) = v0.root_qdisc.as_mut().map(|q| &mut q.node) else { panic!("the captured state has an htb on ta.v0") };
    htb.default_class.as_mut().expect("a default class").node = 0x10;
    let plan = planned(&inputs);
    let (_, undo) = plan.iter().find(|(a, _)| a == "delete qdisc ta.v0 root").unwrap_or_else(|| panic!("the htb goes first: {plan:?}"));
    let classes: Vec<&String> = undo.iter().filter(|u| u.contains("class")).collect();
    assert_eq!(classes.len(), 3, "{undo:?}");
    for (i, id) in ["1:1 ", "1:10 ", "1:11 "].iter().enumerate() {
        assert!(classes[i].contains(id), "class {id}at {i}: {classes:?}");
    }
    let filters: Vec<&String> = undo.iter().filter(|u| u.contains("filter")).collect();
    assert!(filters.len() == 1 && filters[0].contains("ta.v0") && filters[0].contains("dport 5003"), "and its filter: {undo:?}");
}

/// What the kernel reports of an htb and its classes differs from the script's words in
/// what it fills in (the device's direct queue length, each class's quantum): taken as the
/// script's (`exec::traffic::normalize`, from the qdiscs and classes the script asks for),
/// a re-run is nothing to do.
#[test]
fn an_htb_as_the_kernel_fills_it_in_is_as_declared() {
    let mut inputs = captured_state("htb_filter_rerun");
    let ta = seen(&mut inputs, "ta");
    let Some(netscript::plan::action::QdiscSpec::Htb { direct_qlen, .. }) = ta.qdiscs.iter_mut().find(|q| q.dev == "v0").map(|q| &mut q.spec) else { panic!("an htb on ta.v0") };
    *direct_qlen = Some(1000);
    for (_, class) in ta.classes.iter_mut() {
        class.quantum = Some(12_500);
    }
    assert!(!actions(&inputs).is_empty(), "as the kernel reports it, taken literally, the htb and classes differ");
    netscript::exec::traffic::normalize(&mut inputs.observed, &inputs.desired, &Default::default());
    assert_eq!(actions(&inputs), Vec::<String>::new());
}

/// Someone added a second filter at the priority of the script's own (the kernel keeps
/// several u32 nodes at one priority): netscript cannot tell which to give back, so the
/// script's filter there is refused, whether or not it changes.
#[test]
fn a_second_filter_at_the_scripts_priority_is_refused() {
    let mut inputs = captured_state("htb_filter_rerun");
    let ta = seen(&mut inputs, "ta");
    let mut second = ta.filters[0].clone();
    let Some(FilterSpec::U32 { dport, .. }) = second.spec.as_mut() else { panic!("a u32 filter") };
    *dport = Some(5999);
    second.handle += 1;
    ta.filters.push(second);
    let refused = plan::plan_owned(&inputs.desired, &inputs.observed, inputs.ownership()).expect_err("refused");
    assert_eq!(refused.iter().map(|d| d.code).collect::<Vec<_>>(), ["netscript::plan::filter_conflict"]);
}

/// A root qdisc an earlier run found and changed (its record gives back the qdisc as it
/// was): when the script drops it, it is given back, and a rollback of that puts the
/// run's qdisc back; as it was already, nothing is done.
#[test]
fn a_qdisc_the_record_changed_is_given_back_when_the_script_drops_it() {
    let mut inputs = captured_state("htb_filter_rerun");
    let found_before = netscript::plan::action::QdiscSpec::Tbf(netscript::model::Tbf::new(Rate(1_000_000), netscript::units::Size(10_000), netscript::units::Duration(50_000_000)));
    let entry = inputs.owned.iter_mut().find(|o| matches!(o.undo.first(), Some(Action::DelQdisc { dev, .. }) if dev == "u0")).expect("the record made u0's tbf");
    entry.undo = vec![Action::ReplaceQdisc { ns: "ta".into(), dev: "u0".into(), qdisc: found_before.clone() }];
    iface(&mut inputs, "ta", "u0").root_qdisc = None;
    let plan = planned(&inputs);
    insta::assert_snapshot!(format!("{plan:#?}"));
    assert_eq!(plan.len(), 1, "{plan:?}");
    seen(&mut inputs, "ta").qdiscs.iter_mut().find(|q| q.dev == "u0").unwrap().spec = found_before;
    assert_eq!(actions(&inputs), Vec::<String>::new());
}

/// Someone's filter netscript cannot read, in a hash table of theirs at the priority of
/// the script's own filter: a node of a table has its own identity (table:bucket:node),
/// so it is neither the script's filter nor in its way — a re-run is nothing to do.
#[test]
fn an_unreadable_node_of_another_table_at_the_scripts_priority_is_left_alone() {
    let mut inputs = captured_state("ingress_ht_rerun");
    let theirs = ObservedFilter { dev: "v0".into(), prio: 3, handle: 2 << 20 | 0x800, spec: None };
    seen(&mut inputs, "a").ingress_filters.push(theirs);
    assert_eq!(actions(&inputs), Vec::<String>::new());
}

/// The script drops its ingress qdisc with every filter and table on it: its own filters
/// do not hold the ingress qdisc it made, which goes with them; someone else's filter
/// there does (the qdisc is then left to it).
#[test]
fn dropped_ingress_filters_take_their_qdisc_unless_another_filter_is_on_it() {
    let mut inputs = captured_state("ingress_ht_rerun");
    let v0 = iface(&mut inputs, "a", "v0");
    v0.ingress_tables.clear();
    v0.ingress_filters.clear();
    v0.hook_qdisc = None;
    let ops = actions(&inputs);
    assert!(ops.iter().any(|a| a == "delete qdisc a.v0 ingress"), "{ops:?}");
    seen(&mut inputs, "a").ingress_filters.push(foreign_ingress_filter("v0", 5, 7));
    let ops = actions(&inputs);
    assert!(!ops.iter().any(|a| a.starts_with("delete qdisc")), "{ops:?}");
}

/// A table the script drops that someone deleted already (with its node), while another
/// filter stays on the device: forgotten, not deleted again.
#[test]
fn a_dropped_table_someone_deleted_is_forgotten() {
    let mut inputs = captured_state("ingress_ht_rerun");
    let v0 = iface(&mut inputs, "a", "v0");
    v0.ingress_tables.clear();
    v0.ingress_filters.retain(|f| f.ht.is_none());
    assert!(actions(&inputs).iter().any(|a| a.contains("divisor")), "while there, the table is deleted");
    seen(&mut inputs, "a").ingress_filters.retain(|f| f.prio != 99);
    assert_eq!(actions(&inputs), Vec::<String>::new());
}

/// An htb made again (its default changes) on one device leaves the htb of another
/// device of the namespace as it is.
#[test]
fn an_htb_made_again_leaves_another_devices_htb_alone() {
    let mut inputs = captured_state("htb_filter_rerun");
    // u0 gets an htb like v0's (without filters), in the script, the kernel and the record.
    let mut htb = iface(&mut inputs, "ta", "v0").root_qdisc.clone();
    if let Some(Qdisc::Htb(h)) = htb.as_mut().map(|q| &mut q.node) {
        h.filters.clear();
    }
    iface(&mut inputs, "ta", "u0").root_qdisc = htb;
    let ta = seen(&mut inputs, "ta");
    let v0_htb = ta.qdiscs.iter().find(|q| q.dev == "v0").unwrap().spec.clone();
    ta.qdiscs.iter_mut().find(|q| q.dev == "u0").unwrap().spec = v0_htb.clone();
    ta.root_qdiscs.iter_mut().find(|q| q.dev == "u0").unwrap().kind = "htb".into();
    let u0_classes: Vec<_> = ta.classes.iter().map(|(_, c)| ("u0".to_string(), c.clone())).collect();
    ta.classes.extend(u0_classes.iter().cloned());
    for o in inputs.owned.iter_mut() {
        if let Some(Action::ReplaceQdisc { dev, qdisc, .. }) = o.made.as_mut()
            && dev == "u0"
        {
            *qdisc = v0_htb.clone();
        }
    }
    for (dev, class) in u0_classes {
        let (ns, id) = ("ta".to_string(), class.id);
        inputs.owned.push(netscript::plan::ownership::Owned { made: Some(Action::ReplaceClass { ns: ns.clone(), dev: dev.clone(), class }), undo: vec![Action::DelClass { ns, dev, id }] });
    }
    assert_eq!(actions(&inputs), Vec::<String>::new(), "two htbs as declared: nothing to do");
    let v0 = iface(&mut inputs, "ta", "v0");
    let Some(Qdisc::Htb(htb)) = v0.root_qdisc.as_mut().map(|q| &mut q.node) else { panic!("an htb on ta.v0") };
    htb.default_class.as_mut().expect("a default class").node = 0x10;
    let ops = actions(&inputs);
    assert!(ops.iter().any(|a| a.contains("ta.v0") && a.contains("class")), "v0's classes made again: {ops:?}");
    assert!(!ops.iter().any(|a| a.contains("ta.u0")), "{ops:?}");
}

/// The redirect of the script's ingress shaping deleted by hand is added again, even
/// while another device redirects to the same ifb.
#[test]
fn a_redirect_deleted_by_hand_is_added_again_beside_anothers_to_the_ifb() {
    let mut inputs = captured_state("ingress_shape_rerun");
    seen(&mut inputs, "ia").redirects = vec![("lo".into(), "ifb-v0".into())];
    let ops = actions(&inputs);
    assert!(ops.iter().any(|a| a.starts_with("add filter ia.v0") && a.contains("redirect dev ifb-v0")), "{ops:?}");
}

/// The kernel deletes the tables of an ingress with its last key node; a redirect on the
/// same ingress is a key node too, so the script's table, kept while every other filter
/// goes, is not made again (one on another device's ingress does not count).
#[test]
fn a_redirect_on_the_ingress_keeps_the_table_when_its_filters_go() {
    let mut inputs = captured_state("ingress_ht_rerun");
    iface(&mut inputs, "a", "v0").ingress_filters.clear();
    let without = actions(&inputs);
    assert!(without.iter().any(|a| a.starts_with("add filter a.v0") && a.contains("divisor")), "with nothing else on the ingress, the table is made again: {without:?}");
    seen(&mut inputs, "a").redirects.push(("lo".into(), "ifb-x".into()));
    assert_eq!(actions(&inputs), without, "a redirect on another device changes nothing here");
    seen(&mut inputs, "a").redirects.push(("v0".into(), "ifb-x".into()));
    let ops = actions(&inputs);
    assert!(!ops.iter().any(|a| a.starts_with("add filter a.v0") && a.contains("divisor")), "{ops:?}");
}

/// A veth made again (its other end changes) in a plan that also removes something else:
/// the deletion's undo still gives back what the link held (its htb, classes, filter).
#[test]
fn a_link_made_again_gives_back_what_it_held_beside_another_removal() {
    let mut inputs = captured_state("htb_filter_rerun");
    pair_with_another_end(&mut inputs, ("ta", "v0"), ("tb", "v1", "v9"));
    iface(&mut inputs, "ta", "u0").root_qdisc = None;
    let plan = planned(&inputs);
    assert!(plan.iter().any(|(a, _)| a == "delete qdisc ta.u0 root"), "{plan:?}");
    let (_, undo) = plan.iter().find(|(a, _)| a == "delete link ta.v0").unwrap_or_else(|| panic!("v0 made again: {plan:?}"));
    assert!(undo.iter().any(|u| u.contains("htb")), "{undo:?}");
    assert_eq!(undo.iter().filter(|u| u.contains("class")).count(), 2, "{undo:?}");
    assert!(undo.iter().any(|u| u.contains("filter")), "{undo:?}");
}

/// The script drops class 1:20, the second of v0's (the htb, left as it is, is not made
/// again): its deletion's undo makes 1:20 again as the kernel has it, not the class
/// listed before it.
#[test]
fn a_dropped_class_comes_back_as_it_is_on_rollback() {
    let mut inputs = captured_state("htb_filter_rerun");
    let v0 = iface(&mut inputs, "ta", "v0");
    let Some(Qdisc::Htb(htb)) = v0.root_qdisc.as_mut().map(|q| &mut q.node) else { panic!("the captured state has an htb on ta.v0") };
    htb.classes.retain(|c| c.id.node != 0x20);
    let plan = planned(&inputs);
    let (_, undo) = plan.iter().find(|(action, _)| action.contains("delete class") && action.contains("1:20")).unwrap_or_else(|| panic!("class 1:20 deleted: {plan:?}"));
    insta::assert_snapshot!(format!("{undo:#?}"));
    assert!(undo.len() == 1 && undo[0].contains("1:20") && undo[0].contains("2mbit"), "{undo:?}");
}

/// Class 1:20 (the second of v0's), found and changed by an earlier run, is given back
/// when the script drops it — not taken for the class listed before it.
#[test]
fn a_second_class_the_record_changed_is_given_back_when_the_script_drops_it() {
    let (inputs, _) = class_the_record_changed_dropped(0x20, Rate(3_000_000));
    let plan = planned(&inputs);
    let given_back: Vec<_> = plan.iter().filter(|(action, _)| action.contains("class")).collect();
    assert_eq!(given_back.len(), 1, "{plan:?}");
    let (action, undo) = given_back[0];
    assert!(action.contains("1:20") && action.contains("3mbit"), "{action}");
    assert!(undo.len() == 1 && undo[0].contains("1:20") && undo[0].contains("2mbit"), "{undo:?}");
}

/// What a plan of `inputs` from a kernel without any of it does at `ns.dev`'s qdiscs,
/// with a bare `hook` qdisc (`qdisc ingress|clsact`) added to `ns.dev`.
fn hook_qdisc_ops_from_scratch(inputs: &mut PlanInputs, ns: &str, dev: &str, hook: HookQdisc) -> Vec<String> {
    inputs.observed = netscript::plan::Observed { offline: false, ..netscript::plan::Observed::empty() };
    inputs.owned.clear();
    let span = iface(inputs, ns, dev).span;
    iface(inputs, ns, dev).hook_qdisc = Some(netscript::source::Spanned::new(hook, span));
    actions(inputs).into_iter().filter(|a| a.contains(&format!("qdisc {ns}.{dev}"))).collect()
}

/// `qdisc ingress` beside `shape ingress`, which makes the same qdisc: added once.
#[test]
fn a_bare_ingress_qdisc_beside_ingress_shaping_is_added_once() {
    let mut inputs = captured_state("ingress_shape_rerun");
    assert!(iface(&mut inputs, "ia", "v0").ingress_shape.is_some(), "the captured script shapes ia.v0's ingress");
    let ops = hook_qdisc_ops_from_scratch(&mut inputs, "ia", "v0", HookQdisc::Ingress);
    assert_eq!(ops.iter().filter(|a| a.contains("ingress")).count(), 1, "{ops:?}");
}

/// `qdisc clsact` beside a tc program, which makes the same qdisc: added once.
#[test]
fn a_bare_clsact_qdisc_beside_a_tc_program_is_added_once() {
    let mut inputs = captured_state("bpf_filter_places_rerun");
    assert!(!iface(&mut inputs, "pb", "v1").bpf.is_empty(), "the captured script attaches programs to pb.v1");
    let ops = hook_qdisc_ops_from_scratch(&mut inputs, "pb", "v1", HookQdisc::Clsact);
    assert_eq!(ops.iter().filter(|a| a.contains("clsact")).count(), 1, "{ops:?}");
}

/// A tc program of the script's moved to another place, beside one that stays: the one
/// netscript attached at the old place is detached — neither the direction alone (the
/// other program stays at its own) nor the priority alone is a place.
#[test]
fn a_program_moved_to_another_place_is_detached_from_the_old_one() {
    let mut inputs = captured_state("bpf_filter_places_rerun");
    assert_eq!(actions(&inputs), Vec::<String>::new(), "as captured: nothing to do");
    iface(&mut inputs, "pb", "v1").bpf[0].node.prio.as_mut().expect("at prio 5").node = 7;
    let ops = actions(&inputs);
    assert!(ops.contains(&"detach bpf from pb.v1 ingress prio 5".to_string()), "{ops:?}");
    assert!(!ops.iter().any(|a| a.contains("prio 2")), "the other program stays at its place: {ops:?}");
    let mut inputs = captured_state("bpf_filter_places_rerun");
    iface(&mut inputs, "pb", "v1").bpf[0].node.direction = netscript::model::BpfDirection::Egress;
    let ops = actions(&inputs);
    assert!(ops.contains(&"detach bpf from pb.v1 ingress prio 5".to_string()), "{ops:?}");
}

/// The script drops its ingress shaping after someone deleted its redirect by hand: the
/// redirect is forgotten, not deleted again — whether another device redirects to the
/// same ifb or this device to another one.
#[test]
fn a_dropped_redirect_someone_deleted_is_forgotten_beside_other_redirects() {
    let mut inputs = captured_state("ingress_shape_rerun");
    iface(&mut inputs, "ia", "v0").ingress_shape = None;
    for others in [("lo", "ifb-v0"), ("v0", "ifb-x")] {
        seen(&mut inputs, "ia").redirects = vec![(others.0.into(), others.1.into())];
        let ops = actions(&inputs);
        assert!(!ops.iter().any(|a| a.contains("redirect dev ifb-v0")), "{others:?}: {ops:?}");
    }
}

/// A program labelled as netscript's that the record does not hold (a record deleted by
/// hand), at a place the script no longer uses, beside the script's other program in the
/// same direction: detached as a leftover of netscript's — the direction alone is not
/// its place.
#[test]
fn a_labelled_program_no_record_holds_at_an_unused_place_is_detached() {
    let mut inputs = captured_state("bpf_filter_places_rerun");
    iface(&mut inputs, "pb", "v1").bpf[0].node.prio.as_mut().expect("at prio 5").node = 7;
    inputs.owned.retain(|o| !matches!(o.made, Some(Action::AttachBpf { prio: 5, .. })));
    let ops = actions(&inputs);
    assert!(ops.contains(&"detach bpf from pb.v1 ingress prio 5".to_string()), "{ops:?}");
}

/// A node of table 1 that links to table 2 (both the script's), and table 2 made again
/// (its divisor changes): the node, deleted first (the kernel deletes no table a filter
/// links to), is added back after — it is not "already there".
#[test]
fn a_node_linking_to_a_table_made_again_is_added_back() {
    let mut inputs = captured_state("ingress_ht_nodes_rerun");
    let links_to_2 = |spec: &mut FilterSpec| {
        if let FilterSpec::U32 { link, .. } = spec {
            *link = Some(2);
        }
    };
    // Table 2 beside table 1, in the script, the kernel and the record.
    let v0 = iface(&mut inputs, "a", "v0");
    let mut table_2 = v0.ingress_tables[0].clone();
    table_2.id.node = 2;
    table_2.divisor.node = 16;
    v0.ingress_tables.push(table_2);
    v0.ingress_filters[0].link = Some(netscript::model::U32Link { table: netscript::source::Spanned::new(2, v0.span), hashkey: None });
    let table_spec = |divisor| FilterSpec::U32Table { prio: 99, table: 2, divisor };
    let a = seen(&mut inputs, "a");
    a.ingress_filters.push(ObservedFilter { dev: "v0".into(), prio: 99, handle: 0x20_0000, spec: Some(table_spec(16)) });
    let node = a.ingress_filters.iter_mut().find(|f| f.handle == 0x14_0800).expect("node 1:40:800");
    links_to_2(node.spec.as_mut().unwrap());
    for o in inputs.owned.iter_mut() {
        if let Some(Action::AddFilter { filter, .. }) = o.made.as_mut()
            && matches!(filter, FilterSpec::U32 { handle: Some(0x800), .. })
        {
            links_to_2(filter);
            if let Some(Action::DelFilter { filter, .. }) = o.undo.first_mut() {
                links_to_2(filter);
            }
        }
    }
    inputs.owned.push(netscript::plan::ownership::Owned {
        made: Some(Action::AddFilter { ns: "a".into(), dev: "v0".into(), filter: table_spec(16) }),
        undo: vec![Action::DelFilter { ns: "a".into(), dev: "v0".into(), filter: table_spec(16) }],
    });
    assert_eq!(actions(&inputs), Vec::<String>::new(), "as built: nothing to do");
    iface(&mut inputs, "a", "v0").ingress_tables[1].divisor.node = 32;
    let ops = actions(&inputs);
    let node_ops: Vec<&String> = ops.iter().filter(|a| a.contains("handle ::800 ht 1:40:")).collect();
    assert!(node_ops.len() == 2 && node_ops[0].starts_with("delete filter") && node_ops[1].starts_with("add filter"), "the node goes, then comes back: {ops:?}");
}
