//! The planner on a hand-built kernel state holding a netem (no kernel): what
//! tests/netem_distribution.rs and tests/netem_slot_distribution.rs plan against when
//! they check how the record's tables are recalled and when a netem is made anew.

use netscript::check::{self, FsLoader};
use netscript::exec::tc::{NetemParams, NetemState};
use netscript::model::Netem;
use netscript::plan::action::{Action, QdiscParent, QdiscSpec};
use netscript::plan::observed::{ObservedLink, ObservedNs, ObservedQdisc, SeenQdisc};
use netscript::plan::ownership::{self, Owned};
use netscript::plan::{self, Observed, Ownership, Plan};
use netscript::source::SourceMap;

/// The model of `netns a < link v0 < WORDS > >`.
pub fn desired(words: &str) -> netscript::model::Desired {
    let mut sources = SourceMap::new();
    let file = sources.add("t.ns".to_string(), None, format!("netns a < link v0 < {words} > >\n"));
    let checked = check::check(&mut sources, file, &FsLoader);
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics);
    checked.desired
}

/// Namespace `a` with v0 holding `kernel` (a netem with handle 1:) as a dump shows it:
/// without its tables, which the kernel never reports.
pub fn kernel_holding(kernel: &Netem) -> Observed {
    let psched = netscript::exec::traffic::psched();
    let shown = NetemState::predict(&NetemParams::new(kernel, psched).unwrap()).to_netem().with_tables(Default::default());
    let mut ns = ObservedNs::default();
    ns.links.insert("v0".into(), ObservedLink { name: "v0".into(), index: 2, kind: Some("veth".into()), up: true, mtu: 1500, mac: None, master: None, addrs: Vec::new(), vrf_table: None, lower: None, made_as: None, ipvlan: None, tunnel: None });
    ns.qdiscs.push(ObservedQdisc { dev: "v0".into(), spec: QdiscSpec::Netem(shown) });
    ns.root_qdiscs.push(SeenQdisc { dev: "v0".into(), parent: QdiscParent::Root, kind: "netem".into(), handle: 0x1_0000 });
    let mut o = Observed { offline: false, ..Observed::empty() };
    o.namespaces.insert("a".into(), ns);
    o
}

/// The record of a run that made `made` on v0.
pub fn record(made: &Netem) -> Vec<Owned> {
    vec![Owned { made: Some(Action::ReplaceQdisc { ns: "a".into(), dev: "v0".into(), qdisc: QdiscSpec::Netem(made.clone()) }), undo: vec![Action::DelQdisc { ns: "a".into(), dev: "v0".into(), parent: QdiscParent::Root }] }]
}

/// The plan of `WORDS` on v0 against `kernel`, with the record `owned`, observed as a run
/// observes (the record's tables recalled where the kernel's parameters still match).
pub fn plan(words: &str, kernel: &Netem, owned: &[Owned]) -> Result<Plan, Vec<netscript::diagnostic::Diagnostic>> {
    let desired = desired(words);
    let mut observed = kernel_holding(kernel);
    netscript::exec::traffic::normalize(&mut observed, &desired, &ownership::interest(owned));
    plan::plan_owned(&desired, &observed, Ownership { entries: owned, ..Ownership::default() })
}
