//! What a firewall operation changes, rule by rule, for `plan` (text, JSON, dot).
//!
//! The executor sets netscript's table whole in one atomic batch ([`super::firewall`]);
//! the plan still shows each rule that the batch adds, changes or removes, with the
//! source line of the statement that declares it, each policy or chain type that
//! changes, and how many rules stay as they are. The table before is the operation's
//! undo (what the kernel held, as read back), the table after is the operation itself.
//!
//! Rules compare by their netscript text, chains by name. Within a chain the two rule
//! lists are compared in order (nftables evaluates rules in order, so a move is a
//! change): the common beginning and end, then a longest common subsequence of what is
//! between when that is small enough (at most [`LCS_CELLS`] pairs), else all of it
//! removed then added. A run of removed rules followed by as many added ones reads as
//! that many rules changed in place (`~`, with the old text); runs of different lengths
//! stay removals and additions.

use super::action::Action;
use super::firewall::{desired_table, ChainType, FwChainSpec, FwTable};
use crate::model::{Hook, Namespace, Verdict};
use crate::source::Span;

/// Above this many (old × new) rule pairs between the common beginning and end of a
/// chain, no common subsequence is searched (a plan stays fast for 10,000 rules).
pub const LCS_CELLS: usize = 1 << 20;

/// What the kernel held in netscript's table that is not a rule netscript wrote:
/// rewriting the table removes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unrecognised {
    /// Rules without netscript's text as their comment (added by hand, or by a tool).
    pub rules: usize,
    /// Rules with netscript's comment whose expressions were changed by hand.
    pub edited: usize,
    /// Sets, regular chains, stateful objects.
    pub objects: usize,
}

impl Unrecognised {
    pub fn is_empty(&self) -> bool {
        *self == Unrecognised::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// The chain is made by this operation.
    Added,
    /// The chain goes.
    Removed,
    /// The chain stays (its rules or settings may change).
    Kept,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change<T> {
    pub from: T,
    pub to: T,
}

/// One rule that the operation adds, removes or changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleChange {
    Added { rule: String, span: Option<Span> },
    Removed { rule: String },
    Changed { rule: String, was: String, span: Option<Span> },
}

impl RuleChange {
    /// `+`, `-` or `~`, then the rule.
    pub fn text(&self) -> String {
        match self {
            RuleChange::Added { rule, .. } => format!("+ {rule}"),
            RuleChange::Removed { rule } => format!("- {rule}"),
            RuleChange::Changed { rule, .. } => format!("~ {rule}"),
        }
    }
    pub fn span(&self) -> Option<Span> {
        match self {
            RuleChange::Added { span, .. } | RuleChange::Changed { span, .. } => *span,
            RuleChange::Removed { .. } => None,
        }
    }
}

/// One chain of the table, before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainChange {
    pub name: String,
    pub hook: Hook,
    pub presence: Presence,
    /// The chain's type, hook priority and policy after (before, for a removed chain).
    pub kind: ChainType,
    pub priority: i32,
    pub policy: Verdict,
    /// Set when a kept chain's settings change.
    pub kind_change: Option<Change<ChainType>>,
    pub priority_change: Option<Change<i32>>,
    pub policy_change: Option<Change<Verdict>>,
    pub rules: Vec<RuleChange>,
    pub unchanged: usize,
}

impl ChainChange {
    pub fn is_unchanged(&self) -> bool {
        self.presence == Presence::Kept && self.rules.is_empty() && self.kind_change.is_none() && self.priority_change.is_none() && self.policy_change.is_none()
    }

    /// The chain's heading: `chain input (filter hook input priority 0, policy drop): new`,
    /// `chain input: policy accept -> drop`, `chain output: unchanged, 3 rules`.
    pub fn heading(&self) -> String {
        let settings = || {
            let policy = if self.policy == Verdict::Drop { ", policy drop" } else { "" };
            format!("{} hook {} priority {}{policy}", self.kind.word(), self.hook.word(), self.priority)
        };
        match self.presence {
            Presence::Added => format!("chain {} ({}): new", self.name, settings()),
            Presence::Removed => format!("chain {} ({}): removed", self.name, settings()),
            Presence::Kept if self.is_unchanged() => format!("chain {}: unchanged, {}", self.name, rules(self.unchanged)),
            Presence::Kept => {
                let mut parts = Vec::new();
                if let Some(c) = &self.kind_change {
                    parts.push(format!("type {} -> {}", c.from.word(), c.to.word()));
                }
                if let Some(c) = &self.priority_change {
                    parts.push(format!("priority {} -> {}", c.from, c.to));
                }
                if let Some(c) = &self.policy_change {
                    parts.push(format!("policy {} -> {}", verdict_word(c.from), verdict_word(c.to)));
                }
                if parts.is_empty() { format!("chain {}:", self.name) } else { format!("chain {}: {}", self.name, parts.join(", ")) }
            }
        }
    }
}

