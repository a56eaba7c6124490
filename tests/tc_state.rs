//! After `netscript run`, the kernel holds the traffic control the script declares,
//! field by field, as iproute2's `tc` reports it; `down` (and a re-run without the
//! statement) takes it away again, the ifb of `shape ingress` included. Each test in its
//! own sandbox.
//!
//! `tc -json` is the oracle where iproute2 6.1 has JSON: qdiscs and filters. Its filter
//! JSON repeats the key `match` once per u32 key, so it is read with a parser that keeps
//! repeated keys ([`tc_json`]). For htb classes tc 6.1 prints text even with `-json`, so
//! classes are read from `tc class show` text ([`classes`]).

mod support;
#[path = "support/tc_oracle.rs"]
mod tc_oracle;

use serde_json::{Value, json};
use support::Sandbox;
use tc_oracle::{classes, key_nodes, matches, tc_json, Class};

const SCRIPT: &str = "\
netns sa <
  veth v0 <-> sb.v1 < addr 10.9.0.1/24 >
  shape 10mbit burst 20kb latency 50ms
>
netns sb <
  link v1 < addr 10.9.0.2/24 >
  link v1
    shape ingress 5mbit
    htb default 20 <
      class 1 rate 10mbit <
        class 10 rate 8mbit ceil 10mbit prio 1
        class 20 rate 2mbit
      >
      filter proto tcp dport 5001 -> 10
      filter src 10.9.0.0/24 dst 10.9.0.1 sport 80 -> 20
    >
>
";

/// The one qdisc of `dev` with `handle`.
fn qdisc(sb: &Sandbox, ns: &str, dev: &str, handle: &str) -> Value {
    let all = tc_json(sb, ns, &["qdisc", "show", "dev", dev]);
    let found: Vec<&Value> = all.as_array().unwrap().iter().filter(|q| q["handle"] == handle).collect();
    assert_eq!(found.len(), 1, "{ns}.{dev} qdisc {handle}: {all}");
    found[0].clone()
}

#[test]
fn tbf_htb_classes_filters_and_ingress_shaping_are_as_declared() {
    let sb = Sandbox::new();
    let script = sb.write_script("state.ns", SCRIPT);
    sb.netscript(&["run", &script]).ok();

    // shape 10mbit burst 20kb latency 50ms: tc reports bytes/s, bytes and µs.
    let tbf = qdisc(&sb, "sa", "v0", "1:");
    assert_eq!(tbf["kind"], "tbf");
    assert_eq!(tbf["root"], true);
    assert_eq!(tbf["options"], json!({"rate": 1_250_000, "burst": 20_480, "lat": 50_000}), "{tbf}");

    // htb default 20 at root 1:.
    let htb = qdisc(&sb, "sb", "v1", "1:");
    assert_eq!((htb["kind"].as_str(), htb["root"].as_bool()), (Some("htb"), Some(true)), "{htb}");
    assert_eq!(htb["options"]["default"], "0x20", "{htb}");
    assert_eq!(htb["options"]["r2q"], 10, "{htb}");

    // The classes: ceil defaults to rate; children hang under 1:1.
    let mut got = classes(&sb, "sb", "v1");
    got.sort_by(|a, b| a.id.cmp(&b.id));
    let class = |id: &str, parent: &str, prio: Option<u32>, rate: &str, ceil: &str| Class {
        id: id.into(),
        parent: parent.into(),
        prio,
        rate: rate.into(),
        ceil: ceil.into(),
    };
    assert_eq!(
        got,
        vec![class("1:1", "root", None, "10Mbit", "10Mbit"), class("1:10", "1:1", Some(1), "8Mbit", "10Mbit"), class("1:20", "1:1", Some(0), "2Mbit", "2Mbit")]
    );

    // The filters, in declaration order as priorities, each its u32 keys.
    let filters = key_nodes(&tc_json(&sb, "sb", &["filter", "show", "dev", "v1"]));
    assert_eq!(filters.len(), 2, "{filters:?}");
    for f in &filters {
        assert_eq!((f["kind"].as_str(), f["protocol"].as_str(), f["parent"].as_str()), (Some("u32"), Some("ip"), Some("1:")), "{f}");
    }
    assert_eq!(filters[0]["pref"], 1);
    assert_eq!(filters[0]["options"]["flowid"], "1:10");
    assert_eq!(
        matches(&filters[0]),
        vec![
            json!({"value": "60000", "mask": "ff0000", "offmask": "", "off": 8}), // protocol 6
            json!({"value": "1389", "mask": "ffff", "offmask": "", "off": 20}),   // dport 5001
        ]
    );
    assert_eq!(filters[1]["pref"], 2);
    assert_eq!(filters[1]["options"]["flowid"], "1:20");
    assert_eq!(
        matches(&filters[1]),
        vec![
            json!({"value": "a090000", "mask": "ffffff00", "offmask": "", "off": 12}), // src 10.9.0.0/24
            json!({"value": "a090001", "mask": "ffffffff", "offmask": "", "off": 16}), // dst 10.9.0.1
            json!({"value": "500000", "mask": "ffff0000", "offmask": "", "off": 20}),  // sport 80
        ]
    );

    // shape ingress 5mbit: the ifb exists and is up, the ingress qdisc redirects
    // everything to it, and its tbf shapes.
    let ifb: Value = serde_json::from_str(&sb.run("ip", &["-n", "sb", "-d", "-json", "link", "show", "ifb-v1"]).ok()).unwrap();
    assert_eq!(ifb[0]["linkinfo"]["info_kind"], "ifb", "{ifb}");
    assert!(ifb[0]["flags"].as_array().unwrap().contains(&json!("UP")), "{ifb}");
    let ingress = qdisc(&sb, "sb", "v1", "ffff:");
    assert_eq!((ingress["kind"].as_str(), ingress["parent"].as_str()), (Some("ingress"), Some("ffff:fff1")), "{ingress}");
    let redirect = key_nodes(&tc_json(&sb, "sb", &["filter", "show", "dev", "v1", "ingress"]));
    assert_eq!(redirect.len(), 1, "{redirect:?}");
    let r = &redirect[0];
    assert_eq!((r["kind"].as_str(), r["protocol"].as_str(), r["pref"].as_u64()), (Some("u32"), Some("all"), Some(1)), "{r}");
    assert_eq!(matches(r), vec![json!({"value": "0", "mask": "0", "offmask": "", "off": 0})], "match u32 0 0");
    let action = &r["options"]["actions"][0];
    assert_eq!(
        (action["kind"].as_str(), action["mirred_action"].as_str(), action["direction"].as_str(), action["to_dev"].as_str()),
        (Some("mirred"), Some("redirect"), Some("egress"), Some("ifb-v1")),
        "{action}"
    );
    assert_eq!(action["control_action"]["type"], "stolen");
    let shaper = qdisc(&sb, "sb", "ifb-v1", "1:");
    assert_eq!(shaper["kind"], "tbf");
    // 5mbit: the default burst is 10kb (the rate sends only 6250 bytes in 10 ms).
    assert_eq!(shaper["options"], json!({"rate": 625_000, "burst": 10_240, "lat": 70_000}), "{shaper}");

    // A second run finds everything as declared.
    sb.assert_up_to_date(&script);
}

