//! Parity with iproute2: every message netscript builds is compared, byte for byte, with
//! what `tc` itself sent for the same command. The fixtures were captured with strace by
//! `tests/fixtures/tc/capture.sh` (each names its tc command in its header); only the
//! interface index differs between the two, and the sequence number is zeroed in both.

use ipnet::IpNet;
use netlink_packet_route::tc::TcMessage;
use netscript::exec::tc::{
    Psched, TcRequest, class_delete_message, class_message, filter_delete_message, filter_message,
    qdisc_delete_message, qdisc_message,
};
use netscript::model::{Framing, IpProto, LinkLayer, Netem, Tbf};
use netscript::plan::action::{ClassSpec, FilterSpec, QdiscParent, QdiscSpec};
use netscript::units::{Duration, Percent, Rate, Size};

/// Offset of `tcm_ifindex`: after the 16-byte nlmsghdr, family (1), pads (3).
const IFINDEX_AT: std::ops::Range<usize> = 20..24;
const SEQ_AT: std::ops::Range<usize> = 8..12;

struct Fixture {
    tc_command: String,
    ifb_ifindex: Option<u32>,
    bytes: Vec<u8>,
}

fn fixture(name: &str) -> Fixture {
    let path = format!(
        "{}/tests/fixtures/tc/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut tc_command = None;
    let mut ifb_ifindex = None;
    let mut hex = String::new();
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("# tc: ") {
            tc_command = Some(cmd.to_string());
        } else if let Some(index) = line.strip_prefix("# ifb_ifindex: ") {
            ifb_ifindex = Some(index.parse().unwrap());
        } else if !line.starts_with('#') {
            hex.push_str(line.trim());
        }
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    Fixture {
        tc_command: tc_command.expect("fixture names its tc command"),
        ifb_ifindex,
        bytes,
    }
}

/// Hex dump with offsets, for readable failures.
fn dump(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, c)| {
            format!(
                "{:05x}  {}\n",
                i * 16,
                c.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        })
        .collect()
}

fn assert_parity(name: &str, request: TcRequest, msg: TcMessage) {
    let fixture = fixture(name);
    let mut ours = vec![0u8; 0];
    let nl = request.into_netlink(msg);
    ours.resize(nl.buffer_len(), 0);
    nl.serialize(&mut ours);
    let mut theirs = fixture.bytes.clone();
    for bytes in [&mut ours, &mut theirs] {
        assert!(bytes.len() >= 36, "{name}: too short");
        bytes[IFINDEX_AT].fill(0);
        bytes[SEQ_AT].fill(0);
    }
    if ours != theirs {
        let first = ours
            .iter()
            .zip(&theirs)
            .position(|(a, b)| a != b)
            .unwrap_or(ours.len().min(theirs.len()));
        panic!(
            "{name}: netscript differs from `{}` (lengths {} vs {}, first difference at byte {first:#x})\nnetscript:\n{}tc:\n{}",
            fixture.tc_command,
            ours.len(),
            theirs.len(),
            dump(&ours),
            dump(&theirs)
        );
    }
}

const IFINDEX: i32 = 7;
const P: Psched = Psched::HIGH_RES;

fn tbf(rate: u64, burst: u64, latency_ms: u64) -> QdiscSpec {
    QdiscSpec::Tbf(Tbf {
        rate: Rate(rate),
        burst: Size(burst),
        latency: Duration(latency_ms * 1_000_000),
        limit: None,
        peakrate: None,
        mtu: None,
        framing: Framing::default(),
    })
}

fn qdisc(name: &str, spec: QdiscSpec) {
    assert_parity(
        name,
        TcRequest::AddQdisc,
        qdisc_message(IFINDEX, &spec, &P).unwrap(),
    );
}

#[test]
fn tbf_1mbit_10kb_70ms() {
    qdisc("tbf_1mbit", tbf(1_000_000, 10 * 1024, 70));
}

