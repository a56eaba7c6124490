//! Link kinds `ipip` and `gre` (issue 24's neighbours): `ipip NAME [local A] remote B
//! [ttl N]`, `gre NAME [local A] remote B [ttl N] [key K]`. On a kernel with them (the
//! full-kernel lane: tests/full-kernel/lane.txt, which loads ipip and ip_gre at boot, so
//! the kernel's fallback devices tunl0, gre0, gretap0 and erspan0 are in every
//! namespace): what netscript makes equals what `ip link add NAME type ipip|gre …` makes
//! (the full state dump, `ip -d -json link` included), a re-run changes nothing, export
//! makes the same, every parameter changes in place (the kernel's ip_tunnel_changelink)
//! and a failed edit rolls back, `down` gives back the start, the fallback devices with
//! it. On a kernel without them (this machine's), a run that adds one to a system the
//! script made before is refused with a diagnostic naming the kind and its module, after
//! a rollback that gives back the links that were there.

mod support;
use support::netem::full_kernel_lane;
use support::Sandbox;

fn script(remote: &str, ttl: u32, key: u32) -> String {
    format!(
        "
netns r <
  veth v0 <-> p.v1 < addr 10.0.0.1/24 >
  ipip t4 local 10.0.0.1 remote {remote} ttl {ttl} < addr 192.168.4.1/30 >
  gre g4 remote {remote} key {key} < addr 192.168.5.1/30 >
>
netns p
"
    )
}

fn iproute2(remote: &str, ttl: u32, key: u32) -> String {
    format!(
        "
ip netns add r; ip netns add p
ip -n r link set lo up; ip -n p link set lo up
ip link add v0 netns r type veth peer name v1 netns p
ip -n r link set v0 up; ip -n p link set v1 up
ip -n r addr add 10.0.0.1/24 dev v0
ip -n r link add t4 type ipip local 10.0.0.1 remote {remote} ttl {ttl}
ip -n r link set t4 up
ip -n r addr add 192.168.4.1/30 dev t4
ip -n r link add g4 type gre remote {remote} key {key}
ip -n r link set g4 up
ip -n r addr add 192.168.5.1/30 dev g4
"
    )
}

/// Whether this kernel makes ipip and gre tunnels (a probe in a sandbox of its own).
fn kernel_has_tunnels() -> bool {
    Sandbox::new().sh("ip link add t0 type ipip remote 192.0.2.1 && ip link add g0 type gre remote 192.0.2.1").success
}

fn ifindex(sb: &Sandbox, ns: &str, dev: &str) -> String {
    let link = sb.run("ip", &["-n", ns, "-json", "link", "show", dev]).ok();
    let v: serde_json::Value = serde_json::from_str(&link).unwrap();
    v[0]["ifindex"].to_string()
}

#[test]
fn tunnels_like_ip_or_refused_after_rollback() {
    let supported = kernel_has_tunnels();
    let reference = Sandbox::new();
    let ours = Sandbox::new();
    let before = ours.dump();
    let path = ours.write_script("tunnels.ns", &script("10.0.0.2", 64, 5));
    if supported {
        reference.sh(&iproute2("10.0.0.2", 64, 5)).ok();
        let run = ours.netscript(&["run", &path]);
        assert!(run.success, "run failed: {}", run.stderr);
        assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
        let t4 = ours.run("ip", &["-n", "r", "-d", "-json", "link", "show", "t4"]).ok();
        assert!(t4.contains("\"info_kind\":\"ipip\"") && t4.contains("\"remote\":\"10.0.0.2\"") && t4.contains("\"ttl\":64"), "{t4}");
        let g4 = ours.run("ip", &["-n", "r", "-d", "-json", "link", "show", "g4"]).ok();
        assert!(g4.contains("\"info_kind\":\"gre\"") && g4.contains("\"okey\":\"0.0.0.5\""), "{g4}");
        ours.assert_up_to_date(&path);
        let shown = ours.netscript(&["show", "r"]).ok();
        assert!(shown.contains("local 10.0.0.1 remote 10.0.0.2 ttl 64") && shown.contains("remote 10.0.0.2 key 5"), "{shown}");
        let copy = ours.assert_export_makes_the_same("r", "netns p", &["ipip t4 local 10.0.0.1 remote 10.0.0.2 ttl 64", "gre g4 remote 10.0.0.2 key 5"]);
        let exported = copy.netscript(&["export", "r"]).ok();
        assert!(!exported.contains("tunl0") && !exported.contains("gre0"), "the kernel's devices are not exported:\n{exported}");
        ours.netscript(&["down", &path]).ok();
        support::assert_same_dump(&before, &ours.dump(), "after down");
    } else {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused ipip or gre");
        // The links exist before the refused run, which also changes one of them.
        let veth = "  veth v0 <-> p.v1 < addr 10.0.0.1/24 >\n";
        let base = format!("\nnetns r <\n{veth}>\nnetns p\n");
        ours.put(&path, &base);
        let first = ours.netscript(&["run", &path]);
        assert!(first.success, "{}", first.stderr);
        let made = ours.dump();
        let changed = "  veth v0 <-> p.v1 < addr 10.0.0.1/24; mtu 1400 >\n";
        for (kind, line, module, config) in [
            ("ipip", "  ipip t4 remote 10.0.0.2\n", "modprobe ipip", "CONFIG_NET_IPIP"),
            ("gre", "  gre g4 remote 10.0.0.2 key 5\n", "modprobe ip_gre", "CONFIG_NET_IPGRE"),
        ] {
            ours.put(&path, &base.replace(veth, &format!("{changed}{line}")));
            let run = ours.netscript(&["run", &path]);
            assert!(!run.success, "a kernel without {kind} cannot run this: {run:?}");
            assert_eq!(run.code, Some(3), "a kernel refusal's exit code: {run:?}");
            assert!(run.stderr.contains(&format!("does not support the link kind {kind}")), "{}", run.stderr);
            assert!(run.stderr.contains(module) && run.stderr.contains(config), "{}", run.stderr);
            assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
            support::assert_same_dump(&made, &ours.dump(), &format!("after the {kind} refusal"));
        }
        ours.put(&path, &base);
        ours.netscript(&["down", &path]).ok();
        support::assert_same_dump(&before, &ours.dump(), "after down");
    }
}

