//! The kernel test of the tc encoding: netscript's messages go over a real rtnetlink
//! socket, and what the kernel then holds is compared, field by field, with what `tc`
//! shows — and with what the kernel holds after iproute2's `tc` was given the same
//! command on a twin interface.
//!
//! Each test re-executes this test binary, for that one test, inside a throw-away network
//! and mount namespace (`unshare --net --mount --propagation private`), so the host is
//! never touched; the child refuses to run unless its network namespace differs from
//! the parent's. Needs root, `unshare`, `ip` and `tc` (CI runs as root).

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::tc::TcMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use netscript::exec::tc::{
    self, HtbClassParams, HtbClassState, Psched, TbfParams, TbfState, TcRequest,
};
use netscript::model::{IpProto, Netem, Tbf};
use netscript::plan::action::{ClassSpec, FilterSpec, QdiscParent, QdiscSpec};
use netscript::units::{Duration, Percent, Rate, Size};
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

const SANDBOX_ENV: &str = "NETSCRIPT_TC_SANDBOX_PARENT_NETNS";

fn netns_inode() -> u64 {
    std::fs::metadata("/proc/self/ns/net")
        .expect("/proc/self/ns/net")
        .ino()
}

/// Runs `body` in a fresh network namespace: re-executes this binary for `test` under
/// unshare, or, in that child, checks the namespace is new and runs `body`.
fn sandboxed(test: &str, body: fn()) {
    match std::env::var(SANDBOX_ENV) {
        Ok(parent) => {
            assert_ne!(
                parent,
                netns_inode().to_string(),
                "refusing to run outside a new network namespace"
            );
            body();
        }
        Err(_) => {
            let exe = std::env::current_exe().unwrap();
            let output = Command::new("unshare")
                .args(["--net", "--mount", "--propagation", "private"])
                .arg(exe)
                .args([test, "--exact", "--nocapture", "--test-threads=1"])
                .env(SANDBOX_ENV, netns_inode().to_string())
                .output()
                .expect("unshare");
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "sandboxed {test} failed:\n{stdout}\n{stderr}"
            );
            // The child must really have run the test (not filtered it away).
            assert!(
                stdout.contains("1 passed"),
                "sandboxed {test} did not run:\n{stdout}\n{stderr}"
            );
        }
    }
}

