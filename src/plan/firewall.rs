//! netscript's nftables table, as the planner and the executor see it: one table
//! `inet netscript` a namespace, holding a chain a hook the script uses (and a `nat`
//! chain where it uses NAT). What the kernel holds is read back into the same shape
//! (each rule carries its netscript text as its nftables comment), so that desired and
//! observed compare with `==`.
//!
//! Reconciliation is whole-table: when anything differs (a rule added, changed, removed,
//! deleted by hand, a policy), the table is rebuilt in one nftables batch — the kernel
//! applies a batch atomically, so packets never see a half-made table — and the undo is
//! the table as it was (or its deletion). Counters start again from zero when a table is
//! rebuilt. Tables netscript does not own are never read for planning nor touched.

use crate::model::{CtState, FwAction, FwProto, FwRule, Hook, Namespace, Verdict};
use ipnet::IpNet;
use std::fmt::Write as _;
use std::net::IpAddr;

/// The name of netscript's table (family inet) in every namespace.
pub const TABLE: &str = "netscript";

/// The whole content of netscript's table in one namespace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FwTable {
    pub chains: Vec<FwChainSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainType {
    Filter,
    Nat,
    /// A filter chain at output that re-routes when a rule changes the mark.
    Route,
}

impl ChainType {
    pub fn word(self) -> &'static str {
        match self {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
            ChainType::Route => "route",
        }
    }
}

/// A base chain: its hook, type, priority, policy and rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FwChainSpec {
    pub name: String,
    pub hook: Hook,
    pub kind: ChainType,
    pub priority: i32,
    pub policy: Verdict,
    pub rules: Vec<FwRuleSpec>,
}

/// One rule, as the script means it (the model's [`FwRule`] without source spans).
/// In JSON (plans, the journal, state records) a rule is its text, as [`FwRuleSpec::text`]
/// writes it: compact, and read back with [`FwRuleSpec::parse`]; records that hold the
/// rule's fields as an object are read too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwRuleSpec {
    pub action: FwAction,
    pub proto: Option<FwProto>,
    pub src: Option<IpNet>,
    pub dst: Option<IpNet>,
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub mark: Option<(u32, Option<u32>)>,
    pub ct: Vec<CtState>,
    pub counter: bool,
}

impl serde::Serialize for FwRuleSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text())
    }
}

impl<'de> serde::Deserialize<'de> for FwRuleSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Fields(FwRuleFields),
        }
        match Repr::deserialize(deserializer)? {
            Repr::Text(text) => FwRuleSpec::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a firewall rule netscript writes"))),
            Repr::Fields(f) => Ok(FwRuleSpec { action: f.action, proto: f.proto, src: f.src, dst: f.dst, sport: f.sport, dport: f.dport, iif: f.iif, oif: f.oif, mark: f.mark, ct: f.ct, counter: f.counter }),
        }
    }
}

/// A rule as records before rules were written as text held it.
#[derive(serde::Deserialize)]
struct FwRuleFields {
    action: FwAction,
    #[serde(default)]
    proto: Option<FwProto>,
    #[serde(default)]
    src: Option<IpNet>,
    #[serde(default)]
    dst: Option<IpNet>,
    #[serde(default)]
    sport: Option<(u16, u16)>,
    #[serde(default)]
    dport: Option<(u16, u16)>,
    #[serde(default)]
    iif: Option<String>,
    #[serde(default)]
    oif: Option<String>,
    #[serde(default)]
    mark: Option<(u32, Option<u32>)>,
    #[serde(default)]
    ct: Vec<CtState>,
    #[serde(default)]
    counter: bool,
}

impl From<&FwRule> for FwRuleSpec {
    fn from(r: &FwRule) -> Self {
        FwRuleSpec {
            action: r.action.clone(),
            proto: r.proto,
            src: r.src,
            dst: r.dst,
            sport: r.sport,
            dport: r.dport,
            iif: r.iif.as_ref().map(|i| i.node.clone()),
            oif: r.oif.as_ref().map(|i| i.node.clone()),
            mark: r.mark,
            ct: r.ct.clone(),
            counter: r.counter,
        }
    }
}

