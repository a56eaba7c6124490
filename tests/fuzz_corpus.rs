//! The fuzz target's entry function (`netscript::fuzzing::front_end`, also run by
//! `fuzz/` under cargo-fuzz) on stable Rust: every example and diagnostics-corpus
//! script, then random mutations of them with a fixed seed for a CI-sized time.
//!
//!     cargo test --test fuzz_corpus                                  # 10 s of mutations
//!     NETSCRIPT_FUZZ_SECONDS=600 NETSCRIPT_FUZZ_SEED=7 cargo test --release --test fuzz_corpus

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One input may take at most this long: a hang detector, not a speed goal (those are
/// benchmarks). Debug build on a busy machine: a mutation of
/// `too_many_statements_inner_loop.ns` that stays just under the statement bound (100,000
/// namespaces, checked and planned) takes about 4.6 s of CPU here, and the sequence of
/// mutations changes whenever a corpus file is added.
const CASE_LIMIT: Duration = Duration::from_secs(20);

fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut dirs = vec![PathBuf::from("examples"), PathBuf::from("tests/diagnostics")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "ns") {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    assert!(files.len() > 50, "corpus of {} files", files.len());
    files
}

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

const TOKENS: &[&str] = &[
    "<", ">", "<->", "->", "{", "}", "(", ")", ";", "\n", "#", "\"", "..", "..=", "-", "+", "*", "/", "%", "{i}", "netns ", "veth ",
    "link ", "addr ", "10.0.0.1/24", "fd00::1", "for i in 0..3 < ", "let i = 7\n", "include \"a.ns\"\n", "include \"bad.ns\"\n",
    "htb < class 1 < > >", "shape 1mbps", "99999999999999999999", "\u{85}", "é", "\u{1F600}", "((((((((", "- - - -",
];

fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                out.splice(at..at, token.iter().copied());
            }
            2 if at < out.len() => out[at] = rng.next() as u8,
            3 if !other.is_empty() => {
                let from = rng.below(other.len());
                let to = (from + 1 + rng.below(64)).min(other.len());
                out.splice(at..at, other[from..to].iter().copied());
            }
            4 if !out.is_empty() => {
                // Repeat a slice: deep or long input.
                let from = rng.below(out.len());
                let to = (from + 1 + rng.below(8)).min(out.len());
                let piece = out[from..to].to_vec();
                for _ in 0..rng.below(200) {
                    out.splice(at..at, piece.iter().copied());
                }
            }
            _ => {}
        }
    }
    out
}

/// Runs the entry function on a worker thread: a panic or a hang fails with the input.
fn run(label: &str, data: Vec<u8>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let shown = String::from_utf8_lossy(&data).chars().take(400).collect::<String>();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(|| netscript::fuzzing::front_end(&data));
        let _ = tx.send(result.is_ok());
    });
    match rx.recv_timeout(CASE_LIMIT) {
        Ok(true) => {}
        Ok(false) => panic!("{label}: the front end panicked on {shown:?}"),
        Err(_) => panic!("{label}: took more than {CASE_LIMIT:?} on {shown:?}"),
    }
}

#[test]
fn corpus_and_mutations_never_break_the_front_end() {
    let files = corpus();
    for (path, bytes) in &files {
        run(&path.display().to_string(), bytes.clone());
    }
    let seconds: u64 = std::env::var("NETSCRIPT_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let seed: u64 = std::env::var("NETSCRIPT_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    let mut cases = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        let (path, input) = &files[rng.below(files.len())];
        let (_, other) = &files[rng.below(files.len())];
        let data = mutate(&mut rng, input, other);
        run(&format!("seed {seed}, case {cases}, from {}", Path::new(path).display()), data);
        cases += 1;
    }
    eprintln!("fuzz_corpus: {} corpus files, {cases} mutations in {seconds} s (seed {seed})", files.len());
}
