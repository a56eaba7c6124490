//! Link kind `vlan` (issue 24): `vlan NAME on PARENT id N [protocol 802.1Q|802.1ad]`.
//! On a kernel with 8021q (the full-kernel lane: tests/full-kernel/lane.txt): what
//! netscript makes equals what `ip link add link PARENT name NAME type vlan id N` makes
//! (the full state dump, `ip -d -json link` included), a re-run changes nothing, export
//! writes it, an edited id makes the vlan again (and a failed edit rolls back to the
//! old one), `down` gives back the start. On a kernel without it (this machine's), the
//! run is refused with a diagnostic naming the kind and its module, after a rollback that
//! leaves the system as it was.

mod support;
use support::netem::full_kernel_lane;
use support::Sandbox;

fn script(id: u32) -> String {
    format!(
        "
netns r <
  veth v0 <-> p.v1 < addr 10.0.0.1/24 >
  vlan vl on v0 id {id} < addr 10.10.0.1/24 >
  vlan qq on v0 id 100 protocol 802.1ad
  route 10.20.0.0/16 via 10.10.0.2
>
netns p
"
    )
}

fn iproute2(id: u32) -> String {
    format!(
        "
ip netns add r; ip netns add p
ip -n r link set lo up; ip -n p link set lo up
ip link add v0 netns r type veth peer name v1 netns p
ip -n r link set v0 up; ip -n p link set v1 up
ip -n r addr add 10.0.0.1/24 dev v0
ip -n r link add link v0 name vl type vlan id {id}
ip -n r link set vl up
ip -n r addr add 10.10.0.1/24 dev vl
ip -n r link add link v0 name qq type vlan protocol 802.1ad id 100
ip -n r link set qq up
ip -n r route add 10.20.0.0/16 via 10.10.0.2 proto 110
"
    )
}

/// Whether this kernel makes vlans (a probe in a sandbox of its own).
fn kernel_has_vlan() -> bool {
    Sandbox::new().sh("ip link add p0 type veth peer name p1 && ip link add link p0 name p0.5 type vlan id 5").success
}

#[test]
fn vlan_like_ip_or_refused_after_rollback() {
    let reference = Sandbox::new();
    let supported = reference.sh(&iproute2(10)).success;
    let ours = Sandbox::new();
    let before = ours.dump();
    let script = ours.write_script("vlan.ns", &script(10));
    let run = ours.netscript(&["run", &script]);
    if supported {
        assert!(run.success, "run failed: {}", run.stderr);
        assert_eq!(support::without_macs(&ours.dump()), support::without_macs(&reference.dump()));
        let link = ours.run("ip", &["-n", "r", "-d", "-json", "link", "show", "vl"]).ok();
        assert!(link.contains("\"info_kind\":\"vlan\"") && link.contains("\"id\":10") && link.contains("\"protocol\":\"802.1Q\""), "{link}");
        let outer = ours.run("ip", &["-n", "r", "-d", "-json", "link", "show", "qq"]).ok();
        assert!(outer.contains("\"protocol\":\"802.1ad\"") && outer.contains("\"id\":100"), "{outer}");
        ours.assert_up_to_date(&script);
        let exported = ours.netscript(&["export", "r"]).ok();
        assert!(exported.contains("vlan vl on v0 id 10") && exported.contains("vlan qq on v0 id 100 protocol 802.1ad"), "{exported}");
        let shown = ours.netscript(&["show", "r"]).ok();
        assert!(shown.contains("id 10 protocol 802.1Q on v0"), "{shown}");
        ours.netscript(&["down", &script]).ok();
        support::assert_same_dump(&before, &ours.dump(), "after down");
    } else {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused vlan");
        assert!(!run.success, "a kernel without vlan cannot run this: {run:?}");
        assert_eq!(run.code, Some(3), "a kernel refusal's exit code: {run:?}");
        assert!(run.stderr.contains("does not support the link kind vlan"), "{}", run.stderr);
        assert!(run.stderr.contains("modprobe 8021q") && run.stderr.contains("CONFIG_VLAN_8021Q"), "{}", run.stderr);
        assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
        support::assert_same_dump(&before, &ours.dump(), "after the refusal");
    }
}