#[test]
fn tbf_other_latencies() {
    qdisc("tbf_5mbit_400ms", tbf(5_000_000, 32 * 1024, 400));
    qdisc("tbf_100mbit_20ms", tbf(100_000_000, 125_000, 20));
}

#[test]
fn tbf_10gbit_still_fits_32_bits() {
    // 10 Gbit/s is 1.25e9 bytes/s: below 2^32, so no TCA_TBF_RATE64.
    qdisc("tbf_10gbit", tbf(10_000_000_000, 12_500_000, 70));
}

#[test]
fn tbf_40gbit_sends_rate64() {
    qdisc("tbf_40gbit", tbf(40_000_000_000, 50_000_000, 70));
}

#[test]
fn tbf_replace_flags() {
    let msg = qdisc_message(IFINDEX, &tbf(1_000_000, 10 * 1024, 70), &P).unwrap();
    assert_parity("tbf_replace", TcRequest::ReplaceQdisc, msg);
}

#[test]
fn htb_qdisc() {
    qdisc(
        "htb_default",
        QdiscSpec::Htb { default_class: 0x20, r2q: None, direct_qlen: None },
    );
    qdisc("htb_no_default", QdiscSpec::Htb { default_class: 0, r2q: None, direct_qlen: None });
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
        framing: Framing::default(),
    }
}

#[test]
fn htb_classes() {
    let add = |name, c: ClassSpec| {
        assert_parity(
            name,
            TcRequest::AddClass,
            class_message(IFINDEX, &c, &P).unwrap(),
        )
    };
    add("class_rate", class(0x10, None, 1_000_000, 1_000_000, None));
    add(
        "class_rate_ceil",
        class(0x20, Some(1), 2_000_000, 5_000_000, None),
    );
    add("class_prio", class(0x30, None, 500_000, 500_000, Some(2)));
    add(
        "class_10gbit",
        class(0x50, None, 10_000_000_000, 10_000_000_000, None),
    );
}

#[test]
fn htb_class_64bit_rate_and_ceil() {
    let c = class(0x40, None, 40_000_000_000, 100_000_000_000, None);
    assert_parity(
        "class_64bit",
        TcRequest::AddClass,
        class_message(IFINDEX, &c, &P).unwrap(),
    );
}

#[test]
fn htb_class_replace_flags() {
    let c = class(0x10, None, 1_000_000, 2_000_000, Some(1));
    assert_parity(
        "class_replace",
        TcRequest::ReplaceClass,
        class_message(IFINDEX, &c, &P).unwrap(),
    );
}

fn net(s: &str) -> Option<IpNet> {
    Some(s.parse().unwrap())
}

fn u32_filter(
    prio: u32,
    proto: Option<IpProto>,
    src: Option<IpNet>,
    dst: Option<IpNet>,
    sport: Option<u16>,
    dport: Option<u16>,
    flowid: u32,
) -> FilterSpec {
    FilterSpec::U32 {
        ingress: false,
        action: None,
        prio,
        proto,
        src,
        dst,
        sport,
        dport,
        flowid: Some(flowid),
        link: None,
        hashkey: None, raw: Vec::new(), ht: None,
        handle: None,
    }
}

fn filter(name: &str, spec: FilterSpec) {
    assert_parity(
        name,
        TcRequest::AddFilter,
        filter_message(IFINDEX, &spec, None).unwrap(),
    );
}

#[test]
fn u32_single_matches() {
    filter(
        "u32_dport",
        u32_filter(1, None, None, None, None, Some(80), 0x10),
    );
    filter(
        "u32_sport",
        u32_filter(2, None, None, None, Some(22), None, 0x20),
    );
    filter(
        "u32_src",
        u32_filter(3, None, net("10.0.0.0/8"), None, None, None, 0x10),
    );
    filter(
        "u32_dst",
        u32_filter(4, None, None, net("192.168.1.5/32"), None, None, 0x10),
    );
}

