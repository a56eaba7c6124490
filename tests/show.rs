//! `netscript show`: everything a script can declare appears, in text and in the stable
//! JSON (golden files per object kind, one shape per kind), and the topology renders
//! with Graphviz.

mod support;
use serde_json::Value;
use support::Sandbox;

/// One of every object a script can declare, but eBPF programs (they need compiled
/// objects: tests/bpf_kernel.rs checks show's lines for them) and netem (not in this
/// kernel).
const SCRIPT: &str = r#"table uplink = 100
netns sa <
  veth v0 <-> sb.v1 < addr 10.60.0.1/24 fd60::1/64; mac 02:00:00:00:60:01; mtu 1400; shape 1mbit >
  bridge br0 < addr 10.61.0.1/24 >
  veth p0 <-> q0 < master br0 >
  link q0 < down >
  vxlan vx0 id 7 remote 10.60.0.2 local 10.60.0.1 dev v0 port 4789 < addr 172.17.0.1/24 >
  route 10.62.0.0/16 via 10.60.0.2 table uplink
  route default via 10.60.0.2
  route fd62::/64 via fd60::2 metric 5
  rule from 10.60.0.0/24 to 10.63.0.0/16 iif v0 oif lo fwmark 0x10/0xff uidrange 1000-2000 priority 100 lookup uplink
  rule from fd60::/64 priority 101 lookup 200
  sysctl net.ipv4.conf.all.rp_filter = 2
>
netns sb <
  link v1
    addr 10.60.0.2/24 fd60::2/64
    shape ingress 10mbit
    htb default 20 <
      class 10 rate 8mbit ceil 10mbit prio 1 < class 11 rate 4mbit >
      class 20 rate 2mbit
      filter proto tcp dport 80 -> 10
      filter src 10.0.0.0/24 -> 11
    >
  macvlan mv0 on v1 mode private < addr 10.64.0.5/24 >
  forward
>
"#;

fn built() -> Sandbox {
    let sb = Sandbox::new();
    let path = sb.write_script("show.ns", SCRIPT);
    sb.netscript(&["run", &path]).ok();
    // And a route ip made, of protocol boot.
    sb.sh("ip -n sa route add 10.65.0.0/16 via 10.60.0.2 table 300").ok();
    sb
}

fn show_json(sb: &Sandbox, args: &[&str]) -> Value {
    let mut all = vec!["show", "--format", "json"];
    all.extend_from_slice(args);
    let out = sb.netscript(&all).ok();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("show JSON: {e}\n{out}"))
}

fn is_link_local(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_str).is_some_and(|a| a.starts_with("fe80"))
}

/// What differs between two runs of the same script: random MACs, interface indexes,
/// namespace inodes, IPv6 link-local addresses and routes (added by the kernel once a
/// link has carrier, asynchronously).
fn stable(ns: &Value, kind: &str) -> Value {
    let mut items: Vec<Value> = ns[kind].as_array().unwrap().clone();
    items.retain(|i| !is_link_local(i, "dst"));
    for item in &mut items {
        let object = item.as_object_mut().unwrap();
        if object.get("address_origin").and_then(Value::as_str) == Some("random") {
            object.insert("address".into(), Value::String("<random>".into()));
        }
        if object.contains_key("ifindex") {
            object.insert("ifindex".into(), Value::String("<index>".into()));
        }
        if let Some(Value::Array(addrs)) = object.get_mut("addr_info") {
            addrs.retain(|a| !is_link_local(a, "local"));
        }
    }
    // The kernel's dump order is not part of the format.
    items.sort_by_key(|i| i.to_string());
    if kind == "sysctls" {
        // Only those this script sets, with what the kernel changes with them: the rest
        // depends on the kernel's defaults.
        items.retain(|s| s["key"].as_str().is_some_and(|k| k.contains("forward") || k.contains("rp_filter") || k.contains("accept_redirects")));
    }
    Value::Array(items)
}

