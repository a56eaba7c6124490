//! Links whose creation attributes change (a macvlan's mode or parent, a vxlan's id,
//! remote or port) and links that sit on a link the plan makes again (a macvlan on a
//! veth whose peer moved): the script's are made again as declared, a rollback gives
//! back the old ones with their addresses, and what is not the script's is never lost —
//! refused before anything changes when the plan would make it again, put back by a
//! rollback when the script drops the link it sits on. Oracle: `ip -d -json link` and
//! the full dump. (vlan: the full-kernel lane's link_vlan; this kernel has none.)

mod support;
use serde_json::Value;
use support::{assert_same_dump, Sandbox};

const MACVLAN: &str = "
netns a <
  veth v0 <-> b.v1
  veth v2 <-> b.v3
  macvlan m0 on v0 mode bridge < addr 10.9.0.1/24 >
>
netns b
";

/// `ip -d -json link show NAME` in namespace `ns`, the one link.
fn link(sb: &Sandbox, ns: &str, name: &str) -> Value {
    let text = sb.run("ip", &["-n", ns, "-d", "-json", "link", "show", name]).ok();
    serde_json::from_str::<Value>(&text).unwrap()[0].clone()
}

fn addrs(sb: &Sandbox, ns: &str, name: &str) -> String {
    sb.run("ip", &["-n", ns, "-br", "addr", "show", name]).ok()
}

/// What a refused run must have printed: the refusal, a rollback, nothing left changed.
#[track_caller]
fn assert_refused(run: &support::Run, code: &str) {
    assert!(!run.success, "the run should have been refused: {}", run.stdout);
    assert!(run.stderr.contains(code), "expected {code}: {}", run.stderr);
}

#[test]
fn a_macvlan_whose_mode_and_parent_change_is_made_again_as_declared() {
    let sb = Sandbox::new();
    let script = sb.write_script("m.ns", MACVLAN);
    sb.netscript(&["run", &script]).ok();
    let made = link(&sb, "a", "m0");
    assert_eq!(made["linkinfo"]["info_data"]["mode"], "bridge", "{made}");
    assert_eq!(made["link"], "v0", "{made}");
    sb.put(&script, &MACVLAN.replace("on v0 mode bridge", "on v2 mode private"));
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let now = link(&sb, "a", "m0");
    assert_eq!(now["linkinfo"]["info_data"]["mode"], "private", "{now}");
    assert_eq!(now["link"], "v2", "{now}");
    assert!(addrs(&sb, "a", "m0").contains("10.9.0.1/24"), "its address is made again with it");
    sb.assert_up_to_date(&script);
    // A change by hand (mode only: the kernel changes it in place) is put back.
    sb.sh("ip -n a link set m0 type macvlan mode vepa").ok();
    sb.netscript(&["run", &script]).ok();
    assert_eq!(link(&sb, "a", "m0")["linkinfo"]["info_data"]["mode"], "private");
    sb.assert_up_to_date(&script);
}

#[test]
fn a_vxlan_whose_id_remote_and_port_change_is_made_again_as_declared() {
    let first = "
netns a <
  veth v0 <-> b.v1 < addr 10.1.0.1/24 >
  vxlan x0 id 42 remote 10.1.0.2 dev v0 < addr 10.9.0.1/24 >
>
netns b
";
    let sb = Sandbox::new();
    let script = sb.write_script("x.ns", first);
    sb.netscript(&["run", &script]).ok();
    assert_eq!(link(&sb, "a", "x0")["linkinfo"]["info_data"]["id"], 42);
    sb.put(&script, &first.replace("id 42 remote 10.1.0.2 dev v0", "id 43 remote 10.1.0.3 dev v0 port 4790"));
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    let data = link(&sb, "a", "x0")["linkinfo"]["info_data"].clone();
    assert_eq!((data["id"].clone(), data["remote"].clone(), data["port"].clone()), (43.into(), "10.1.0.3".into(), 4790.into()), "{data}");
    assert!(addrs(&sb, "a", "x0").contains("10.9.0.1/24"));
    sb.assert_up_to_date(&script);
}