pub fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Accept => "accept",
        Verdict::Drop => "drop",
    }
}

fn rules(n: usize) -> String {
    format!("{n} rule{}", if n == 1 { "" } else { "s" })
}

/// Everything a firewall operation changes in one namespace's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableChange {
    /// The table is made (there was none), deleted, or rewritten.
    pub presence: Presence,
    pub chains: Vec<ChainChange>,
    /// What the table held that netscript did not write, removed by the rewrite.
    pub unrecognised: Unrecognised,
}

impl TableChange {
    pub fn added(&self) -> usize {
        self.count(|r| matches!(r, RuleChange::Added { .. }))
    }
    pub fn removed(&self) -> usize {
        self.count(|r| matches!(r, RuleChange::Removed { .. }))
    }
    pub fn changed(&self) -> usize {
        self.count(|r| matches!(r, RuleChange::Changed { .. }))
    }
    pub fn unchanged(&self) -> usize {
        self.chains.iter().map(|c| c.unchanged).sum()
    }
    fn count(&self, f: impl Fn(&RuleChange) -> bool) -> usize {
        self.chains.iter().flat_map(|c| &c.rules).filter(|r| f(r)).count()
    }

    /// The op's line in a plan: `set firewall in lab (table inet netscript): 3 rules
    /// added, 1 changed, 1 removed, 5 unchanged` (counts that are zero left out).
    pub fn headline(&self, ns: &str) -> String {
        let table = super::firewall::TABLE;
        if self.presence == Presence::Removed {
            return format!("delete firewall in {ns} (table inet {table}): {} removed", rules(self.removed()));
        }
        let counts = [(self.added(), "added"), (self.changed(), "changed"), (self.removed(), "removed"), (self.unchanged(), "unchanged")];
        // `3 rules added, 1 changed`: the first count says what is counted.
        let parts: Vec<String> = counts
            .iter()
            .filter(|(n, _)| *n > 0)
            .enumerate()
            .map(|(i, (n, what))| if i == 0 { format!("{} {what}", rules(*n)) } else { format!("{n} {what}") })
            .collect();
        let verb = if self.presence == Presence::Added { "make" } else { "set" };
        let parts = if parts.is_empty() { "no rules".to_string() } else { parts.join(", ") };
        format!("{verb} firewall in {ns} (table inet {table}): {parts}")
    }

    /// The lines under the operation: each chain's heading, then its rule changes
    /// (indented), with the source span of each rule the script declares; then what the
    /// table held that netscript did not write.
    pub fn lines(&self) -> Vec<(String, Option<Span>)> {
        let mut out = Vec::new();
        for chain in &self.chains {
            out.push((chain.heading(), None));
            for rule in &chain.rules {
                out.push((format!("  {}", rule.text()), rule.span()));
                if let RuleChange::Changed { was, .. } = rule {
                    out.push((format!("    (was: {was})"), None));
                }
            }
            if chain.unchanged > 0 && !chain.is_unchanged() {
                out.push((format!("  = {} unchanged", rules(chain.unchanged)), None));
            }
        }
        let u = &self.unrecognised;
        if u.edited > 0 {
            out.push((format!("{} with netscript's comment but edited by hand: written again", rules(u.edited)), None));
        }
        if u.rules > 0 {
            out.push((format!("{} not written by netscript (added by hand): removed", rules(u.rules)), None));
        }
        if u.objects > 0 {
            out.push((format!("{} other object{} (sets, chains without a hook): removed", u.objects, if u.objects == 1 { "" } else { "s" }), None));
        }
        out
    }
}

/// The changes of `op` when it is a firewall operation of `plan`, with the spans of the
/// rules `desired` declares.
pub fn op_change(plan: &super::Plan, op: &super::Op, desired: &crate::model::Desired) -> Option<TableChange> {
    let ns = op.action.namespace();
    let unrecognised = plan.firewall_unrecognised.get(ns).copied().unwrap_or_default();
    table_change(&op.action, &op.undo, desired.namespaces.get(ns), unrecognised)
}

