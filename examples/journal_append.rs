//! Measures what the write-ahead journal costs per operation: N `started` + `done`
//! record pairs (each one write + fdatasync), in a journal under DIR.
//!
//! usage: journal_append [N] [DIR]   (DIR defaults to a fresh directory under /dev/shm,
//! a tmpfs like /run; pass a directory on a disk to see the cost of a real fsync)

use netscript::exec::ExecEvent;
use netscript::run::journal::Journal;
use netscript::plan::action::{LinkAttrs, LinkKind};
use netscript::plan::Action;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let dir = args.get(2).cloned().unwrap_or_else(|| format!("/dev/shm/netscript-journal-bench-{}", std::process::id()));
    // SAFETY: single-threaded, before anything reads the environment.
    unsafe { std::env::set_var("NETSCRIPT_RUN_DIR", &dir) };
    let mut journal = Journal::create(Some("/bench.ns".into())).expect("cannot create the journal");
    let action = Action::CreateLink {
        ns: "bench".into(),
        name: "veth0".into(),
        kind: LinkKind::Veth { peer_ns: "other".into(), peer_name: "veth1".into(), peer_attrs: LinkAttrs::default() },
        attrs: LinkAttrs::default(),
    };
    let undo = vec![Action::DeleteLink { ns: "bench".into(), name: "veth0".into() }];
    let started = Instant::now();
    for op in 0..n {
        journal.record(&ExecEvent::Started { op, action: &action }, op, &undo);
        journal.record(&ExecEvent::Done { op, action: &action }, op, &undo);
    }
    let elapsed = started.elapsed();
    assert!(journal.take_error().is_none());
    let size = std::fs::metadata(journal.path()).map(|m| m.len()).unwrap_or(0);
    journal.finish().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{n} operations journaled in {elapsed:.2?} under {dir}: {:.1} µs per operation (2 synced records), {} bytes per operation",
        elapsed.as_secs_f64() * 1e6 / n as f64,
        size / n.max(1) as u64
    );
}
