//! The hermetic sandbox every kernel test uses.
//!
//! * [`Sandbox::new`] starts a holder process in fresh network and mount namespaces, with
//!   a private tmpfs on `/run` (so `/run/netns` is the sandbox's own). Commands run
//!   inside through `nsenter`. Dropping the sandbox kills the holder: its mount namespace
//!   dies with it, and with it every namespace bind-mounted under its `/run/netns`.
//!   Nothing is ever left on the host, and names cannot collide between parallel tests.
//! * [`dump`] / [`Sandbox::dump`] is the independent oracle: `ip`/`tc` JSON of every
//!   namespace, normalised so that equal states give byte-identical text.
//! * [`in_sandbox`] (and the [`sandbox_test!`] macro) runs a library-level test body in
//!   a child process that is itself inside a fresh sandbox: the test binary re-executes
//!   itself under `unshare`, runs only that test, and the parent asserts its success.
#![allow(dead_code)]

pub mod crash;
pub mod export;
pub mod netem;
pub mod netem_planned;
pub mod oracle;
pub mod tc_options;
pub mod traffic;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

/// The environment variable telling a re-executed test binary that it is the sandboxed
/// child for the named test.
pub const SANDBOX_CHILD_ENV: &str = "NETSCRIPT_SANDBOX_CHILD";

/// What a command printed, and whether it succeeded.
#[derive(Debug, Clone)]
pub struct Run {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            success: o.status.success(),
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Waits for a child spawned with piped stdout and stderr.
    pub fn from_child(mut child: Child) -> Run {
        use std::io::Read;
        let status = child.wait().unwrap();
        let mut stdout = String::new();
        let mut stderr = String::new();
        child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        Run { success: status.success(), code: status.code(), stdout, stderr }
    }

    /// Stdout, panicking with everything the command printed if it failed.
    #[track_caller]
    pub fn ok(self) -> String {
        assert!(self.success, "command failed ({:?})\nstdout:\n{}\nstderr:\n{}", self.code, self.stdout, self.stderr);
        self.stdout
    }
}

pub struct Sandbox {
    holder: Child,
    pid: u32,
}

impl Sandbox {
    /// A fresh sandbox: its own network namespace (only `lo`, up) and mount namespace
    /// with a private tmpfs on /run.
    pub fn new() -> Sandbox {
        let mut holder = Command::new("unshare")
            .args(["--net", "--mount", "--propagation", "private", "sh", "-c"])
            .arg("mount -t tmpfs tmpfs /run && mkdir -p /run/netns /run/netscript && ip link set lo up && echo ready && exec sleep 3600")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the sandbox holder (unshare)");
        let pid = holder.id();
        let mut line = String::new();
        let stdout = holder.stdout.take().expect("holder stdout");
        BufReader::new(stdout).read_line(&mut line).expect("cannot read the sandbox holder");
        if line.trim() != "ready" {
            let _ = holder.kill();
            let _ = holder.wait();
            panic!("the sandbox holder did not start (are we root?)");
        }
        Sandbox { holder, pid }
    }

