//! nftables over netlink, without the `nft` binary: netscript's table `inet netscript`
//! of a namespace, set whole in one batch (atomic in the kernel), deleted, and read
//! back. Every function runs on a thread that is in the namespace (a netns worker) and
//! opens its own NETLINK_NETFILTER socket there.
//!
//! The encoding is netscript's own (`wire.rs`, `expr.rs`): the `nlink` crate's nftables
//! module was considered (MIT/Apache, batches, listing, NAT, marks) but is large and
//! young (0.x, many releases), brings its own async connection model, and netscript
//! needs a small subset (one table, base chains, a dozen expression kinds, and reading
//! back chains and rule comments), written here in a few hundred lines.

mod expr;
mod wire;

use crate::exec::ExecError;
use crate::model::{Hook, Verdict};
use crate::plan::firewall::{ChainType, FirewallSeal, FwChainSpec, FwRuleSpec, FwTable, ObservedFirewall, TABLE};
use wire::*;

const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_RULE_USERDATA: u16 = 7;
const NFTA_SET_TABLE: u16 = 1;
const NFTA_OBJ_TABLE: u16 = 1;
const NLM_F_APPEND: u16 = 0x800;

fn hook_number(hook: Hook) -> u32 {
    match hook {
        Hook::Prerouting => 0,
        Hook::Input => 1,
        Hook::Forward => 2,
        Hook::Output => 3,
        Hook::Postrouting => 4,
    }
}

fn table_attrs() -> Attrs {
    let mut a = Attrs::new();
    a.str(NFTA_TABLE_NAME, TABLE);
    a
}

/// Makes netscript's table hold exactly `table`, in one batch: the table is made if
/// absent, deleted with everything in it, and made again with its chains and rules.
/// The kernel applies the batch whole or not at all.
pub fn set_table(table: &FwTable) -> Result<(), ExecError> {
    let mut batch = Batch::new();
    // About 300 bytes a rule: one allocation for the whole batch.
    batch.reserve(table.rule_count() * 320 + 4096);
    batch.add(NFT_MSG_NEWTABLE, NLM_F_CREATE, &table_attrs(), format!("making table inet {TABLE}"));
    batch.add(NFT_MSG_DELTABLE, 0, &table_attrs(), format!("emptying table inet {TABLE}"));
    batch.add(NFT_MSG_NEWTABLE, NLM_F_CREATE, &table_attrs(), format!("making table inet {TABLE}"));
    // The sequence number of each chain's first rule, to name a refused rule.
    let mut first_rules: Vec<(u32, usize)> = Vec::new();
    let mut text = String::new();
    for (c, chain) in table.chains.iter().enumerate() {
        let mut hook = Attrs::new();
        hook.be32(NFTA_HOOK_HOOKNUM, hook_number(chain.hook)).be32(NFTA_HOOK_PRIORITY, chain.priority as u32);
        let mut a = Attrs::new();
        a.str(NFTA_CHAIN_TABLE, TABLE).str(NFTA_CHAIN_NAME, &chain.name).nest(NFTA_CHAIN_HOOK, &hook);
        a.be32(NFTA_CHAIN_POLICY, if chain.policy == Verdict::Accept { 1 } else { 0 });
        a.str(NFTA_CHAIN_TYPE, chain.kind.word());
        batch.add(NFT_MSG_NEWCHAIN, NLM_F_CREATE, &a, format!("chain {} ({} hook {})", chain.name, chain.kind.word(), chain.hook.word()));
        for rule in &chain.rules {
            text.clear();
            rule.write_text(&mut text);
            let userdata = expr::comment_userdata(&text)
                .ok_or_else(|| ExecError::InvalidPlan(format!("the rule `{text}` is too long for an nftables comment (255 bytes)")))?;
            let seq = batch.add_with(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, |a| {
                a.str(NFTA_RULE_TABLE, TABLE).str(NFTA_RULE_CHAIN, &chain.name);
                a.nest_with(NFTA_RULE_EXPRESSIONS, |list| expr::write_expressions(list, rule));
                a.raw(NFTA_RULE_USERDATA, &userdata);
            });
            if first_rules.last().is_none_or(|(_, last)| *last != c) {
                first_rules.push((seq, c));
            }
        }
    }
    // A refused rule: its chain is the last one whose first rule came before it.
    let label = |seq: u32| {
        let &(first, c) = first_rules.iter().rev().find(|(first, _)| *first <= seq)?;
        let chain = &table.chains[c];
        let rule = chain.rules.get((seq - first) as usize)?;
        Some(format!("the rule `{}` in chain {}", rule.text(), chain.name))
    };
    NftSocket::in_current_namespace()?.send_batch_labelled(batch, &label)
}

/// Deletes netscript's table (ENOENT when there is none).
pub fn delete_table() -> Result<(), ExecError> {
    let mut batch = Batch::new();
    batch.add(NFT_MSG_DELTABLE, 0, &table_attrs(), format!("deleting table inet {TABLE}"));
    NftSocket::in_current_namespace()?.send_batch(batch)
}

/// Reads netscript's table; `None` when there is none.
pub fn observe() -> Result<Option<ObservedFirewall>, ExecError> {
    observe_unless_sealed(None)
}