/// `filter prio 12 handle 10 dport 443 -> 10`: tc sends the node id alone in tcm_handle.
#[test]
fn u32_prio_and_handle() {
    let spec = match u32_filter(12, None, None, None, None, Some(443), 0x10) {
        FilterSpec::U32 { prio, proto, src, dst, sport, dport, flowid, .. } => FilterSpec::U32 { ingress: false, prio, proto, src, dst, sport, dport, flowid, handle: Some(0x10), action: None, link: None, hashkey: None, raw: Vec::new(), ht: None },
        other => other,
    };
    filter("u32_handle", spec);
}

#[test]
fn u32_protocols() {
    filter(
        "u32_tcp",
        u32_filter(5, Some(IpProto::Tcp), None, None, None, None, 0x10),
    );
    filter(
        "u32_udp",
        u32_filter(6, Some(IpProto::Udp), None, None, None, None, 0x10),
    );
    filter(
        "u32_icmp",
        u32_filter(7, Some(IpProto::Icmp), None, None, None, None, 0x10),
    );
}

#[test]
fn u32_combined_matches_share_the_ports_key() {
    filter(
        "u32_ports",
        u32_filter(8, None, None, None, Some(1024), Some(443), 0x20),
    );
    filter(
        "u32_combined",
        u32_filter(
            9,
            Some(IpProto::Udp),
            net("10.0.0.0/24"),
            net("10.1.0.0/16"),
            Some(5000),
            Some(53),
            0x30,
        ),
    );
}

#[test]
fn u32_without_matches_is_match_u32_0_0() {
    filter(
        "u32_all",
        u32_filter(10, None, None, None, None, None, 0x10),
    );
}

fn netem(delay_ms: u64, jitter_ms: Option<u64>, loss: Option<f64>, rate: Option<u64>) -> QdiscSpec {
    QdiscSpec::Netem(Netem {
        delay: Duration(delay_ms * 1_000_000),
        jitter: jitter_ms.map(|j| Duration(j * 1_000_000)),
        loss: loss.map(Percent),
        rate: rate.map(Rate),
        ..Netem::delay(Duration(0))
    })
}

/// `netem delay 10ms limit 200 duplicate 1% corrupt 0.5% reorder 25% gap 5 rate 1mbit`,
/// and a reorder without a gap (tc sends gap 1).
#[test]
fn netem_finer_options() {
    let finer = Netem {
        limit: Some(200),
        duplicate: Some(Percent(1.0)),
        corrupt: Some(Percent(0.5)),
        reorder: Some(Percent(25.0)),
        gap: Some(5),
        rate: Some(Rate(1_000_000)),
        ..Netem::delay(Duration(10_000_000))
    };
    qdisc("netem_finer", QdiscSpec::Netem(finer));
    qdisc("netem_reorder", QdiscSpec::Netem(Netem { reorder: Some(Percent(10.0)), ..Netem::delay(Duration(10_000_000)) }));
}

#[test]
fn netem_variants() {
    qdisc("netem_delay", netem(100, None, None, None));
    qdisc("netem_jitter", netem(100, Some(10), None, None));
    qdisc("netem_loss", netem(50, None, Some(1.0), None));
    qdisc("netem_loss_fraction", netem(0, None, Some(0.25), None));
    qdisc("netem_rate", netem(10, None, None, Some(1_000_000)));
    qdisc(
        "netem_all",
        netem(100, Some(20), Some(0.5), Some(40_000_000_000)),
    );
}

#[test]
fn ingress_and_clsact() {
    qdisc("ingress", QdiscSpec::Ingress);
    qdisc("clsact", QdiscSpec::Clsact);
}

#[test]
fn mirred_redirect_to_ifb() {
    let fixture = fixture("mirred_to_ifb");
    let spec = FilterSpec::MirredToIfb {
        ifb: "ifb0".to_string(),
    };
    let msg = filter_message(IFINDEX, &spec, fixture.ifb_ifindex).unwrap();
    assert_parity("mirred_to_ifb", TcRequest::AddFilter, msg);
    assert!(
        filter_message(IFINDEX, &spec, None).is_err(),
        "the ifb's index is required"
    );
}

