//! What a plan was made from, kept for planning again without a kernel. With
//! `NETSCRIPT_CAPTURE_PLANS=DIR` (debug builds only, like the executor's fault points),
//! every plan of a run, a `down` or a verification writes its inputs to DIR: the desired
//! state, the observed state and the records. `scripts/capture-plans.sh` runs the kernel
//! tests so and keeps what they met as `tests/plan_corpus/`, which `tests/plan_corpus.rs`
//! plans again (pure, fast: what mutation testing of the planner runs).

use crate::model::Desired;
use crate::plan::ownership::{OtherScript, Owned};
use crate::plan::{Observed, Ownership};
use std::collections::BTreeMap;

pub const CAPTURE_ENV: &str = "NETSCRIPT_CAPTURE_PLANS";

/// A plan's inputs, as written to the capture directory.
#[derive(Debug, serde::Deserialize)]
pub struct PlanInputs {
    pub desired: Desired,
    pub observed: Observed,
    pub owned: Vec<Owned>,
    pub netns_ids: BTreeMap<String, u64>,
    pub netns_cookies: BTreeMap<String, u64>,
    pub others: Vec<OtherScript>,
}

impl PlanInputs {
    /// The records, as the planner takes them.
    pub fn ownership(&self) -> Ownership<'_> {
        Ownership { entries: &self.owned, netns_ids: &self.netns_ids, netns_cookies: &self.netns_cookies, others: &self.others }
    }
}

#[derive(serde::Serialize)]
struct Borrowed<'a> {
    desired: &'a Desired,
    observed: &'a Observed,
    owned: &'a [Owned],
    netns_ids: &'a BTreeMap<String, u64>,
    netns_cookies: &'a BTreeMap<String, u64>,
    others: &'a [OtherScript],
}

/// Writes what `desired` is planned from to the capture directory, if one is set.
#[cfg(debug_assertions)]
pub(crate) fn plan_inputs(desired: &Desired, observed: &Observed, ownership: Ownership<'_>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let Some(dir) = std::env::var_os(CAPTURE_ENV) else { return };
    let inputs = Borrowed { desired, observed, owned: ownership.entries, netns_ids: ownership.netns_ids, netns_cookies: ownership.netns_cookies, others: ownership.others };
    let path = std::path::Path::new(&dir).join(format!("{}-{}.json", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed)));
    // A capture that cannot be written is a capture less, not a failed run.
    if let Ok(text) = serde_json::to_string(&inputs) {
        let _ = std::fs::write(path, text);
    }
}

#[cfg(not(debug_assertions))]
pub(crate) fn plan_inputs(_: &Desired, _: &Observed, _: Ownership<'_>) {}