/// nftables' standard priorities: `filter` 0, `dstnat` -100, `srcnat` 100.
fn nat_priority(hook: Hook) -> i32 {
    if hook.has_dnat() { -100 } else { 100 }
}

/// What netscript's table in `ns` must hold; `None` when the namespace declares no
/// firewall. A hook's NAT rules go to a `HOOK_nat` chain of type nat (nftables runs NAT
/// only there), the others to a chain `HOOK` of type filter, priority 0, with the
/// hook's policy; at `output`, a chain that sets marks is of type route, so that the
/// kernel routes the packet again with its new mark (as `rule fwmark` expects).
pub fn desired_table(ns: &Namespace) -> Option<FwTable> {
    desired_table_with_sources(ns).map(|(table, _)| table)
}

/// [`desired_table`] with, for each chain, the source span of each of its rules.
pub fn desired_table_with_sources(ns: &Namespace) -> Option<(FwTable, Vec<Vec<crate::source::Span>>)> {
    if ns.firewall.is_empty() {
        return None;
    }
    let mut chains = Vec::new();
    let mut spans = Vec::new();
    for hook in Hook::ALL {
        let Some(chain) = ns.firewall.iter().find(|c| c.hook == hook) else { continue };
        let (nat, filter): (Vec<&FwRule>, Vec<&FwRule>) = chain.rules.iter().partition(|r| r.action.is_nat());
        if !filter.is_empty() || chain.policy.is_some() || nat.is_empty() {
            let marks = filter.iter().any(|r| matches!(r.action, FwAction::Mark(_)));
            spans.push(filter.iter().map(|r| r.span).collect());
            chains.push(FwChainSpec {
                name: hook.word().to_string(),
                hook,
                kind: if hook == Hook::Output && marks { ChainType::Route } else { ChainType::Filter },
                priority: 0,
                policy: chain.policy.as_ref().map(|p| p.node).unwrap_or(Verdict::Accept),
                rules: filter.into_iter().map(FwRuleSpec::from).collect(),
            });
        }
        if !nat.is_empty() {
            spans.push(nat.iter().map(|r| r.span).collect());
            chains.push(FwChainSpec {
                name: format!("{}_nat", hook.word()),
                hook,
                kind: ChainType::Nat,
                priority: nat_priority(hook),
                policy: Verdict::Accept,
                rules: nat.into_iter().map(FwRuleSpec::from).collect(),
            });
        }
    }
    Some((FwTable { chains }, spans))
}

impl FwRuleSpec {
    /// The rule in netscript's own syntax, matches in a fixed order: what `show` prints
    /// and what the kernel keeps as the rule's comment, from which it is read back.
    pub fn text(&self) -> String {
        let mut s = String::with_capacity(48);
        self.write_text(&mut s);
        s
    }

    /// [`FwRuleSpec::text`], appended to `s`.
    pub fn write_text(&self, s: &mut String) {
        match &self.action {
            FwAction::Accept => s.push_str("accept"),
            FwAction::Drop => s.push_str("drop"),
            FwAction::Reject => s.push_str("reject"),
            FwAction::Mark(m) => write!(s, "mark {m}").unwrap(),
            FwAction::Classify(c) => write!(s, "classify {c:x}").unwrap(),
            FwAction::Masquerade => s.push_str("masquerade"),
            FwAction::Snat(a) => write!(s, "snat to {a}").unwrap(),
            FwAction::Dnat(a, None) => write!(s, "dnat to {a}").unwrap(),
            FwAction::Dnat(IpAddr::V4(a), Some(p)) => write!(s, "dnat to {a}:{p}").unwrap(),
            FwAction::Dnat(IpAddr::V6(a), Some(p)) => write!(s, "dnat to [{a}]:{p}").unwrap(),
        }
        if let Some(p) = self.proto {
            write!(s, " proto {}", p.word()).unwrap();
        }
        if let Some(n) = self.src {
            write!(s, " src {n}").unwrap();
        }
        if let Some(n) = self.dst {
            write!(s, " dst {n}").unwrap();
        }
        for (word, range) in [(" sport ", self.sport), (" dport ", self.dport)] {
            match range {
                Some((a, b)) if a == b => write!(s, "{word}{a}").unwrap(),
                Some((a, b)) => write!(s, "{word}{a}-{b}").unwrap(),
                None => {}
            }
        }
        if let Some(i) = &self.iif {
            write!(s, " iif {i}").unwrap();
        }
        if let Some(i) = &self.oif {
            write!(s, " oif {i}").unwrap();
        }
        match self.mark {
            Some((m, Some(mask))) => write!(s, " mark {m}/{mask:#x}").unwrap(),
            Some((m, None)) => write!(s, " mark {m}").unwrap(),
            None => {}
        }
        for (i, state) in self.ct.iter().enumerate() {
            s.push_str(if i == 0 { " ct " } else { "," });
            s.push_str(state.word());
        }
        if self.counter {
            s.push_str(" counter");
        }
    }

