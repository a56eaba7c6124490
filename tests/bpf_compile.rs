//! The rule compiler (issue 17) against a plain Rust interpreter of the same rules, on
//! real packets in the kernel: random rule lists and random frames (Ethernet, IPv4/IPv6,
//! TCP/UDP/ICMP, random addresses and ports, some truncated, fragmented, VLAN-tagged,
//! ARP or with a bad IHL), each rule list compiled for tc and for XDP, loaded (the
//! verifier must accept every program), each frame run with `BPF_PROG_TEST_RUN`; the
//! verdict, and for tc `skb->mark` and `skb->priority`, must be the interpreter's, and so
//! must the counters in the map after the frames.
//!
//!     NETSCRIPT_BPF_CASES=2000 cargo test --test bpf_compile      # 256 cases by default
//!
//! CI fixes `PROPTEST_RNG_SEED` (scripts/test.sh), so the cases are the same on every run.
//! Needs root (loading programs); touches no network object (test runs only).

use netscript::exec::bpf_raw::{load_compiled, read_counters, test_run};
use netscript::model::{FwAction, FwProto, FwRule};
use netscript::plan::bpfgen::{Target, compile};
use ipnet::IpNet;
use proptest::prelude::*;
use std::net::IpAddr;

// ------------------------------------------------------------------ the reference

/// The fields of a frame, read the way docs/EBPF.md says (independently of the compiler).
#[derive(Debug, Default)]
struct Fields {
    /// 4 or 6, with the addresses; None: no L3 fields.
    family: Option<u8>,
    proto: u8,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    ports: Option<(u16, u16)>,
}

fn fields(p: &[u8]) -> Fields {
    let mut f = Fields::default();
    if p.len() < 14 {
        return f;
    }
    let be16 = |at: usize| u16::from_be_bytes([p[at], p[at + 1]]);
    match be16(12) {
        0x0800 if p.len() >= 34 && p[14] & 0xf >= 5 => {
            f.family = Some(4);
            f.proto = p[23];
            f.src = Some(IpAddr::from(<[u8; 4]>::try_from(&p[26..30]).unwrap()));
            f.dst = Some(IpAddr::from(<[u8; 4]>::try_from(&p[30..34]).unwrap()));
            let l4 = 14 + (p[14] & 0xf) as usize * 4;
            if be16(20) & 0x1fff == 0 && (f.proto == 6 || f.proto == 17) && p.len() >= l4 + 4 {
                f.ports = Some((be16(l4), be16(l4 + 2)));
            }
        }
        0x86dd if p.len() >= 54 => {
            f.family = Some(6);
            f.proto = p[20];
            f.src = Some(IpAddr::from(<[u8; 16]>::try_from(&p[22..38]).unwrap()));
            f.dst = Some(IpAddr::from(<[u8; 16]>::try_from(&p[38..54]).unwrap()));
            if (f.proto == 6 || f.proto == 17) && p.len() >= 58 {
                f.ports = Some((be16(54), be16(56)));
            }
        }
        _ => {}
    }
    f
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    retval: u32,
    mark: u32,
    priority: u32,
}

/// The interpreter: the outcome of `rules` on frame `p` with mark `mark`, counting hits.
fn interpret(rules: &[FwRule], target: Target, p: &[u8], mut mark: u32, hits: &mut [u64]) -> Outcome {
    let f = fields(p);
    let mut priority = 0;
    let in_range = |v: Option<u16>, r: Option<(u16, u16)>| r.is_none_or(|(lo, hi)| v.is_some_and(|v| lo <= v && v <= hi));
    let in_net = |a: Option<IpAddr>, n: Option<IpNet>| n.is_none_or(|n| a.is_some_and(|a| n.contains(&a)));
    for (i, r) in rules.iter().enumerate() {
        let holds = r.proto.is_none_or(|pr| f.family.is_some() && f.proto == pr.number())
            && in_net(f.src, r.src)
            && in_net(f.dst, r.dst)
            && in_range(f.ports.map(|p| p.0), r.sport)
            && in_range(f.ports.map(|p| p.1), r.dport)
            && r.mark.is_none_or(|(v, m)| mark & m.unwrap_or(u32::MAX) == v);
        if !holds {
            continue;
        }
        if r.counter {
            hits[i] += 1;
        }
        match r.action {
            FwAction::Drop => return Outcome { retval: target.drop() as u32, mark, priority },
            FwAction::Mark(m) => mark = m,
            FwAction::Classify(id) => priority = 0x1_0000 | id,
            _ => return Outcome { retval: target.pass() as u32, mark, priority },
        }
    }
    Outcome { retval: target.pass() as u32, mark, priority }
}

// ------------------------------------------------------------------ the generators

const V4: [[u8; 4]; 4] = [[10, 0, 0, 1], [10, 0, 1, 2], [192, 168, 7, 9], [10, 0, 0, 200]];
const V6: [[u8; 16]; 3] = [
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34],
    [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
];
const PORTS: [u16; 11] = [0, 22, 23, 24, 53, 80, 81, 1499, 1500, 65534, 65535];

