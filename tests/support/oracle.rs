//! What the oracle reads of a namespace beyond iproute2's link/address/route/rule/qdisc
//! dumps: every sysctl under `/proc/sys/net`, the tc classes of every interface, the tc
//! filters under every qdisc and class of every interface (ingress and egress hooks
//! included, so eBPF classifiers attached by `bpf ingress|egress` show), and the
//! nftables ruleset (netscript's firewall and every other table). XDP programs are in the link dump already (`ip -d -json link`'s `xdp`).
//!
//! All of it is read by one shell per namespace, so that a dump costs one process more
//! per namespace, not one per interface.
//!
//! Dropped, because they differ between equal states (each with why):
//! * `net/netfilter/nf_conntrack_count`: the number of tracked connections, i.e. traffic.
//! * `net/ipv6/conf/*/stable_secret`: unreadable until set (the read fails, so it never
//!   shows; a script cannot set it either: netscript writes decimal values).
//! * In tc actions, `index` (allocated by the kernel when an action is made: an equal
//!   filter made again gets the next one), and `ref`/`bind` (reference counts).
//! * The hash-table part of u32 handles (`fh` `800:` and `800::800`, `key_ht` `800`):
//!   the kernel allocates a new table number each time a priority's u32 classifier is
//!   made, so a filter deleted and made again by a rollback comes back as `802::800`
//!   (found by this oracle in `tc_reconcile`). netscript names filters by priority and
//!   matches, never by handle; the node part (`::800`, the `order`) is kept.
//!
//! Kept, although the kernel picks them, because they are part of what a rollback must
//! restore: u32 key node numbers and orders, filter priorities, eBPF program ids (a
//! rollback re-attaches the program it detached, by id, so the id comes back).

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Sysctls whose value is traffic or a counter, not configuration.
const VOLATILE_SYSCTLS: [&str; 1] = ["net/netfilter/nf_conntrack_count"];

/// Keys dropped inside tc filter dumps (see the module documentation).
const VOLATILE_TC_KEYS: [&str; 3] = ["index", "ref", "bind"];

/// One interface's qdiscs as the qdisc dump lists them: (handle, kind).
pub struct DevQdiscs {
    pub dev: String,
    pub qdiscs: Vec<(String, String)>,
}

/// The shell that prints everything this module reads, section by section
/// (`@@ sysctl`, `@@ firewall`, `@@ class DEV`, `@@ filter DEV PARENT`).
fn script(devs: &[DevQdiscs]) -> String {
    let mut sh = String::from("echo '@@ sysctl'; grep -r . /proc/sys/net 2>/dev/null || true\n");
    sh += "echo '@@ firewall'; nft -j list ruleset 2>&1 || true\n";
    for d in devs {
        let dev = &d.dev;
        // A link can vanish between the link dump and here while the kernel destroys a
        // namespace: errors are shown as a section of their own, never ignored silently.
        sh += &format!("echo '@@ class {dev}'; tc -d class show dev {dev} 2>&1 || true\n");
        for (handle, kind) in &d.qdiscs {
            match kind.as_str() {
                "ingress" => sh += &format!("echo '@@ filter {dev} ingress'; tc -json filter show dev {dev} ingress 2>&1 || true\n"),
                "clsact" => {
                    sh += &format!("echo '@@ filter {dev} ingress'; tc -json filter show dev {dev} ingress 2>&1 || true\n");
                    sh += &format!("echo '@@ filter {dev} egress'; tc -json filter show dev {dev} egress 2>&1 || true\n");
                }
                // The default qdiscs (handle 0:) hold no filters.
                _ if handle == "0:" => {}
                _ => sh += &format!("echo '@@ filter {dev} {handle}'; tc -json filter show dev {dev} parent {handle} 2>&1 || true\n"),
            }
        }
        // Filters attached to classes.
        sh += &format!(
            "for c in $(tc class show dev {dev} 2>/dev/null | awk '{{print $3}}'); do echo \"@@ filter {dev} $c\"; tc -json filter show dev {dev} parent $c 2>&1 || true; done\n"
        );
    }
    sh
}

