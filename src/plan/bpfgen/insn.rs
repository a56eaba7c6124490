//! eBPF instructions: the encoding the kernel reads (`struct bpf_insn`, 8 bytes, host
//! byte order), a tiny assembler with labels, and a disassembler for `plan --format bpf`.

/// One instruction (an `lddw` is two, as in the kernel's encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

// Classes, sizes, modes, operations (linux/bpf_common.h, linux/bpf.h).
pub const LDX: u8 = 0x01;
pub const STX: u8 = 0x03;
pub const ALU: u8 = 0x04;
pub const JMP: u8 = 0x05;
pub const JMP32: u8 = 0x06;
pub const ALU64: u8 = 0x07;
pub const W: u8 = 0x00;
pub const H: u8 = 0x08;
pub const B: u8 = 0x10;
pub const DW: u8 = 0x18;
pub const MEM: u8 = 0x60;
pub const ATOMIC: u8 = 0xc0;
pub const K: u8 = 0x00;
pub const X: u8 = 0x08;
pub const ADD: u8 = 0x00;
pub const AND: u8 = 0x50;
pub const LSH: u8 = 0x60;
pub const MOV: u8 = 0xb0;
pub const END: u8 = 0xd0;
pub const JA: u8 = 0x00;
pub const JEQ: u8 = 0x10;
pub const JGT: u8 = 0x20;
pub const JNE: u8 = 0x50;
pub const JLT: u8 = 0xa0;
pub const CALL: u8 = 0x80;
pub const EXIT: u8 = 0x90;
/// `BPF_LD | BPF_IMM | BPF_DW`, and its source for "imm is a map descriptor".
pub const LDDW: u8 = 0x18;
pub const PSEUDO_MAP_FD: u8 = 1;
/// `bpf_map_lookup_elem`.
pub const HELPER_MAP_LOOKUP: i32 = 1;

/// Registers: r0 return, r1–r5 arguments, r6–r9 kept across calls, r10 the frame.
pub const R0: u8 = 0;
pub const R1: u8 = 1;
pub const R2: u8 = 2;
pub const R3: u8 = 3;
pub const R4: u8 = 4;
pub const R5: u8 = 5;
pub const R6: u8 = 6;
pub const FP: u8 = 10;

impl Insn {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.code);
        out.push((self.src << 4) | (self.dst & 0xf));
        out.extend_from_slice(&self.off.to_ne_bytes());
        out.extend_from_slice(&self.imm.to_ne_bytes());
    }
}

/// The instructions' bytes, as `BPF_PROG_LOAD` takes them.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(insns.len() * 8);
    for i in insns {
        i.encode(&mut out);
    }
    out
}

/// The instructions of `encode`'s bytes (a trailing partial instruction is dropped).
pub fn decode(bytes: &[u8]) -> Vec<Insn> {
    bytes
        .chunks_exact(8)
        .map(|b| Insn {
            code: b[0],
            dst: b[1] & 0xf,
            src: b[1] >> 4,
            off: i16::from_ne_bytes([b[2], b[3]]),
            imm: i32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        })
        .collect()
}

/// A jump target, resolved when the code is finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(usize);

/// Instructions with forward jumps to labels.
#[derive(Default)]
pub struct Asm {
    pub insns: Vec<Insn>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, Label)>,
}