#[test]
fn an_edited_vlan_id_makes_it_again_and_a_failed_edit_rolls_back() {
    // The kernel cannot change a vlan's id: an edited `id` is seen on re-run, the vlan
    // made again with the new one, its address and the route through it added again; a
    // failed run puts the old vlan back.
    if !kernel_has_vlan() {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused vlan");
        return; // refused runs: vlan_like_ip_or_refused_after_rollback
    }
    let reference = Sandbox::new();
    reference.sh(&iproute2(20)).ok();
    let sb = Sandbox::new();
    let before = sb.dump();
    let path = sb.write_script("vlan.ns", &script(10));
    let first = sb.netscript(&["run", &path]);
    assert!(first.success, "{}", first.stderr);
    let made = sb.dump();
    sb.put(&path, &script(20));
    let plan = sb.netscript(&["plan", &path]).ok();
    assert!(plan.contains("delete link r.vl") && plan.contains("create vlan r.vl on v0 id 20"), "{plan}");
    let ops = (sb.op_count(&path) - 1).to_string();
    let failed = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", ops)], &["run", &path]);
    assert!(!failed.success, "the fault fails the run");
    support::assert_same_dump(&made, &sb.dump(), "after the rollback");
    let edited = sb.netscript(&["run", &path]);
    assert!(edited.success, "{}", edited.stderr);
    let link = sb.run("ip", &["-n", "r", "-d", "-json", "link", "show", "vl"]).ok();
    assert!(link.contains("\"id\":20"), "the vlan's id: {link}");
    assert_eq!(support::without_macs(&sb.dump()), support::without_macs(&reference.dump()), "the state after the edit");
    sb.assert_up_to_date(&path);
    sb.netscript(&["down", &path]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

#[test]
fn a_failed_id_edit_gives_back_what_the_vlan_held() {
    // The old vlan made again by the rollback gets its qdisc back too, not only its
    // addresses and routes.
    if !kernel_has_vlan() {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused vlan");
        return; // refused runs: vlan_like_ip_or_refused_after_rollback
    }
    let shaped = |id| script(id).replace("< addr 10.10.0.1/24 >", "< addr 10.10.0.1/24; shape 1mbit >");
    let sb = Sandbox::new();
    let path = sb.write_script("vlan.ns", &shaped(10));
    let first = sb.netscript(&["run", &path]);
    assert!(first.success, "{}", first.stderr);
    let made = sb.dump();
    assert!(sb.run("tc", &["-n", "r", "qdisc", "show", "dev", "vl"]).ok().contains("tbf"), "the vlan's qdisc");
    sb.put(&path, &shaped(20));
    let ops = (sb.op_count(&path) - 1).to_string();
    let failed = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", ops)], &["run", &path]);
    assert!(!failed.success, "the fault fails the run");
    support::assert_same_dump(&made, &sb.dump(), "after the rollback");
}

#[test]
fn a_vlan_moved_to_another_parent_or_protocol_is_made_again() {
    // Parent and protocol are fixed at creation too: each change makes the vlan anew,
    // equal to what ip makes with the new ones; `down` then gives back the start.
    if !kernel_has_vlan() {
        assert!(!full_kernel_lane(), "the full-kernel lane's kernel refused vlan");
        return; // refused runs: vlan_like_ip_or_refused_after_rollback
    }
    let with_w0 = |text: String| text.replace("  veth v0 <-> p.v1", "  veth w0 <-> p.w1\n  veth v0 <-> p.v1");
    let moved = with_w0(script(10)).replace("vlan vl on v0", "vlan vl on w0").replace("id 100 protocol 802.1ad", "id 100");
    let reference = Sandbox::new();
    let ip = iproute2(10)
        .replace("link add link v0 name vl", "link add link w0 name vl")
        .replace("type vlan protocol 802.1ad id 100", "type vlan id 100")
        .replace("ip -n r link add link w0", "ip link add w0 netns r type veth peer name w1 netns p\nip -n r link set w0 up; ip -n p link set w1 up\nip -n r link add link w0");
    reference.sh(&ip).ok();
    let sb = Sandbox::new();
    let before = sb.dump();
    let path = sb.write_script("vlan.ns", &with_w0(script(10)));
    sb.netscript(&["run", &path]).ok();
    sb.put(&path, &moved);
    let edited = sb.netscript(&["run", &path]);
    assert!(edited.success, "{}", edited.stderr);
    assert_eq!(support::without_macs(&sb.dump()), support::without_macs(&reference.dump()), "the state after the move");
    let qq = sb.run("ip", &["-n", "r", "-d", "-json", "link", "show", "qq"]).ok();
    assert!(qq.contains("\"protocol\":\"802.1Q\""), "{qq}");
    sb.assert_up_to_date(&path);
    sb.netscript(&["down", &path]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}