impl TableChange {
    /// The changes as JSON: `{"table": "kept", "added": 1, …, "chains": [{"chain":
    /// "input", "change": "kept", "rules": [{"change": "added", "rule": "…", "location":
    /// "file:line:col"}, …], "unchanged_rules": 3, …}], "unrecognised": {…}}`.
    pub fn json(&self, sources: &crate::source::SourceMap) -> serde_json::Value {
        use serde_json::json;
        let chains: Vec<serde_json::Value> = self
            .chains
            .iter()
            .map(|c| {
                let rules: Vec<serde_json::Value> = c
                    .rules
                    .iter()
                    .map(|r| {
                        let mut v = match r {
                            RuleChange::Added { rule, .. } => json!({ "change": "added", "rule": rule }),
                            RuleChange::Removed { rule } => json!({ "change": "removed", "rule": rule }),
                            RuleChange::Changed { rule, was, .. } => json!({ "change": "changed", "rule": rule, "was": was }),
                        };
                        if let Some(span) = r.span() {
                            v["location"] = json!(sources.location(span));
                        }
                        v
                    })
                    .collect();
                let mut v = json!({
                    "chain": c.name,
                    "hook": c.hook,
                    "change": c.presence,
                    "type": c.kind,
                    "priority": c.priority,
                    "policy": c.policy,
                    "rules": rules,
                    "unchanged_rules": c.unchanged,
                });
                if let Some(ch) = &c.kind_change {
                    v["type_change"] = json!(ch);
                }
                if let Some(ch) = &c.priority_change {
                    v["priority_change"] = json!(ch);
                }
                if let Some(ch) = &c.policy_change {
                    v["policy_change"] = json!(ch);
                }
                v
            })
            .collect();
        let mut v = json!({
            "table": self.presence,
            "added": self.added(),
            "changed": self.changed(),
            "removed": self.removed(),
            "unchanged": self.unchanged(),
            "chains": chains,
        });
        if !self.unrecognised.is_empty() {
            v["unrecognised"] = json!(self.unrecognised);
        }
        v
    }
}

/// For each namespace whose table an operation of `ops` sets or deletes, what the
/// kernel's table holds that netscript did not write (namespaces where it holds nothing
/// such are left out).
pub fn unrecognised_in(ops: &[super::Op], observed: &super::Observed) -> std::collections::BTreeMap<String, Unrecognised> {
    ops.iter()
        .filter(|op| matches!(op.action, Action::SetFirewall { .. } | Action::DeleteFirewall { .. }))
        .filter_map(|op| {
            let ns = op.action.namespace();
            let seen = observed.namespaces.get(ns)?.firewall.as_ref()?;
            let u = Unrecognised { rules: seen.unknown_rules, edited: seen.edited_rules, objects: seen.other_objects };
            (!u.is_empty()).then(|| (ns.to_string(), u))
        })
        .collect()
}

/// The rule changes of a firewall operation (`None` for any other operation): the
/// table after is the action's, the table before its undo's; `ns` is the namespace as
/// the script declares it (for the rules' source spans; `None` when it declares none).
pub fn table_change(action: &Action, undo: &[Action], ns: Option<&Namespace>, unrecognised: Unrecognised) -> Option<TableChange> {
    let after = match action {
        Action::SetFirewall { table, .. } => Some(table),
        Action::DeleteFirewall { .. } => None,
        _ => return None,
    };
    let before = undo.iter().find_map(|u| match u {
        Action::SetFirewall { table, .. } => Some(table),
        _ => None,
    });
    let presence = match (before, after) {
        (None, _) => Presence::Added,
        (Some(_), None) => Presence::Removed,
        (Some(_), Some(_)) => Presence::Kept,
    };
    // The spans only fit when the action sets what the script declares now.
    let declared = ns.filter(|n| after.is_some() && desired_table(n).as_ref() == after);
    let empty = FwTable { chains: Vec::new() };
    let (before, after) = (before.unwrap_or(&empty), after.unwrap_or(&empty));
    let mut chains = Vec::new();
    // Chains in the table's own order (by hook), those that go where they were.
    let mut names: Vec<&FwChainSpec> = after.chains.iter().collect();
    for old in &before.chains {
        if !names.iter().any(|c| c.name == old.name) {
            let at = names.iter().position(|c| c.hook > old.hook).unwrap_or(names.len());
            names.insert(at, old);
        }
    }
    for chain in names {
        let old = before.chains.iter().find(|c| c.name == chain.name);
        let new = after.chains.iter().find(|c| c.name == chain.name);
        let spans = |i: usize| declared.and_then(|ns| rule_span(ns, new?, i));
        chains.push(chain_change(old, new, spans));
    }
    Some(TableChange { presence, chains, unrecognised })
}

