//! The rule compiler (issue 17): a list of stateless rules (the `firewall` statement's
//! match model, [`crate::model::FwRule`]) → eBPF instructions for a tc classifier
//! (direct-action) or an XDP program. Pure, no toolchain: the instructions are built here
//! ([`insn`]) and loaded by the executor with a raw `BPF_PROG_LOAD`.
//!
//! ## What the program does
//!
//! 1. **Parse once, bounds-checked.** Every packet read is preceded by a comparison of
//!    the end of what it reads with `data_end` (the verifier's rule), for tc and XDP
//!    alike. The fields are copied to the stack: the L3 kind (none, IPv4, IPv6), the L4
//!    protocol, source and destination addresses, and the ports when there are any.
//!    * Ethernet: the EtherType at offset 12. IPv4 (0x0800) needs its 20-byte header and
//!      an IHL ≥ 5; IPv6 (0x86dd) its 40-byte header. Anything else — ARP, a VLAN tag
//!      (0x8100/0x88a8, not looked into), a truncated header — has no L3 fields.
//!    * Ports: only for TCP and UDP, when the 4 bytes at the transport header are in the
//!      packet, and for IPv4 only in the first fragment (offset 0). IPv4's transport
//!      header is at IHL×4; IPv6's right after the fixed header: extension headers are
//!      not walked, so the protocol of such a packet is its first extension header's
//!      number (0 hop-by-hop, 44 fragment, …) and `proto tcp` does not match it.
//! 2. **Rules in order.** A rule holds when all its matches do; a match on a field the
//!    packet lacks does not hold (`proto tcp` on ARP, `src 10.0.0.0/8` on IPv6, `dport 22`
//!    on a fragment). `proto P` compares the protocol number whatever the family.
//!    `src`/`dst` hold only for the prefix's family. `mark N[/MASK]` (tc only) compares
//!    `skb->mark & MASK` with N, the mark as it is then (an earlier `mark` rule's too).
//! 3. **Actions.** `pass` (or `accept`) and `drop` decide and end; `mark N` sets
//!    `skb->mark`, `classify ID` sets `skb->priority` to htb's 1:ID, and evaluation goes
//!    on. A `counter` rule adds 1 to its slot (the rule's index) of an array map of u64
//!    when it holds, atomically. No rule deciding: pass (`TC_ACT_OK`, `XDP_PASS`).

pub mod insn;

use crate::model::{FwAction, FwRule};
use insn::*;
use ipnet::IpNet;

/// Where the program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// `BPF_PROG_TYPE_SCHED_CLS`, direct-action: `TC_ACT_OK` 0, `TC_ACT_SHOT` 2.
    Tc,
    /// `BPF_PROG_TYPE_XDP`: `XDP_DROP` 1, `XDP_PASS` 2.
    Xdp,
}

impl Target {
    pub fn pass(self) -> i32 {
        match self {
            Target::Tc => 0,
            Target::Xdp => 2,
        }
    }
    pub fn drop(self) -> i32 {
        match self {
            Target::Tc => 2,
            Target::Xdp => 1,
        }
    }
    /// `BPF_PROG_TYPE_*`.
    pub fn prog_type(self) -> u32 {
        match self {
            Target::Tc => 3,
            Target::Xdp => 6,
        }
    }
    /// Offsets of `data` and `data_end` in the context (`__sk_buff`, `xdp_md`).
    fn data_offsets(self) -> (i16, i16) {
        match self {
            Target::Tc => (76, 80),
            Target::Xdp => (0, 4),
        }
    }
}

/// `__sk_buff` offsets of `mark` and `priority`.
pub const SKB_MARK: i16 = 8;
pub const SKB_PRIORITY: i16 = 32;

/// A rule the compiler cannot express (the checker refuses these first; this is the
/// compiler's own guard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// A compiled program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    pub target: Target,
    pub insns: Vec<Insn>,
    /// Entries of the counter map (one per rule), 0 when no rule counts: the map is
    /// `map[0]` in the instructions, its descriptor patched in at load.
    pub counters: u32,
}

