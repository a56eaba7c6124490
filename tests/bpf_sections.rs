//! libbpf's section names (issue 17): objects whose tc program sits in `tc`,
//! `tc/ingress`, `tcx/ingress`, `tcx/egress`, … (compiled here by clang, with BTF and a
//! map, so BTF line info and map relocations of the renamed section are exercised) pass
//! `check` as classifiers, a direction contradicting the script is a located diagnostic,
//! and such objects attach and drop ping like the `classifier` one (real kernel, sandbox).

mod bpf_objects;
mod support;

use netscript::check;
use netscript::diagnostic::{RenderOptions, render_all};
use netscript::source::SourceMap;
use support::Sandbox;
use support::traffic::{pings};

/// A drop-ICMP classifier in section `section`, counting drops in an array map (a
/// relocation in that section), written the way libbpf's examples write it.
fn source(section: &str) -> String {
    format!(
        "#include <linux/bpf.h>\n#include <linux/if_ether.h>\n#include <linux/in.h>\n#include <linux/ip.h>\n#include <linux/pkt_cls.h>\n\
         #include <bpf/bpf_helpers.h>\n#include <bpf/bpf_endian.h>\n\
         struct {{ __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); }} drops SEC(\".maps\");\n\
         SEC(\"{section}\")\nint drop_icmp(struct __sk_buff *skb)\n{{\n\
           void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;\n\
           struct ethhdr *eth = data;\n  if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return TC_ACT_OK;\n\
           struct iphdr *ip = (void *)(eth + 1);\n  if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_ICMP) return TC_ACT_OK;\n\
           __u32 k = 0; __u64 *n = bpf_map_lookup_elem(&drops, &k); if (n) __sync_fetch_and_add(n, 1);\n\
           return TC_ACT_SHOT;\n}}\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"
    )
}

/// Compiles the program for each section name, as `sec_<name with _>.o`.
fn objects() -> std::path::PathBuf {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        for s in check::bpf::LIBBPF_TC_SECTIONS {
            bpf_objects::compile(&format!("sec_{}", s.replace('/', "_")), &source(s));
        }
    });
    bpf_objects::compiled()
}

fn check_text(name: &str, text: &str) -> (String, check::Checked) {
    let path = objects().join(name);
    std::fs::write(&path, text).unwrap();
    let mut sources = SourceMap::new();
    let file = sources.add(name.to_string(), Some(&path), text);
    let checked = check::check(&mut sources, file, &check::FsLoader);
    (render_all(&checked.diagnostics, &sources, RenderOptions::plain()), checked)
}

#[test]
fn every_libbpf_tc_section_is_a_classifier() {
    for s in check::bpf::LIBBPF_TC_SECTIONS {
        let object = format!("sec_{}.o", s.replace('/', "_"));
        let direction = if s.ends_with("egress") { "egress" } else { "ingress" };
        // Without `section`, and with it (section name and function name).
        for extra in ["".to_string(), format!(" section {s}"), " section drop_icmp".to_string()] {
            let script = format!("netns m <\n  veth v0 <-> m2.v1\n    bpf {direction} \"{object}\"{extra}\n>\n");
            let (text, checked) = check_text("sections.ns", &script);
            assert!(checked.diagnostics.is_empty(), "{s}: {text}");
            let p = checked.desired.namespaces["m"].interfaces["v0"].bpf[0].node.program.clone().unwrap();
            assert_eq!((p.section.as_str(), p.function.as_str()), (s, "drop_icmp"), "the user sees the original section name");
        }
        // An XDP statement still refuses it, as a classifier.
        let (text, checked) = check_text("sections_xdp.ns", &format!("netns m <\n  veth v0 <-> m2.v1\n    xdp \"{object}\"\n>\n"));
        assert_eq!(checked.diagnostics.len(), 1, "{text}");
        assert_eq!(checked.diagnostics[0].code, check::codes::BPF_WRONG_PROGRAM_TYPE, "{text}");
        assert!(text.contains("tc classifier"), "{text}");
    }
}

#[test]
fn a_direction_contradicting_the_section_is_located() {
    objects();
    let script = "netns m <\n  veth v0 <-> m2.v1\n    bpf ingress \"sec_tcx_egress.o\" section tcx/egress\n    bpf egress \"sec_tc_ingress.o\"\n    bpf egress \"sec_tcx_egress.o\"\n>\n";
    let (text, checked) = check_text("contradiction.ns", script);
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [check::codes::BPF_DIRECTION_CONFLICT; 2], "{text}");
    insta::assert_snapshot!("bpf_direction_conflict", text);
}

#[test]
fn tc_and_tcx_ingress_objects_attach_and_drop_ping() {
    let dir = objects();
    let sb = Sandbox::new();
    for (i, s) in ["tc", "tcx/ingress"].iter().enumerate() {
        let object = format!("sec_{}.o", s.replace('/', "_"));
        sb.sh(&format!("cp {} /run/{object}", dir.join(&object).display())).ok();
        let (a, b, net) = (format!("s{i}a"), format!("s{i}b"), 20 + i);
        let script = sb.write_script(
            &format!("s{i}.ns"),
            &format!("netns {a} < veth v0 <-> {b}.v1 < addr 10.{net}.0.1/24 > >\nnetns {b} < link v1 < addr 10.{net}.0.2/24; bpf ingress \"{object}\" > >\n"),
        );
        let run = sb.netscript(&["run", &script]);
        assert!(run.success, "{s}: {run:?}");
        let filters = sb.sh(&format!("ip netns exec {b} tc -json filter show dev v1 ingress")).ok();
        assert!(filters.contains("\"direct-action\":true") && filters.contains("drop_icmp"), "{s}: {filters}");
        assert!(!pings(&sb, &a, &format!("10.{net}.0.2")), "{s}: ICMP should be dropped");
        sb.assert_up_to_date(&script);
        let down = sb.netscript(&["down", &script]);
        assert!(down.success, "{s}: {down:?}");
    }
}