fn run(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(cmd: &str) -> Value {
    serde_json::from_str(&run(cmd)).unwrap_or_else(|e| panic!("`{cmd}`: {e}"))
}

/// A veth pair: `NAME0` for netscript's messages, `NAME1` for tc's own commands.
fn veth_pair(name: &str) -> (i32, String, String) {
    let (ours, twin) = (format!("{name}0"), format!("{name}1"));
    run(&format!(
        "ip link add {ours} type veth peer name {twin} && ip link set {ours} up && ip link set {twin} up"
    ));
    (ifindex(&ours), ours, twin)
}

fn ifindex(dev: &str) -> i32 {
    let line = run(&format!("ip -o link show dev {dev}"));
    line.split(':').next().unwrap().trim().parse().unwrap()
}

struct Rtnl {
    socket: Socket,
    seq: u32,
}

impl Rtnl {
    fn new() -> Rtnl {
        let mut socket = Socket::new(NETLINK_ROUTE).unwrap();
        socket.bind_auto().unwrap();
        socket.connect(&SocketAddr::new(0, 0)).unwrap();
        Rtnl { socket, seq: 0 }
    }

    fn send(&mut self, mut msg: NetlinkMessage<RouteNetlinkMessage>) -> u32 {
        self.seq += 1;
        msg.header.sequence_number = self.seq;
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        self.socket.send(&buf, 0).unwrap();
        self.seq
    }

    /// Every message answering `seq`, until the ack/error or the end of a dump.
    fn replies(&mut self, seq: u32) -> Vec<NetlinkMessage<RouteNetlinkMessage>> {
        let mut out = Vec::new();
        loop {
            let (data, _) = self.socket.recv_from_full().unwrap();
            let mut offset = 0;
            while offset < data.len() {
                let len = NetlinkBuffer::new_checked(&data[offset..])
                    .unwrap()
                    .length() as usize;
                let msg =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..offset + len])
                        .unwrap();
                offset += (len + 3) & !3;
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Done(_) | NetlinkPayload::Error(_) => {
                        out.push(msg);
                        return out;
                    }
                    _ => out.push(msg),
                }
            }
        }
    }

    /// Sends a request and returns the kernel's errno (0 for success).
    fn request(&mut self, request: TcRequest, msg: TcMessage) -> i32 {
        let seq = self.send(request.into_netlink(msg));
        match self.replies(seq).pop().map(|m| m.payload) {
            Some(NetlinkPayload::Error(e)) => e.code.map(|c| -c.get()).unwrap_or(0),
            other => panic!("no ack: {other:?}"),
        }
    }

    fn apply(&mut self, request: TcRequest, msg: TcMessage) {
        let errno = self.request(request, msg);
        assert_eq!(errno, 0, "the kernel refused {request:?}: errno {errno}");
    }

    fn dump(&mut self, ifindex: i32, what: fn(TcMessage) -> RouteNetlinkMessage) -> Vec<TcMessage> {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let msg = NetlinkMessage::new(
            header,
            NetlinkPayload::InnerMessage(what(TcMessage::with_index(ifindex))),
        );
        let seq = self.send(msg);
        self.replies(seq)
            .into_iter()
            .filter_map(|m| match m.payload {
                NetlinkPayload::InnerMessage(
                    RouteNetlinkMessage::NewQueueDiscipline(tc)
                    | RouteNetlinkMessage::NewTrafficClass(tc),
                ) if tc.header.index == ifindex => Some(tc),
                _ => None,
            })
            .collect()
    }
}

/// `tc -json qdisc show` of one device, without what legitimately differs between two
/// devices: reference counts, and htb's count of packets sent unclassified (the kernel's
/// own IPv6 chatter on a fresh interface).
fn qdiscs_json(dev: &str) -> Value {
    let mut v = json(&format!("tc -json qdisc show dev {dev}"));
    for q in v.as_array_mut().unwrap() {
        q.as_object_mut().unwrap().remove("refcnt");
        if let Some(options) = q.get_mut("options").and_then(Value::as_object_mut) {
            options.remove("direct_packets_stat");
        }
    }
    v
}

/// `tc -d class show` (htb classes print no JSON in tc 6.1), one line per class.
fn classes_text(dev: &str) -> Vec<String> {
    let mut lines: Vec<String> = run(&format!("tc -d class show dev {dev}"))
        .lines()
        .filter(|l| l.starts_with("class "))
        .map(|l| l.trim().to_string())
        .collect();
    lines.sort();
    lines
}

fn filters_json(dev: &str, parent: &str) -> Value {
    let mut v = json(&format!("tc -json filter show dev {dev} {parent}"));
    // Action indexes are allocated per namespace, one per filter.
    for f in v.as_array_mut().unwrap() {
        if let Some(actions) = f
            .pointer_mut("/options/actions")
            .and_then(Value::as_array_mut)
        {
            for a in actions {
                a.as_object_mut().unwrap().remove("index");
            }
        }
    }
    v
}

fn tbf(rate: u64, burst: u64, latency_ms: u64) -> Tbf {
    Tbf {
        rate: Rate(rate),
        burst: Size(burst),
        latency: Duration(latency_ms * 1_000_000),
        limit: None,
        peakrate: None,
        mtu: None,
        framing: Default::default(),
    }
}