const KINDS: [&str; 9] = ["links", "qdiscs", "classes", "filters", "programs", "routes", "rules", "sysctls", "firewall"];

#[test]
fn json_per_object_kind_golden() {
    let sb = built();
    let json = show_json(&sb, &["sa", "sb"]);
    assert_eq!(json["version"], 1);
    let namespaces = json["namespaces"].as_array().unwrap();
    assert_eq!(namespaces.iter().map(|n| n["name"].as_str().unwrap()).collect::<Vec<_>>(), vec!["sa", "sb"]);
    for ns in namespaces {
        let mut keys: Vec<&str> = ns.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        let mut want: Vec<&str> = KINDS.iter().copied().chain(["name", "netns_id"]).collect();
        want.sort();
        assert_eq!(keys, want, "a namespace's keys");
        for kind in KINDS {
            let name = format!("show_json_{}_{kind}", ns["name"].as_str().unwrap());
            insta::assert_snapshot!(name, serde_json::to_string_pretty(&stable(ns, kind)).unwrap());
        }
    }
}

/// One shape per object kind: every object of a kind has the same keys (null where the
/// kernel reports nothing), and the iproute2 conventions hold.
#[test]
fn one_shape_per_kind_in_iproute2_conventions() {
    let sb = built();
    let json = show_json(&sb, &[]);
    for ns in json["namespaces"].as_array().unwrap() {
        for kind in KINDS {
            let items = ns[kind].as_array().unwrap();
            let shape = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
            if let Some(first) = items.first() {
                for item in items {
                    assert_eq!(shape(item), shape(first), "{kind} of {}: two shapes", ns["name"]);
                }
            }
        }
    }
    let sa = json["namespaces"].as_array().unwrap().iter().find(|n| n["name"] == "sa").unwrap();
    let v0 = sa["links"].as_array().unwrap().iter().find(|l| l["ifname"] == "v0").unwrap();
    assert_eq!(v0["address"], "02:00:00:00:60:01", "MAC as a string");
    assert_eq!(v0["address_origin"], "set");
    assert_eq!((v0["link"].as_str(), v0["link_netns"].as_str()), (Some("v1"), Some("sb")), "the veth's other end");
    let sb_ns = json["namespaces"].as_array().unwrap().iter().find(|n| n["name"] == "sb").unwrap();
    let class = sb_ns["classes"].as_array().unwrap().iter().find(|c| c["handle"] == "1:11").expect("class 1:11, in tc's hex");
    assert_eq!(class["parent"], "1:10");
    let filter = sb_ns["filters"].as_array().unwrap().iter().find(|f| f["pref"] == 1).unwrap();
    assert_eq!(filter["match"]["ip_proto"], "tcp", "protocols in lowercase");
    assert_eq!(filter["flowid"], "1:10");
    let route = sa["routes"].as_array().unwrap().iter().find(|r| r["dst"] == "10.65.0.0/16").unwrap();
    assert_eq!((route["table"].as_str(), route["protocol"].as_str()), (Some("300"), Some("boot")));
    let ours = sa["routes"].as_array().unwrap().iter().find(|r| r["dst"] == "10.62.0.0/16").unwrap();
    assert_eq!(ours["protocol"], "110", "netscript's protocol, which iproute2 has no name for");
}