fn addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (0..V4.len()).prop_map(|i| IpAddr::from(V4[i])),
        (0..V6.len()).prop_map(|i| IpAddr::from(V6[i])),
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ]
}

fn prefix() -> impl Strategy<Value = IpNet> {
    (addr(), any::<u8>()).prop_map(|(a, l)| {
        let max = if a.is_ipv4() { 32 } else { 128 };
        let len = [0, 8, 16, 24, 31, max, l % (max + 1)][l as usize % 7];
        IpNet::new(a, len).unwrap().trunc()
    })
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![3 => (0..PORTS.len()).prop_map(|i| PORTS[i]), 1 => any::<u16>()]
}

fn range() -> impl Strategy<Value = (u16, u16)> {
    prop_oneof![port().prop_map(|p| (p, p)), (port(), port()).prop_map(|(a, b)| (a.min(b), a.max(b)))]
}

fn proto() -> impl Strategy<Value = FwProto> {
    prop_oneof![Just(FwProto::Tcp), Just(FwProto::Udp), Just(FwProto::Icmp), Just(FwProto::Icmpv6)]
}

fn rule(tc: bool) -> impl Strategy<Value = FwRule> {
    let action = if tc {
        prop_oneof![Just(FwAction::Accept), Just(FwAction::Drop), (0..3u32).prop_map(FwAction::Mark), (1..0x20u32).prop_map(FwAction::Classify)].boxed()
    } else {
        prop_oneof![Just(FwAction::Accept), Just(FwAction::Drop)].boxed()
    };
    let mark = if tc { proptest::option::weighted(0.2, (0..3u32, proptest::option::of(prop_oneof![Just(1u32), Just(0xff), Just(0x100)]))).boxed() } else { Just(None).boxed() };
    use proptest::option::weighted as w;
    (action, w(0.5, proto()), w(0.3, prefix()), w(0.3, prefix()), w(0.25, range()), w(0.35, range()), mark, any::<bool>()).prop_map(
        |(action, proto, src, dst, sport, dport, mark, counter)| FwRule {
            span: Default::default(),
            action,
            proto,
            src,
            dst,
            sport,
            dport,
            iif: None,
            oif: None,
            mark,
            ct: vec![],
            counter,
        },
    )
}

/// A frame: Ethernet (maybe VLAN-tagged or ARP) + IPv4/IPv6 + a transport header, then
/// maybe cut short or with a bad IHL or a fragment offset.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    let kind = prop_oneof![4 => Just(4u8), 4 => Just(6u8), 1 => Just(0x81u8), 1 => Just(0x06u8)];
    let l4 = prop_oneof![Just(6u8), Just(17u8), Just(1u8), Just(58u8), Just(0u8), Just(44u8)];
    // Cut short: anywhere, or right around the ends of the headers (IPv4 34, its ports 38;
    // IPv6 54, its ports 58), where an off-by-one in a bounds check would show.
    const EDGES: [usize; 10] = [14, 33, 34, 35, 37, 38, 53, 54, 57, 58];
    let damage = prop_oneof![10 => Just(None), 2 => (0..EDGES.len()).prop_map(|i| Some(EDGES[i])), 1 => (14usize..80).prop_map(Some)];
    (kind, l4, addr(), addr(), port(), port(), prop_oneof![8 => Just(5u8), 1 => 0u8..16], prop_oneof![8 => Just(0u16), 1 => any::<u16>()], damage).prop_map(
        |(kind, l4, src, dst, sport, dport, ihl, frag, damage)| {
            let mut p = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
            let v4 = |a: IpAddr| match a {
                IpAddr::V4(a) => a.octets(),
                IpAddr::V6(a) => a.octets()[12..].try_into().unwrap(),
            };
            let v6 = |a: IpAddr| match a {
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
                IpAddr::V6(a) => a.octets(),
            };
            let mut transport = Vec::new();
            transport.extend_from_slice(&sport.to_be_bytes());
            transport.extend_from_slice(&dport.to_be_bytes());
            transport.extend_from_slice(&[0; 16]);
            match kind {
                4 | 0x81 => {
                    if kind == 0x81 {
                        p.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
                    }
                    p.extend_from_slice(&[0x08, 0x00, 0x40 | ihl, 0]);
                    p.extend_from_slice(&((20 + transport.len()) as u16).to_be_bytes());
                    p.extend_from_slice(&[0, 1]);
                    p.extend_from_slice(&frag.to_be_bytes());
                    p.extend_from_slice(&[64, l4, 0, 0]);
                    p.extend_from_slice(&v4(src));
                    p.extend_from_slice(&v4(dst));
                    // A longer IHL: options (zeros) before the transport header.
                    p.extend(std::iter::repeat_n(0u8, (ihl as usize * 4).saturating_sub(20)));
                }
                6 => {
                    p.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
                    p.extend_from_slice(&(transport.len() as u16).to_be_bytes());
                    p.extend_from_slice(&[l4, 64]);
                    p.extend_from_slice(&v6(src));
                    p.extend_from_slice(&v6(dst));
                }
                _ => p.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]),
            }
            p.extend_from_slice(&transport);
            if let Some(len) = damage {
                p.truncate(len.max(14));
            }
            p
        },
    )
}