#[test]
fn a_macvlan_someone_else_made_otherwise_is_refused_and_left_as_it_is() {
    let sb = Sandbox::new();
    sb.sh("ip netns add a; ip netns add b; ip link add v0 netns a type veth peer name v1 netns b; ip -n a link add m0 link v0 type macvlan mode private").ok();
    let before = sb.dump();
    let script = sb.write_script("m.ns", "netns a < veth v0 <-> b.v1; macvlan m0 on v0 mode bridge >\nnetns b\n");
    let run = sb.netscript(&["run", &script]);
    assert_refused(&run, "netscript::plan::link_conflict");
    assert!(run.stderr.contains("a macvlan on `v0` mode private"), "{}", run.stderr);
    assert_same_dump(&before, &sb.dump(), "a refused plan");
}

const STACKED: &str = "
netns a <
  veth v0 <-> b.v1
  macvlan m0 on v0 < addr 10.9.0.1/24 >
>
netns b
netns c
";

#[test]
fn a_macvlan_on_a_veth_made_again_is_made_again_with_it() {
    let sb = Sandbox::new();
    let script = sb.write_script("s.ns", STACKED);
    sb.netscript(&["run", &script]).ok();
    // The veth pairs with another end now: made anew, and the kernel deletes m0 with it.
    sb.put(&script, &STACKED.replace("b.v1", "c.v1"));
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(link(&sb, "a", "m0")["link"], "v0");
    assert!(addrs(&sb, "a", "m0").contains("10.9.0.1/24"), "{}", addrs(&sb, "a", "m0"));
    assert!(sb.run("ip", &["-n", "c", "link", "show", "v1"]).success);
    sb.assert_up_to_date(&script);
}

/// The kernel deletes the macvlan with the veth the plan makes again; the edit then
/// fails (a gateway no interface reaches): the rollback makes the old pair again, and
/// the macvlan on it, with its MAC and address.
#[test]
fn a_refused_edit_gives_back_the_macvlan_on_the_veth_it_made_again() {
    let sb = Sandbox::new();
    let script = sb.write_script("s.ns", STACKED);
    sb.netscript(&["run", &script]).ok();
    let before = sb.dump();
    let failing = STACKED.replace("b.v1", "c.v1").replace("netns c\n", "netns c < route 10.77.0.0/24 via 10.78.0.1 >\n");
    sb.put(&script, &failing);
    let run = sb.netscript(&["run", &script]);
    assert!(!run.success && run.stderr.contains("ENETUNREACH"), "{}", run.stderr);
    assert_same_dump(&before, &sb.dump(), "a refused edit");
    sb.put(&script, STACKED);
    sb.assert_up_to_date(&script);
}

#[test]
fn a_link_someone_else_put_on_a_veth_the_plan_would_make_again_stops_it() {
    let sb = Sandbox::new();
    let script = sb.write_script("s.ns", STACKED);
    sb.netscript(&["run", &script]).ok();
    sb.sh("ip -n a link add theirs link v0 type macvlan mode private; ip -n a addr add 10.8.0.1/24 dev theirs").ok();
    let before = sb.dump();
    sb.put(&script, &STACKED.replace("b.v1", "c.v1"));
    let run = sb.netscript(&["run", &script]);
    assert_refused(&run, "netscript::plan::stacked_link");
    assert!(run.stderr.contains("`theirs`"), "{}", run.stderr);
    assert_same_dump(&before, &sb.dump(), "a refused plan");
}

/// The script drops the veth a macvlan of someone else's sits on: it goes with the veth
/// (as what others put in a namespace netscript made goes with it); the run then fails,
/// and the rollback makes the veth again and the macvlan on it, with its address.
#[test]
fn a_refused_edit_that_dropped_a_veth_gives_back_what_others_put_on_it() {
    let first = "netns a < veth v0 <-> b.v1; veth v2 <-> b.v3 >\nnetns b\n";
    let sb = Sandbox::new();
    let script = sb.write_script("d.ns", first);
    sb.netscript(&["run", &script]).ok();
    sb.sh("ip -n a link add theirs link v0 type macvlan mode vepa; ip -n a link set theirs up; ip -n a addr add 10.8.0.1/24 dev theirs").ok();
    let before = sb.dump();
    sb.put(&script, "netns a < veth v2 <-> b.v3; route 10.77.0.0/24 via 10.78.0.1 >\nnetns b\n");
    let run = sb.netscript(&["run", &script]);
    assert!(!run.success && run.stderr.contains("ENETUNREACH"), "{}", run.stderr);
    assert_same_dump(&before, &sb.dump(), "a refused edit");
}

