//! eBPF programs against the real kernel, each test in its own sandbox: attaching with
//! tc clsact (direct-action) and XDP, their effect on traffic (ICMP dropped, TCP still
//! through), `down`, reconcile by object hash, and rollback (a later failing operation
//! leaves no program and no clsact qdisc). iproute2's JSON is the oracle.

mod bpf_objects;
mod support;

use serde_json::Value;
use support::Sandbox;
use support::traffic::{pings, tcp_works};


/// Copies a compiled example object next to the sandbox's scripts (paths in scripts are
/// relative to the script).
fn copy_object(sb: &Sandbox, name: &str) {
    let from = bpf_objects::compiled().join(name);
    sb.sh(&format!("cp {} /run/{name}", from.display())).ok();
}

/// Namespaces `{p}a` and `{p}b` made with iproute2 (not netscript's), joined by `v0` in
/// the first (10.`net`.0.1/24) and `v1` in the second (10.`net`.0.2/24), both up.
fn iproute2_pair(sb: &Sandbox, p: &str, net: u8) {
    sb.sh(&format!(
        "ip netns add {p}a; ip netns add {p}b; ip link add v0 netns {p}a type veth peer name v1 netns {p}b
         ip -n {p}a addr add 10.{net}.0.1/24 dev v0; ip -n {p}a link set v0 up; ip -n {p}b addr add 10.{net}.0.2/24 dev v1; ip -n {p}b link set v1 up"
    ))
    .ok();
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

const TC_SCRIPT: &str = "
netns ta < veth v0 <-> tb.v1 < addr 10.9.0.1/24 > >
netns tb <
  link v1
    addr 10.9.0.2/24
    bpf ingress \"drop_icmp.o\" section classifier
>
";

#[test]
fn tc_ingress_drops_icmp_keeps_tcp_and_down_detaches() {
    let sb = Sandbox::new();
    copy_object(&sb, "drop_icmp.o");
    let script = sb.write_script("tc.ns", TC_SCRIPT);
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{run:?}");

    // The oracle: a bpf filter in direct-action mode on the clsact ingress hook.
    let qdiscs = json(&sb.sh("ip netns exec tb tc -json qdisc show dev v1").ok());
    assert!(qdiscs.as_array().unwrap().iter().any(|q| q["kind"] == "clsact"), "{qdiscs}");
    let filters = json(&sb.sh("ip netns exec tb tc -json filter show dev v1 ingress").ok());
    let bpf: Vec<&Value> = filters.as_array().unwrap().iter().filter(|f| f["kind"] == "bpf" && f.get("options").is_some()).collect();
    assert_eq!(bpf.len(), 1, "{filters}");
    let options = &bpf[0]["options"];
    assert_eq!(options["direct-action"], true, "{filters}");
    assert_eq!(options["prog"]["name"], "drop_icmp_tc", "{filters}");
    assert!(options["bpf_name"].as_str().unwrap().starts_with("netscript:"), "{filters}");
    assert_eq!(bpf[0]["pref"], 1);
    let egress = json(&sb.sh("ip netns exec tb tc -json filter show dev v1 egress").ok());
    assert_eq!(egress.as_array().map(Vec::len), Some(0), "{egress}");

    // Its effect: ping fails, TCP still works.
    assert!(!pings(&sb, "ta", "10.9.0.2"), "ICMP should be dropped on tb.v1's ingress");
    assert!(tcp_works(&sb, "tb", "ta", "10.9.0.2", 5001), "TCP should pass");

    // Unchanged object: the second run leaves the program alone.
    sb.assert_up_to_date(&script);

    // `show` lists it.
    let show = sb.netscript(&["show", "tb"]).ok();
    let id = options["prog"]["id"].as_u64().unwrap();
    assert!(show.contains(&format!("bpf tc ingress prio 1: id {id} drop_icmp_tc, section classifier of drop_icmp.o")), "{show}");

    // `down` removes it all (the namespaces too); `down` on existing links, where ping
    // can be tried afterwards, is the next test.
    let down = sb.netscript(&["down", &script]);
    assert!(down.success, "{down:?}");
    assert_eq!(sb.sh("ls /run/netns").ok().trim(), "", "down removes the namespaces");
}

#[test]
fn down_of_an_attachment_on_existing_links_restores_icmp() {
    let sb = Sandbox::new();
    copy_object(&sb, "drop_icmp.o");
    iproute2_pair(&sb, "e", 7);
    let before = sb.dump();
    assert!(pings(&sb, "ea", "10.7.0.2"));
    let script = sb.write_script("existing.ns", "netns eb < link v1 < bpf ingress \"drop_icmp.o\" section classifier > >\n");
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{run:?}");
    assert!(!pings(&sb, "ea", "10.7.0.2"));
    assert!(tcp_works(&sb, "eb", "ea", "10.7.0.2", 5002));
    let down = sb.netscript(&["down", &script]);
    assert!(down.success, "{down:?}");
    assert!(pings(&sb, "ea", "10.7.0.2"), "ping works again after down");
    let filters = sb.sh("ip netns exec eb tc -json filter show dev v1 ingress").stdout;
    assert!(!filters.contains("bpf"), "{filters}");
    assert_eq!(sb.dump(), before, "down restores the state from before the run");
}

#[test]
fn xdp_generic_drops_icmp_keeps_tcp_and_down_detaches() {
    let sb = Sandbox::new();
    copy_object(&sb, "drop_icmp.o");
    iproute2_pair(&sb, "x", 6);
    let before = sb.dump();
    let script = sb.write_script("xdp.ns", "netns xb < link v1 < xdp \"drop_icmp.o\" section xdp mode generic > >\n");
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{run:?}");
    let link = json(&sb.sh("ip -n xb -json link show v1").ok());
    let xdp = &link[0]["xdp"];
    assert_eq!(xdp["mode"], 2, "XDP_ATTACHED_SKB (generic): {link}");
    assert_eq!(xdp["prog"]["name"], "drop_icmp_xdp", "{link}");
    assert!(!pings(&sb, "xa", "10.6.0.2"), "ICMP should be dropped by XDP");
    assert!(tcp_works(&sb, "xb", "xa", "10.6.0.2", 5003), "TCP should pass");
    sb.assert_up_to_date(&script);
    let show = sb.netscript(&["show", "xb"]).ok();
    assert!(show.contains("bpf xdp generic: id") && show.contains("drop_icmp_xdp, section xdp of drop_icmp.o"), "{show}");
    let labels = || sb.sh("ls /run/netscript/bpf").ok();
    assert_eq!(labels().lines().count(), 1, "one label for the attached program: {}", labels());
    let down = sb.netscript(&["down", &script]);
    assert!(down.success, "{down:?}");
    assert!(pings(&sb, "xa", "10.6.0.2"), "ping works again after down");
    assert_eq!(sb.dump(), before);
    let link = json(&sb.sh("ip -n xb -json link show v1").ok());
    assert!(link[0].get("xdp").is_none(), "{link}");
    // The program is gone, and its label with it.
    assert_eq!(labels(), "", "labels left after down");
}

#[test]
fn a_changed_object_is_replaced_and_an_unchanged_one_kept() {
    let sb = Sandbox::new();
    copy_object(&sb, "pass_all.o");
    copy_object(&sb, "drop_icmp.o");
    iproute2_pair(&sb, "r", 5);
    // prog.o is first the pass-all program, then the drop-ICMP one.
    sb.sh("cp /run/pass_all.o /run/prog.o").ok();
    let script = sb.write_script("replace.ns", "netns rb < link v1\n  bpf ingress \"prog.o\" section classifier\n  xdp \"prog.o\" section xdp mode generic\n>\n");
    assert!(sb.netscript(&["run", &script]).success);
    let id_of = |sb: &Sandbox| {
        let f = json(&sb.sh("ip netns exec rb tc -json filter show dev v1 ingress").ok());
        let tc = f.as_array().unwrap().iter().find_map(|f| f["options"]["prog"]["name"].as_str().map(str::to_string)).unwrap();
        let l = json(&sb.sh("ip -n rb -json link show v1").ok());
        (tc, l[0]["xdp"]["prog"]["name"].as_str().unwrap().to_string())
    };
    assert_eq!(id_of(&sb), ("pass_all_tc".to_string(), "pass_all_xdp".to_string()));
    assert!(pings(&sb, "ra", "10.5.0.2"));
    // Another object under the same name: the section names are the same, the hash is not.
    sb.sh("cp /run/drop_icmp.o /run/prog.o").ok();
    let plan = sb.netscript(&["plan", &script]).ok();
    assert!(plan.contains("detach bpf from rb.v1 ingress prio 1") && plan.contains("attach xdp"), "{plan}");
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{run:?}");
    assert_eq!(id_of(&sb), ("drop_icmp_tc".to_string(), "drop_icmp_xdp".to_string()));
    assert!(!pings(&sb, "ra", "10.5.0.2"));
    sb.assert_up_to_date(&script);
    // Dropping the statements from the script detaches both on the next run.
    let script = sb.write_script("replace.ns", "netns rb < link v1 >\n");
    let run = sb.netscript(&["run", &script]);
    assert!(run.success, "{run:?}");
    assert!(pings(&sb, "ra", "10.5.0.2"), "nothing attached any more");
    let qdiscs = sb.sh("ip netns exec rb tc qdisc show dev v1").ok();
    assert!(!qdiscs.contains("clsact"), "{qdiscs}");
}

/// A classifier the verifier refuses: it reads the packet without a bounds check.
const UNCHECKED: &str = "#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC(\"classifier\")
int unchecked(struct __sk_buff *skb)
{
    unsigned char *data = (void *)(long)skb->data;
    return data[12] == 8 ? 0 : 2;
}
char LICENSE[] SEC(\"license\") = \"GPL\";
";

#[test]
fn a_refused_program_rolls_back_the_attachment_and_the_clsact_qdisc() {
    let sb = Sandbox::new();
    copy_object(&sb, "drop_icmp.o");
    let bad = bpf_objects::compile("unchecked", UNCHECKED);
    sb.sh(&format!("cp {} /run/unchecked.o", bad.display())).ok();
    iproute2_pair(&sb, "k", 4);
    let before = sb.dump();
    let script = sb.write_script("refused.ns",
        "netns kb < link v1\n  bpf ingress \"drop_icmp.o\" section classifier\n  bpf ingress \"unchecked.o\"\n>\n",
    );
    let run = sb.netscript(&["-v", "run", &script]);
    assert_eq!(run.code, Some(3), "{run:?}");
    let all = format!("{}{}", run.stdout, run.stderr);
    // The first program was attached, then undone; the second was refused on its statement,
    // with the verifier's log.
    assert!(all.contains("attach bpf \"/run/drop_icmp.o\""), "{all}");
    assert!(all.contains("refused.ns:3:3"), "{all}");
    assert!(all.contains("the verifier's log ends:"), "{all}");
    assert!(all.contains("invalid access to packet"), "{all}");
    assert!(all.contains("rolled back"), "{all}");
    assert!(all.contains("undone: detach bpf from kb.v1 ingress prio 1"), "the first attachment was made, then undone: {all}");
    assert!(all.contains("undone: delete qdisc kb.v1 clsact"), "{all}");
    assert!(all.contains("cannot load program `unchecked`: the verifier refused it (EACCES)"), "{all}");
    assert_eq!(sb.dump(), before, "no program and no clsact qdisc left behind");
    let filters = sb.sh("ip netns exec kb tc -json filter show dev v1 ingress").stdout;
    assert!(!filters.contains("bpf"), "{filters}");
    assert!(pings(&sb, "ka", "10.4.0.2"));
}

#[test]
fn a_later_refusal_rolls_back_the_attachment() {
    let sb = Sandbox::new();
    copy_object(&sb, "drop_icmp.o");
    sb.sh("ip netns add na; ip netns add nb; ip link add v0 netns na type veth peer name v1 netns nb
           ip -n na link set v0 up; ip -n nb link set v1 up")
        .ok();
    let before = sb.dump();
    // Each operation refused in turn (the executor's test fault point; operations one at
    // a time): whatever was attached before the refusal is detached again.
    let script = sb.write_script("refused.ns",
        "netns nb <\n  link v1 < addr 10.4.9.2/24 >\n    bpf egress \"drop_icmp.o\" section classifier\n    xdp \"drop_icmp.o\" section xdp mode generic\n  rule from 10.4.9.9 lookup 100\n>\n",
    );
    let ops = sb.op_count(&script);
    let mut detached = (false, false);
    for n in 0..ops {
        let run = sb.netscript_env(&[("NETSCRIPT_FAULT_AFTER_OPS", n.to_string()), ("NETSCRIPT_TEST_SERIAL_OPS", "1".into())], &["-v", "run", &script]);
        assert_eq!(run.code, Some(3), "{run:?}");
        detached.0 |= run.stderr.contains("undone: detach bpf from nb.v1 egress");
        detached.1 |= run.stderr.contains("undone: detach xdp from nb.v1");
        assert_eq!(sb.dump(), before, "refused at operation {n}: no program and no clsact qdisc left behind: {run:?}");
        let link = sb.sh("ip -n nb -json link show v1").ok();
        assert!(!link.contains("\"xdp\""), "{link}");
    }
    assert_eq!(detached, (true, true), "a refusal came after each attachment, which was then undone");
}