    /// Reads back what [`FwRuleSpec::text`] wrote; `None` for any other text (a rule
    /// someone else put in netscript's table, or changed).
    pub fn parse(text: &str) -> Option<FwRuleSpec> {
        let mut words = text.split(' ');
        let number = |w: Option<&str>| -> Option<u32> {
            let w = w?;
            match w.strip_prefix("0x") {
                Some(h) => u32::from_str_radix(h, 16).ok(),
                None => w.parse().ok(),
            }
        };
        let port_range = |w: Option<&str>| -> Option<(u16, u16)> {
            let w = w?;
            match w.split_once('-') {
                Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                None => {
                    let p = w.parse().ok()?;
                    Some((p, p))
                }
            }
        };
        let action = match words.next()? {
            "accept" => FwAction::Accept,
            "drop" => FwAction::Drop,
            "reject" => FwAction::Reject,
            "masquerade" => FwAction::Masquerade,
            "mark" => FwAction::Mark(number(words.next())?),
            "classify" => FwAction::Classify(u32::from_str_radix(words.next()?, 16).ok()?),
            "snat" => {
                (words.next()? == "to").then_some(())?;
                FwAction::Snat(words.next()?.parse().ok()?)
            }
            "dnat" => {
                (words.next()? == "to").then_some(())?;
                let target = words.next()?;
                if let Ok(a) = target.parse::<IpAddr>() {
                    FwAction::Dnat(a, None)
                } else if let Some(rest) = target.strip_prefix('[') {
                    let (a, p) = rest.split_once("]:")?;
                    FwAction::Dnat(IpAddr::V6(a.parse().ok()?), Some(p.parse().ok()?))
                } else {
                    let (a, p) = target.rsplit_once(':')?;
                    FwAction::Dnat(IpAddr::V4(a.parse().ok()?), Some(p.parse().ok()?))
                }
            }
            _ => return None,
        };
        let mut r = FwRuleSpec { action, proto: None, src: None, dst: None, sport: None, dport: None, iif: None, oif: None, mark: None, ct: Vec::new(), counter: false };
        while let Some(word) = words.next() {
            match word {
                "proto" => {
                    r.proto = Some(match words.next()? {
                        "tcp" => FwProto::Tcp,
                        "udp" => FwProto::Udp,
                        "icmp" => FwProto::Icmp,
                        "icmpv6" => FwProto::Icmpv6,
                        _ => return None,
                    })
                }
                "src" => r.src = Some(words.next()?.parse().ok()?),
                "dst" => r.dst = Some(words.next()?.parse().ok()?),
                "sport" => r.sport = Some(port_range(words.next())?),
                "dport" => r.dport = Some(port_range(words.next())?),
                "iif" => r.iif = Some(words.next()?.to_string()),
                "oif" => r.oif = Some(words.next()?.to_string()),
                "mark" => {
                    let w = words.next()?;
                    r.mark = Some(match w.split_once('/') {
                        Some((m, mask)) => (number(Some(m))?, Some(number(Some(mask))?)),
                        None => (number(Some(w))?, None),
                    });
                }
                "ct" => {
                    for state in words.next()?.split(',') {
                        r.ct.push(CtState::ALL.into_iter().find(|c| c.word() == state)?);
                    }
                }
                "counter" => r.counter = true,
                _ => return None,
            }
        }
        // Only what `text` writes: anything else is not netscript's rule.
        (r.text() == text).then_some(r)
    }
}