#[test]
fn deletions() {
    let del = |name, msg| assert_parity(name, TcRequest::DelQdisc, msg);
    del("del_root", qdisc_delete_message(IFINDEX, QdiscParent::Root));
    del(
        "del_ingress",
        qdisc_delete_message(IFINDEX, QdiscParent::Ingress),
    );
    del(
        "del_clsact",
        qdisc_delete_message(IFINDEX, QdiscParent::Clsact),
    );
    assert_parity(
        "del_class",
        TcRequest::DelClass,
        class_delete_message(IFINDEX, 0x10).unwrap(),
    );
    let u32_spec = u32_filter(5, None, None, None, None, Some(80), 0x10);
    assert_parity(
        "del_filter",
        TcRequest::DelFilter,
        filter_delete_message(IFINDEX, &u32_spec).unwrap(),
    );
    let redirect = FilterSpec::MirredToIfb {
        ifb: "ifb0".to_string(),
    };
    assert_parity(
        "del_filter_ingress",
        TcRequest::DelFilter,
        filter_delete_message(IFINDEX, &redirect).unwrap(),
    );
}

/// The same u32 filter on the ingress qdisc (`qdisc ingress < filter … >`): tc's
/// `parent ffff: protocol ip prio P u32 …` (u32.json afa9's match, without the action).
fn on_ingress(spec: FilterSpec, node: Option<u32>) -> FilterSpec {
    match spec {
        FilterSpec::U32 { prio, proto, src, dst, sport, dport, flowid, .. } => FilterSpec::U32 { ingress: true, prio, proto, src, dst, sport, dport, flowid, handle: node, action: None, link: None, hashkey: None, raw: Vec::new(), ht: None },
        other => other,
    }
}

#[test]
fn u32_filters_on_the_ingress_qdisc() {
    filter("u32_ingress_src", on_ingress(u32_filter(1, None, net("127.0.0.1/32"), None, None, None, 1), None));
    filter("u32_ingress_handle", on_ingress(u32_filter(7, Some(IpProto::Tcp), None, None, None, Some(22), 5), Some(0x20)));
    assert_parity(
        "del_u32_ingress",
        TcRequest::DelFilter,
        filter_delete_message(IFINDEX, &on_ingress(u32_filter(7, None, None, None, None, Some(22), 5), None)).unwrap(),
    );
}

/// A u32 hash table on the ingress qdisc (u32.json 648b), and its deletion by handle.
#[test]
fn u32_hash_table_on_the_ingress_qdisc() {
    let table = FilterSpec::U32Table { prio: 99, table: 0x42, divisor: 256 };
    filter("u32_ingress_table", table.clone());
    assert_parity("del_u32_ingress_table", TcRequest::DelFilter, filter_delete_message(IFINDEX, &table).unwrap());
}

/// A filter that links to a hash table, hashing on a byte of the source address
/// (u32.json 1644): no flowid, so no TERMINAL flag.
#[test]
fn u32_link_with_hashkey() {
    let linking = FilterSpec::U32 {
        ingress: true,
        prio: 98,
        proto: None,
        src: net("192.168.0.0/16"),
        dst: None,
        sport: None,
        dport: None,
        flowid: None,
        link: Some(0x43),
        hashkey: Some(netscript::model::HashKey { mask: 0x0000_ff00, at: 12 }),
        handle: None,
        action: None,
        raw: Vec::new(),
        ht: None,
    };
    filter("u32_ingress_link", linking);
}

