//! The netem pair the full-kernel lane's netem tests share (tests/full_kernel.rs,
//! tests/netem_options.rs): two namespaces joined by a veth, netem on v0, made by
//! netscript or by iproute2, and the outcome of a run on a kernel that may lack netem.

use super::{Run, Sandbox};

/// Whether this runs in the full-kernel lane (scripts/full-kernel.sh), whose kernel has
/// every module the tests need.
pub fn full_kernel_lane() -> bool {
    std::env::var("NETSCRIPT_FULL_KERNEL").is_ok_and(|v| v == "1")
}

/// The outcome of a run that needs netem: true when the kernel took it. When it refused,
/// asserts that this is allowed here (not the lane), that the refusal is the documented
/// diagnostic, and that the run rolled everything back to `before`.
#[track_caller]
pub fn netem_taken(sb: &Sandbox, run: &Run, before: &str) -> bool {
    if run.success {
        return true;
    }
    assert!(!full_kernel_lane(), "the full-kernel lane's kernel must take netem (NETSCRIPT_FULL_KERNEL=1): {run:?}");
    assert_eq!(run.code, Some(3), "a kernel without netem refuses it at apply time: {run:?}");
    assert!(run.stderr.contains("this kernel does not support the qdisc netem"), "{}", run.stderr);
    super::assert_same_dump(before, &sb.dump(), "after the refused run");
    eprintln!("this kernel has no netem: its refusal was checked; the full-kernel lane (scripts/full-kernel.sh) runs the rest");
    false
}

pub const PAIR: &str = "netns fk1 < veth v0 <-> fk2.v1 < addr 10.77.0.1/24 > >\nnetns fk2 < link v1 < addr 10.77.0.2/24 > >\n";

/// `PAIR` with `netem ...` on v0.
pub fn pair_with(netem: &str) -> String {
    PAIR.replace("addr 10.77.0.1/24 >", &format!("addr 10.77.0.1/24; {netem} >"))
}

/// The same pair in iproute2's words, then `tc_netem` (tc's arguments after `netem`).
pub fn iproute2_pair_with(tc_netem: &str) -> String {
    format!(
        "ip netns add fk1; ip netns add fk2
ip link add v0 netns fk1 type veth peer name v1 netns fk2
ip -n fk1 addr add 10.77.0.1/24 dev v0; ip -n fk1 link set v0 up; ip -n fk1 link set lo up
ip -n fk2 addr add 10.77.0.2/24 dev v1; ip -n fk2 link set v1 up; ip -n fk2 link set lo up
tc -n fk1 qdisc add dev v0 root handle 1: netem {tc_netem}
"
    )
}

/// v0's qdiscs as `tc -json` shows them, without `refcnt`: a root qdisc is held once per
/// allocated queue, and iproute2 gives a veth more queues than netscript does (see
/// `support::DROPPED_KEYS`).
pub fn qdiscs(sb: &Sandbox) -> String {
    let text = sb.sh("tc -n fk1 -json qdisc show dev v0").ok();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("tc -json: {e}: {text}"));
    for q in json.as_array_mut().expect("a list of qdiscs") {
        q.as_object_mut().expect("a qdisc").remove("refcnt");
    }
    json.to_string()
}