impl Compiled {
    /// A hash of the instructions (as compiled, before the map descriptor is patched in)
    /// and the counter map's size: what the planner compares to decide whether an
    /// attached program is the one the rules make.
    pub fn hash(&self) -> String {
        let mut bytes = encode(&self.insns);
        bytes.extend_from_slice(&self.counters.to_le_bytes());
        bytes.push(self.target.prog_type() as u8);
        crate::model::content_hash(&bytes)
    }
    /// Instructions, counting an `lddw` as the two slots it takes (as the kernel does).
    pub fn len(&self) -> usize {
        self.insns.len()
    }
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }
    pub fn disassemble(&self) -> String {
        disassemble(&self.insns)
    }
}

// The stack: the parsed fields (see the module doc).
const KEY: i16 = -8;
const L3: i16 = -16;
const PROTO: i16 = -24;
const PORTS_OK: i16 = -32;
const SPORT: i16 = -40;
const DPORT: i16 = -48;
const SRC: i16 = -64;
const DST: i16 = -80;

/// The address words of a prefix: (word index, mask, net), both in the packet's byte
/// order read as a host u32 (what a 32-bit load of the address gives).
fn prefix_words(net: &IpNet) -> Vec<(i16, u32, u32)> {
    let (bytes, mask): (Vec<u8>, Vec<u8>) = match net {
        IpNet::V4(n) => (n.network().octets().to_vec(), n.netmask().octets().to_vec()),
        IpNet::V6(n) => (n.network().octets().to_vec(), n.netmask().octets().to_vec()),
    };
    (0..bytes.len() / 4)
        .map(|w| {
            let m = u32::from_ne_bytes(mask[w * 4..w * 4 + 4].try_into().unwrap());
            let v = u32::from_ne_bytes(bytes[w * 4..w * 4 + 4].try_into().unwrap());
            (w as i16, m, v & m)
        })
        .filter(|(_, m, _)| *m != 0)
        .collect()
}

/// Compiles `rules` for `target`.
pub fn compile(rules: &[FwRule], target: Target) -> Result<Compiled, Unsupported> {
    for (i, r) in rules.iter().enumerate() {
        let what = match &r.action {
            FwAction::Accept | FwAction::Drop => None,
            FwAction::Mark(_) | FwAction::Classify(_) if target == Target::Tc => None,
            FwAction::Mark(_) => Some("mark (XDP has no packet mark)"),
            FwAction::Classify(_) => Some("classify (XDP has no htb class)"),
            _ => Some("this action"),
        };
        let what = what.or(if r.iif.is_some() || r.oif.is_some() || !r.ct.is_empty() { Some("iif, oif and ct (stateful, firewall only)") } else { None });
        let what = what.or(if r.mark.is_some() && target == Target::Xdp { Some("mark (XDP has no packet mark)") } else { None });
        if let Some(what) = what {
            return Err(Unsupported(format!("rule {}: {what} cannot be compiled to eBPF", i + 1)));
        }
    }
    let counters = if rules.iter().any(|r| r.counter) { rules.len() as u32 } else { 0 };
    let mut a = Asm::default();
    parse(&mut a, target);
    let mut decided = false;
    for (i, r) in rules.iter().enumerate() {
        rule(&mut a, target, i as u32, r);
        // A rule without matches that passes or drops decides every packet: what follows
        // is dead code, which the verifier refuses ("unreachable insn").
        if always_decides(r) {
            decided = true;
            break;
        }
    }
    if !decided {
        a.mov64_imm(R0, target.pass());
        a.exit();
    }
    Ok(Compiled { target, insns: a.finish(), counters })
}

fn always_decides(r: &FwRule) -> bool {
    let no_matches = r.proto.is_none() && r.src.is_none() && r.dst.is_none() && r.sport.is_none() && r.dport.is_none() && r.mark.is_none();
    no_matches && matches!(r.action, FwAction::Accept | FwAction::Drop)
}

