//! Link kind `ipvlan` (issue 24's neighbours): `ipvlan NAME on PARENT [mode l2|l3|l3s]
//! [bridge|private|vepa]`. On a kernel with ipvlan (the full-kernel lane:
//! tests/full-kernel/lane.txt): what netscript makes equals what `ip link add NAME link
//! PARENT type ipvlan mode M F` makes (the full state dump, `ip -d -json link` included),
//! a re-run changes nothing, export makes the same, an edited mode or flag changes the
//! ipvlan in place (a failed edit rolls back to the old ones), an ipvlan on another parent
//! is made again with its address, `down` gives back the start. On a kernel without it
//! (this machine's), a run that adds one to a system the script made before is refused
//! with a diagnostic naming the kind and its module, after a rollback that gives back the
//! links that were there.

mod support;
use support::netem::full_kernel_lane;
use support::Sandbox;

fn script(parent: &str, mode: &str) -> String {
    format!(
        "
netns r <
  veth v0 <-> p.v1 < addr 10.0.0.1/24 >
  veth w0 <-> p.w1
  ipvlan iv on {parent} {mode} < addr 10.10.0.1/24 >
  route 10.20.0.0/16 via 10.10.0.2
>
netns p
"
    )
}

fn iproute2(parent: &str, mode: &str) -> String {
    format!(
        "
ip netns add r; ip netns add p
ip -n r link set lo up; ip -n p link set lo up
ip link add v0 netns r type veth peer name v1 netns p
ip -n r link set v0 up; ip -n p link set v1 up
ip link add w0 netns r type veth peer name w1 netns p
ip -n r link set w0 up; ip -n p link set w1 up
ip -n r addr add 10.0.0.1/24 dev v0
ip -n r link add iv link {parent} type ipvlan {mode}
ip -n r link set iv up
ip -n r addr add 10.10.0.1/24 dev iv
ip -n r route add 10.20.0.0/16 via 10.10.0.2 proto 110
"
    )
}

/// Whether this kernel makes ipvlans (a probe in a sandbox of its own).
fn kernel_has_ipvlan() -> bool {
    Sandbox::new().sh("ip link add p0 type veth peer name p1 && ip link add i0 link p0 type ipvlan mode l3").success
}

fn ifindex(sb: &Sandbox, ns: &str, dev: &str) -> String {
    let link = sb.run("ip", &["-n", ns, "-json", "link", "show", dev]).ok();
    let v: serde_json::Value = serde_json::from_str(&link).unwrap();
    v[0]["ifindex"].to_string()
}

#[test]
fn ipvlan_like_ip_or_refused_after_rollback() {
    let reference = Sandbox::new();
    // ip's defaults (mode l3, bridge) against a script that names none.
    let supported = reference.sh(&iproute2("v0", "")).success;
    let ours = Sandbox::new();
    let before = ours.dump();
    let path = ours.write_script("ipvlan.ns", &script("v0", ""));
    if supported {
        let run = ours.netscript(&["run", &path]);
        assert!(run.success, "run failed: {}", run.stderr);
        assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
        let link = ours.run("ip", &["-n", "r", "-d", "-json", "link", "show", "iv"]).ok();
        assert!(link.contains("\"info_kind\":\"ipvlan\"") && link.contains("\"mode\":\"l3\""), "{link}");
        ours.assert_up_to_date(&path);
        let shown = ours.netscript(&["show", "r"]).ok();
        assert!(shown.contains("mode l3 bridge on v0"), "{shown}");
        ours.assert_export_makes_the_same("r", "netns p", &["ipvlan iv on v0 mode l3 bridge"]);
        ours.netscript(&["down", &path]).ok();
        support::assert_same_dump(&before, &ours.dump(), "after down");
    } else {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused ipvlan");
        // The links exist before the refused run, which also changes one of them: the
        // rollback must give back that change, not only remove what the run made.
        let without = script("v0", "").replace("  ipvlan iv on v0  < addr 10.10.0.1/24 >\n  route 10.20.0.0/16 via 10.10.0.2\n", "");
        assert!(!without.contains("ipvlan"), "{without}");
        ours.put(&path, &without);
        let first = ours.netscript(&["run", &path]);
        assert!(first.success, "{}", first.stderr);
        let made = ours.dump();
        ours.put(&path, &script("v0", "").replace("veth w0 <-> p.w1", "veth w0 <-> p.w1 < mtu 1400 >"));
        let run = ours.netscript(&["run", &path]);
        assert!(!run.success, "a kernel without ipvlan cannot run this: {run:?}");
        assert_eq!(run.code, Some(3), "a kernel refusal's exit code: {run:?}");
        assert!(run.stderr.contains("does not support the link kind ipvlan"), "{}", run.stderr);
        assert!(run.stderr.contains("modprobe ipvlan") && run.stderr.contains("CONFIG_IPVLAN"), "{}", run.stderr);
        assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
        support::assert_same_dump(&made, &ours.dump(), "after the refusal");
        ours.netscript(&["down", &path]).ok();
        support::assert_same_dump(&before, &ours.dump(), "after down");
    }
}