/// A filter placed in a hash table's bucket by `sample` (u32.json 0692), protocol all,
/// with `match u8 0 0` and its node id (netscript always sends it: tc's `handle ::800`),
/// and its deletion by its whole handle `1:40:800`.
#[test]
fn u32_filter_in_a_hash_table() {
    use netscript::model::{KeyWidth, RawKey, U32Place};
    let bucket = RawKey::packed(KeyWidth::U32, 0x1020_3040, 0xff, 0).sample_bucket();
    assert_eq!(bucket, 0x40);
    let placed = FilterSpec::U32 {
        ingress: true,
        prio: 99,
        proto: None,
        src: None,
        dst: None,
        sport: None,
        dport: None,
        flowid: Some(1),
        link: None,
        hashkey: None,
        handle: Some(0x800),
        action: None,
        raw: vec![RawKey::packed(KeyWidth::U8, 0, 0, 0)],
        ht: Some(U32Place { table: 1, bucket }),
    };
    filter("u32_ingress_ht_sample", placed.clone());
    assert_parity("del_u32_ingress_ht", TcRequest::DelFilter, filter_delete_message(IFINDEX, &placed).unwrap());
}

/// Raw keys after a named match (`match u16 0x1234 0xffff at 2 match u8 1 0xff at 15`):
/// the u8 merges into the key of `src`, as tc packs it.
#[test]
fn u32_raw_keys() {
    use netscript::model::{KeyWidth, RawKey};
    let raw = FilterSpec::U32 {
        ingress: true,
        prio: 3,
        proto: None,
        src: net("10.0.0.0/8"),
        dst: None,
        sport: None,
        dport: None,
        flowid: Some(2),
        link: None,
        hashkey: None,
        handle: None,
        action: None,
        raw: vec![RawKey::packed(KeyWidth::U16, 0x1234, 0xffff, 2), RawKey::packed(KeyWidth::U8, 1, 0xff, 15)],
        ht: None,
    };
    filter("u32_ingress_raw", raw);
}

/// `action ok|drop|continue|reclassify` (gact) after the flowid, as u32.json afa9 writes
/// it: tc sends the action list before the selector.
#[test]
fn u32_gact_verdicts() {
    use netscript::model::FilterVerdict;
    let with = |spec: FilterSpec, verdict| match spec {
        FilterSpec::U32 { ingress, prio, proto, src, dst, sport, dport, flowid, handle, link, hashkey, raw, ht, .. } => FilterSpec::U32 { ingress, prio, proto, src, dst, sport, dport, flowid, handle, action: Some(verdict), link, hashkey, raw, ht },
        other => other,
    };
    filter("u32_ingress_action_ok", with(on_ingress(u32_filter(1, None, net("127.0.0.1/32"), None, None, None, 1), None), FilterVerdict::Ok));
    filter("u32_ingress_action_drop", with(on_ingress(u32_filter(2, None, None, None, None, Some(23), 2), None), FilterVerdict::Drop));
    filter("u32_ingress_action_continue", with(on_ingress(u32_filter(3, Some(IpProto::Udp), None, None, None, None, 3), None), FilterVerdict::Continue));
    filter("u32_ingress_action_reclassify", with(on_ingress(u32_filter(4, None, None, net("10.0.0.0/8"), None, None, 4), None), FilterVerdict::Reclassify));
}

/// A fixture-based test must be able to fail: a one-unit change anywhere is caught.
#[test]
fn parity_detects_small_differences() {
    for spec in [
        tbf(1_000_000, 10 * 1024 + 1, 70),
        tbf(1_000_000, 10 * 1024, 71),
        tbf(1_000_008, 10 * 1024, 70),
    ] {
        let msg = qdisc_message(IFINDEX, &spec, &P).unwrap();
        let result =
            std::panic::catch_unwind(|| assert_parity("tbf_1mbit", TcRequest::AddQdisc, msg));
        assert!(
            result.is_err(),
            "{spec:?} must differ from tc's 1mbit/10kb/70ms"
        );
    }
}

// ------------------------------------------------ tc's finer options (issue 24)

fn tbf_with(rate: u64, burst: u64, latency_ms: u64, limit: Option<u64>, peak: Option<u64>, mtu: Option<u64>) -> QdiscSpec {
    QdiscSpec::Tbf(Tbf {
        latency: Duration(if limit.is_some() { 0 } else { latency_ms * 1_000_000 }),
        limit: limit.map(Size),
        peakrate: peak.map(Rate),
        mtu: mtu.map(Size),
        ..Tbf::new(Rate(rate), Size(burst), Duration(0))
    })
}

