//! Link kinds `dummy` and `vrf` (issue 24), with an interface enslaved to the vrf through
//! `master`. On a kernel with them (the full-kernel lane: tests/full-kernel/lane.txt):
//! what netscript makes equals what `ip link add ... type dummy|vrf` makes (the full
//! state dump), a re-run changes nothing, `export` writes them, `down` gives back the
//! start. On a kernel without them (this machine's), the run is refused with a
//! diagnostic naming the missing kind and its module, after a rollback that leaves the
//! system as it was.

mod support;
use support::netem::full_kernel_lane;
use support::Sandbox;

const SCRIPT: &str = "
netns r <
  vrf blue table 10
  veth v0 <-> p.v1 < addr 10.0.0.1/24; master blue >
  dummy d0 < addr 192.0.2.1/24 >
>
netns p
";

const IPROUTE2: &str = "
ip netns add r; ip netns add p
ip -n r link set lo up; ip -n p link set lo up
ip -n r link add blue type vrf table 10
ip -n r link set blue up
ip link add v0 netns r type veth peer name v1 netns p
ip -n r link set v0 master blue
ip -n r link set v0 up; ip -n p link set v1 up
ip -n r addr add 10.0.0.1/24 dev v0
ip -n r link add d0 type dummy
ip -n r link set d0 up
ip -n r addr add 192.0.2.1/24 dev d0
";

#[test]
fn dummy_and_vrf_like_ip_or_refused_after_rollback() {
    let reference = Sandbox::new();
    let supported = reference.sh(IPROUTE2).success;
    let ours = Sandbox::new();
    let before = ours.dump();
    let script = ours.write_script("kinds.ns", SCRIPT);
    let run = ours.netscript(&["run", &script]);
    if supported {
        assert!(run.success, "run failed: {}", run.stderr);
        assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
        let links = ours.run("ip", &["-n", "r", "-d", "-json", "link", "show"]).ok();
        assert!(links.contains("\"info_kind\":\"dummy\"") && links.contains("\"table\":10"), "{links}");
        ours.assert_up_to_date(&script);
        let exported = ours.netscript(&["export", "r"]).ok();
        assert!(exported.contains("dummy d0") && exported.contains("vrf blue table 10") && exported.contains("master blue"), "{exported}");
        ours.netscript(&["down", &script]).ok();
        support::assert_same_dump(&before, &ours.dump(), "after down");
    } else {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused dummy or vrf");
        assert!(!run.success, "a kernel without vrf cannot run this: {run:?}");
        assert!(run.stderr.contains("does not support the link kind vrf"), "{}", run.stderr);
        assert!(run.stderr.contains("modprobe vrf") && run.stderr.contains("CONFIG_NET_VRF"), "{}", run.stderr);
        assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
        support::assert_same_dump(&before, &ours.dump(), "after the refusal");
    }
}

#[test]
fn a_lone_dummy_is_refused_by_name_without_dummy_support() {
    let probe = Sandbox::new();
    let supported = probe.sh("ip link add probe0 type dummy").success;
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("dummy.ns", "netns r < dummy d0 < addr 192.0.2.1/24 > >\n");
    let run = sb.netscript(&["run", &script]);
    if supported {
        assert!(run.success, "{}", run.stderr);
        sb.assert_up_to_date(&script);
        sb.netscript(&["down", &script]).ok();
    } else {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused dummy");
        assert!(run.stderr.contains("does not support the link kind dummy") && run.stderr.contains("CONFIG_DUMMY"), "{}", run.stderr);
    }
    support::assert_same_dump(&before, &sb.dump(), "at the end");
}

/// The vrf's table with a route in it, for the edit below.
fn vrf_with_table(table: u32) -> String {
    SCRIPT.replace("vrf blue table 10", &format!("vrf blue table {table}\n  route 10.9.0.0/16 via 10.0.0.2 table {table}"))
}

/// The same, the vrf holding a qdisc of its own.
fn shaped_vrf_with_table(table: u32) -> String {
    SCRIPT.replace("vrf blue table 10", &format!("vrf blue table {table} < shape 1mbit >"))
}

#[test]
fn a_changed_vrf_table_makes_the_vrf_again_with_its_ports_and_rollback_and_down_restore() {
    // The kernel cannot move a vrf to another table: an edited `vrf blue table N` is
    // seen on re-run, the vrf made again with the new table, its port enslaved again and
    // the route through it added again; a failed run puts the old vrf back.
    let probe = Sandbox::new();
    if !probe.sh("ip link add probe0 type vrf table 5").success {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused vrf");
        return; // refused runs: dummy_and_vrf_like_ip_or_refused_after_rollback
    }
    let reference = Sandbox::new();
    reference.sh(&IPROUTE2.replace("table 10", "table 20")).ok();
    reference.sh("ip -n r route add 10.9.0.0/16 via 10.0.0.2 table 20 proto 110").ok();
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("vrf.ns", &vrf_with_table(10));
    let first = sb.netscript(&["run", &script]);
    assert!(first.success, "{}", first.stderr);
    let made = sb.dump();
    sb.put(&script, &vrf_with_table(20));
    let ops = (sb.op_count(&script) - 1).to_string();
    let failed = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", ops)], &["run", &script]);
    assert!(!failed.success, "the fault fails the run");
    support::assert_same_dump(&made, &sb.dump(), "after the rollback");
    let edited = sb.netscript(&["run", &script]);
    assert!(edited.success, "{}", edited.stderr);
    let link = sb.run("ip", &["-n", "r", "-d", "-json", "link", "show", "blue"]).ok();
    assert!(link.contains("\"table\":20"), "the vrf's table: {link}");
    assert_eq!(support::without_macs(&sb.dump()), support::without_macs(&reference.dump()), "the state after the edit");
    sb.assert_up_to_date(&script);
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

#[test]
fn a_failed_table_edit_gives_back_what_the_vrf_held() {
    // The vrf made again for its new table is deleted with what it holds (here a tbf):
    // a refused run makes the old vrf again, and what it held with it.
    let probe = Sandbox::new();
    if !probe.sh("ip link add probe0 type vrf table 5").success {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused vrf");
        return; // refused runs: dummy_and_vrf_like_ip_or_refused_after_rollback
    }
    let sb = Sandbox::new();
    let script = sb.write_script("vrf.ns", &shaped_vrf_with_table(10));
    let first = sb.netscript(&["run", &script]);
    assert!(first.success, "{}", first.stderr);
    let made = sb.dump();
    assert!(made.contains("tbf"), "the vrf's tbf: {made}");
    sb.put(&script, &shaped_vrf_with_table(20));
    let ops = (sb.op_count(&script) - 1).to_string();
    let failed = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", ops)], &["run", &script]);
    assert!(!failed.success, "the fault fails the run");
    support::assert_same_dump(&made, &sb.dump(), "after the rollback");
}