#[test]
fn an_edited_mode_changes_the_ipvlan_in_place_and_a_failed_edit_rolls_back() {
    // The kernel changes an ipvlan's mode and flags in place (ipvlan_link_changelink):
    // the same link (same index) gets them, equal to what ip makes with them at once.
    if !kernel_has_ipvlan() {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused ipvlan");
        return; // refused runs: ipvlan_like_ip_or_refused_after_rollback
    }
    let reference = Sandbox::new();
    reference.sh(&iproute2("v0", "mode l2 private")).ok();
    let sb = Sandbox::new();
    let before = sb.dump();
    let path = sb.write_script("ipvlan.ns", &script("v0", "mode l3"));
    let first = sb.netscript(&["run", &path]);
    assert!(first.success, "{}", first.stderr);
    let made = sb.dump();
    let index = ifindex(&sb, "r", "iv");
    sb.put(&path, &script("v0", "mode l2 private"));
    let plan = sb.netscript(&["plan", &path]).ok();
    assert!(plan.contains("set ipvlan r.iv mode l2 private") && !plan.contains("delete link r.iv"), "{plan}");
    let ops = (sb.op_count(&path) - 1).to_string();
    let failed = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", ops)], &["run", &path]);
    assert!(!failed.success, "the fault fails the run");
    support::assert_same_dump(&made, &sb.dump(), "after the rollback");
    let edited = sb.netscript(&["run", &path]);
    assert!(edited.success, "{}", edited.stderr);
    assert_eq!(ifindex(&sb, "r", "iv"), index, "changed in place, not made again");
    let link = sb.run("ip", &["-n", "r", "-d", "-json", "link", "show", "iv"]).ok();
    assert!(link.contains("\"mode\":\"l2\"") && link.contains("private"), "{link}");
    assert_eq!(support::without_macs(&sb.dump()), support::without_macs(&reference.dump()), "the state after the edit");
    sb.assert_up_to_date(&path);
    sb.netscript(&["down", &path]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

#[test]
fn an_ipvlan_on_another_parent_is_made_again_and_a_failed_move_rolls_back() {
    // The parent is fixed at creation: the ipvlan is deleted and made on the new one,
    // its address and the route through it with it; a failed run makes the old one again.
    if !kernel_has_ipvlan() {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused ipvlan");
        return; // refused runs: ipvlan_like_ip_or_refused_after_rollback
    }
    let reference = Sandbox::new();
    reference.sh(&iproute2("w0", "mode l2 vepa")).ok();
    let sb = Sandbox::new();
    let before = sb.dump();
    let path = sb.write_script("ipvlan.ns", &script("v0", "mode l2 vepa"));
    let first = sb.netscript(&["run", &path]);
    assert!(first.success, "{}", first.stderr);
    let made = sb.dump();
    sb.put(&path, &script("w0", "mode l2 vepa"));
    let plan = sb.netscript(&["plan", &path]).ok();
    assert!(plan.contains("delete link r.iv") && plan.contains("create ipvlan r.iv on w0 mode l2 vepa"), "{plan}");
    let ops = (sb.op_count(&path) - 1).to_string();
    let failed = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", ops)], &["run", &path]);
    assert!(!failed.success, "the fault fails the run");
    support::assert_same_dump(&made, &sb.dump(), "after the rollback");
    let moved = sb.netscript(&["run", &path]);
    assert!(moved.success, "{}", moved.stderr);
    assert_eq!(support::without_macs(&sb.dump()), support::without_macs(&reference.dump()), "the state after the move");
    sb.assert_up_to_date(&path);
    sb.netscript(&["down", &path]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}