/// Every object the script declares is in `show`, text and JSON.
#[test]
fn every_declared_object_appears() {
    let sb = built();
    let text = sb.netscript(&["show", "sa", "sb"]).ok();
    for line in [
        "netns sa",
        "  v0 (veth) up mtu 1400 mac 02:00:00:00:60:01 (set) peer sb.v1",
        "    addr 10.60.0.1/24",
        "    addr fd60::1/64",
        "    qdisc root handle 1: tbf rate 1mbit burst 10kb latency 70ms",
        "  br0 (bridge) up mtu 1500",
        "  p0 (veth) up mtu 1500",
        " master br0 peer sa.q0",
        "  q0 (veth) down mtu 1500",
        "  vx0 (vxlan) up mtu 1350",
        " id 7 remote 10.60.0.2 local 10.60.0.1 port 4789 on v0",
        "    addr 172.17.0.1/24",
        "  route 10.62.0.0/16 via 10.60.0.2 dev v0 table 100 proto 110",
        "  route default via 10.60.0.2 dev v0 table main proto 110",
        "  route fd62::/64 via fd60::2 dev v0 metric 5 table main proto 110",
        "  route 10.65.0.0/16 via 10.60.0.2 dev v0 table 300 proto boot",
        "  rule from 10.60.0.0/24 to 10.63.0.0/16 iif v0 oif lo fwmark 0x10/0xff uidrange 1000-2000 priority 100 lookup 100 proto 110",
        "  rule (v6) from fd60::/64 priority 101 lookup 200 proto 110",
        "  sysctl net.ipv4.conf.all.rp_filter = 2 (default 0)",
        "netns sb",
        "    qdisc root handle 1: htb default 20\n      class 1:10 parent 1: rate 8mbit ceil 10mbit prio 1\n      class 1:11 parent 1:10 rate 4mbit ceil 4mbit\n      class 1:20 parent 1: rate 2mbit ceil 2mbit\n      filter prio 1 proto tcp dport 80 -> 1:10\n      filter prio 2 src 10.0.0.0/24 -> 1:11\n",
        "    qdisc ingress handle ffff: ingress\n      filter: redirect to ifb-v1",
        "  ifb-v1 (ifb) up mtu 1500",
        "    qdisc root handle 1: tbf rate 10mbit burst 12500b latency 70ms",
        " mode private on v1",
        "    addr 10.64.0.5/24",
        "  sysctl net.ipv4.ip_forward = 1 (default 0)",
        "  sysctl net.ipv6.conf.all.forwarding = 1 (default 0)",
    ] {
        assert!(text.contains(line), "show lacks {line:?}:\n{text}");
    }
    // A name from rt_tables is used where iproute2 has one (none here): numbers.
    assert!(!text.contains("table uplink"), "{text}");
}

#[test]
fn topology_renders_with_graphviz() {
    let sb = built();
    let dot = sb.netscript(&["show", "--format", "dot"]).ok();
    assert!(dot.starts_with("graph topology {"), "{dot}");
    for needle in [
        "label=\"netns sa\"",
        "label=\"netns sb\"",
        "\"sa/v0\" -- \"sb/v1\" [label=\"veth\"",
        "\"sa/p0\" -- \"sa/br0\" [style=dashed, label=\"port\"]",
        "\"sa/p0\" -- \"sa/q0\" [label=\"veth\"",
        "\"sb/mv0\" -- \"sb/v1\" [style=dotted, label=\"macvlan\"]",
        "\"sa/br0\" [label=\"br0\\n10.61.0.1/24\", shape=ellipse",
        "\"sa/v0\" [label=\"v0 (veth)\\n10.60.0.1/24\\nfd60::1/64\"]",
    ] {
        assert!(dot.contains(needle), "the dot lacks {needle}:\n{dot}");
    }
    // Graphviz draws it.
    let dir = std::env::temp_dir().join(format!("netscript-dot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("topology.dot");
    std::fs::write(&file, &dot).unwrap();
    let out = std::process::Command::new("dot").args(["-Tsvg"]).arg(&file).output().expect("graphviz (scripts/test.sh installs it)");
    let _ = std::fs::remove_dir_all(&dir);
    let svg = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && out.stderr.is_empty(), "dot -Tsvg: {}", String::from_utf8_lossy(&out.stderr));
    assert!(svg.contains("<svg") && svg.contains("netns sa") && svg.contains("10.64.0.5/24"), "{svg}");
}