#[test]
fn kernel_tbf() {
    sandboxed("kernel_tbf", || {
        let psched = Psched::read().unwrap();
        let (index, ours, twin) = veth_pair("ktbf");
        let mut rtnl = Rtnl::new();
        let cases = [
            (
                tbf(1_000_000, 10 * 1024, 70),
                "rate 1mbit burst 10kb latency 70ms",
            ),
            (
                tbf(5_000_000, 32 * 1024, 400),
                "rate 5mbit burst 32kb latency 400ms",
            ),
            (
                tbf(100_000_000, 125_000, 20),
                "rate 100mbit burst 125000 latency 20ms",
            ),
            (
                tbf(10_000_000_000, 12_500_000, 70),
                "rate 10gbit burst 12500000 latency 70ms",
            ),
            (
                tbf(40_000_000_000, 50_000_000, 70),
                "rate 40gbit burst 50000000 latency 70ms",
            ),
        ];
        for (desired, tc_args) in cases.clone() {
            let spec = QdiscSpec::Tbf(desired.clone());
            rtnl.apply(
                TcRequest::ReplaceQdisc,
                tc::qdisc_message(index, &spec, &psched).unwrap(),
            );
            run(&format!(
                "tc qdisc replace dev {twin} root handle 1: tbf {tc_args}"
            ));

            // What tc shows of ours is what it shows of its own.
            let shown = qdiscs_json(&ours);
            assert_eq!(shown, qdiscs_json(&twin), "{tc_args}");
            let q = &shown[0];
            assert_eq!(
                (
                    q["kind"].as_str(),
                    q["handle"].as_str(),
                    q["root"].as_bool()
                ),
                (Some("tbf"), Some("1:"), Some(true))
            );
            assert_eq!(
                q["options"]["rate"].as_u64(),
                Some(desired.rate.bytes_per_sec()),
                "{tc_args}"
            );

            // The dump decodes to a spec equivalent to the desired one, and the kernel's
            // roundings are the ones predicted.
            let dumped = rtnl.dump(index, RouteNetlinkMessage::GetQueueDiscipline);
            let root = dumped
                .iter()
                .find(|m| m.header.parent.major == 0xffff && m.header.parent.minor == 0xffff)
                .unwrap();
            let decoded = tc::decode_qdisc(root).unwrap();
            assert_eq!(decoded.position, Some(QdiscParent::Root));
            let observed = decoded.spec.expect("a tbf netscript would make");
            assert!(
                tc::equivalent(&spec, &observed, &psched),
                "{tc_args}: {observed:?}"
            );
            let params = TbfParams::new(&desired, &psched).unwrap();
            let options = kernel_options(root);
            assert_eq!(
                TbfState::parse(&options).unwrap(),
                TbfState::predict(&params),
                "{tc_args}"
            );

            // …and a different desire is not mistaken for it.
            for other in [
                Tbf {
                    burst: Size(desired.burst.0 + 1024),
                    ..desired.clone()
                },
                Tbf {
                    latency: Duration(desired.latency.0 + 5_000_000),
                    ..desired.clone()
                },
                Tbf {
                    rate: Rate(desired.rate.0 + 8_000),
                    ..desired.clone()
                },
            ] {
                assert!(
                    !tc::equivalent(&QdiscSpec::Tbf(other.clone()), &observed, &psched),
                    "{other:?} vs {observed:?}"
                );
            }
        }
        // The values tc prints for the walkthrough example, as numbers.
        rtnl.apply(
            TcRequest::ReplaceQdisc,
            tc::qdisc_message(index, &QdiscSpec::Tbf(cases[0].0.clone()), &psched).unwrap(),
        );
        let q = &qdiscs_json(&ours)[0];
        assert_eq!(
            q["options"],
            serde_json::json!({"rate": 125000, "burst": 10240, "lat": 70000})
        );
        // The decoding is exact for it.
        let dumped = rtnl.dump(index, RouteNetlinkMessage::GetQueueDiscipline);
        let root = dumped
            .iter()
            .find(|m| tc::decode_qdisc(m).unwrap().position == Some(QdiscParent::Root))
            .unwrap();
        assert_eq!(
            tc::decode_qdisc(root).unwrap().spec,
            Some(QdiscSpec::Tbf(cases[0].0.clone()))
        );

        rtnl.apply(
            TcRequest::DelQdisc,
            tc::qdisc_delete_message(index, QdiscParent::Root),
        );
        assert!(qdiscs_json(&ours)[0]["kind"] != "tbf");
    });
}