/// The prologue: ctx in r6, the fields on the stack.
fn parse(a: &mut Asm, target: Target) {
    let parsed = a.label();
    let ipv4 = a.label();
    let ipv6 = a.label();
    let v4ports = a.label();
    let v6ports = a.label();
    a.mov64_reg(R6, R1);
    a.mov64_imm(R0, 0);
    for slot in [L3, PROTO, PORTS_OK, SPORT, DPORT, SRC, SRC + 8, DST, DST + 8] {
        a.stx(DW, FP, slot, R0);
    }
    let (data, data_end) = target.data_offsets();
    a.ldx(W, R2, R6, data);
    a.ldx(W, R3, R6, data_end);
    // Ethernet
    a.mov64_reg(R4, R2);
    a.alu64_imm(ADD, R4, 14);
    a.jmp_reg(JGT, R4, R3, parsed);
    a.ldx(H, R1, R2, 12);
    a.be16(R1);
    a.jmp_imm(JEQ, R1, 0x0800, ipv4);
    a.jmp_imm(JEQ, R1, 0x86dd, ipv6);
    a.ja(parsed);
    // IPv4: 14 + 20 bytes
    a.bind(ipv4);
    a.mov64_reg(R4, R2);
    a.alu64_imm(ADD, R4, 34);
    a.jmp_reg(JGT, R4, R3, parsed);
    a.ldx(B, R1, R2, 14);
    a.alu64_imm(AND, R1, 0xf);
    a.jmp_imm(JLT, R1, 5, parsed);
    a.mov64_imm(R5, 4);
    a.stx(DW, FP, L3, R5);
    a.ldx(B, R5, R2, 23);
    a.stx(DW, FP, PROTO, R5);
    a.ldx(W, R5, R2, 26);
    a.stx(W, FP, SRC, R5);
    a.ldx(W, R5, R2, 30);
    a.stx(W, FP, DST, R5);
    a.ldx(H, R5, R2, 20);
    a.be16(R5);
    a.alu64_imm(AND, R5, 0x1fff);
    a.jmp_imm(JNE, R5, 0, parsed);
    a.ldx(DW, R5, FP, PROTO);
    a.jmp_imm(JEQ, R5, 6, v4ports);
    a.jmp_imm(JEQ, R5, 17, v4ports);
    a.ja(parsed);
    a.bind(v4ports);
    // r4 = data + 14 + IHL*4 (20..60), its first 4 bytes in the packet
    a.alu64_imm(LSH, R1, 2);
    a.mov64_reg(R4, R2);
    a.add64_reg(R4, R1);
    a.alu64_imm(ADD, R4, 14);
    a.mov64_reg(R5, R4);
    a.alu64_imm(ADD, R5, 4);
    a.jmp_reg(JGT, R5, R3, parsed);
    ports(a, R4, 0);
    a.ja(parsed);
    // IPv6: 14 + 40 bytes
    a.bind(ipv6);
    a.mov64_reg(R4, R2);
    a.alu64_imm(ADD, R4, 54);
    a.jmp_reg(JGT, R4, R3, parsed);
    a.mov64_imm(R5, 6);
    a.stx(DW, FP, L3, R5);
    a.ldx(B, R5, R2, 20);
    a.stx(DW, FP, PROTO, R5);
    for w in 0..4 {
        a.ldx(W, R5, R2, 22 + 4 * w);
        a.stx(W, FP, SRC + 4 * w, R5);
        a.ldx(W, R5, R2, 38 + 4 * w);
        a.stx(W, FP, DST + 4 * w, R5);
    }
    a.ldx(DW, R5, FP, PROTO);
    a.jmp_imm(JEQ, R5, 6, v6ports);
    a.jmp_imm(JEQ, R5, 17, v6ports);
    a.ja(parsed);
    a.bind(v6ports);
    a.mov64_reg(R4, R2);
    a.alu64_imm(ADD, R4, 58);
    a.jmp_reg(JGT, R4, R3, parsed);
    ports(a, R2, 54);
    a.bind(parsed);
}

/// Ports at `base + off` (checked by the caller) onto the stack, in host order.
fn ports(a: &mut Asm, base: u8, off: i16) {
    a.ldx(H, R5, base, off);
    a.be16(R5);
    a.stx(DW, FP, SPORT, R5);
    a.ldx(H, R5, base, off + 2);
    a.be16(R5);
    a.stx(DW, FP, DPORT, R5);
    a.mov64_imm(R5, 1);
    a.stx(DW, FP, PORTS_OK, R5);
}

