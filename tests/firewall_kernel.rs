//! `firewall` against the real kernel, each test in its own sandbox. Oracles: real
//! traffic between namespaces (std sockets on threads that joined them), tc's class
//! counters, interface counters, and `nft -j list ruleset` from Debian's nftables.

mod support;
#[path = "support/flows.rs"]
mod flows;

use flows::enter_netns;
use serde_json::Value;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

const NETSCRIPT: &str = env!("CARGO_BIN_EXE_netscript");

/// Runs a shell snippet in this process's namespaces (a sandboxed test's own).
fn sh(script: &str) -> support::Run {
    Command::new("sh").args(["-ec", script]).output().expect("sh").into()
}

fn netscript(args: &[&str]) -> support::Run {
    Command::new(NETSCRIPT).args(args).output().expect("netscript").into()
}

fn write(path: &str, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.to_string()
}

/// The peer address a listener in `ns` sees when `from` connects to `addr:port`;
/// `None` when the connection does not get through within a second.
fn tcp_peer(ns: &str, from: &str, addr: &str, port: u16) -> Option<SocketAddr> {
    let (listen_ns, from_ns, bind) = (ns.to_string(), from.to_string(), format!("0.0.0.0:{port}"));
    let (tx, rx) = std::sync::mpsc::channel();
    let listener = std::thread::spawn(move || {
        enter_netns(&listen_ns);
        let l = TcpListener::bind(&bind).unwrap();
        l.set_nonblocking(true).unwrap();
        tx.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < deadline {
            if let Ok((_, peer)) = l.accept() {
                return Some(peer);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    });
    rx.recv().unwrap();
    let target: SocketAddr = format!("{addr}:{port}").parse().unwrap();
    let connector = std::thread::spawn(move || {
        enter_netns(&from_ns);
        TcpStream::connect_timeout(&target, Duration::from_secs(1)).is_ok()
    });
    let connected = connector.join().unwrap();
    let peer = listener.join().unwrap();
    if connected { peer } else { None }
}

/// Sends `count` UDP datagrams of `size` bytes from namespace `ns` to `to`.
fn udp_send(ns: &str, to: &str, count: usize, size: usize) {
    let (ns, to) = (ns.to_string(), to.to_string());
    std::thread::spawn(move || {
        enter_netns(&ns);
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        for _ in 0..count {
            let _ = s.send_to(&vec![0u8; size], &to);
        }
    })
    .join()
    .unwrap();
}

fn ping(from: &str, addr: &str) -> bool {
    sh(&format!("ip netns exec {from} ping -c 1 -W 1 {addr}")).success
}

/// `nft -j list ruleset` of namespace `ns` (`host`: this one), normalised: without
/// handles, version information, comments (netscript's rule text) and counter values,
/// so that equal rulesets print equal text.
fn ruleset(ns: &str) -> String {
    let out = if ns == "host" { sh("nft -j list ruleset") } else { sh(&format!("ip netns exec {ns} nft -j list ruleset")) }.ok();
    let mut v: Value = serde_json::from_str(&out).unwrap();
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("handle");
                m.remove("comment");
                if let Some(Value::Object(c)) = m.get_mut("counter") {
                    c.insert("packets".into(), 0.into());
                    c.insert("bytes".into(), 0.into());
                }
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let items = v["nftables"].as_array_mut().unwrap();
    items.retain(|i| i.get("metainfo").is_none());
    strip(&mut v);
    serde_json::to_string_pretty(&v).unwrap()
}

fn raw_ruleset(ns: &str) -> String {
    sh(&format!("ip netns exec {ns} nft -j list ruleset")).ok()
}

const ROUTER: &str = "
netns client < veth eth0 <-> router.lan < addr 10.1.0.2/24 >; route default via 10.1.0.1 >
netns router <
  link lan < addr 10.1.0.1/24 >
  veth wan <-> server.eth0 < addr 192.0.2.1/24 >
  forward
  FIREWALL
>
netns server < link eth0 < addr 192.0.2.2/24 > >
";

sandbox_test!(masquerade_lets_a_client_reach_a_server_without_a_route_back, {
    // Without NAT the server cannot answer: it has no route to 10.1.0.0/24.
    let plain = write("/run/plain.ns", &ROUTER.replace("FIREWALL", ""));
    netscript(&["run", &plain]).ok();
    assert!(!ping("client", "192.0.2.2"), "the server answered without NAT: the test proves nothing");
    assert_eq!(tcp_peer("server", "client", "192.0.2.2", 8080), None);
    let nat = write("/run/plain.ns", &ROUTER.replace("FIREWALL", "firewall postrouting < masquerade oif wan >"));
    netscript(&["run", &nat]).ok();
    assert!(ping("client", "192.0.2.2"), "no answer through the masquerading router");
    let peer = tcp_peer("server", "client", "192.0.2.2", 8080).expect("TCP through the masquerading router");
    assert_eq!(peer.ip().to_string(), "192.0.2.1", "the server must see the router's address");
});

sandbox_test!(input_policy_drop_lets_ssh_in_and_nothing_else, {
    let script = write(
        "/run/fw.ns",
        "netns client < veth eth0 <-> server.eth0 < addr 10.2.0.1/24 > >
netns server <
  link eth0 < addr 10.2.0.2/24 >
  firewall input policy drop < accept ct established,related; accept proto tcp dport 22 >
>
",
    );
    netscript(&["run", &script]).ok();
    assert!(tcp_peer("server", "client", "10.2.0.2", 22).is_some(), "TCP 22 must get in");
    assert_eq!(tcp_peer("server", "client", "10.2.0.2", 23), None, "TCP 23 must be dropped");
    assert!(!ping("client", "10.2.0.2"), "ICMP must be dropped");
    // The server's own connections out get their answers back (established).
    assert!(tcp_peer("client", "server", "10.2.0.1", 2000).is_some(), "replies to the server's connections must get in");
});

fn tx_packets(ns: &str, dev: &str) -> u64 {
    let out = sh(&format!("ip -n {ns} -s -j link show dev {dev}")).ok();
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0]["stats64"]["tx"]["packets"].as_u64().unwrap()
}

sandbox_test!(a_mark_steers_a_client_out_of_the_second_uplink, {
    let script = write(
        "/run/pbr.ns",
        "netns client < veth eth0 <-> router.lan < addr 10.1.0.100/24 >; route default via 10.1.0.1 >
netns other < veth eth0 <-> router.lan2 < addr 10.3.0.2/24 >; route default via 10.3.0.1 >
netns router <
  link lan < addr 10.1.0.1/24 >
  link lan2 < addr 10.3.0.1/24 >
  veth up1 <-> gw1.eth0 < addr 10.10.1.2/24 >
  veth up2 <-> gw2.eth0 < addr 10.10.2.2/24 >
  forward
  route default via 10.10.1.1
  route default via 10.10.2.1 table 100
  firewall prerouting < mark 7 src 10.1.0.100 >
  rule fwmark 7 table 100
>
netns gw1 < link eth0 < addr 10.10.1.1/24 > >
netns gw2 < link eth0 < addr 10.10.2.1/24 > >
",
    );
    netscript(&["run", &script]).ok();
    // Resolve the gateways' addresses first, so that counted packets are the datagrams.
    assert!(ping("router", "10.10.1.1") && ping("router", "10.10.2.1"));
    let (up1, up2) = (tx_packets("router", "up1"), tx_packets("router", "up2"));
    udp_send("client", "198.51.100.1:9999", 50, 100);
    let (up1_marked, up2_marked) = (tx_packets("router", "up1") - up1, tx_packets("router", "up2") - up2);
    assert!(up2_marked >= 50 && up1_marked < 5, "the marked client's datagrams must leave by up2: up1 +{up1_marked}, up2 +{up2_marked}");
    // Another client, unmarked, leaves by the main table's uplink.
    let (up1, up2) = (tx_packets("router", "up1"), tx_packets("router", "up2"));
    udp_send("other", "198.51.100.1:9999", 50, 100);
    let (up1_plain, up2_plain) = (tx_packets("router", "up1") - up1, tx_packets("router", "up2") - up2);
    assert!(up1_plain >= 50 && up2_plain < 5, "unmarked datagrams must leave by up1: up1 +{up1_plain}, up2 +{up2_plain}");
});

sandbox_test!(classify_puts_packets_in_their_htb_class, {
    let script = write(
        "/run/cls.ns",
        "netns client < veth eth0 <-> server.eth0 < addr 10.4.0.1/24 > >
netns server <
  link eth0 < addr 10.4.0.2/24; htb default 30 < class 10 rate 100mbit; class 20 rate 100mbit > >
  firewall output < classify 20 proto udp dport 5001 >
>
",
    );
    netscript(&["run", &script]).ok();
    assert!(ping("server", "10.4.0.1"));
    let bytes = |class: &str| class_bytes("server", "eth0").into_iter().find(|(c, _)| c == class).map(|(_, b)| b).unwrap();
    let (b10, b20) = (bytes("1:10"), bytes("1:20"));
    udp_send("server", "10.4.0.1:5001", 100, 500);
    let (d10, d20) = (bytes("1:10") - b10, bytes("1:20") - b20);
    assert!(d20 >= 100 * 500, "class 1:20 must carry the classified datagrams: +{d20} bytes");
    assert_eq!(d10, 0, "class 1:10 must carry none of them");
});

/// Every rule form, in netscript and as the nft text that means the same.
const PARITY_SCRIPT: &str = "host <
  link lo < htb < class 20 rate 1mbit > >
  firewall prerouting < mark 7 src 10.1.0.100; dnat to 10.1.0.5:8080 proto tcp dport 80; dnat to fd00::5 >
  firewall input policy drop <
    accept ct established,related
    accept proto tcp dport 22
    reject proto udp sport 1000-2000 counter
    drop proto icmp src 10.0.0.0/8
    accept src 10.16.0.0/12 dst 10.2.0.1
    accept proto icmpv6 src fd00::/64
    accept iif lo mark 7/0xff
    drop mark 7 ct invalid,new
  >
  firewall forward < accept ct established; drop oif lo proto tcp dport 1-1023 >
  firewall output < mark 9 proto udp dport 9999; classify 20 oif lo >
  firewall postrouting < masquerade oif lo; snat to 192.0.2.1 src 10.1.0.0/24 >
>
";

const PARITY_NFT: &str = r#"table inet netscript {
  chain prerouting { type filter hook prerouting priority 0; policy accept;
    ip saddr 10.1.0.100 meta mark set 7
  }
  chain prerouting_nat { type nat hook prerouting priority -100; policy accept;
    tcp dport 80 dnat ip to 10.1.0.5:8080
    dnat ip6 to fd00::5
  }
  chain input { type filter hook input priority 0; policy drop;
    ct state established,related accept
    tcp dport 22 accept
    udp sport 1000-2000 counter reject
    ip saddr 10.0.0.0/8 meta l4proto icmp drop
    ip saddr 10.16.0.0/12 ip daddr 10.2.0.1 accept
    ip6 saddr fd00::/64 meta l4proto ipv6-icmp accept
    iifname "lo" meta mark & 0xff == 7 accept
    meta mark 7 ct state invalid,new drop
  }
  chain forward { type filter hook forward priority 0; policy accept;
    ct state established accept
    tcp dport 1-1023 oifname "lo" drop
  }
  chain output { type route hook output priority 0; policy accept;
    udp dport 9999 meta mark set 9
    oifname "lo" meta priority set 1:20
  }
  chain postrouting_nat { type nat hook postrouting priority 100; policy accept;
    oifname "lo" masquerade
    ip saddr 10.1.0.0/24 snat ip to 192.0.2.1
  }
}
"#;