#[test]
fn edited_tunnel_parameters_change_in_place_and_a_failed_edit_rolls_back() {
    if !kernel_has_tunnels() {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused ipip or gre");
        return; // refused runs: tunnels_like_ip_or_refused_after_rollback
    }
    let reference = Sandbox::new();
    reference.sh(&iproute2("10.0.0.3", 32, 6)).ok();
    let sb = Sandbox::new();
    let before = sb.dump();
    let path = sb.write_script("tunnels.ns", &script("10.0.0.2", 64, 5));
    let first = sb.netscript(&["run", &path]);
    assert!(first.success, "{}", first.stderr);
    let made = sb.dump();
    let (t4, g4) = (ifindex(&sb, "r", "t4"), ifindex(&sb, "r", "g4"));
    sb.put(&path, &script("10.0.0.3", 32, 6));
    let plan = sb.netscript(&["plan", &path]).ok();
    assert!(plan.contains("set ipip r.t4 local 10.0.0.1 remote 10.0.0.3 ttl 32") && plan.contains("set gre r.g4 remote 10.0.0.3 key 6"), "{plan}");
    assert!(!plan.contains("delete link"), "{plan}");
    let ops = (sb.op_count(&path) - 1).to_string();
    let failed = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", ops)], &["run", &path]);
    assert!(!failed.success, "the fault fails the run");
    support::assert_same_dump(&made, &sb.dump(), "after the rollback");
    let edited = sb.netscript(&["run", &path]);
    assert!(edited.success, "{}", edited.stderr);
    assert_eq!((ifindex(&sb, "r", "t4"), ifindex(&sb, "r", "g4")), (t4, g4), "changed in place, not made again");
    assert_eq!(support::without_macs(&sb.dump()), support::without_macs(&reference.dump()), "the state after the edit");
    sb.assert_up_to_date(&path);
    sb.netscript(&["down", &path]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

#[test]
fn the_kernels_fallback_devices_are_left_alone() {
    // A tunnel in a namespace the script did not make (the sandbox's own, `host`): the
    // kernel's tunl0 and gre0 there are neither the script's nor foreign objects to
    // remove; a re-run and `down` leave them as they were.
    if !kernel_has_tunnels() {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused ipip or gre");
        return;
    }
    let sb = Sandbox::new();
    let links = sb.run("ip", &["-json", "link", "show"]).ok();
    assert!(links.contains("\"tunl0\"") && links.contains("\"gre0\""), "the modules' fallback devices: {links}");
    let before = sb.dump();
    let path = sb.write_script("host.ns", "host <\n  veth h0 <-> p.v1 < addr 10.9.0.1/24 >\n  ipip t9 remote 10.9.0.2\n  gre g9 remote 10.9.0.2\n>\nnetns p\n");
    let run = sb.netscript(&["run", &path]);
    assert!(run.success, "{}", run.stderr);
    sb.assert_up_to_date(&path);
    let exported = sb.netscript(&["export", "host"]).ok();
    assert!(exported.contains("ipip t9 remote 10.9.0.2") && !exported.contains("tunl0") && !exported.contains("gre0"), "{exported}");
    sb.netscript(&["down", &path]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}
