//! The example eBPF programs (`examples/bpf/*.c`), compiled once per test binary with
//! `examples/bpf/build.sh` (clang -O2 -g -target bpf) into the target's temporary
//! directory. `scripts/test.sh` installs clang and libbpf-dev.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

/// The directory holding `pass_all.o`, `drop_icmp.o`, `counter.o`.
pub fn compiled() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bpf-{}", std::process::id()));
        let out = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/bpf/build.sh"))
            .arg(&dir)
            .output()
            .expect("cannot run examples/bpf/build.sh");
        assert!(
            out.status.success(),
            "compiling the example eBPF programs failed (clang and libbpf-dev are needed: scripts/test.sh installs them):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
    .clone()
}

/// Compiles one more program from C source `text` into the same directory, as `name.o`.
pub fn compile(name: &str, text: &str) -> PathBuf {
    let dir = compiled();
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, text).unwrap();
    let multiarch = std::process::Command::new("gcc").arg("-print-multiarch").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| "x86_64-linux-gnu".into());
    let obj = dir.join(format!("{name}.o"));
    let out = std::process::Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", &format!("-I/usr/include/{multiarch}"), "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .expect("cannot run clang");
    assert!(out.status.success(), "clang failed:\n{}", String::from_utf8_lossy(&out.stderr));
    obj
}