    /// The holder's pid: `nsenter -t PID -n -m` enters the sandbox.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid.to_string(), "-n", "-m", "--", program]);
        c.stdin(Stdio::null());
        c
    }

    /// Runs `program args…` inside the sandbox.
    pub fn run(&self, program: &str, args: &[&str]) -> Run {
        self.command(program).args(args).output().expect("cannot run nsenter").into()
    }

    /// Runs a shell snippet inside the sandbox.
    pub fn sh(&self, script: &str) -> Run {
        self.run("sh", &["-ec", script])
    }

    /// Runs the netscript binary inside the sandbox.
    pub fn netscript(&self, args: &[&str]) -> Run {
        self.run(env!("CARGO_BIN_EXE_netscript"), args)
    }

    /// Runs the netscript binary inside the sandbox with extra environment variables (the
    /// test hooks: `src/exec/fault.rs`, `src/journal.rs`).
    pub fn netscript_env(&self, env: &[(&str, String)], args: &[&str]) -> Run {
        let mut v: Vec<String> = env.iter().map(|(k, val)| format!("{k}={val}")).collect();
        v.push(env!("CARGO_BIN_EXE_netscript").to_string());
        v.extend(args.iter().map(|a| a.to_string()));
        let v: Vec<&str> = v.iter().map(String::as_str).collect();
        self.run("env", &v)
    }

    /// The number of operations `netscript plan` lists for `script`.
    pub fn op_count(&self, script: &str) -> usize {
        let json = self.netscript(&["plan", "--format", "json", script]).ok();
        let v: Value = serde_json::from_str(&json).unwrap();
        v["operations"].as_array().unwrap().len()
    }

    /// Runs `script` again and asserts that netscript found nothing to do.
    pub fn assert_up_to_date(&self, script: &str) {
        let again = self.netscript(&["run", script]);
        assert!(again.success && again.stderr.contains("up to date"), "a re-run of {script} was not a no-op: {again:?}");
    }

    /// Writes `text` to `path` inside the sandbox (under `/run`, its own tmpfs).
    pub fn put(&self, path: &str, text: &str) {
        use std::io::Write;
        let mut child = self.command("sh").args(["-c", &format!("cat > {path}")]).stdin(Stdio::piped()).spawn().expect("cannot run nsenter");
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "cannot write {path} in the sandbox");
    }

    /// Writes a script to `/run/NAME` inside the sandbox; returns its path there.
    pub fn write_script(&self, name: &str, text: &str) -> String {
        let path = format!("/run/{name}");
        self.put(&path, text);
        path
    }

    /// The oracle's view of the sandbox (see [`dump`]).
    pub fn dump(&self) -> String {
        dump_with(&|program, args| self.run(program, args).ok())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// Removes by hand, with iproute2, the object that the fault `NETSCRIPT_FAULT_CLASH_AFTER_OPS`
/// made as "another program" would (`src/exec/fault.rs`): `line` is the fault's line on
/// stderr, which ends with the operation as JSON (`src/plan/action.rs`'s serde form).
/// False for the kinds of objects this does not know how to remove.
pub fn remove_clash_by_hand(sb: &Sandbox, line: &str) -> bool {
    let json = line.split("; action ").nth(1).unwrap_or_else(|| panic!("no action in {line}"));
    let action: Value = serde_json::from_str(json).unwrap();
    let ns = action["ns"].as_str().unwrap();
    let n = if ns == "host" { String::new() } else { format!("-n {ns} ") };
    let s = |v: &Value| v.as_str().unwrap().to_string();
    let cmd = match action["op"].as_str().unwrap() {
        "add_addr" => format!("ip {n}addr del {} dev {}", s(&action["addr"]), s(&action["dev"])),
        "add_route" => {
            let r = &action["route"];
            let via = r["via"].as_str().map(|v| format!(" via {v}")).unwrap_or_default();
            format!("ip {n}route del {}{via} table {}", s(&r["dest"]), r["table"])
        }
        "add_rule" => {
            let r = &action["rule"];
            let from = r["from"].as_str().map(|v| format!(" from {v}")).unwrap_or_default();
            format!("ip {n}rule del{from} lookup {}", r["table"])
        }
        "create_link" => format!("ip {n}link del {}", s(&action["name"])),
        "create_netns" => format!("ip netns del {ns}"),
        _ => return false,
    };
    sb.sh(&cmd).ok();
    true
}

/// The oracle's view of the namespace this process is in (for tests running inside a
/// sandbox, see [`in_sandbox`]).
pub fn dump() -> String {
    dump_with(&|program, args| {
        let out: Run = Command::new(program).args(args).output().expect("cannot run ip/tc").into();
        out.ok()
    })
}

/// Normalised, deterministic JSON of the root namespace and of every namespace in
/// `ip netns list` (sorted by name): links (`ip -d link`), addresses, v4 and v6 routes of
/// every table, v4 and v6 rules, and qdiscs; then what [`oracle`] reads: every sysctl under
/// `/proc/sys/net`, the tc classes and the tc filters (eBPF classifiers included) of
/// every interface, and the nftables ruleset (`oracle`). XDP programs are
/// in the link details (`xdp`).
///
/// Dropped because they differ between equal states:
/// * `ifindex`, `link_index`: interface numbers change when an interface is re-created;
///   interfaces are named instead, and lists of interfaces are sorted by name.
/// * `link_netnsid` and the ids of `ip netns list`: ids are assigned lazily and stay
///   assigned after the veth that needed them is gone.
/// * `operstate`, and the `NO-CARRIER` flag (which `ip` derives from IFF_RUNNING, i.e.
///   from the operstate): updated asynchronously by the kernel's linkwatch. `LOWER_UP`
///   (the carrier itself) is synchronous for veths and kept.
/// * `*_timer` in a bridge's details: running timers.
/// * address lifetimes: only count down for dynamic addresses.
/// * IPv6 link-local addresses (fe80::/10), and IPv6 routes to fe80::/10 and ff00::/8: the
///   kernel adds them asynchronously once a link has carrier (linkwatch), so their
///   presence depends on timing, not on state; `expires` of routes.
///
/// Routes are sorted (their dump order is not part of the state); rules are not (rules
/// of equal priority are evaluated in insertion order, so order is state).
pub fn dump_with(run: &dyn Fn(&str, &[&str]) -> String) -> String {
    let json = |program: &str, args: &[&str]| -> Value {
        let text = run(program, args);
        if text.trim().is_empty() { Value::Array(vec![]) } else { serde_json::from_str(&text).unwrap_or_else(|e| panic!("{program} {args:?}: bad JSON ({e}): {text}")) }
    };
    let mut namespaces: Vec<String> = json("ip", &["-json", "netns", "list"])
        .as_array()
        .map(|a| a.iter().filter_map(|n| n.get("name").and_then(Value::as_str).map(str::to_string)).collect())
        .unwrap_or_default();
    namespaces.sort();
    let mut out = serde_json::Map::new();
    let mut one = |label: &str, netns: Option<&str>| {
        let with_ns = |args: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = Vec::new();
            if let Some(ns) = netns {
                v.push("-n".into());
                v.push(ns.into());
            }
            v.extend(args.iter().map(|s| s.to_string()));
            v
        };
        let call = |program: &str, args: &[&str]| {
            let args = with_ns(args);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            json(program, &args)
        };
        let mut ns = serde_json::Map::new();
        ns.insert("links".into(), sorted_by(normalise(call("ip", &["-json", "-d", "link", "show"])), "ifname"));
        ns.insert("addrs".into(), sorted_by(normalise(call("ip", &["-json", "addr", "show"])), "ifname"));
        ns.insert("routes4".into(), sorted(normalise(call("ip", &["-json", "-4", "route", "show", "table", "all"]))));
        ns.insert("routes6".into(), sorted(normalise(without_volatile_v6_routes(call("ip", &["-json", "-6", "route", "show", "table", "all"])))));
        ns.insert("rules4".into(), normalise(call("ip", &["-json", "-4", "rule", "show"])));
        ns.insert("rules6".into(), normalise(call("ip", &["-json", "-6", "rule", "show"])));
        ns.insert("qdiscs".into(), sorted(normalise(call("tc", &["-json", "qdisc", "show"]))));
        // Sysctls, tc classes and filters, the firewall: `oracle`, one shell per namespace.
        let devs: Vec<oracle::DevQdiscs> = ns["links"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["ifname"].as_str())
            .map(|dev| oracle::DevQdiscs {
                dev: dev.to_string(),
                qdiscs: ns["qdiscs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|q| q["dev"] == dev)
                    .map(|q| (q["handle"].as_str().unwrap_or_default().to_string(), q["kind"].as_str().unwrap_or_default().to_string()))
                    .collect(),
            })
            .collect();
        let run_sh = |script: &str| match netns {
            Some(name) => run("nsenter", &[&format!("--net=/run/netns/{name}"), "sh", "-c", script]),
            None => run("sh", &["-c", script]),
        };
        ns.extend(oracle::extra_sections(&run_sh, &devs));
        out.insert(label.to_string(), Value::Object(ns));
    };
    one("(root)", None);
    let mut half_made = Vec::new();
    for name in &namespaces {
        // A file under /run/netns that is not mounted (what a process killed in the middle
        // of creating a namespace leaves, as a killed `ip netns add` does) cannot be
        // entered: it is part of the state, shown as such.
        let mounted = run("sh", &["-c", &format!("mountpoint -q /run/netns/{name} && echo yes || echo no")]);
        if mounted.trim() == "yes" {
            one(&format!("netns {name}"), Some(name));
        } else {
            half_made.push(name);
        }
    }
    for name in half_made {
        out.insert(format!("netns {name}"), Value::String("not a namespace: an unmounted file under /run/netns".into()));
    }
    serde_json::to_string_pretty(&canonical(Value::Object(out))).unwrap()
}

/// `direct_packets_stat` is htb's count of packets sent unclassified: traffic, not state
/// (the kernel's own IPv6 chatter on a new link moves it).
/// Fields left out of every comparison: kernel-chosen numbers, timers and counters, and
/// the allocated queue counts with the qdisc reference count that follows them (a root
/// qdisc is held once per allocated queue). netscript makes veth ends with one queue each
/// way, which is what a veth uses; iproute2 allocates one per CPU and uses one.
/// `run_kernel` checks netscript's count on its own.
const DROPPED_KEYS: [&str; 12] = [
    "ifindex",
    "link_index",
    "link_netnsid",
    "operstate",
    "valid_life_time",
    "preferred_life_time",
    "expires",
    "nsid",
    "direct_packets_stat",
    "num_tx_queues",
    "num_rx_queues",
    "refcnt",
];

fn is_volatile_v6(v: &Value, key: &str) -> bool {
    let family_v6 = v.get("family").and_then(Value::as_str) == Some("inet6");
    let Some(addr) = v.get(key).and_then(Value::as_str) else { return false };
    let lower = addr.to_ascii_lowercase();
    family_v6 && (lower.starts_with("fe8") || lower.starts_with("fe9") || lower.starts_with("fea") || lower.starts_with("feb") || lower.starts_with("ff00::/8"))
}

fn normalise(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !DROPPED_KEYS.contains(&k.as_str()) && !k.ends_with("_timer"))
                .map(|(k, v)| {
                    let v = if k == "flags" {
                        Value::Array(v.as_array().cloned().unwrap_or_default().into_iter().filter(|f| f != "NO-CARRIER").collect())
                    } else if k == "addr_info" {
                        Value::Array(v.as_array().cloned().unwrap_or_default().into_iter().filter(|a| !is_volatile_v6(a, "local")).collect())
                    } else {
                        v
                    };
                    (k, normalise(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalise).collect()),
        other => other,
    }
}

/// Routes without the IPv6 link-local and multicast ones the kernel adds by itself, some
/// of them asynchronously after a link comes up.
pub fn without_volatile_v6_routes(routes: Value) -> Value {
    Value::Array(routes.as_array().cloned().unwrap_or_default().into_iter().filter(|r| !is_v6_route_volatile(r)).collect())
}

fn is_v6_route_volatile(route: &Value) -> bool {
    let Some(dst) = route.get("dst").and_then(Value::as_str) else { return false };
    let lower = dst.to_ascii_lowercase();
    dst.contains(':') && (lower.starts_with("fe8") || lower.starts_with("fe9") || lower.starts_with("fea") || lower.starts_with("feb") || lower == "ff00::/8")
}

fn sorted_by(v: Value, key: &str) -> Value {
    let mut items = v.as_array().cloned().unwrap_or_default();
    items.sort_by_key(|i| (i.get(key).and_then(Value::as_str).unwrap_or("").to_string(), canonical(i.clone()).to_string()));
    Value::Array(items)
}

fn sorted(v: Value) -> Value {
    let mut items = v.as_array().cloned().unwrap_or_default();
    items.sort_by_key(|i| canonical(i.clone()).to_string());
    Value::Array(items)
}

/// Objects with sorted keys, recursively (independent of serde_json's map features).
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = serde_json::Map::new();
            for (k, v) in entries {
                out.insert(k, v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// Runs `body` inside a fresh sandbox, in a child process: the current test binary is
/// re-executed under `unshare --net --mount --propagation private` with a tmpfs on /run,
/// running only test `test_name` (its full path in this test binary). In the child
/// (recognised by [`SANDBOX_CHILD_ENV`]) `body` runs; in the parent, the child's success
/// is asserted and its output shown.
#[track_caller]
pub fn in_sandbox(test_name: &str, body: impl FnOnce()) {
    if std::env::var(SANDBOX_CHILD_ENV).as_deref() == Ok(test_name) {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("current test binary");
    let output = Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs tmpfs /run && mkdir -p /run/netns /run/netscript && ip link set lo up && exec \"$@\"")
        .arg("sandbox")
        .arg(&exe)
        .args(["--exact", test_name, "--nocapture", "--test-threads", "1"])
        .env(SANDBOX_CHILD_ENV, test_name)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run unshare");
    let run: Run = output.into();
    let ran = run.stdout.contains("1 passed") || run.stdout.contains("1 failed");
    assert!(
        run.success && ran,
        "sandboxed test {test_name} failed (or did not run: is the name its full path?)\n--- stdout ---\n{}\n--- stderr ---\n{}",
        run.stdout,
        run.stderr
    );
}

/// `sandbox_test!(name, { body })`: a `#[test] fn name` at the top level of a test file
/// whose body runs inside a fresh sandbox (see [`in_sandbox`]).
#[macro_export]
macro_rules! sandbox_test {
    ($name:ident, $body:block) => {
        #[test]
        fn $name() {
            $crate::support::in_sandbox(stringify!($name), || $body);
        }
    };
}

/// Asserts two dumps are identical, showing only the lines that differ.
#[track_caller]
pub fn assert_same_dump(before: &str, after: &str, what: &str) {
    if let Some(report) = dump_diff(before, after) {
        panic!("{what}: dumps differ\n{report}");
    }
}

/// Where two dumps differ, line by line (`-` before, `+` after); `None` when equal.
pub fn dump_diff(before: &str, after: &str) -> Option<String> {
    if before == after {
        return None;
    }
    let b: Vec<&str> = before.lines().collect();
    let a: Vec<&str> = after.lines().collect();
    let mut report = String::new();
    let (mut i, mut j) = (0, 0);
    while (i < b.len() || j < a.len()) && report.len() < 6000 {
        if i < b.len() && j < a.len() && b[i] == a[j] {
            i += 1;
            j += 1;
            continue;
        }
        // Resynchronise on the next line both still share.
        let next_common = (i..b.len()).find_map(|x| a[j..].iter().position(|l| *l == b[x]).map(|y| (x, j + y)));
        let (ni, nj) = next_common.unwrap_or((b.len(), a.len()));
        report.push_str(&format!("@@ before line {} / after line {}\n", i + 1, j + 1));
        for l in &b[i..ni] {
            report.push_str(&format!("- {l}\n"));
        }
        for l in &a[j..nj] {
            report.push_str(&format!("+ {l}\n"));
        }
        i = ni;
        j = nj;
    }
    Some(report)
}

/// A parsed dump without what tells two loads of the same eBPF code apart: the kernel's
/// program id and load time (a program loaded in another sandbox gets another id; its
/// name and tag, a hash of the instructions, stay).
pub fn strip_program_instances(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(prog)) = m.get_mut("prog") {
                prog.remove("id");
                prog.remove("load_time");
            }
            m.values_mut().for_each(strip_program_instances);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_program_instances),
        _ => {}
    }
}