/// The TCA_OPTIONS payload of a dumped message.
fn kernel_options(msg: &TcMessage) -> Vec<u8> {
    use netlink_packet_core::Emitable;
    let mut bytes = vec![0; msg.buffer_len()];
    msg.emit(&mut bytes);
    // After the 20-byte tcmsg, walk the attributes to TCA_OPTIONS (2).
    let mut at = 20;
    while at + 4 <= bytes.len() {
        let len = u16::from_ne_bytes([bytes[at], bytes[at + 1]]) as usize;
        let kind = u16::from_ne_bytes([bytes[at + 2], bytes[at + 3]]) & 0x3fff;
        if kind == 2 {
            // netlink-packet-route wraps unknown kinds' options in one more attribute.
            let inner = &bytes[at + 4..at + len];
            let inner_len = u16::from_ne_bytes([inner[0], inner[1]]) as usize;
            return inner[4..inner_len].to_vec();
        }
        at += (len + 3) & !3;
    }
    panic!("no TCA_OPTIONS");
}

fn class(id: u32, parent: Option<u32>, rate: u64, ceil: u64, prio: Option<u32>) -> ClassSpec {
    ClassSpec {
        id,
        parent,
        rate: Rate(rate),
        ceil: Rate(ceil),
        prio,
        burst: None,
        cburst: None,
        quantum: None,
        mtu: None,
        framing: Default::default(),
    }
}