/// The sections this module adds to one namespace's dump: `sysctls`, `classes`,
/// `filters`, and `firewall` when the namespace has nftables tables. `run_sh` runs a shell script
/// inside the namespace and returns its output.
pub fn extra_sections(run_sh: &dyn Fn(&str) -> String, devs: &[DevQdiscs]) -> Map<String, Value> {
    let out = run_sh(&script(devs));
    let mut sysctls = Map::new();
    let mut classes = Map::new();
    let mut filters = Map::new();
    let mut firewall = None;
    let mut section: Vec<String> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut flush = |section: &[String], lines: &mut Vec<String>| {
        match section.first().map(String::as_str) {
            Some("class") => {
                lines.sort();
                lines.retain(|l| !l.trim().is_empty());
                if !lines.is_empty() {
                    classes.insert(section[1].clone(), Value::from(lines.iter().map(|l| l.trim_end().to_string()).collect::<Vec<_>>()));
                }
            }
            Some("firewall") => firewall = ruleset(&lines.join("\n")),
            Some("filter") => {
                let text = lines.join("\n");
                let value = parse_tc_json(&text);
                if value.as_array().is_none_or(|a| !a.is_empty()) {
                    filters.insert(format!("{} {}", section[1], section[2]), without_volatile_tc(value));
                }
            }
            _ => {}
        }
        lines.clear();
    };
    for line in out.lines() {
        if let Some(head) = line.strip_prefix("@@ ") {
            flush(&section, &mut lines);
            section = head.split_whitespace().map(str::to_string).collect();
            continue;
        }
        if section.first().map(String::as_str) == Some("sysctl") {
            // `grep -r . DIR` prints PATH:VALUE, one line per line of each file.
            if let Some((path, value)) = line.split_once(':') {
                let key = path.trim_start_matches("/proc/sys/");
                if VOLATILE_SYSCTLS.contains(&key) {
                    continue;
                }
                match sysctls.get_mut(key) {
                    Some(Value::String(s)) => {
                        s.push('\n');
                        s.push_str(value);
                    }
                    _ => {
                        sysctls.insert(key.to_string(), Value::String(value.to_string()));
                    }
                }
            }
        } else {
            lines.push(line.to_string());
        }
    }
    flush(&section, &mut lines);
    let mut extra = Map::new();
    extra.insert("sysctls".into(), Value::Object(sysctls));
    extra.insert("classes".into(), Value::Object(classes));
    extra.insert("filters".into(), Value::Object(filters));
    if let Some(firewall) = firewall {
        extra.insert("firewall".into(), firewall);
    }
    extra
}

/// The namespace's nftables ruleset (`nft -j list ruleset`: netscript's table and anyone
/// else's), normalised: without `metainfo` (nft's version), rule and object `handle`s
/// (numbers the kernel allocates: a table made again, as by a rollback, gets new ones)
/// and counter values (traffic; that a rule counts is kept). `None` when the ruleset is
/// empty, so namespaces without tables dump as they did before nftables was read. Text
/// that is not JSON (an error of `nft`) is kept as a string, so that it shows in a diff.
fn ruleset(text: &str) -> Option<Value> {
    let Ok(mut v) = serde_json::from_str::<Value>(text) else { return Some(Value::String(text.trim().to_string())) };
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("handle");
                if let Some(Value::Object(c)) = m.get_mut("counter") {
                    for k in ["packets", "bytes"] {
                        if c.contains_key(k) {
                            c.insert(k.into(), 0.into());
                        }
                    }
                }
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let items = v.get_mut("nftables")?.as_array_mut()?;
    items.retain(|i| i.get("metainfo").is_none());
    if items.is_empty() {
        return None;
    }
    strip(&mut v);
    Some(v)
}

/// tc's JSON, where a key repeated in one object (u32's `"match"`, once per key) becomes
/// an array of its values in order (serde_json would keep only the last one). Text that
/// is not JSON (an error message) is kept as a string, so that it shows in a diff.
fn parse_tc_json(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Array(vec![]);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    match Repeated::deserialize(&mut de) {
        Ok(Repeated(v)) => v,
        Err(_) => Value::String(text.trim().to_string()),
    }
}

fn without_volatile_tc(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !VOLATILE_TC_KEYS.contains(&k.as_str()))
                .map(|(k, v)| match (k.as_str(), &v) {
                    ("fh", Value::String(h)) if h.contains(':') => {
                        let node = h.split_once(':').map(|(_, rest)| rest).unwrap_or_default();
                        (k, Value::String(format!("ht:{node}")))
                    }
                    ("key_ht", Value::String(_)) => (k, Value::String("ht".into())),
                    _ => (k, without_volatile_tc(v)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_volatile_tc).collect()),
        other => other,
    }
}

/// JSON in which a key repeated in one object becomes an array of its values, in order
/// (tc's `"match"`, once per u32 key). Shared with `tc_oracle.rs`.
pub struct Repeated(pub Value);

impl<'de> Deserialize<'de> for Repeated {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RepeatedVisitor).map(Repeated)
    }
}

struct RepeatedVisitor;

impl<'de> Visitor<'de> for RepeatedVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Repeated(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let mut repeated: Vec<String> = Vec::new();
        while let Some((k, Repeated(v))) = map.next_entry::<String, Repeated>()? {
            match out.get_mut(&k) {
                None => {
                    out.insert(k, v);
                }
                Some(existing) => {
                    if !repeated.contains(&k) {
                        *existing = Value::Array(vec![existing.take()]);
                        repeated.push(k.clone());
                    }
                    existing.as_array_mut().unwrap().push(v);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// tc's text and JSON output without the direct_packets_stat counter and the reference
/// count (which count packets and holders, not configuration), as one line of words.
pub fn tc_details_without_counters(out: &str) -> String {
    let mut kept = Vec::new();
    let mut skip_next = false;
    for w in out.split([',', ' ']) {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if w == "refcnt" || w == "direct_packets_stat" {
            skip_next = true;
            continue;
        }
        if !w.contains("direct_packets_stat") && !w.contains("refcnt") {
            kept.push(w);
        }
    }
    kept.join(" ")
}
