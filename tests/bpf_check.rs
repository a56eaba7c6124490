//! Check-time errors of `bpf`/`xdp` statements: the object is read before anything
//! changes, and each problem is a located diagnostic (golden snapshots). Needs clang (the
//! example programs are compiled here, as `scripts/test.sh` installs it); no root.

mod bpf_objects;

use netscript::check;
use netscript::diagnostic::{RenderOptions, render_all};
use netscript::source::SourceMap;

/// Checks `text` as a script in the directory of the compiled examples; the diagnostics
/// rendered without colour, and the desired state.
fn check_text(name: &str, text: &str) -> (String, check::Checked) {
    let dir = bpf_objects::compiled();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let mut sources = SourceMap::new();
    let file = sources.add(name.to_string(), Some(&path), text);
    let checked = check::check(&mut sources, file, &check::FsLoader);
    (render_all(&checked.diagnostics, &sources, RenderOptions::plain()), checked)
}

#[test]
fn a_missing_object_is_located() {
    let (text, checked) = check_text("missing.ns", "netns m <\n  veth v0 <-> m2.v1\n    bpf ingress \"nothere.o\"\n>\n");
    assert_eq!(checked.diagnostics.len(), 1);
    assert_eq!(checked.diagnostics[0].code, check::codes::BPF_OBJECT_UNREADABLE);
    insta::assert_snapshot!("bpf_missing_object", text);
}

#[test]
fn a_missing_section_is_located_with_what_the_object_holds() {
    let (text, checked) = check_text("section.ns", "netns m <\n  veth v0 <-> m2.v1\n    bpf egress \"drop_icmp.o\" section clasifier\n>\n");
    assert_eq!(checked.diagnostics.len(), 1);
    assert_eq!(checked.diagnostics[0].code, check::codes::BPF_NO_SUCH_SECTION);
    assert!(text.contains("did you mean `classifier`?"), "{text}");
    insta::assert_snapshot!("bpf_missing_section", text);
}

#[test]
fn a_program_of_the_wrong_type_is_located() {
    let script = "netns m <\n  veth v0 <-> m2.v1\n    xdp \"drop_icmp.o\" section classifier\n  veth v2 <-> m2.v3\n    bpf ingress \"drop_icmp.o\" section xdp\n>\n";
    let (text, checked) = check_text("type.ns", script);
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [check::codes::BPF_WRONG_PROGRAM_TYPE; 2]);
    insta::assert_snapshot!("bpf_wrong_type", text);
}

#[test]
fn garbage_and_ambiguity_are_diagnostics_too() {
    let dir = bpf_objects::compiled();
    std::fs::write(dir.join("garbage.o"), b"not an object").unwrap();
    bpf_objects::compile(
        "two",
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC(\"classifier\") int one(struct __sk_buff *s) { return 0; }\nSEC(\"classifier\") int two(struct __sk_buff *s) { return 0; }\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n",
    );
    // Without `section`, a `bpf` statement takes the object's only classifier (the
    // counter has one); with two, it must say which, and so must a section holding two.
    let script = "netns m <\n  veth v0 <-> m2.v1\n    bpf ingress \"garbage.o\"\n    bpf ingress \"counter.o\"\n    xdp \"drop_icmp.o\"\n    bpf egress \"two.o\"\n    bpf egress \"two.o\" section classifier\n    bpf egress \"two.o\" section two\n>\n";
    let (text, checked) = check_text("garbage.ns", script);
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [check::codes::BPF_INVALID_OBJECT, check::codes::BPF_AMBIGUOUS_PROGRAM, check::codes::BPF_AMBIGUOUS_PROGRAM], "{text}");
    assert!(text.contains("name the function instead: `section one` or `section two`"), "{text}");
    insta::assert_snapshot!("bpf_garbage_and_ambiguity", text);
    let iface = &checked.desired.namespaces["m"].interfaces["v0"];
    let counter = iface.bpf[1].node.program.as_ref().expect("the counter's only classifier");
    assert_eq!((counter.section.as_str(), counter.function.as_str()), ("classifier", "counter_tc"));
    let xdp = iface.xdp.as_ref().unwrap().node.program.as_ref().unwrap();
    assert_eq!(xdp.function, "drop_icmp_xdp");
    assert_eq!(xdp.hash, check::bpf::content_hash(&std::fs::read(dir.join("drop_icmp.o")).unwrap()));
}