impl FwTable {
    /// How many rules the table holds.
    pub fn rule_count(&self) -> usize {
        self.chains.iter().map(|c| c.rules.len()).sum()
    }

    /// One line: the chains, their policies and how many rules each holds.
    pub fn summary(&self) -> String {
        let chains: Vec<String> = self
            .chains
            .iter()
            .map(|c| {
                let policy = if c.policy == Verdict::Drop { ", policy drop" } else { "" };
                let n = c.rules.len();
                format!("{} ({} hook {} priority {}{policy}, {n} rule{})", c.name, c.kind.word(), c.hook.word(), c.priority, if n == 1 { "" } else { "s" })
            })
            .collect();
        format!("table inet {TABLE}: {}", chains.join("; "))
    }
}

/// What the kernel holds of netscript's table in a namespace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObservedFirewall {
    /// Chains and the rules netscript recognises in them (by their comment).
    pub table: FwTable,
    /// Rules in the table that are not netscript's text (added or changed by hand):
    /// their presence makes the table differ from any desired one.
    pub unknown_rules: usize,
    /// Rules with netscript's text as their comment whose expressions are not what that
    /// text means (edited by hand): not in `table`, and a difference like `unknown_rules`.
    pub edited_rules: usize,
    /// Objects in the table other than base chains and rules (sets, regular chains…).
    pub other_objects: usize,
    /// For each chain, each rule's (packets, bytes) when it counts.
    pub counters: Vec<Vec<Option<(u64, u64)>>>,
    /// nftables' generation when the table was read (`None`: it changed during the read).
    pub generation: Option<u32>,
    /// The namespace it was read in, by its cookie (`SO_NETNS_COOKIE`: never reused, unlike
    /// an inode number).
    pub netns_cookie: Option<u64>,
    /// `table`'s digest when it is already known: a sealed observation compared it with
    /// the seal's to take the table as sealed, and [`ObservedFirewall::seal`] need not
    /// serialise and hash 10,000 rules a second time.
    #[serde(skip)]
    pub digest: Option<String>,
}

/// What a run saw when the kernel held exactly the table the script declares: the
/// namespace (by its cookie), nftables' generation counter then, and the table's digest.
/// The kernel bumps the generation on every change to any table of the namespace, so
/// while the namespace is at that generation its table is still that one: a run that
/// declares the same table need not read 10,000 rules back to know it has nothing to do.
/// Missing fields read as zeros (a seal that matches nothing): a seal is a shortcut, and a
/// record from another version is never damaged for its seals.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FirewallSeal {
    pub netns_cookie: u64,
    pub generation: u32,
    pub table: String,
}

impl FwTable {
    /// A stable digest of the whole table (chains, policies, every rule's text).
    pub fn digest(&self) -> String {
        crate::model::content_hash(&serde_json::to_vec(self).expect("a table serialises"))
    }
}

impl ObservedFirewall {
    /// The table as a seal vouches for it (nothing read back; counters unknown).
    pub fn sealed(table: FwTable, seal: &FirewallSeal) -> ObservedFirewall {
        let counters = table.chains.iter().map(|c| vec![None; c.rules.len()]).collect();
        let digest = Some(seal.table.clone());
        ObservedFirewall { table, unknown_rules: 0, edited_rules: 0, other_objects: 0, counters, generation: Some(seal.generation), netns_cookie: Some(seal.netns_cookie), digest }
    }