/// Found by the convergence property: the macvlan's parent is the end of a veth that a
/// namespace declared after the macvlan's makes; the macvlan waits for it.
#[test]
fn a_macvlan_on_a_veth_end_another_namespace_declares_waits_for_it() {
    let sb = Sandbox::new();
    let script = sb.write_script("o.ns", "netns a < macvlan m0 on v1 mode vepa < addr 10.9.0.1/24 > >\nnetns z < veth v0 <-> a.v1 >\n");
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(link(&sb, "a", "m0")["link"], "v1");
    sb.assert_up_to_date(&script);
}

/// Found by the convergence property: the script drops its macvlan and the run fails
/// later; the rollback makes the macvlan again with the MAC it had.
#[test]
fn a_refused_edit_that_dropped_a_macvlan_gives_it_back_with_its_mac() {
    let sb = Sandbox::new();
    let script = sb.write_script("s.ns", STACKED);
    sb.netscript(&["run", &script]).ok();
    let before = sb.dump();
    sb.put(&script, "netns a < veth v0 <-> b.v1; route 10.77.0.0/24 via 10.78.0.1 >\nnetns b\nnetns c\n");
    let run = sb.netscript(&["run", &script]);
    assert!(!run.success && run.stderr.contains("ENETUNREACH"), "{}", run.stderr);
    assert_same_dump(&before, &sb.dump(), "a refused edit");
}

/// Found by the fault property: lowering a veth's mtu makes the kernel lower the
/// macvlan's on it (never raising it back); a refused run sets back both.
#[test]
fn a_refused_edit_that_lowered_a_parents_mtu_gives_the_macvlan_its_mtu_back() {
    let first = "netns a <\n  veth v0 <-> b.v1 < mtu 9000 >\n  macvlan m0 on v0 < addr 10.9.0.1/24 >\n>\nnetns b\n";
    let sb = Sandbox::new();
    let script = sb.write_script("u.ns", first);
    sb.netscript(&["run", &script]).ok();
    assert_eq!(link(&sb, "a", "m0")["mtu"], 9000);
    let before = sb.dump();
    sb.put(&script, &first.replace("< mtu 9000 >", "").replace("netns b\n", "netns b < route 10.77.0.0/24 via 10.78.0.1 >\n"));
    let run = sb.netscript(&["run", &script]);
    assert!(!run.success && run.stderr.contains("ENETUNREACH"), "{}", run.stderr);
    assert_same_dump(&before, &sb.dump(), "a refused edit");
}

/// Found by the 500-case convergence run: a script that raises the mtu of a veth with a
/// macvlan on it. The kernel raises no macvlan's mtu with its parent's, and the script
/// run alone makes the macvlan on the raised parent (9000): the edit sets it after the
/// parent's. Lowered again, the kernel lowers it itself. Each step equals the script
/// run alone and re-runs as nothing.
#[test]
fn a_macvlan_follows_its_parents_mtu_as_the_script_run_alone_makes_it() {
    let low = "netns a <\n  veth v0 <-> b.v1\n  macvlan m0 on v0 < addr 10.9.0.1/24 >\n>\nnetns b\n";
    let high = low.replace("veth v0 <-> b.v1\n", "veth v0 <-> b.v1 < mtu 9000 >\n");
    let sb = Sandbox::new();
    let script = sb.write_script("m.ns", low);
    for (step, text, mtu) in [("first", low, 1500), ("raised", high.as_str(), 9000), ("lowered", low, 1500)] {
        sb.put(&script, text);
        let run = sb.netscript(&["run", &script]);
        assert!(run.success, "{step}: {}", run.stderr);
        assert_eq!(link(&sb, "a", "m0")["mtu"], mtu, "{step}");
        sb.assert_up_to_date(&script);
        let alone = Sandbox::new();
        let alone_script = alone.write_script("m.ns", text);
        assert!(alone.netscript(&["run", &alone_script]).success);
        assert_eq!(link(&alone, "a", "m0")["mtu"], mtu, "{step}: the script run alone");
    }
}