impl Asm {
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }
    pub fn bind(&mut self, l: Label) {
        self.labels[l.0] = Some(self.insns.len());
    }
    fn push(&mut self, code: u8, dst: u8, src: u8, off: i16, imm: i32) {
        self.insns.push(Insn { code, dst, src, off, imm });
    }
    pub fn mov64_reg(&mut self, dst: u8, src: u8) {
        self.push(ALU64 | MOV | X, dst, src, 0, 0);
    }
    pub fn mov64_imm(&mut self, dst: u8, imm: i32) {
        self.push(ALU64 | MOV | K, dst, 0, 0, imm);
    }
    /// A 32-bit move: the upper half becomes 0 (for values ≥ 2³¹).
    pub fn mov32_imm(&mut self, dst: u8, imm: u32) {
        self.push(ALU | MOV | K, dst, 0, 0, imm as i32);
    }
    pub fn alu64_imm(&mut self, op: u8, dst: u8, imm: i32) {
        self.push(ALU64 | op | K, dst, 0, 0, imm);
    }
    pub fn alu32_imm(&mut self, op: u8, dst: u8, imm: u32) {
        self.push(ALU | op | K, dst, 0, 0, imm as i32);
    }
    pub fn add64_reg(&mut self, dst: u8, src: u8) {
        self.push(ALU64 | ADD | X, dst, src, 0, 0);
    }
    /// Network to host order of the low 16 bits (`be16`: a swap on little-endian hosts).
    pub fn be16(&mut self, dst: u8) {
        self.push(ALU | END | X, dst, 0, 0, 16);
    }
    pub fn ldx(&mut self, size: u8, dst: u8, src: u8, off: i16) {
        self.push(LDX | MEM | size, dst, src, off, 0);
    }
    pub fn stx(&mut self, size: u8, dst: u8, off: i16, src: u8) {
        self.push(STX | MEM | size, dst, src, off, 0);
    }
    /// `lock *(u64 *)(dst + off) += src`.
    pub fn atomic_add64(&mut self, dst: u8, off: i16, src: u8) {
        self.push(STX | ATOMIC | DW, dst, src, off, ADD as i32);
    }
    /// `dst = map` (the descriptor is patched in at load time; `slot` numbers the map).
    pub fn ld_map(&mut self, dst: u8, slot: i32) {
        self.push(LDDW, dst, PSEUDO_MAP_FD, 0, slot);
        self.push(0, 0, 0, 0, 0);
    }
    pub fn call(&mut self, helper: i32) {
        self.push(JMP | CALL, 0, 0, 0, helper);
    }
    pub fn exit(&mut self) {
        self.push(JMP | EXIT, 0, 0, 0, 0);
    }
    pub fn ja(&mut self, to: Label) {
        self.fixups.push((self.insns.len(), to));
        self.push(JMP | JA, 0, 0, 0, 0);
    }
    /// `if dst OP imm goto to`, on the 64-bit register.
    pub fn jmp_imm(&mut self, op: u8, dst: u8, imm: i32, to: Label) {
        self.fixups.push((self.insns.len(), to));
        self.push(JMP | op | K, dst, 0, 0, imm);
    }
    /// `if (u32)dst OP (u32)imm goto to`.
    pub fn jmp32_imm(&mut self, op: u8, dst: u8, imm: u32, to: Label) {
        self.fixups.push((self.insns.len(), to));
        self.push(JMP32 | op | K, dst, 0, 0, imm as i32);
    }
    /// `if dst OP src goto to`, 64-bit.
    pub fn jmp_reg(&mut self, op: u8, dst: u8, src: u8, to: Label) {
        self.fixups.push((self.insns.len(), to));
        self.push(JMP | op | X, dst, src, 0, 0);
    }
    /// The instructions with every jump resolved. Panics on an unbound label or a jump
    /// beyond ±32767 instructions (the compiler's programs are far smaller).
    pub fn finish(mut self) -> Vec<Insn> {
        for (at, label) in std::mem::take(&mut self.fixups) {
            let target = self.labels[label.0].expect("every label is bound");
            let off = target as i64 - at as i64 - 1;
            self.insns[at].off = i16::try_from(off).expect("jump within range");
        }
        self.insns
    }
}

fn size_word(code: u8) -> &'static str {
    match code & 0x18 {
        W => "u32",
        H => "u16",
        B => "u8",
        _ => "u64",
    }
}

fn jmp_word(op: u8) -> &'static str {
    match op {
        JEQ => "==",
        JGT => ">",
        JNE => "!=",
        JLT => "<",
        0x30 => ">=",
        0xb0 => "<=",
        _ => "?",
    }
}

/// One line per instruction, in the kernel verifier log's notation
/// (`r2 = *(u32 *)(r6 +76)`, `if r1 != 0x8 goto +5`).
pub fn disassemble(insns: &[Insn]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < insns.len() {
        let (n, at) = (insns[i], i);
        let r = |x: u8| format!("r{x}");
        let line = match (n.code & 0x07, n.code) {
            (_, LDDW) => {
                i += 1;
                format!("r{} = map[{}] ll", n.dst, n.imm)
            }
            (LDX, _) => format!("{} = *({} *)({} {:+})", r(n.dst), size_word(n.code), r(n.src), n.off),
            (STX, c) if c & 0xe0 == ATOMIC => format!("lock *(u64 *)({} {:+}) += {}", r(n.dst), n.off, r(n.src)),
            (STX, _) => format!("*({} *)({} {:+}) = {}", size_word(n.code), r(n.dst), n.off, r(n.src)),
            (ALU | ALU64, c) => {
                let wide = c & 0x07 == ALU64;
                let d = if wide { r(n.dst) } else { format!("w{}", n.dst) };
                let v = if c & X != 0 { if wide { r(n.src) } else { format!("w{}", n.src) } } else { format!("{:#x}", n.imm) };
                match c & 0xf0 {
                    MOV => format!("{d} = {v}"),
                    ADD => format!("{d} += {v}"),
                    AND => format!("{d} &= {v}"),
                    LSH => format!("{d} <<= {v}"),
                    END => format!("{} = be{} {}", r(n.dst), n.imm, r(n.dst)),
                    _ => format!("alu {c:#x}"),
                }
            }
            (JMP | JMP32, c) => {
                let wide = c & 0x07 == JMP;
                match c & 0xf0 {
                    JA if wide => format!("goto {:+}", n.off),
                    CALL => format!("call {}", if n.imm == HELPER_MAP_LOOKUP { "bpf_map_lookup_elem" } else { "?" }),
                    EXIT => "exit".to_string(),
                    op => {
                        let d = if wide { r(n.dst) } else { format!("w{}", n.dst) };
                        let v = if c & X != 0 { r(n.src) } else { format!("{:#x}", n.imm as u32) };
                        format!("if {d} {} {v} goto {:+}", jmp_word(op), n.off)
                    }
                }
            }
            _ => format!("{:#04x} {} {} {} {}", n.code, n.dst, n.src, n.off, n.imm),
        };
        out.push_str(&format!("{at:4}: {line}\n"));
        i += 1;
    }
    out
}