    /// The seal of this reading, when the table is `want` and did not change while read.
    pub fn seal(&self, want: &FwTable) -> Option<FirewallSeal> {
        (self.holds(want)).then_some(())?;
        // `want` is `table` (`holds`), whose digest a sealed observation knows.
        let table = self.digest.clone().unwrap_or_else(|| want.digest());
        Some(FirewallSeal { netns_cookie: self.netns_cookie?, generation: self.generation?, table })
    }
}

impl ObservedFirewall {
    /// Whether the kernel holds exactly `want`.
    pub fn holds(&self, want: &FwTable) -> bool {
        self.unknown_rules == 0 && self.edited_rules == 0 && self.other_objects == 0 && self.table == *want
    }
}

impl ObservedFirewall {
    /// `show`'s lines for the table: each chain with its hook and policy, each rule as
    /// netscript text; with `stats`, each counting rule's packets and bytes.
    pub fn show_text(&self, stats: bool, sources: &[Vec<Option<String>>]) -> String {
        let mut out = String::new();
        for (i, chain) in self.table.chains.iter().enumerate() {
            let policy = if chain.policy == Verdict::Drop { " policy drop" } else { "" };
            writeln!(out, "  firewall {}{policy} ({} chain {}, priority {})", chain.hook.word(), chain.kind.word(), chain.name, chain.priority).unwrap();
            for (j, rule) in chain.rules.iter().enumerate() {
                let counted = self.counters.get(i).and_then(|c| c.get(j)).copied().flatten().filter(|_| stats);
                let source = sources.get(i).and_then(|s| s.get(j)).cloned().flatten();
                let note = match (counted, source) {
                    (Some((packets, bytes)), Some(source)) => format!("  # {packets} packets, {bytes} bytes, {source}"),
                    (Some((packets, bytes)), None) => format!("  # {packets} packets, {bytes} bytes"),
                    (None, Some(source)) => format!("  # {source}"),
                    (None, None) => String::new(),
                };
                writeln!(out, "    {}{note}", rule.text()).unwrap();
            }
        }
        if self.unknown_rules > 0 || self.other_objects > 0 {
            writeln!(out, "  firewall: {} rule(s) and {} object(s) in table inet {TABLE} that are not netscript's", self.unknown_rules, self.other_objects).unwrap();
        }
        if self.edited_rules > 0 {
            writeln!(out, "  firewall: {} rule(s) in table inet {TABLE} with netscript's comment but edited by hand (the next run writes them again)", self.edited_rules).unwrap();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_text_reads_back() {
        let texts = [
            "accept",
            "accept ct established,related",
            "accept proto tcp dport 22",
            "reject proto udp src 10.0.0.0/8 sport 1000-2000 counter",
            "mark 7 src 10.1.0.100/32",
            "classify 20 oif eth0",
            "masquerade oif wan",
            "snat to 192.0.2.1 src 10.1.0.0/24",
            "dnat to 10.1.0.5:8080 proto tcp dport 80",
            "dnat to [fd00::5]:443 proto tcp dport 443",
            "dnat to fd00::5",
            "drop proto icmpv6 dst fd00::/64 iif lan mark 7/0xff ct invalid,new",
        ];
        for text in texts {
            let rule = FwRuleSpec::parse(text).unwrap_or_else(|| panic!("{text} does not read back"));
            assert_eq!(rule.text(), text);
        }
        // In JSON a rule is its text; records with the fields as an object still read.
        let rule = FwRuleSpec::parse("accept proto tcp dport 22 counter").unwrap();
        assert_eq!(serde_json::to_string(&rule).unwrap(), "\"accept proto tcp dport 22 counter\"");
        let legacy: FwRuleSpec = serde_json::from_str(r#"{"action":"accept","proto":"tcp","dport":[22,22],"counter":true}"#).unwrap();
        assert_eq!(legacy, rule);
        assert!(serde_json::from_str::<FwRuleSpec>("\"accept proto sctp\"").is_err());
        for foreign in ["", "accept  proto tcp", "accept proto sctp", "jump x", "accept counter counter", "mark 0x7"] {
            assert!(FwRuleSpec::parse(foreign).is_none(), "{foreign:?} read as netscript's");
        }
    }
}