#[test]
fn the_ruleset_equals_what_nft_makes_of_the_same_rules() {
    let ours = support::Sandbox::new();
    let script = ours.write_script("parity.ns", PARITY_SCRIPT);
    ours.netscript(&["run", &script]).ok();
    let reference = support::Sandbox::new();
    reference.put("/run/parity.nft", PARITY_NFT);
    reference.run("nft", &["-f", "/run/parity.nft"]).ok();
    let normal = |sb: &support::Sandbox| -> String {
        let out = sb.run("nft", &["-j", "list", "ruleset"]).ok();
        let mut v: Value = serde_json::from_str(&out).unwrap();
        v["nftables"].as_array_mut().unwrap().retain(|i| i.get("metainfo").is_none());
        let mut text = serde_json::to_string_pretty(&v).unwrap();
        for key in ["handle", "comment"] {
            text = text.lines().filter(|l| !l.trim_start().starts_with(&format!("\"{key}\""))).collect::<Vec<_>>().join("\n");
        }
        text
    };
    let (a, b) = (normal(&ours), normal(&reference));
    if let Some(diff) = support::dump_diff(&b, &a) {
        panic!("netscript's ruleset differs from nft's:\n{diff}");
    }
    // And `nft` shows netscript's own text as each rule's comment.
    let listing = ours.run("nft", &["list", "chain", "inet", "netscript", "input"]).ok();
    assert!(listing.contains("comment \"accept proto tcp dport 22\""), "{listing}");
}