/// The tc rules, the XDP rules, and the frames with the mark each arrives with.
type Case = (Vec<FwRule>, Vec<FwRule>, Vec<(Vec<u8>, u32)>);

fn case() -> impl Strategy<Value = Case> {
    let marks = prop_oneof![Just(0u32), Just(1), Just(2), Just(0x101), any::<u32>()];
    (prop::collection::vec(rule(true), 0..7), prop::collection::vec(rule(false), 0..7), prop::collection::vec((frame(), marks), 1..24))
}

fn config() -> ProptestConfig {
    let mut config = ProptestConfig { failure_persistence: None, ..ProptestConfig::default() };
    config.cases = std::env::var("NETSCRIPT_BPF_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256);
    config
}

/// An IPv4 or IPv6 EtherType with less than the fixed IP header after it.
fn truncated_ip_header(p: &[u8]) -> bool {
    match u16::from_be_bytes([p[12], p[13]]) {
        0x0800 => p.len() < 34,
        0x86dd => p.len() < 54,
        _ => false,
    }
}

/// Compiles, loads (the verifier must accept it) and runs `frames`; compares with the
/// interpreter frame by frame, then the counters.
fn check(rules: &[FwRule], target: Target, frames: &[(Vec<u8>, u32)]) -> Result<(), TestCaseError> {
    let compiled = compile(rules, target).map_err(|e| TestCaseError::fail(e.0))?;
    let loaded = load_compiled(&compiled, "ns_prop").map_err(|e| TestCaseError::fail(format!("refused: {e:?}\n{}", compiled.disassemble())))?;
    let mut hits = vec![0u64; rules.len()];
    for (p, mark) in frames {
        let got = match test_run(&loaded.prog, target, p, *mark, 1) {
            // The kernel builds no skb from a frame whose EtherType promises an IP header
            // that is not all there (EINVAL); XDP runs those frames.
            Err(e) if target == Target::Tc && e.errno() == Some(nix::libc::EINVAL) && truncated_ip_header(p) => continue,
            r => r.map_err(|e| TestCaseError::fail(format!("{e:?} on frame {p:02x?}")))?,
        };
        let want = interpret(rules, target, p, *mark, &mut hits);
        let got = match target {
            Target::Tc => Outcome { retval: got.retval, mark: got.mark, priority: got.priority },
            Target::Xdp => Outcome { retval: got.retval, mark: *mark, priority: 0 },
        };
        prop_assert_eq!(&got, &want, "{:?} on frame {:02x?} (mark {}), fields {:?}", target, p, mark, fields(p));
    }
    let counted = match &loaded.map {
        Some(map) => read_counters(map, compiled.counters).map_err(|e| TestCaseError::fail(format!("{e:?}")))?,
        None => vec![0; rules.len()],
    };
    prop_assert_eq!(counted, hits, "{:?} counters", target);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn compiled_rules_agree_with_the_interpreter_in_the_kernel((tc_rules, xdp_rules, frames) in case()) {
        check(&tc_rules, Target::Tc, &frames)?;
        check(&xdp_rules, Target::Xdp, &frames)?;
    }
}

/// A few fixed cases, so a regression names itself without shrinking.
#[test]
fn drop_icmp_and_telnet() {
    let base = FwRule { span: Default::default(), action: FwAction::Drop, proto: Some(FwProto::Icmp), src: None, dst: None, sport: None, dport: None, iif: None, oif: None, mark: None, ct: vec![], counter: true };
    let telnet = FwRule { proto: Some(FwProto::Tcp), dport: Some((23, 23)), ..base.clone() };
    let icmp = [0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 8, 0, 0, 0, 0, 0, 0, 0];
    let mut tcp23 = icmp.to_vec();
    tcp23[23] = 6;
    tcp23[34..38].copy_from_slice(&[0x9c, 0x40, 0, 23]);
    let mut tcp22 = tcp23.clone();
    tcp22[37] = 22;
    for target in [Target::Tc, Target::Xdp] {
        let rules = [base.clone(), telnet.clone()];
        let frames: Vec<(Vec<u8>, u32)> = [icmp.to_vec(), tcp23.clone(), tcp22.clone(), tcp23[..36].to_vec()].into_iter().map(|f| (f, 0)).collect();
        check(&rules, target, &frames).unwrap();
        let c = compile(&rules, target).unwrap();
        let l = load_compiled(&c, "ns_fixed").unwrap();
        let verdicts: Vec<u32> = frames.iter().map(|(f, _)| test_run(&l.prog, target, f, 0, 1).unwrap().retval).collect();
        let (d, p) = (target.drop() as u32, target.pass() as u32);
        assert_eq!(verdicts, [d, d, p, p], "{target:?}");
        assert_eq!(read_counters(l.map.as_ref().unwrap(), 2).unwrap(), [1, 1]);
    }
}