#[test]
fn tbf_limit_peakrate_mtu() {
    qdisc("tbf_limit", tbf_with(1_000_000, 10 * 1024, 0, Some(30_000), None, None));
    qdisc("tbf_mtu", tbf_with(1_000_000, 10 * 1024, 50, None, None, Some(9000)));
    qdisc("tbf_peakrate", tbf_with(1_000_000, 10 * 1024, 70, None, Some(2_000_000), Some(1514)));
    qdisc("tbf_peakrate_limit", tbf_with(10_000_000, 20 * 1024, 0, Some(100 * 1024), Some(40_000_000), Some(2048)));
    qdisc("tbf_peak64", tbf_with(10_000_000_000, 12_500_000, 10, None, Some(40_000_000_000), Some(64 * 1024)));
}

#[test]
fn htb_r2q_direct_qlen() {
    qdisc("htb_r2q", QdiscSpec::Htb { default_class: 0x20, r2q: Some(5), direct_qlen: Some(64) });
}

#[test]
fn htb_class_bursts_quantum_mtu() {
    let bursts = ClassSpec {
        burst: Some(Size(15 * 1024)),
        cburst: Some(Size(20 * 1024)),
        quantum: Some(3000),
        mtu: Some(9000),
        ..class(0x10, None, 1_000_000, 2_000_000, None)
    };
    assert_parity("class_bursts", TcRequest::AddClass, class_message(IFINDEX, &bursts, &P).unwrap());
    let mtu = ClassSpec { mtu: Some(1500), ..class(0x10, None, 10_000_000, 10_000_000, None) };
    assert_parity("class_mtu", TcRequest::AddClass, class_message(IFINDEX, &mtu, &P).unwrap());
}

// ------------------------------------------------ tc's framing of a rate (issue 24)

#[test]
fn tbf_overhead_mpu_linklayer() {
    let framed = |spec: QdiscSpec, framing: Framing| match spec {
        QdiscSpec::Tbf(t) => QdiscSpec::Tbf(Tbf { framing, ..t }),
        other => other,
    };
    let overhead = Framing { overhead: 300, ..Framing::default() };
    qdisc("tbf_overhead", framed(tbf_with(20_000, 1500, 0, Some(1000), None, None), overhead));
    let atm = Framing { overhead: 10, mpu: 64, linklayer: LinkLayer::Atm };
    qdisc("tbf_atm", framed(tbf(1_000_000, 10 * 1024, 70), atm));
    let peak = Framing { overhead: 24, mpu: 96, linklayer: LinkLayer::Atm };
    qdisc("tbf_framed_peak", framed(tbf_with(1_000_000, 10 * 1024, 70, None, Some(2_000_000), Some(1514)), peak));
}

#[test]
fn htb_class_overhead_mpu_linklayer() {
    let framing = Framing { overhead: 40, mpu: 64, linklayer: LinkLayer::Atm };
    let spec = ClassSpec { framing, ..class(0x10, None, 1_000_000, 2_000_000, None) };
    assert_parity("class_framing", TcRequest::AddClass, class_message(IFINDEX, &spec, &P).unwrap());
}

/// netem's `slot` (issue 24): `slot 800us 1ms packets 32 bytes 64kb` among other options
/// (tc puts TCA_NETEM_SLOT between corrupt and rate), and `slot 2ms` (max = min).
#[test]
fn netem_slot() {
    let slot = |min_us: u64, max_us: u64, packets, bytes| Some(netscript::model::NetemSlot { packets, bytes, ..netscript::model::NetemSlot::range(Duration(min_us * 1000), Duration(max_us * 1000)) });
    let full = Netem { corrupt: Some(Percent(1.0)), rate: Some(Rate(1_000_000)), slot: slot(800, 1000, Some(32), Some(64 * 1024)), ..Netem::delay(Duration(10_000_000)) };
    qdisc("netem_slot", QdiscSpec::Netem(full));
    qdisc("netem_slot_min", QdiscSpec::Netem(Netem { slot: slot(2000, 2000, None, None), ..Netem::delay(Duration(0)) }));
}