/// A dump without what differs between two equal topologies built apart: the MAC
/// addresses of links (random for veths, bridges, macvlans), as `<mac>`, and the MAC part
/// of a bridge's identifiers (`bridge_id`, `root_id`, `designated_root`,
/// `designated_bridge`: priority `.` MAC of the lowest port), which follow them. Nothing
/// else: the IPv4 broadcast address of an address (`addr_info`'s `broadcast`) and a
/// bridge's group address are configuration and stay; so does a link's layer-2
/// broadcast address (all ones for Ethernet).
pub fn without_macs(dump: &str) -> String {
    let mut value: Value = serde_json::from_str(dump).unwrap();
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                // Link objects (of the link and the address dumps) carry `ifname`.
                if map.contains_key("ifname") {
                    for key in ["address", "permaddr"] {
                        if let Some(Value::String(mac)) = map.get_mut(key)
                            && is_mac(mac)
                        {
                            *mac = "<mac>".into();
                        }
                    }
                }
                for key in ["bridge_id", "root_id", "designated_root", "designated_bridge"] {
                    if let Some(Value::String(id)) = map.get_mut(key)
                        && let Some((priority, mac)) = id.split_once('.')
                        && is_mac(mac)
                    {
                        *id = format!("{priority}.<mac>");
                    }
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    serde_json::to_string_pretty(&value).unwrap()
}

/// Six hexadecimal octets separated by colons (iproute2 prints bridge ids' octets without
/// leading zeros: `8000.0:0:0:0:0:0`).
fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6 && parts.iter().all(|p| !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}