#[test]
fn a_function_name_selects_a_program_too() {
    let (text, checked) = check_text("function.ns", "netns m <\n  veth v0 <-> m2.v1\n    bpf ingress \"pass_all.o\" section pass_all_tc\n>\n");
    assert!(checked.diagnostics.is_empty(), "{text}");
    let p = checked.desired.namespaces["m"].interfaces["v0"].bpf[0].node.program.clone().unwrap();
    assert_eq!((p.section.as_str(), p.function.as_str()), ("classifier", "pass_all_tc"));
}

/// The planner's reconcile, without a kernel: an attachment whose recorded hash is the
/// object's is left alone; another is replaced, with an undo that puts the old one back.
#[test]
fn plans_reconcile_by_object_hash() {
    use netscript::plan::action::{Action, BpfLabel};
    use netscript::plan::observed::{AttachPoint, ObservedLink, ObservedNs, ObservedProgram};
    use netscript::plan::{self, Observed};
    let (_, checked) = check_text("plan.ns", "netns p < link v1\n  bpf ingress \"drop_icmp.o\" section classifier\n  xdp \"drop_icmp.o\" section xdp\n>\n");
    let program = checked.desired.namespaces["p"].interfaces["v1"].bpf[0].node.program.clone().unwrap();
    let observed_with = |hash: &str| {
        let mut ns = ObservedNs::default();
        ns.links.insert("v1".into(), ObservedLink { name: "v1".into(), index: 2, kind: Some("veth".into()), up: true, mtu: 1500, mac: None, master: None, addrs: vec![], vrf_table: None, lower: None, made_as: None, ipvlan: None, tunnel: None });
        ns.qdiscs.push(netscript::plan::observed::ObservedQdisc { dev: "v1".into(), spec: netscript::plan::action::QdiscSpec::Clsact });
        let label = |function: &str, section: &str| Some(BpfLabel { hash: hash.into(), section: section.into(), function: function.into(), file: "drop_icmp.o".into() });
        ns.programs.push(ObservedProgram {
            dev: "v1".into(),
            attach: AttachPoint::Tc { direction: netscript::model::BpfDirection::Ingress, prio: 1 },
            id: 7,
            name: "old".into(),
            direct_action: true,
            label: label("drop_icmp_tc", "classifier"),
            handle: None,
        });
        ns.programs.push(ObservedProgram { dev: "v1".into(), attach: AttachPoint::Xdp { mode: netscript::model::XdpMode::Native }, id: 8, name: String::new(), direct_action: true, label: label("drop_icmp_xdp", "xdp"), handle: None });
        let mut o = Observed::default();
        o.namespaces.insert("host".into(), ObservedNs::default());
        o.namespaces.insert("p".into(), ns);
        o
    };
    let same = plan::plan(&checked.desired, &observed_with(&program.hash)).unwrap();
    assert!(same.ops.is_empty(), "{:?}", same.ops);
    let changed = plan::plan(&checked.desired, &observed_with("0000000000000000")).unwrap();
    let actions: Vec<&Action> = changed.ops.iter().map(|o| &o.action).collect();
    assert!(matches!(actions[0], Action::DetachBpf { prio: 1, keep: Some(7), .. }), "{actions:?}");
    assert!(matches!(actions[1], Action::AttachBpf { prio: 1, .. }), "{actions:?}");
    assert!(matches!(actions[2], Action::AttachXdp { keep: Some(8), .. }), "{actions:?}");
    assert_eq!(changed.ops[1].deps, vec![0], "attach after the detach");
    assert!(matches!(&changed.ops[0].undo[..], [Action::AttachBpf { program: netscript::plan::action::BpfSource::Loaded { id: 7, .. }, .. }]));
    assert!(matches!(&changed.ops[2].undo[..], [Action::AttachXdp { program: netscript::plan::action::BpfSource::Loaded { id: 8, .. }, .. }]));
}