const USER_TABLE: &str = "table inet mine {\n  chain input { type filter hook input priority 10; policy accept;\n    tcp dport 8080 counter accept\n  }\n}";

sandbox_test!(idempotence_drift_repair_edit_and_down, {
    sh(&format!("ip netns add keep && ip netns exec keep nft -f - <<'EOF'\n{USER_TABLE}\nEOF")).ok();
    let user_before = sh("ip netns exec keep nft -j list table inet mine").ok();
    let v1 = "netns keep < firewall input policy drop < accept ct established,related; accept proto tcp dport 22; accept proto icmp > >\n";
    let script = write("/run/edit.ns", v1);
    netscript(&["run", &script]).ok();
    let applied = ruleset("keep");
    let again = netscript(&["run", &script]);
    assert!(again.success && again.stderr.contains("up to date"), "a re-run was not a no-op: {again:?}");

    // Drift: a rule deleted by hand is put back by the next run, and only it changes.
    let handle = sh("ip netns exec keep nft -a list chain inet netscript input | grep 'dport 22' | sed 's/.*# handle //'").ok();
    sh(&format!("ip netns exec keep nft delete rule inet netscript input handle {}", handle.trim())).ok();
    assert_ne!(ruleset("keep"), applied);
    let plan = netscript(&["plan", &script]).ok();
    assert!(plan.contains("set firewall in keep"), "the plan must show the repair:\n{plan}");
    netscript(&["run", &script]).ok();
    assert_eq!(ruleset("keep"), applied, "a re-run must repair the deleted rule");

    // An edit converges on what the edited script alone makes.
    let v2 = "netns keep < firewall input < drop proto tcp dport 23 counter >; firewall postrouting < masquerade > >\n";
    write("/run/edit.ns", v2);
    netscript(&["run", &script]).ok();
    let edited = ruleset("keep");
    sh("ip netns add fresh").ok();
    let alone = write("/run/alone.ns", &v2.replace("keep", "fresh"));
    netscript(&["run", &alone]).ok();
    // `fresh` has no user table: compare netscript's table only.
    let ours = |ns: &str| {
        let v: Value = serde_json::from_str(&ruleset(ns)).unwrap();
        let items: Vec<Value> = v["nftables"].as_array().unwrap().iter().filter(|i| i.to_string().contains("\"netscript\"")).cloned().collect();
        serde_json::to_string_pretty(&items).unwrap()
    };
    assert_eq!(ours("keep"), ours("fresh"), "the edited script must leave what it alone makes");
    assert!(edited.contains("\"mine\""), "the user's table must stay");

    // Removing the firewall statements removes the table; `down` does too.
    write("/run/edit.ns", "netns keep\n");
    netscript(&["run", &script]).ok();
    assert!(!sh("ip netns exec keep nft list tables").ok().contains("netscript"), "the table outlived its statements");
    write("/run/edit.ns", v1);
    netscript(&["run", &script]).ok();
    netscript(&["down", &script]).ok();
    assert!(!sh("ip netns exec keep nft list tables").ok().contains("netscript"), "the table outlived down");
    assert_eq!(sh("ip netns exec keep nft -j list table inet mine").ok(), user_before, "the user's table was touched");
});