#[test]
fn kernel_htb_classes_and_filters() {
    sandboxed("kernel_htb_classes_and_filters", || {
        let psched = Psched::read().unwrap();
        let (index, ours, twin) = veth_pair("khtb");
        let mut rtnl = Rtnl::new();
        rtnl.apply(
            TcRequest::AddQdisc,
            tc::qdisc_message(
                index,
                &QdiscSpec::Htb { default_class: 0x20, r2q: None, direct_qlen: None },
                &psched,
            )
            .unwrap(),
        );
        run(&format!(
            "tc qdisc add dev {twin} root handle 1: htb default 20"
        ));
        assert_eq!(qdiscs_json(&ours), qdiscs_json(&twin));
        assert_eq!(qdiscs_json(&ours)[0]["options"]["default"], "0x20");

        let classes = [
            (
                class(0x1, None, 10_000_000, 10_000_000, Some(3)),
                "parent 1: classid 1:1 htb rate 10mbit prio 3",
            ),
            (
                class(0x10, Some(0x1), 1_000_000, 1_000_000, None),
                "parent 1:1 classid 1:10 htb rate 1mbit",
            ),
            (
                class(0x20, Some(0x1), 2_000_000, 5_000_000, Some(2)),
                "parent 1:1 classid 1:20 htb rate 2mbit ceil 5mbit prio 2",
            ),
            (
                class(0x40, None, 40_000_000_000, 100_000_000_000, None),
                "parent 1: classid 1:40 htb rate 40gbit ceil 100gbit",
            ),
        ];
        for (spec, tc_args) in &classes {
            rtnl.apply(
                TcRequest::AddClass,
                tc::class_message(index, spec, &psched).unwrap(),
            );
            run(&format!("tc class add dev {twin} {tc_args}"));
        }
        assert_eq!(classes_text(&ours), classes_text(&twin));
        assert!(
            classes_text(&ours)
                .iter()
                .any(|l| l.starts_with("class htb 1:20 parent 1:1 prio 2 ")
                    && l.contains("rate 2Mbit ceil 5Mbit"))
        );

        // Decoding the dump gives back the classes.
        let dumped = rtnl.dump(index, RouteNetlinkMessage::GetTrafficClass);
        for (desired, tc_args) in &classes {
            let msg = dumped
                .iter()
                .find(|m| m.header.handle.minor as u32 == desired.id)
                .expect(tc_args);
            let observed = tc::decode_class(msg).unwrap().expect("an htb class of 1:");
            assert!(
                tc::class_equivalent(desired, &observed, &psched),
                "{tc_args}: {observed:?}"
            );
            let params = HtbClassParams::new(desired, &psched).unwrap();
            assert_eq!(
                HtbClassState::parse(&kernel_options(msg)).unwrap(),
                HtbClassState::predict(&params),
                "{tc_args}"
            );
            let faster = ClassSpec {
                rate: Rate(desired.rate.0 * 2),
                ..desired.clone()
            };
            assert!(!tc::class_equivalent(&faster, &observed, &psched));
        }

        // Replacing a class changes it in place.
        let changed = class(0x10, Some(0x1), 1_000_000, 3_000_000, Some(1));
        rtnl.apply(
            TcRequest::ReplaceClass,
            tc::class_message(index, &changed, &psched).unwrap(),
        );
        run(&format!(
            "tc class replace dev {twin} parent 1:1 classid 1:10 htb rate 1mbit ceil 3mbit prio 1"
        ));
        assert_eq!(classes_text(&ours), classes_text(&twin));

        let net = |s: &str| Some(s.parse().unwrap());
        let filters = [
            (
                FilterSpec::U32 {
                    ingress: false,
                    action: None,
                    prio: 1,
                    proto: None,
                    src: None,
                    dst: None,
                    sport: None,
                    dport: Some(80),
                    flowid: Some(0x10), link: None, hashkey: None, raw: Vec::new(), ht: None,
                    handle: None,
                },
                "prio 1 u32 match ip dport 80 0xffff flowid 1:10",
            ),
            (
                FilterSpec::U32 {
                    ingress: false,
                    action: None,
                    prio: 2,
                    proto: Some(IpProto::Tcp),
                    src: net("10.0.0.0/8"),
                    dst: None,
                    sport: Some(22),
                    dport: None,
                    flowid: Some(0x20), link: None, hashkey: None, raw: Vec::new(), ht: None,
                    handle: None,
                },
                "prio 2 u32 match ip protocol 6 0xff match ip src 10.0.0.0/8 match ip sport 22 0xffff flowid 1:20",
            ),
            (
                FilterSpec::U32 {
                    ingress: false,
                    action: None,
                    prio: 3,
                    proto: Some(IpProto::Icmp),
                    src: None,
                    dst: net("192.168.7.0/24"),
                    sport: None,
                    dport: None,
                    flowid: Some(0x10), link: None, hashkey: None, raw: Vec::new(), ht: None,
                    handle: None,
                },
                "prio 3 u32 match ip protocol 1 0xff match ip dst 192.168.7.0/24 flowid 1:10",
            ),
            (
                FilterSpec::U32 {
                    ingress: false,
                    action: None,
                    prio: 4,
                    proto: Some(IpProto::Udp),
                    src: net("10.0.0.0/24"),
                    dst: net("10.1.0.0/16"),
                    sport: Some(5000),
                    dport: Some(53),
                    flowid: Some(0x20), link: None, hashkey: None, raw: Vec::new(), ht: None,
                    handle: None,
                },
                "prio 4 u32 match ip protocol 17 0xff match ip src 10.0.0.0/24 match ip dst 10.1.0.0/16 match ip sport 5000 0xffff match ip dport 53 0xffff flowid 1:20",
            ),
            (
                FilterSpec::U32 {
                    ingress: false,
                    action: None,
                    prio: 5,
                    proto: None,
                    src: None,
                    dst: None,
                    sport: None,
                    dport: Some(443),
                    flowid: Some(0x10), link: None, hashkey: None, raw: Vec::new(), ht: None,
                    handle: Some(0x10),
                },
                "prio 5 handle ::10 u32 match ip dport 443 0xffff flowid 1:10",
            ),
        ];
        for (spec, tc_args) in &filters {
            rtnl.apply(
                TcRequest::AddFilter,
                tc::filter_message(index, spec, None).unwrap(),
            );
            run(&format!(
                "tc filter add dev {twin} parent 1: protocol ip {tc_args}"
            ));
        }
        let shown = filters_json(&ours, "");
        assert_eq!(shown, filters_json(&twin, ""));
        let dport = shown
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["pref"] == 1 && f["options"]["flowid"] == "1:10")
            .unwrap();
        assert_eq!(
            dport["options"]["match"],
            serde_json::json!({"value": "50", "mask": "ffff", "offmask": "", "off": 20})
        );

        // Deleting a filter, a class, the qdisc.
        rtnl.apply(
            TcRequest::DelFilter,
            tc::filter_delete_message(index, &filters[0].0).unwrap(),
        );
        assert!(
            !filters_json(&ours, "")
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["pref"] == 1)
        );
        rtnl.apply(
            TcRequest::DelClass,
            tc::class_delete_message(index, 0x40).unwrap(),
        );
        assert!(!classes_text(&ours).iter().any(|l| l.contains(" 1:40 ")));
        rtnl.apply(
            TcRequest::DelQdisc,
            tc::qdisc_delete_message(index, QdiscParent::Root),
        );
        assert!(classes_text(&ours).is_empty());
    });
}

