//! show's JSON for tc's finer options (tbf `limit`/`peakrate`/`mtu`, htb `r2q`/
//! `direct_qlen`, class `burst`/`cburst`/`quantum`/`mtu`): keys only for options set, so
//! that the objects of qdiscs and classes without them stay as they were. Sizes in bytes
//! and rates in bytes per second, as `tc -json` gives them.

use crate::model::Tbf;
use crate::plan::action::ClassSpec;
use serde_json::{Value, json};

pub fn tbf_json(t: &Tbf) -> Value {
    let mut v = json!({ "rate": t.rate.bytes_per_sec(), "burst": t.burst.0 });
    let map = v.as_object_mut().expect("an object");
    match t.limit {
        Some(limit) => map.insert("limit".into(), json!(limit.0)),
        None => map.insert("lat".into(), json!(t.latency.micros())),
    };
    if let Some(p) = t.peakrate {
        map.insert("peakrate".into(), json!(p.bytes_per_sec()));
    }
    if let Some(m) = t.mtu {
        map.insert("mtu".into(), json!(m.0));
    }
    v
}

pub fn htb_json(default_class: u32, r2q: Option<u32>, direct_qlen: Option<u32>) -> Value {
    let mut v = json!({ "default": format!("{default_class:#x}") });
    let map = v.as_object_mut().expect("an object");
    if let Some(r) = r2q {
        map.insert("r2q".into(), json!(r));
    }
    if let Some(q) = direct_qlen {
        map.insert("direct_qlen".into(), json!(q));
    }
    v
}

pub fn class_json_extras(c: &ClassSpec, class: &mut Value) {
    let Some(map) = class.as_object_mut() else { return };
    for (key, value) in [("burst", c.burst.map(|b| b.0)), ("cburst", c.cburst.map(|b| b.0)), ("quantum", c.quantum.map(u64::from)), ("mtu", c.mtu.map(u64::from))] {
        if let Some(value) = value {
            map.insert(key.into(), json!(value));
        }
    }
}

/// netem's JSON with `slot`, `loss_model` and `distribution` when it has them (min and max in µs, as tc's delay is;
/// `packets`/`bytes` when limited, `distribution` for `slot distribution`), and as it was without.
pub fn netem_slot_json(n: &crate::model::Netem, mut v: Value) -> Value {
    if let (Some(slot), Some(map)) = (&n.slot, v.as_object_mut()) {
        let mut s = json!({ "min": slot.min.micros(), "max": slot.max.micros() });
        let inner = s.as_object_mut().expect("an object");
        if let Some(p) = slot.packets {
            inner.insert("packets".into(), json!(p));
        }
        if let Some(b) = slot.bytes {
            inner.insert("bytes".into(), json!(b));
        }
        // `slot distribution`: delay and jitter in µs; its table where the record knows it.
        if let Some(spacing) = slot.spacing {
            let mut d = json!({ "delay": spacing.delay.micros(), "jitter": spacing.jitter.micros() });
            if let (Some(t), Some(m)) = (spacing.table, d.as_object_mut()) {
                m.insert("table".into(), json!(t.name()));
            }
            inner.insert("distribution".into(), d);
        }
        map.insert("slot".into(), s);
    }
    if let (Some(model), Some(map)) = (&n.loss_model, v.as_object_mut()) {
        map.insert("loss_model".into(), json!(model));
    }
    // The kernel never reports a netem's table: shown where netscript's record knows it.
    if let (Some(d), Some(map)) = (n.distribution, v.as_object_mut()) {
        map.insert("distribution".into(), json!(d.name()));
    }
    v
}

/// A netem as an export writes it (`words`: netscript's words for a netem). The kernel
/// never reports the slot's table of `slot distribution`: such a slot is left out, and a
/// comment above says so (its delay and jitter, as tc's `show` prints them).
pub fn netem_script(n: &crate::model::Netem, words: impl Fn(&crate::model::Netem) -> String, out: &mut Vec<String>) {
    match n.slot {
        Some(slot) if slot.spacing.is_some_and(|s| s.table.is_none()) => {
            out.push(format!("#{}: the kernel does not report the slot's table; left out", slot.words()));
            out.push(words(&crate::model::Netem { slot: None, ..n.clone() }));
        }
        _ => out.push(words(n)),
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Netem, NetemDistribution, NetemSlot, SlotSpacing};
    use crate::units::Duration;

    /// A slot table the kernel did not tell: the export leaves the slot out, says so in
    /// a comment, and writes the rest; with the table known, the slot is written.
    #[test]
    fn an_unknown_slot_table_is_a_comment_in_an_export() {
        let spacing = SlotSpacing { delay: Duration(1_000_000), jitter: Duration(100_000), table: None };
        let slot = NetemSlot { spacing: Some(spacing), ..NetemSlot::range(Duration(0), Duration(0)) };
        let n = Netem { slot: Some(slot), limit: Some(200), ..Netem::delay(Duration(0)) };
        let words = |n: &Netem| format!("netem{}", n.more_words());
        let mut out = Vec::new();
        super::netem_script(&n, words, &mut out);
        assert_eq!(out, ["# slot distribution 1ms 100us: the kernel does not report the slot's table; left out", "netem limit 200"]);
        let known = Netem { slot: Some(NetemSlot { spacing: Some(SlotSpacing { table: Some(NetemDistribution::Pareto), ..spacing }), ..slot }), ..n };
        out.clear();
        super::netem_script(&known, words, &mut out);
        assert_eq!(out, ["netem limit 200 slot distribution pareto 1ms 100us"]);
    }
}
