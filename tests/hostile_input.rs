//! Hostile input through the real binary: deep nesting, huge and endless files, FIFOs,
//! very long lines. Each must end with exit 1 and a located, coded diagnostic, within
//! 10 s and 1 GB of address space: never a panic (101), a signal (stack overflow is
//! SIGABRT), a hang or unbounded memory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TIME_LIMIT: Duration = Duration::from_secs(10);
const MEMORY_LIMIT_KB: u64 = 1 << 20;

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let path = std::env::temp_dir().join(format!("netscript-hostile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }
    fn write(&self, name: &str, text: &str) -> &Dir {
        std::fs::write(self.0.join(name), text).unwrap();
        self
    }
    fn fifo(&self, name: &str) -> &Dir {
        nix::unistd::mkfifo(&self.0.join(name), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        self
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs netscript under `ulimit -v` in `dir`, killing it after [`TIME_LIMIT`]; returns
/// (exit code, stderr). Panics on a signal, a timeout or a panic message.
fn netscript(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> (i32, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_LIMIT_KB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_netscript"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = stdin.map(<[u8]>::to_vec).unwrap_or_default();
    let mut pipe = child.stdin.take().unwrap();
    // The writer may be cut off (EPIPE) when netscript stops reading at its limit.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr), &mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("netscript {args:?} took more than {TIME_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    let stderr = reader.join().unwrap();
    let shown: String = stderr.chars().take(2000).collect();
    let code = status.code().unwrap_or_else(|| panic!("netscript {args:?} was killed by a signal: {status:?}\n{shown}"));
    assert!(!stderr.contains("panicked"), "netscript {args:?} panicked:\n{shown}");
    (code, stderr)
}

#[track_caller]
fn assert_refused(dir: &Dir, args: &[&str], needles: &[&str]) {
    let (code, stderr) = netscript(&dir.0, args, None);
    let shown: String = stderr.chars().take(3000).collect();
    assert_eq!(code, 1, "netscript {args:?}:\n{shown}");
    for needle in needles {
        assert!(stderr.contains(needle), "netscript {args:?}: stderr lacks {needle:?}:\n{shown}");
    }
}

#[test]
fn deep_nesting_is_a_diagnostic_not_a_stack_overflow() {
    let d = Dir::new("deep");
    d.write("terms.ns", &format!("let x = {}\n", vec!["1"; 50_000].join("+")))
        .write("parens.ns", &format!("let x = {}1{}\n", "(".repeat(10_000), ")".repeat(10_000)))
        .write("minus.ns", &format!("let x = {}1\n", "-".repeat(10_000)))
        .write("fors.ns", &format!("{}{}", "for i in 0..1 <\n".repeat(3_000), ">\n".repeat(3_000)))
        .write("classes.ns", &format!("netns a < link eth0 < htb < {}{} > > >\n", "class 1 <\n".repeat(5_000), ">".repeat(5_000)));
    assert_refused(&d, &["check", "terms.ns"], &["terms.ns:1:", "netscript::syntax::too_deep"]);
    assert_refused(&d, &["check", "parens.ns"], &["parens.ns:1:73: netscript::syntax::too_deep"]);
    assert_refused(&d, &["check", "minus.ns"], &["minus.ns:1:9: netscript::syntax::too_deep"]);
    assert_refused(&d, &["check", "fors.ns"], &["fors.ns:65:15: netscript::syntax::too_deep"]);
    assert_refused(&d, &["check", "classes.ns"], &["classes.ns:62:9: netscript::syntax::too_deep"]);
    assert_refused(&d, &["plan", "--offline", "parens.ns"], &["netscript::syntax::too_deep"]);
}

#[test]
fn diagnostics_past_column_65535_render() {
    let d = Dir::new("column");
    d.write("wide.ns", &format!("netns a <{}mtux >\n", " ".repeat(70_000)))
        .write("wide2.ns", &format!("let x = 1{}\nnetns {{y}}\n", " ".repeat(70_000)));
    assert_refused(&d, &["check", "wide.ns"], &["wide.ns:1:70010: netscript::syntax::unexpected", "mtux"]);
    assert_refused(&d, &["check", "wide2.ns"], &["wide2.ns:2:8: netscript::check::unknown_variable"]);
}

#[test]
fn devices_fifos_and_huge_files_are_refused_at_once() {
    let d = Dir::new("files");
    d.fifo("fifo.ns").fifo("fifo.o");
    d.write("inc_zero.ns", "include \"/dev/zero\"\n")
        .write("inc_fifo.ns", "include \"fifo.ns\"\n")
        .write("inc_dir.ns", "include \"/\"\n")
        .write("bpf_zero.ns", "netns a < link eth0 < bpf ingress \"/dev/zero\" > >\n")
        .write("bpf_fifo.ns", "netns a < link eth0 < xdp \"fifo.o\" > >\n");
    // Larger than the 8 MB limit, without writing 8 MB: a sparse file.
    std::fs::File::create(d.0.join("huge.ns")).unwrap().set_len(9 << 20).unwrap();
    assert_refused(&d, &["check", "/dev/zero"], &["cannot read `/dev/zero`: it is a character device, not a regular file"]);
    assert_refused(&d, &["check", "fifo.ns"], &["cannot read `fifo.ns`: it is a FIFO (named pipe), not a regular file"]);
    assert_refused(&d, &["check", "huge.ns"], &["cannot read `huge.ns`: it is larger than the limit of 8 MB (9 MB)"]);
    assert_refused(&d, &["check", "inc_zero.ns"], &["inc_zero.ns:1:9: netscript::check::include_not_found", "character device"]);
    assert_refused(&d, &["check", "inc_fifo.ns"], &["inc_fifo.ns:1:9: netscript::check::include_not_found", "FIFO"]);
    assert_refused(&d, &["check", "inc_dir.ns"], &["inc_dir.ns:1:9: netscript::check::include_not_found", "directory"]);
    assert_refused(&d, &["check", "bpf_zero.ns"], &["bpf_zero.ns:1:35: netscript::check::bpf_object_unreadable", "character device"]);
    assert_refused(&d, &["check", "bpf_fifo.ns"], &["bpf_fifo.ns:1:27: netscript::check::bpf_object_unreadable", "FIFO"]);
    assert_refused(&d, &["plan", "--offline", "inc_fifo.ns"], &["FIFO"]);
    // `run` refuses before it needs privileges or the lock.
    assert_refused(&d, &["run", "inc_fifo.ns"], &["FIFO"]);
}

#[test]
fn endless_standard_input_is_cut_at_the_limit() {
    let d = Dir::new("stdin");
    let (code, stderr) = netscript(&d.0, &["check", "-"], Some(&vec![b' '; 9 << 20]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot read standard input: it is larger than the limit of 8 MB"), "{stderr}");
}
