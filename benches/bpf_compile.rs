//! The rule compiler's code against clang's: the same rule list as netscript inline rules
//! (compiled in-process, `src/plan/bpfgen`) and as C (`clang -O2 -target bpf`), both tc
//! classifiers, run on the same packets with `BPF_PROG_TEST_RUN` (repeat 1M), ns per
//! packet side by side (the kernel's own mean), and the ratio.
//!
//! ```text
//! sudo cargo bench --bench bpf_compile        # repeat 1,000,000
//! ```
//! Run by `cargo test --bench bpf_compile` it is a smoke test (repeat 1000; figures mean
//! nothing): both programs load and agree on every packet. Needs root and clang (the
//! test script installs it). The programs run in the kernel, so the build profile of
//! this binary does not change the figures.

use netscript::exec::bpf_raw::{load_compiled, test_run};
use netscript::model::{FwAction, FwProto, FwRule};
use netscript::plan::bpfgen::{Target, compile};
use std::os::fd::{AsFd, OwnedFd};

const C: &str = r#"
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } hits SEC(".maps");
SEC("tc")
int rules(struct __sk_buff *skb)
{
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    int l3 = 0; __u8 proto = 0; __u32 src4 = 0; int ports = 0; __u16 dport = 0;
    if ((void *)(eth + 1) > end) return TC_ACT_OK;
    if (eth->h_proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end || ip->ihl < 5) goto rules;
        l3 = 4; proto = ip->protocol; src4 = ip->saddr;
        if ((ip->frag_off & bpf_htons(0x1fff)) == 0 && (proto == IPPROTO_TCP || proto == IPPROTO_UDP)) {
            __u16 *p = (void *)ip + ip->ihl * 4;
            if ((void *)(p + 2) <= end) { ports = 1; dport = bpf_ntohs(p[1]); }
        }
    } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = (void *)(eth + 1);
        if ((void *)(ip6 + 1) > end) goto rules;
        l3 = 6; proto = ip6->nexthdr;
        if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
            __u16 *p = (void *)(ip6 + 1);
            if ((void *)(p + 2) <= end) { ports = 1; dport = bpf_ntohs(p[1]); }
        }
    }
rules:
    if (l3 && proto == IPPROTO_UDP && ports && dport == 9999) return TC_ACT_SHOT;
    if (l3 == 4 && (src4 & bpf_htonl(0xffffff00)) == bpf_htonl(0xc6336400)) return TC_ACT_SHOT;
    if (l3 && proto == IPPROTO_TCP && ports && dport == 23) {
        __u32 k = 2; __u64 *n = bpf_map_lookup_elem(&hits, &k);
        if (n) __sync_fetch_and_add(n, 1);
        return TC_ACT_SHOT;
    }
    if (l3 && proto == IPPROTO_TCP && ports && dport == 22) return TC_ACT_OK;
    return TC_ACT_OK;
}
char LICENSE[] SEC("license") = "GPL";
"#;

fn rule(action: FwAction, proto: Option<FwProto>, src: Option<&str>, dport: Option<u16>, counter: bool) -> FwRule {
    FwRule {
        span: Default::default(),
        action,
        proto,
        src: src.map(|s| s.parse().unwrap()),
        dst: None,
        sport: None,
        dport: dport.map(|p| (p, p)),
        iif: None,
        oif: None,
        mark: None,
        ct: vec![],
        counter,
    }
}

fn frame(v6: bool, proto: u8, src: [u8; 4], dport: u16) -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    let l4 = [&0x9c40u16.to_be_bytes()[..], &dport.to_be_bytes(), &[0; 16]].concat();
    if v6 {
        p.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, l4.len() as u8, proto, 64]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    } else {
        p.extend_from_slice(&[8, 0, 0x45, 0, 0, 20 + l4.len() as u8, 0, 1, 0, 0, 64, proto, 0, 0]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&[10, 0, 0, 2]);
    }
    p.extend_from_slice(&l4);
    p
}

fn clang_program() -> OwnedFd {
    let dir = std::env::temp_dir().join(format!("netscript-bpf-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("rules.c"), C).unwrap();
    let multiarch = std::process::Command::new("gcc").arg("-print-multiarch").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| "x86_64-linux-gnu".into());
    let out = std::process::Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", &format!("-I/usr/include/{multiarch}"), "-c", "rules.c", "-o", "rules.o"])
        .current_dir(&dir)
        .output()
        .expect("cannot run clang");
    assert!(out.status.success(), "clang: {}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(dir.join("rules.o")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let mut ebpf = aya::EbpfLoader::new().load(&netscript::check::bpf::aya_compatible(&bytes)).expect("aya loads clang's object");
    // aya is handed the object with `tc` renamed (netscript's own loader path).
    let Some(aya::programs::Program::SchedClassifier(p)) = ebpf.program_mut("rules") else { panic!("no classifier `rules`") };
    p.load().expect("the verifier accepts clang's program");
    let fd = p.fd().unwrap().as_fd().try_clone_to_owned().unwrap();
    std::mem::forget(ebpf); // keep its map alive with the program (the process ends soon)
    fd
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let repeat: u32 = if bench { 1_000_000 } else { 1000 };
    let rules = [
        rule(FwAction::Drop, Some(FwProto::Udp), None, Some(9999), false),
        rule(FwAction::Drop, None, Some("198.51.100.0/24"), None, false),
        rule(FwAction::Drop, Some(FwProto::Tcp), None, Some(23), true),
        rule(FwAction::Accept, Some(FwProto::Tcp), None, Some(22), false),
    ];
    let compiled = compile(&rules, Target::Tc).unwrap();
    let ours = load_compiled(&compiled, "bench").expect("the verifier accepts netscript's program");
    let theirs = clang_program();
    let packets = [
        ("IPv4 TCP :22 (rule 4 passes)", frame(false, 6, [10, 0, 0, 1], 22)),
        ("IPv4 TCP :23 (rule 3 drops, counts)", frame(false, 6, [10, 0, 0, 1], 23)),
        ("IPv4 UDP :9999 (rule 1 drops)", frame(false, 17, [10, 0, 0, 1], 9999)),
        ("IPv4 UDP :53 from 198.51.100.7 (rule 2)", frame(false, 17, [198, 51, 100, 7], 53)),
        ("IPv6 UDP :53 (no rule)", frame(true, 17, [0; 4], 53)),
        ("IPv4 ICMP (no rule)", frame(false, 1, [10, 0, 0, 1], 0)),
    ];
    println!("netscript rule compiler vs clang -O2, tc classifier, BPF_PROG_TEST_RUN repeat {repeat}{}", if bench { "" } else { " (smoke run: figures mean nothing)" });
    println!("instructions: netscript {}", compiled.len());
    println!("{:<42} {:>14} {:>14} {:>7}", "packet", "netscript ns", "clang ns", "ratio");
    let mut log_sum = 0.0;
    for (name, p) in &packets {
        let a = test_run(&ours.prog, Target::Tc, p, 0, repeat).unwrap();
        let b = test_run(&theirs, Target::Tc, p, 0, repeat).unwrap();
        assert_eq!(a.retval, b.retval, "{name}: the two programs disagree");
        let ratio = a.duration_ns.max(1) as f64 / b.duration_ns.max(1) as f64;
        log_sum += ratio.ln();
        println!("{name:<42} {:>14} {:>14} {:>7.2}", a.duration_ns, b.duration_ns, ratio);
    }
    println!("geometric mean ratio (netscript / clang): {:.2}", (log_sum / packets.len() as f64).exp());
}