fn rule(a: &mut Asm, target: Target, index: u32, r: &FwRule) {
    let next = a.label();
    if let Some(p) = r.proto {
        a.ldx(DW, R1, FP, L3);
        a.jmp_imm(JEQ, R1, 0, next);
        a.ldx(DW, R1, FP, PROTO);
        a.jmp_imm(JNE, R1, p.number() as i32, next);
    }
    for (net, slot) in [(r.src, SRC), (r.dst, DST)] {
        let Some(net) = net else { continue };
        a.ldx(DW, R1, FP, L3);
        a.jmp_imm(JNE, R1, if matches!(net, IpNet::V4(_)) { 4 } else { 6 }, next);
        for (w, mask, value) in prefix_words(&net) {
            a.ldx(W, R1, FP, slot + 4 * w);
            if mask != u32::MAX {
                a.alu32_imm(AND, R1, mask);
            }
            a.jmp32_imm(JNE, R1, value, next);
        }
    }
    for (range, slot) in [(r.sport, SPORT), (r.dport, DPORT)] {
        let Some((lo, hi)) = range else { continue };
        a.ldx(DW, R1, FP, PORTS_OK);
        a.jmp_imm(JEQ, R1, 0, next);
        a.ldx(DW, R1, FP, slot);
        if lo == hi {
            a.jmp_imm(JNE, R1, lo as i32, next);
        } else {
            a.jmp_imm(JLT, R1, lo as i32, next);
            a.jmp_imm(JGT, R1, hi as i32, next);
        }
    }
    if let Some((value, mask)) = r.mark {
        a.ldx(W, R1, R6, SKB_MARK);
        let mask = mask.unwrap_or(u32::MAX);
        if mask != u32::MAX {
            a.alu32_imm(AND, R1, mask);
        }
        a.jmp32_imm(JNE, R1, value, next);
    }
    if r.counter {
        let done = a.label();
        a.mov32_imm(R1, index);
        a.stx(W, FP, KEY, R1);
        a.ld_map(R1, 0);
        a.mov64_reg(R2, FP);
        a.alu64_imm(ADD, R2, KEY as i32);
        a.call(HELPER_MAP_LOOKUP);
        a.jmp_imm(JEQ, R0, 0, done);
        a.mov64_imm(R1, 1);
        a.atomic_add64(R0, 0, R1);
        a.bind(done);
    }
    match r.action {
        FwAction::Drop => {
            a.mov64_imm(R0, target.drop());
            a.exit();
        }
        FwAction::Mark(m) => {
            a.mov32_imm(R1, m);
            a.stx(W, R6, SKB_MARK, R1);
        }
        FwAction::Classify(id) => {
            a.mov32_imm(R1, 0x1_0000 | (id & 0xffff));
            a.stx(W, R6, SKB_PRIORITY, R1);
        }
        _ => {
            a.mov64_imm(R0, target.pass());
            a.exit();
        }
    }
    a.bind(next);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: FwAction) -> FwRule {
        FwRule {
            span: Default::default(),
            action,
            proto: None,
            src: None,
            dst: None,
            sport: None,
            dport: None,
            iif: None,
            oif: None,
            mark: None,
            ct: vec![],
            counter: false,
        }
    }

    #[test]
    fn prefixes_compare_the_words_they_cover() {
        let w = prefix_words(&"10.1.0.0/16".parse().unwrap());
        assert_eq!(w, vec![(0, u32::from_ne_bytes([255, 255, 0, 0]), u32::from_ne_bytes([10, 1, 0, 0]))]);
        let w = prefix_words(&"2001:db8::/40".parse().unwrap());
        assert_eq!(w.len(), 2);
        assert_eq!(w[1].1, u32::from_ne_bytes([0xff, 0, 0, 0]));
        assert!(prefix_words(&"0.0.0.0/0".parse().unwrap()).is_empty());
    }

    #[test]
    fn xdp_refuses_marks_and_the_hash_follows_the_rules() {
        assert!(compile(&[rule(FwAction::Mark(1))], Target::Xdp).is_err());
        assert!(compile(&[rule(FwAction::Masquerade)], Target::Tc).is_err());
        let drop = compile(&[rule(FwAction::Drop)], Target::Xdp).unwrap();
        let pass = compile(&[rule(FwAction::Accept)], Target::Xdp).unwrap();
        assert_ne!(drop.hash(), pass.hash());
        assert_eq!(drop.hash(), compile(&[rule(FwAction::Drop)], Target::Xdp).unwrap().hash());
        assert_ne!(drop.hash(), compile(&[rule(FwAction::Drop)], Target::Tc).unwrap().hash());
        assert!(drop.disassemble().lines().last().unwrap().ends_with("exit"));
    }
}