sandbox_test!(a_failed_run_leaves_the_ruleset_byte_equal, {
    sh(&format!("ip netns add keep && ip netns exec keep nft -f - <<'EOF'\n{USER_TABLE}\nEOF")).ok();
    let before = raw_ruleset("keep");
    // netem is missing from this kernel: the kernel refuses the qdisc, after the table.
    let failing = write(
        "/run/fail.ns",
        "netns keep < firewall input policy drop < accept proto tcp dport 22 >; veth v0 <-> leaf.l0 < addr 10.9.0.1/24; netem delay 1ms > >\n",
    );
    let run = netscript(&["run", &failing]);
    assert_eq!(run.code, Some(3), "expected a failed, rolled back run:\n{}", run.stderr);
    assert_eq!(raw_ruleset("keep"), before, "the failed run changed the ruleset");

    // A failed edit puts back the rules of the run before it.
    let good = write("/run/good.ns", "netns keep < firewall input < accept proto tcp dport 22 counter > >\n");
    netscript(&["run", &good]).ok();
    let applied = ruleset("keep");
    write("/run/good.ns", "netns keep < firewall input < drop proto tcp dport 22 >; veth v0 <-> leaf.l0 < addr 10.9.0.1/24; netem delay 1ms > >\n");
    assert_eq!(netscript(&["run", &good]).code, Some(3));
    assert_eq!(ruleset("keep"), applied, "a failed edit must leave the earlier rules");
});

/// `tc -s class show` of `dev` in `ns` as (class id, bytes sent).
fn class_bytes(ns: &str, dev: &str) -> Vec<(String, u64)> {
    let text = sh(&format!("tc -s -n {ns} class show dev {dev}")).ok();
    let mut result = Vec::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("class htb ") {
            current = rest.split_whitespace().next().map(str::to_string);
        } else if let (Some(id), Some(rest)) = (&current, line.trim().strip_prefix("Sent ")) {
            result.push((id.clone(), rest.split_whitespace().next().and_then(|b| b.parse().ok()).unwrap()));
            current = None;
        }
    }
    result
}