#[test]
fn down_and_a_rerun_without_shape_ingress_remove_the_ifb() {
    let sb = Sandbox::new();
    let before = sb.dump();
    let script = sb.write_script("ifb.ns", "netns ia < veth v0 <-> ib.v1; shape ingress 20mbit >\n");
    sb.netscript(&["run", &script]).ok();
    assert!(sb.run("ip", &["-n", "ia", "link", "show", "ifb-v0"]).success, "the ifb exists after the run");
    // Without the statement, a re-run removes the ifb, the ingress qdisc and its filter.
    sb.write_script("ifb.ns", "netns ia < veth v0 <-> ib.v1 >\n");
    let rerun = sb.netscript(&["run", &script]);
    assert!(rerun.success, "{}", rerun.stderr);
    assert!(!sb.run("ip", &["-n", "ia", "link", "show", "ifb-v0"]).success, "ifb-v0 outlived its `shape ingress`");
    let qdiscs = tc_json(&sb, "ia", &["qdisc", "show", "dev", "v0"]);
    assert!(qdiscs.as_array().unwrap().iter().all(|q| q["kind"] != "ingress"), "{qdiscs}");
    // Back with it, then `down`: everything goes, ifb included.
    sb.write_script("ifb.ns", "netns ia < veth v0 <-> ib.v1; shape ingress 20mbit >\n");
    sb.netscript(&["run", &script]).ok();
    assert!(sb.run("ip", &["-n", "ia", "link", "show", "ifb-v0"]).success);
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}

#[test]
fn down_of_shaping_on_an_existing_interface_removes_only_the_shaping() {
    // The namespace and veth pre-exist: `down` must take away the ifb, the qdiscs and
    // the filter, and leave the rest as it was.
    let sb = Sandbox::new();
    sb.sh("ip netns add ea && ip netns add eb && ip link add v0 netns ea type veth peer name v1 netns eb && ip -n ea link set v0 up && ip -n eb link set v1 up").ok();
    let before = sb.dump();
    let script = sb.write_script("exist.ns", "netns ea < link v0; shape ingress 3mbit; shape 4mbit >\n");
    sb.netscript(&["run", &script]).ok();
    assert_eq!(qdisc(&sb, "ea", "ifb-v0", "1:")["options"]["rate"], 375_000);
    assert_eq!(qdisc(&sb, "ea", "v0", "1:")["options"]["rate"], 500_000);
    sb.netscript(&["down", &script]).ok();
    support::assert_same_dump(&before, &sb.dump(), "after down");
}