#[test]
fn kernel_ingress_redirect_and_clsact() {
    sandboxed("kernel_ingress_redirect_and_clsact", || {
        let psched = Psched::read().unwrap();
        let (index, ours, twin) = veth_pair("king");
        run("ip link add kingifb type ifb && ip link set kingifb up");
        let ifb_index = ifindex("kingifb") as u32;
        let mut rtnl = Rtnl::new();

        rtnl.apply(
            TcRequest::AddQdisc,
            tc::qdisc_message(index, &QdiscSpec::Ingress, &psched).unwrap(),
        );
        run(&format!("tc qdisc add dev {twin} ingress"));
        assert_eq!(qdiscs_json(&ours), qdiscs_json(&twin));
        let redirect = FilterSpec::MirredToIfb {
            ifb: "kingifb".to_string(),
        };
        rtnl.apply(
            TcRequest::AddFilter,
            tc::filter_message(index, &redirect, Some(ifb_index)).unwrap(),
        );
        run(&format!(
            "tc filter add dev {twin} parent ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev kingifb"
        ));
        let shown = filters_json(&ours, "ingress");
        assert_eq!(shown, filters_json(&twin, "ingress"));
        let action = shown
            .as_array()
            .unwrap()
            .iter()
            .find_map(|f| f.pointer("/options/actions/0"))
            .expect("the mirred action");
        assert_eq!(action["kind"], "mirred");
        assert_eq!(action["mirred_action"], "redirect");
        assert_eq!(action["direction"], "egress");
        assert_eq!(action["to_dev"], "kingifb");

        // The ingress qdisc decodes as such.
        let dumped = rtnl.dump(index, RouteNetlinkMessage::GetQueueDiscipline);
        let specs: Vec<_> = dumped
            .iter()
            .filter_map(|m| tc::decode_qdisc(m).unwrap().spec)
            .collect();
        assert_eq!(specs, vec![QdiscSpec::Ingress]);

        rtnl.apply(
            TcRequest::DelFilter,
            tc::filter_delete_message(index, &redirect).unwrap(),
        );
        assert_eq!(filters_json(&ours, "ingress"), serde_json::json!([]));
        rtnl.apply(
            TcRequest::DelQdisc,
            tc::qdisc_delete_message(index, QdiscParent::Ingress),
        );
        assert!(
            !qdiscs_json(&ours)
                .as_array()
                .unwrap()
                .iter()
                .any(|q| q["kind"] == "ingress")
        );

        // clsact takes the same place.
        rtnl.apply(
            TcRequest::AddQdisc,
            tc::qdisc_message(index, &QdiscSpec::Clsact, &psched).unwrap(),
        );
        run(&format!(
            "tc qdisc del dev {twin} ingress && tc qdisc add dev {twin} clsact"
        ));
        assert_eq!(qdiscs_json(&ours), qdiscs_json(&twin));
        let dumped = rtnl.dump(index, RouteNetlinkMessage::GetQueueDiscipline);
        let specs: Vec<_> = dumped
            .iter()
            .filter_map(|m| tc::decode_qdisc(m).unwrap().spec)
            .collect();
        assert_eq!(specs, vec![QdiscSpec::Clsact]);
        rtnl.apply(
            TcRequest::DelQdisc,
            tc::qdisc_delete_message(index, QdiscParent::Clsact),
        );
        assert!(
            !qdiscs_json(&ours)
                .as_array()
                .unwrap()
                .iter()
                .any(|q| q["kind"] == "clsact")
        );
    });
}