/// The span of rule `index` of `chain` as `desired_table` built it from `ns`.
fn rule_span(ns: &Namespace, chain: &FwChainSpec, index: usize) -> Option<Span> {
    let declared = ns.firewall.iter().find(|c| c.hook == chain.hook)?;
    declared.rules.iter().filter(|r| r.action.is_nat() == (chain.kind == ChainType::Nat)).nth(index).map(|r| r.span)
}

fn chain_change(old: Option<&FwChainSpec>, new: Option<&FwChainSpec>, span: impl Fn(usize) -> Option<Span>) -> ChainChange {
    let this = new.or(old).expect("a chain is before or after");
    let mut c = ChainChange {
        name: this.name.clone(),
        hook: this.hook,
        presence: match (old, new) {
            (None, _) => Presence::Added,
            (Some(_), None) => Presence::Removed,
            _ => Presence::Kept,
        },
        kind: this.kind,
        priority: this.priority,
        policy: this.policy,
        kind_change: None,
        priority_change: None,
        policy_change: None,
        rules: Vec::new(),
        unchanged: 0,
    };
    if let (Some(o), Some(n)) = (old, new) {
        c.kind_change = (o.kind != n.kind).then_some(Change { from: o.kind, to: n.kind });
        c.priority_change = (o.priority != n.priority).then_some(Change { from: o.priority, to: n.priority });
        c.policy_change = (o.policy != n.policy).then_some(Change { from: o.policy, to: n.policy });
    }
    let old_texts: Vec<String> = old.map(|o| o.rules.iter().map(|r| r.text()).collect()).unwrap_or_default();
    let new_texts: Vec<String> = new.map(|n| n.rules.iter().map(|r| r.text()).collect()).unwrap_or_default();
    let mut removed: Vec<usize> = Vec::new();
    let mut added: Vec<usize> = Vec::new();
    let flush = |removed: &mut Vec<usize>, added: &mut Vec<usize>, out: &mut Vec<RuleChange>| {
        if removed.len() == added.len() {
            for (&o, &n) in removed.iter().zip(added.iter()) {
                out.push(RuleChange::Changed { rule: new_texts[n].clone(), was: old_texts[o].clone(), span: span(n) });
            }
        } else {
            out.extend(removed.iter().map(|&o| RuleChange::Removed { rule: old_texts[o].clone() }));
            out.extend(added.iter().map(|&n| RuleChange::Added { rule: new_texts[n].clone(), span: span(n) }));
        }
        removed.clear();
        added.clear();
    };
    for edit in edits(&old_texts, &new_texts) {
        match edit {
            Edit::Same => {
                flush(&mut removed, &mut added, &mut c.rules);
                c.unchanged += 1;
            }
            Edit::Removed(o) => removed.push(o),
            Edit::Added(n) => added.push(n),
        }
    }
    flush(&mut removed, &mut added, &mut c.rules);
    c
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit {
    Same,
    Removed(usize),
    Added(usize),
}

/// The edit script from `old` to `new`, in order: what both have in common stays, the
/// rest is removed (old index) or added (new index); within a run of changes removals
/// come first.
fn edits<T: PartialEq>(old: &[T], new: &[T]) -> Vec<Edit> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..].iter().rev().zip(new[prefix..].iter().rev()).take_while(|(a, b)| a == b).count();
    let (a, b) = (&old[prefix..old.len() - suffix], &new[prefix..new.len() - suffix]);
    let mut out = vec![Edit::Same; prefix];
    if a.len().saturating_mul(b.len()) <= LCS_CELLS {
        // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
        let w = b.len() + 1;
        let mut lcs = vec![0u32; (a.len() + 1) * w];
        for i in (0..a.len()).rev() {
            for j in (0..b.len()).rev() {
                lcs[i * w + j] = if a[i] == b[j] { lcs[(i + 1) * w + j + 1] + 1 } else { lcs[(i + 1) * w + j].max(lcs[i * w + j + 1]) };
            }
        }
        let (mut i, mut j) = (0, 0);
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        while i < a.len() || j < b.len() {
            if i < a.len() && j < b.len() && a[i] == b[j] {
                out.append(&mut removed);
                out.append(&mut added);
                out.push(Edit::Same);
                i += 1;
                j += 1;
            } else if j == b.len() || (i < a.len() && lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
                removed.push(Edit::Removed(prefix + i));
                i += 1;
            } else {
                added.push(Edit::Added(prefix + j));
                j += 1;
            }
        }
        out.append(&mut removed);
        out.append(&mut added);
    } else {
        out.extend((0..a.len()).map(|i| Edit::Removed(prefix + i)));
        out.extend((0..b.len()).map(|j| Edit::Added(prefix + j)));
    }
    out.extend(std::iter::repeat_n(Edit::Same, suffix));
    out
}

#[cfg(test)]
mod tests;