/// netem's loss models (issue 24): `loss state …` and `loss gemodel …`, with tc's
/// positional defaults (computed as q_netem.c does) and with every parameter.
#[test]
fn netem_loss_models() {
    use netscript::model::LossModel;
    let p = |v: f64| Some(Percent(v));
    let state = |rest| Netem { loss_model: Some(LossModel::State { p13: Percent(1.0), rest }), ..Netem::delay(Duration(10_000_000)) };
    qdisc("netem_loss_state", QdiscSpec::Netem(state([None; 4])));
    let all = Netem {
        slot: Some(netscript::model::NetemSlot::range(Duration(1_000_000), Duration(1_000_000))),
        rate: Some(Rate(1_000_000)),
        ..state([p(20.0), p(3.0), p(40.0), p(5.0)])
    };
    qdisc("netem_loss_state_all", QdiscSpec::Netem(all));
    let ge = |delay, rest| Netem { loss_model: Some(LossModel::Gemodel { p: Percent(1.0), rest }), ..Netem::delay(Duration(delay)) };
    qdisc("netem_loss_gemodel", QdiscSpec::Netem(ge(0, [None; 3])));
    qdisc("netem_loss_gemodel_all", QdiscSpec::Netem(ge(5_000_000, [p(10.0), p(70.0), p(0.1)])));
}

/// netem's `distribution` (issue 24, tc-testing 3782, a932, e01a): the table tc reads
/// from iproute2's `NAME.dist`, computed by netscript, sent last (TCA_NETEM_DELAY_DIST,
/// 4096 s16), after corrupt, the loss model and the rate as tc orders them.
#[test]
fn netem_distribution() {
    use netscript::model::{LossModel, NetemDistribution};
    let base = |distribution| Netem { jitter: Some(Duration(10_000_000)), distribution: Some(distribution), ..Netem::delay(Duration(100_000_000)) };
    qdisc("netem_distribution_normal", QdiscSpec::Netem(Netem { corrupt: Some(Percent(1.0)), ..base(NetemDistribution::Normal) }));
    qdisc("netem_distribution_pareto", QdiscSpec::Netem(Netem { loss: Some(Percent(1.0)), rate: Some(Rate(1_000_000)), ..base(NetemDistribution::Pareto) }));
    let state = LossModel::State { p13: Percent(1.0), rest: [None; 4] };
    qdisc("netem_distribution_paretonormal", QdiscSpec::Netem(Netem { loss_model: Some(state), ..base(NetemDistribution::ParetoNormal) }));
}

/// netem's `slot distribution TABLE DELAY JITTER` (tc-testing 5439): the slot's
/// dist_delay and dist_jitter in TCA_NETEM_SLOT (min and max 0), its table sent last as
/// TCA_NETEM_SLOT_DIST, after the delay table.
#[test]
fn netem_slot_distribution() {
    use netscript::model::{NetemDistribution, NetemSlot, SlotSpacing};
    let spaced = |delay, jitter, table| NetemSlot { spacing: Some(SlotSpacing { delay: Duration(delay), jitter: Duration(jitter), table: Some(table) }), ..NetemSlot::range(Duration(0), Duration(0)) };
    qdisc("netem_slot_distribution", QdiscSpec::Netem(Netem { slot: Some(spaced(1_000_000, 100_000, NetemDistribution::Pareto)), ..Netem::delay(Duration(0)) }));
    let slot = NetemSlot { packets: Some(16), bytes: Some(32_768), ..spaced(2_000_000, 500_000, NetemDistribution::ParetoNormal) };
    let all = Netem { jitter: Some(Duration(10_000_000)), distribution: Some(NetemDistribution::Normal), loss: Some(Percent(1.0)), slot: Some(slot), ..Netem::delay(Duration(100_000_000)) };
    qdisc("netem_slot_distribution_all", QdiscSpec::Netem(all));
}