#[test]
fn kernel_netem_like_tc() {
    sandboxed("kernel_netem_like_tc", || {
        let psched = Psched::read().unwrap();
        let (index, ours, twin) = veth_pair("knet");
        let mut rtnl = Rtnl::new();
        let spec = QdiscSpec::Netem(Netem {
            delay: Duration(100_000_000),
            jitter: Some(Duration(10_000_000)),
            loss: Some(Percent(1.0)),
            rate: Some(Rate(1_000_000)),
            limit: Some(200),
            duplicate: Some(Percent(1.0)),
            corrupt: Some(Percent(0.5)),
            reorder: Some(Percent(25.0)),
            gap: Some(5),
            slot: None,
            loss_model: None,
            distribution: None,
        });
        let errno = rtnl.request(
            TcRequest::ReplaceQdisc,
            tc::qdisc_message(index, &spec, &psched).unwrap(),
        );
        let tc_cmd = format!(
            "tc qdisc replace dev {twin} root handle 1: netem delay 100ms 10ms loss 1% rate 1mbit limit 200 duplicate 1% corrupt 0.5% reorder 25% gap 5"
        );
        let tc_ok = Command::new("sh")
            .args(["-c", &tc_cmd])
            .status()
            .unwrap()
            .success();
        // The kernel treats ours as it treated tc's, whether it has netem or not. Our
        // bytes equal tc's on any kernel: tc_parity::netem_variants.
        if tc_ok {
            assert_eq!(errno, 0);
            assert_eq!(qdiscs_json(&ours), qdiscs_json(&twin));
            let dumped = rtnl.dump(index, RouteNetlinkMessage::GetQueueDiscipline);
            let observed = dumped
                .iter()
                .find_map(|m| tc::decode_qdisc(m).unwrap().spec)
                .unwrap();
            assert!(tc::equivalent(&spec, &observed, &psched), "{observed:?}");
        } else {
            // The full-kernel lane's kernel has netem (scripts/full-kernel.sh sets this).
            assert_ne!(
                std::env::var("NETSCRIPT_FULL_KERNEL").as_deref(),
                Ok("1"),
                "the full-kernel lane's kernel refused `{tc_cmd}`"
            );
            // No netem (CONFIG_NET_SCH_NETEM unset): ours is refused as tc's was,
            // "Specified qdisc kind is unknown", and nothing is left on either link.
            assert_eq!(errno, 2, "ENOENT");
            assert_eq!(qdiscs_json(&ours), qdiscs_json(&twin));
        }
    });
}
