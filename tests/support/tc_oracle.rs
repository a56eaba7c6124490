//! Reading traffic control back through iproute2's `tc`, for the kernel tests.
#![allow(dead_code)]

use crate::support::Sandbox;
use crate::support::oracle::Repeated;
use serde::Deserialize;
use serde_json::Value;


/// `tc -n NS -json ARGS…`, repeated keys kept.
pub fn tc_json(sb: &Sandbox, ns: &str, args: &[&str]) -> Value {
    let mut all = vec!["-n", ns, "-json"];
    all.extend_from_slice(args);
    let text = sb.run("tc", &all).ok();
    if text.trim().is_empty() {
        return Value::Array(vec![]);
    }
    let mut de = serde_json::Deserializer::from_str(&text);
    Repeated::deserialize(&mut de).unwrap_or_else(|e| panic!("tc {all:?}: {e}: {text}")).0
}

/// The key nodes of a u32 filter dump (the entries with a `match`): one per filter
/// netscript adds; the priority and hash-table entries are left out.
pub fn key_nodes(filters: &Value) -> Vec<Value> {
    filters.as_array().unwrap().iter().filter(|f| f["options"].get("match").is_some()).cloned().collect()
}

/// The u32 keys of a key node, in order.
pub fn matches(node: &Value) -> Vec<Value> {
    match &node["options"]["match"] {
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    }
}

/// An htb class as `tc class show` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    pub id: String,
    /// `root`, or the parent class's id.
    pub parent: String,
    /// htb prints no prio for an inner class (one with children).
    pub prio: Option<u32>,
    pub rate: String,
    pub ceil: String,
}

/// The htb classes of `dev`, from `tc class show` text (tc 6.1 has no JSON for them):
/// `class htb 1:10 parent 1:1 prio 1 rate 8Mbit ceil 10Mbit burst 1600b cburst 1600b`.
pub fn classes(sb: &Sandbox, ns: &str, dev: &str) -> Vec<Class> {
    let text = sb.run("tc", &["-n", ns, "class", "show", "dev", dev]).ok();
    text.lines()
        .filter(|l| l.starts_with("class htb "))
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let after = |key: &str| words.iter().position(|w| *w == key).map(|i| words[i + 1].to_string());
            Class {
                id: words[2].to_string(),
                parent: if words[3] == "root" { "root".into() } else { after("parent").unwrap_or_default() },
                prio: after("prio").map(|p| p.parse().unwrap_or_else(|_| panic!("bad prio: {line}"))),
                rate: after("rate").unwrap_or_default(),
                ceil: after("ceil").unwrap_or_default(),
            }
        })
        .collect()
}

/// `tc -s -n NS -json qdisc show dev DEV`'s entry with `handle`.
pub fn qdisc_stats(sb: &Sandbox, ns: &str, dev: &str, handle: &str) -> Value {
    let all = tc_json(sb, ns, &["-s", "qdisc", "show", "dev", dev]);
    all.as_array().unwrap().iter().find(|q| q["handle"] == handle).cloned().unwrap_or_else(|| panic!("{ns}.{dev} {handle}: {all}"))
}

/// `tc -s -n NS class show dev DEV` as (class id, bytes sent), from text.
pub fn class_bytes(sb: &Sandbox, ns: &str, dev: &str) -> Vec<(String, u64)> {
    let text = sb.run("tc", &["-s", "-n", ns, "class", "show", "dev", dev]).ok();
    let mut out = Vec::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("class htb ") {
            current = rest.split_whitespace().next().map(str::to_string);
        } else if let (Some(id), Some(rest)) = (&current, line.trim().strip_prefix("Sent ")) {
            let bytes = rest.split_whitespace().next().and_then(|b| b.parse().ok()).unwrap();
            out.push((id.clone(), bytes));
            current = None;
        }
    }
    out
}