/// [`observe`], but when `sealed` holds a seal of this namespace (by its cookie) at the
/// generation nftables is at now, the table is the one sealed (`FwTable`): nothing is
/// read back. A reading gives the namespace's cookie and the generation it was made at,
/// when nothing changed while reading.
pub fn observe_unless_sealed(sealed: Option<(&FirewallSeal, &FwTable)>) -> Result<Option<ObservedFirewall>, ExecError> {
    let cookie = crate::exec::netns::current_cookie();
    let mut socket = NftSocket::in_current_namespace()?;
    let before = socket.generation()?;
    if let Some((seal, table)) = sealed
        && Some(seal.netns_cookie) == cookie
        && seal.generation == before
    {
        return Ok(Some(ObservedFirewall::sealed(table.clone(), seal)));
    }
    let mut observed = read_table(&mut socket)?;
    let after = socket.generation()?;
    if let Some(observed) = &mut observed {
        observed.generation = (before == after).then_some(before);
        observed.netns_cookie = cookie;
    }
    Ok(observed)
}

fn read_table(socket: &mut NftSocket) -> Result<Option<ObservedFirewall>, ExecError> {
    let tables = socket.dump(NFT_MSG_GETTABLE, &Attrs::new())?;
    if !tables.iter().any(|t| attr_str(&parse_attrs(t), NFTA_TABLE_NAME).as_deref() == Some(TABLE)) {
        return Ok(None);
    }
    let mut filter = Attrs::new();
    filter.str(NFTA_CHAIN_TABLE, TABLE);
    let mut observed = ObservedFirewall { table: FwTable { chains: Vec::new() }, unknown_rules: 0, edited_rules: 0, other_objects: 0, counters: Vec::new(), generation: None, netns_cookie: None, digest: None };
    for body in socket.dump(NFT_MSG_GETCHAIN, &filter)? {
        let attrs = parse_attrs(&body);
        if attr_str(&attrs, NFTA_CHAIN_TABLE).as_deref() != Some(TABLE) {
            continue;
        }
        let name = attr_str(&attrs, NFTA_CHAIN_NAME).unwrap_or_default();
        let hook = attr(&attrs, NFTA_CHAIN_HOOK).map(parse_attrs);
        let number = hook.as_ref().and_then(|h| attr_be32(h, NFTA_HOOK_HOOKNUM));
        let hook_kind = number.and_then(|n| Hook::ALL.into_iter().find(|h| hook_number(*h) == n));
        let kind = match attr_str(&attrs, NFTA_CHAIN_TYPE).as_deref() {
            Some("filter") => Some(ChainType::Filter),
            Some("nat") => Some(ChainType::Nat),
            Some("route") => Some(ChainType::Route),
            _ => None,
        };
        let (Some(hook_kind), Some(kind)) = (hook_kind, kind) else {
            observed.other_objects += 1;
            continue;
        };
        let priority = hook.as_ref().and_then(|h| attr_be32(h, NFTA_HOOK_PRIORITY)).unwrap_or(0) as i32;
        let policy = if attr_be32(&attrs, NFTA_CHAIN_POLICY) == Some(0) { Verdict::Drop } else { Verdict::Accept };
        observed.table.chains.push(FwChainSpec { name, hook: hook_kind, kind, priority, policy, rules: Vec::new() });
        observed.counters.push(Vec::new());
    }
    let mut filter = Attrs::new();
    filter.str(NFTA_RULE_TABLE, TABLE);
    // Read as they arrive, with buffers reused from rule to rule: 10,000 rules are read
    // in a few milliseconds besides the kernel's own time.
    let mut expected = Attrs::new();
    socket.dump_each(NFT_MSG_GETRULE, &filter, |body| {
        let attrs = parse_attrs(body);
        if !attr_is(&attrs, NFTA_RULE_TABLE, TABLE) {
            return;
        }
        let Some(index) = observed.table.chains.iter().position(|c| attr_is(&attrs, NFTA_RULE_CHAIN, &c.name)) else {
            observed.unknown_rules += 1;
            return;
        };
        let Some(rule) = attr(&attrs, NFTA_RULE_USERDATA).and_then(expr::userdata_text).and_then(FwRuleSpec::parse) else {
            observed.unknown_rules += 1;
            return;
        };
        // The comment names the rule; the expressions must be what it means (a rule
        // edited by hand under netscript's comment is a difference too).
        expected.bytes.clear();
        expr::write_expressions(&mut expected, &rule);
        if !expr::expressions_match(attr(&attrs, NFTA_RULE_EXPRESSIONS).unwrap_or(&[]), &expected.bytes) {
            observed.edited_rules += 1;
            return;
        }
        let counter = if rule.counter { counter_of(&attrs) } else { None };
        observed.table.chains[index].rules.push(rule);
        observed.counters[index].push(counter);
    })?;
    let mut filter = Attrs::new();
    filter.str(NFTA_SET_TABLE, TABLE);
    for (msg, table_attr) in [(NFT_MSG_GETSET, NFTA_SET_TABLE), (NFT_MSG_GETOBJ, NFTA_OBJ_TABLE)] {
        // Sets and stateful objects: not netscript's; their presence is a difference.
        match socket.dump(msg, &filter) {
            Ok(bodies) => observed.other_objects += bodies.iter().filter(|b| attr_str(&parse_attrs(b), table_attr).as_deref() == Some(TABLE)).count(),
            Err(ExecError::Kernel(k)) if k.errno == nix::libc::ENOENT => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(observed))
}

/// (packets, bytes) of a rule's counter expression.
fn counter_of(rule: &[(u16, &[u8])]) -> Option<(u64, u64)> {
    let list = parse_attrs(attr(rule, NFTA_RULE_EXPRESSIONS)?);
    for (_, elem) in list {
        let e = parse_attrs(elem);
        if attr_str(&e, 1).as_deref() == Some("counter") {
            let data = parse_attrs(attr(&e, 2)?);
            return Some((attr_be64(&data, 2)?, attr_be64(&data, 1)?));
        }
    }
    None
}
