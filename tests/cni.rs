//! netscript as a CNI plugin (docs/CNI.md), driven as a runtime drives it: the command
//! and parameters in the environment, the configuration on stdin, against container
//! namespaces made in the sandbox at paths outside /run/netns. Oracles: `ip`/`tc` JSON
//! of the container's namespace (tests/support), and the spec's result and error objects
//! as golden JSON.

mod support;
use support::{Run, Sandbox};
use std::io::Write;
use std::process::{Command, Stdio};

const PREV: &str = r#"{"cniVersion":"1.1.0","interfaces":[{"name":"cni-br"},{"name":"eth0","sandbox":"SANDBOX"}],"ips":[{"address":"10.1.0.5/16","gateway":"10.1.0.1","interface":1}],"dns":{}}"#;

/// The snippet of the tests: the issue's example, plus a sysctl.
const SNIPPET: &str = "link {ifname} < shape 10mbit >\nrule from {ip4} table 100\nroute default via {gw4} table 100\nsysctl net.ipv4.conf.{ifname}.rp_filter = 2";

/// Makes a container namespace at `/run/pods/NAME` (a bind mount, as runtimes make them)
/// with `eth0` (a veth, up, 10.1.0.5/16) in it; returns its path.
fn pod(sb: &Sandbox, name: &str) -> String {
    let path = format!("/run/pods/{name}");
    sb.sh(&format!(
        "mkdir -p /run/pods && touch {path} && unshare --net={path} true && nsenter --net={path} sh -ec 'ip link set lo up; ip link add eth0 type veth peer name peer0; ip link set eth0 up; ip link set peer0 up; ip addr add 10.1.0.5/16 dev eth0'"
    ))
    .ok();
    path
}

fn conf(version: &str, script: &str, netns: &str) -> String {
    let prev: serde_json::Value = serde_json::from_str(&PREV.replace("SANDBOX", netns)).unwrap();
    serde_json::json!({ "cniVersion": version, "name": "testnet", "type": "netscript", "script": script, "prevResult": prev }).to_string()
}

/// Runs the plugin inside the sandbox with exactly these variables and `stdin`.
fn cni_with(sb: &Sandbox, program: &[&str], vars: &[(&str, &str)], stdin: &str) -> Run {
    let mut c = Command::new("nsenter");
    c.args(["-t", &sb.pid().to_string(), "-n", "-m", "--", "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]);
    c.args(vars.iter().map(|(k, v)| format!("{k}={v}")));
    c.args(program);
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("cannot run nsenter");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    Run::from_child(child)
}

fn cni(sb: &Sandbox, command: &str, container: &str, netns: &str, stdin: &str) -> Run {
    cni_with(sb, &[env!("CARGO_BIN_EXE_netscript")], &[("CNI_COMMAND", command), ("CNI_CONTAINERID", container), ("CNI_IFNAME", "eth0"), ("CNI_NETNS", netns), ("CNI_PATH", "/opt/cni/bin")], stdin)
}

/// The oracle's view of the namespace at `netns`.
fn dump_of(sb: &Sandbox, netns: &str) -> String {
    let net = format!("--net={netns}");
    support::dump_with(&|program, args| {
        let mut v = vec![net.as_str(), program];
        v.extend_from_slice(args);
        sb.run("nsenter", &v).ok()
    })
}

/// The error object a failed command printed, checked for the spec's shape.
#[track_caller]
fn error_of(run: &Run) -> serde_json::Value {
    assert!(!run.success, "the command succeeded: {run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run:?}"));
    assert!(v["code"].is_u64() && v["msg"].is_string() && v["cniVersion"].is_string(), "{v:#}");
    v
}

fn records(sb: &Sandbox) -> String {
    sb.sh("find /run/netscript/cni -name attachment.json 2>/dev/null | sort").ok()
}

#[test]
fn add_check_del_in_a_namespace_given_by_path() {
    let sb = Sandbox::new();
    let netns = pod(&sb, "p1");
    let before = dump_of(&sb, &netns);
    let host_before = sb.dump();
    let config = conf("1.1.0", SNIPPET, &netns);

    let add = cni(&sb, "ADD", "c0ffee01", &netns, &config);
    let result = add.clone().ok();
    insta::assert_snapshot!("cni_add_result", result.replace(&netns, "NETNS"));
    // The snippet's state, inside the container's namespace only.
    let inside = |args: &str| sb.sh(&format!("nsenter --net={netns} {args}")).ok();
    let qdisc: serde_json::Value = serde_json::from_str(&inside("tc -json qdisc show dev eth0 root")).unwrap();
    assert_eq!(qdisc[0]["kind"], "tbf", "{qdisc:#}");
    assert_eq!(qdisc[0]["options"]["rate"], 1_250_000, "{qdisc:#}");
    let rules: serde_json::Value = serde_json::from_str(&inside("ip -json rule show table 100")).unwrap();
    assert_eq!(rules[0]["src"], "10.1.0.5", "{rules:#}");
    let routes: serde_json::Value = serde_json::from_str(&inside("ip -json route show table 100")).unwrap();
    assert_eq!((routes[0]["dst"].as_str(), routes[0]["gateway"].as_str()), (Some("default"), Some("10.1.0.1")), "{routes:#}");
    assert_eq!(inside("cat /proc/sys/net/ipv4/conf/eth0/rp_filter").trim(), "2");
    support::assert_same_dump(&host_before, &sb.dump(), "the sandbox's own namespace after ADD");
    assert_eq!(records(&sb).lines().count(), 1);

    // CHECK: in sync, then drift after a hand change.
    let check = cni(&sb, "CHECK", "c0ffee01", &netns, &config);
    assert!(check.success && check.stdout.is_empty(), "{check:?}");
    inside("tc qdisc del dev eth0 root");
    let drift = cni(&sb, "CHECK", "c0ffee01", &netns, &config);
    let e = error_of(&drift);
    insta::assert_json_snapshot!("cni_check_drift", e);

    // DEL removes what ADD made (the sysctl given back), and a second DEL succeeds.
    cni(&sb, "DEL", "c0ffee01", &netns, &config).ok();
    support::assert_same_dump(&before, &dump_of(&sb, &netns), "the container's namespace after DEL");
    assert_eq!(records(&sb), "");
    let again = cni(&sb, "DEL", "c0ffee01", &netns, &config);
    assert!(again.success && again.stdout.is_empty(), "{again:?}");
}

#[test]
fn a_failed_add_is_rolled_back_and_reported_with_the_spec_error() {
    let sb = Sandbox::new();
    let netns = pod(&sb, "p1");
    let before = dump_of(&sb, &netns);
    let config = conf("1.0.0", SNIPPET, &netns);
    let run = cni_with(
        &sb,
        &["env", "NETSCRIPT_FAULT_AFTER_OPS=2", env!("CARGO_BIN_EXE_netscript")],
        &[("CNI_COMMAND", "ADD"), ("CNI_CONTAINERID", "c1"), ("CNI_IFNAME", "eth0"), ("CNI_NETNS", &netns)],
        &config,
    );
    let e = error_of(&run);
    assert_eq!(e["code"], 100, "{e:#}");
    assert_eq!(e["cniVersion"], "1.0.0", "{e:#}");
    assert!(e["details"].as_str().unwrap().ends_with("everything was rolled back"), "{e:#}");
    support::assert_same_dump(&before, &dump_of(&sb, &netns), "the container's namespace after a failed ADD");
    // The runtime then DELs: nothing left to do, success.
    cni(&sb, "DEL", "c1", &netns, &config).ok();
    assert_eq!(records(&sb), "");
}

#[test]
fn del_after_the_namespace_is_gone_forgets_the_record() {
    let sb = Sandbox::new();
    let netns = pod(&sb, "p1");
    let config = conf("1.1.0", SNIPPET, &netns);
    cni(&sb, "ADD", "c2", &netns, &config).ok();
    assert_eq!(records(&sb).lines().count(), 1);
    sb.sh(&format!("umount {netns} && rm {netns}")).ok();
    let del = cni(&sb, "DEL", "c2", &netns, &config);
    assert!(del.success && del.stdout.is_empty(), "{del:?}");
    assert_eq!(records(&sb), "");
    // DEL without CNI_NETNS (allowed by the spec) for an attachment never added.
    let del = cni_with(&sb, &[env!("CARGO_BIN_EXE_netscript")], &[("CNI_COMMAND", "DEL"), ("CNI_CONTAINERID", "c3"), ("CNI_IFNAME", "eth0")], &config);
    assert!(del.success, "{del:?}");
}

#[test]
fn a_proc_pid_namespace_path_works_too() {
    let sb = Sandbox::new();
    // A process holding a namespace, as a runtime's pause container does.
    let pid = sb.sh("unshare --net sh -c 'ip link set lo up; ip link add eth0 type veth peer name peer0; ip link set eth0 up; ip addr add 10.1.0.5/16 dev eth0; exec sleep 600' >/dev/null 2>&1 & echo $!").ok();
    let netns = format!("/proc/{}/ns/net", pid.trim());
    // Wait for the interface inside.
    sb.sh(&format!("for i in $(seq 100); do nsenter --net={netns} ip link show eth0 >/dev/null 2>&1 && exit 0; sleep 0.05; done; exit 1")).ok();
    let config = conf("0.4.0", "link {ifname} < shape 5mbit >", &netns);
    let add = cni(&sb, "ADD", "c4", &netns, &config).ok();
    let v: serde_json::Value = serde_json::from_str(&add).unwrap();
    assert_eq!(v["cniVersion"], "0.4.0");
    let qdisc = sb.sh(&format!("nsenter --net={netns} tc -json qdisc show dev eth0 root")).ok();
    assert!(qdisc.contains("\"tbf\""), "{qdisc}");
    cni(&sb, "DEL", "c4", &netns, &config).ok();
    let qdisc = sb.sh(&format!("nsenter --net={netns} tc -json qdisc show dev eth0 root")).ok();
    assert!(!qdisc.contains("\"tbf\""), "{qdisc}");
    sb.sh(&format!("kill {}", pid.trim())).ok();
}

#[test]
fn gc_removes_the_attachments_the_runtime_no_longer_lists() {
    let sb = Sandbox::new();
    let (a, b) = (pod(&sb, "pa"), pod(&sb, "pb"));
    let before_b = dump_of(&sb, &b);
    cni(&sb, "ADD", "ca", &a, &conf("1.1.0", SNIPPET, &a)).ok();
    cni(&sb, "ADD", "cb", &b, &conf("1.1.0", SNIPPET, &b)).ok();
    assert_eq!(records(&sb).lines().count(), 2);
    let gc = serde_json::json!({"cniVersion": "1.1.0", "name": "testnet", "type": "netscript", "script": SNIPPET,
        "cni.dev/valid-attachments": [{"containerID": "ca", "ifname": "eth0"}]});
    let run = cni_with(&sb, &[env!("CARGO_BIN_EXE_netscript")], &[("CNI_COMMAND", "GC"), ("CNI_PATH", "/opt/cni/bin")], &gc.to_string());
    assert!(run.success && run.stdout.is_empty(), "{run:?}");
    assert_eq!(records(&sb).lines().count(), 1);
    support::assert_same_dump(&before_b, &dump_of(&sb, &b), "the namespace of the attachment GC removed");
    let qdisc = sb.sh(&format!("nsenter --net={a} tc -json qdisc show dev eth0 root")).ok();
    assert!(qdisc.contains("\"tbf\""), "GC left the valid attachment alone: {qdisc}");
    // Another network's GC does not touch this network's attachments.
    let other = serde_json::json!({"cniVersion": "1.1.0", "name": "othernet", "type": "netscript", "cni.dev/valid-attachments": []});
    cni_with(&sb, &[env!("CARGO_BIN_EXE_netscript")], &[("CNI_COMMAND", "GC")], &other.to_string()).ok();
    assert_eq!(records(&sb).lines().count(), 1);
}

#[test]
fn concurrent_adds_of_many_pods_all_succeed() {
    let sb = Sandbox::new();
    let pods: Vec<String> = (0..12).map(|i| pod(&sb, &format!("q{i}"))).collect();
    let run_all = |command: &'static str| {
        std::thread::scope(|s| {
            let handles: Vec<_> = pods.iter().enumerate().map(|(i, p)| {
                let sb = &sb;
                s.spawn(move || cni(sb, command, &format!("q{i}"), p, &conf("1.1.0", SNIPPET, p)))
            }).collect();
            for h in handles {
                let run = h.join().unwrap();
                assert!(run.success, "{command}: {run:?}");
            }
        })
    };
    run_all("ADD");
    assert_eq!(records(&sb).lines().count(), pods.len());
    run_all("DEL");
    assert_eq!(records(&sb), "");
}

#[test]
fn version_status_and_the_names_it_answers_to() {
    let sb = Sandbox::new();
    let version = cni_with(&sb, &[env!("CARGO_BIN_EXE_netscript")], &[("CNI_COMMAND", "VERSION")], r#"{"cniVersion":"1.0.0"}"#).ok();
    insta::assert_snapshot!("cni_version", version);
    // As `netscript cni`, and through a `netscript-cni` link.
    let sub = cni_with(&sb, &[env!("CARGO_BIN_EXE_netscript"), "cni"], &[("CNI_COMMAND", "VERSION")], "").ok();
    assert!(sub.contains("\"cniVersion\": \"1.1.0\""), "{sub}");
    sb.sh(&format!("mkdir -p /run/cnibin && ln -s {} /run/cnibin/netscript-cni", env!("CARGO_BIN_EXE_netscript"))).ok();
    let linked = cni_with(&sb, &["/run/cnibin/netscript-cni"], &[("CNI_COMMAND", "VERSION")], "").ok();
    assert_eq!(linked, sub);
    let status = cni_with(&sb, &[env!("CARGO_BIN_EXE_netscript")], &[("CNI_COMMAND", "STATUS")], &conf("1.1.0", SNIPPET, "/x"));
    assert!(status.success && status.stdout.is_empty(), "{status:?}");
    // Without CNI_COMMAND and with arguments, it is the ordinary CLI.
    let cli = cni_with(&sb, &[env!("CARGO_BIN_EXE_netscript"), "--version"], &[], "").ok();
    assert!(cli.starts_with("netscript "), "{cli}");
}

/// Each malformed invocation, with the spec's error code, as golden JSON.
#[test]
fn malformed_invocations_get_the_spec_error_codes() {
    let sb = Sandbox::new();
    let netns = pod(&sb, "p1");
    let before = dump_of(&sb, &netns);
    let bin = env!("CARGO_BIN_EXE_netscript");
    let good = conf("1.1.0", SNIPPET, &netns);
    let env = |command: &'static str, container: &'static str| vec![("CNI_COMMAND", command), ("CNI_CONTAINERID", container), ("CNI_IFNAME", "eth0"), ("CNI_NETNS", netns.as_str())];
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, String, u64);
    let cases: Vec<Case> = vec![
        ("unknown_command", env("FROB", "c1"), good.clone(), 4),
        ("bad_container_id", env("ADD", "-c1"), good.clone(), 4),
        ("no_netns", vec![("CNI_COMMAND", "ADD"), ("CNI_CONTAINERID", "c1"), ("CNI_IFNAME", "eth0")], good.clone(), 4),
        ("not_json", env("ADD", "c1"), "{\"cniVersion\": \"1.1.0\",".into(), 6),
        ("no_version", env("ADD", "c1"), "{\"name\": \"n\", \"script\": \"\"}".into(), 6),
        ("old_version", env("ADD", "c1"), conf("0.2.0", SNIPPET, &netns), 1),
        ("future_version", env("ADD", "c1"), conf("2.0.0", SNIPPET, &netns), 1),
        ("check_before_0_4_0", env("CHECK", "c1"), conf("0.3.1", SNIPPET, &netns), 1),
        ("gc_before_1_1_0", vec![("CNI_COMMAND", "GC")], conf("1.0.0", SNIPPET, &netns), 1),
        ("no_script", env("ADD", "c1"), r#"{"cniVersion":"1.1.0","name":"n","type":"netscript"}"#.into(), 7),
        ("relative_script_file", env("ADD", "c1"), r#"{"cniVersion":"1.1.0","name":"n","type":"netscript","scriptFile":"x.ns"}"#.into(), 7),
        ("snippet_error", env("ADD", "c1"), conf("1.1.0", "link {ifname} < shape 10mbit >\nroute default via {gw6}", &netns), 7),
        ("snippet_names_a_namespace", env("ADD", "c1"), conf("1.1.0", "netns other", &netns), 7),
        ("missing_netns", vec![("CNI_COMMAND", "ADD"), ("CNI_CONTAINERID", "c1"), ("CNI_IFNAME", "eth0"), ("CNI_NETNS", "/run/pods/none")], good.clone(), 3),
        ("bad_prev_result", env("ADD", "c1"), r#"{"cniVersion":"1.1.0","name":"n","type":"netscript","script":"","prevResult":{"ips":3}}"#.into(), 6),
    ];
    let mut all = serde_json::Map::new();
    for (name, vars, stdin, code) in cases {
        let run = cni_with(&sb, &[bin], &vars, &stdin);
        let e = error_of(&run);
        assert_eq!(e["code"], code, "{name}: {e:#}");
        all.insert(name.to_string(), e);
    }
    insta::assert_json_snapshot!("cni_errors", all);
    support::assert_same_dump(&before, &dump_of(&sb, &netns), "the container's namespace after refused invocations");
    assert_eq!(records(&sb), "");
}

/// `table` and `expect` keep their top-level meaning in a snippet: an expectation that
/// does not hold in the pod fails the ADD, which is rolled back.
#[test]
fn expectations_in_a_snippet_are_checked_in_the_pod() {
    let sb = Sandbox::new();
    let netns = pod(&sb, "p1");
    let before = dump_of(&sb, &netns);
    let holds = "table pod = 100\nlink {ifname} < shape 10mbit >\nrule from {ip4} table pod\nexpect host reach {ip4} within 2s";
    cni(&sb, "ADD", "c5", &netns, &conf("1.1.0", holds, &netns)).ok();
    cni(&sb, "DEL", "c5", &netns, &conf("1.1.0", holds, &netns)).ok();
    // 10.1.0.1 (the gateway of prevResult) is nobody in this sandbox.
    let fails = "link {ifname} < shape 10mbit >\nexpect host reach {gw4} within 300ms";
    let e = error_of(&cni(&sb, "ADD", "c6", &netns, &conf("1.1.0", fails, &netns)));
    assert_eq!(e["code"], 100, "{e:#}");
    assert!(e["details"].as_str().unwrap().contains("10.1.0.1"), "{e:#}");
    support::assert_same_dump(&before, &dump_of(&sb, &netns), "the container's namespace after an ADD whose expectation failed");
    cni(&sb, "DEL", "c6", &netns, &conf("1.1.0", fails, &netns)).ok();
    assert_eq!(records(&sb), "");
}

/// The runtime re-creates the pod's namespace at the same path without a DEL: ADD
/// starts afresh (the old record's objects and original values went with the old
/// namespace).
#[test]
fn add_into_a_recreated_namespace_starts_afresh() {
    let sb = Sandbox::new();
    let netns = pod(&sb, "p1");
    let config = conf("1.1.0", SNIPPET, &netns);
    cni(&sb, "ADD", "c7", &netns, &config).ok();
    sb.sh(&format!("umount {netns} && rm {netns}")).ok();
    pod(&sb, "p1");
    // The new namespace's own value of the sysctl the snippet sets (as `tuning` would
    // set it): the one DEL must give back, not the old namespace's.
    sb.sh(&format!("nsenter --net={netns} sh -c 'echo 1 > /proc/sys/net/ipv4/conf/eth0/rp_filter'")).ok();
    let before = dump_of(&sb, &netns);
    cni(&sb, "ADD", "c7", &netns, &config).ok();
    let qdisc = sb.sh(&format!("nsenter --net={netns} tc -json qdisc show dev eth0 root")).ok();
    assert!(qdisc.contains("\"tbf\""), "{qdisc}");
    cni(&sb, "DEL", "c7", &netns, &config).ok();
    support::assert_same_dump(&before, &dump_of(&sb, &netns), "the re-created namespace after DEL");
    assert_eq!(records(&sb), "");
}

/// `scriptFile`: the snippet from a file on the node, with the same variables.
#[test]
fn a_script_file_is_read_from_the_node() {
    let sb = Sandbox::new();
    let netns = pod(&sb, "p1");
    sb.put("/run/pod.ns", "link {ifname} < shape 3mbit >\n");
    let mut config: serde_json::Value = serde_json::from_str(&conf("1.1.0", "", &netns)).unwrap();
    config.as_object_mut().unwrap().remove("script");
    config["scriptFile"] = "/run/pod.ns".into();
    cni(&sb, "ADD", "c8", &netns, &config.to_string()).ok();
    let qdisc: serde_json::Value = serde_json::from_str(&sb.sh(&format!("nsenter --net={netns} tc -json qdisc show dev eth0 root")).ok()).unwrap();
    assert_eq!(qdisc[0]["options"]["rate"], 375_000, "{qdisc:#}");
    cni(&sb, "DEL", "c8", &netns, &config.to_string()).ok();
    config["scriptFile"] = "/run/absent.ns".into();
    let e = error_of(&cni(&sb, "ADD", "c9", &netns, &config.to_string()));
    assert_eq!(e["code"], 7, "{e:#}");
}

/// A firewall and forwarding in the pod (nftables over its own netlink family, sysctls
/// through /proc/sys from the pod's namespace): the node's own namespace is untouched.
#[test]
fn a_firewall_and_forwarding_in_the_pod() {
    let sb = Sandbox::new();
    let netns = pod(&sb, "p1");
    let config = conf("1.1.0", "firewall input < drop proto tcp dport 22 counter >\nforward on", &netns);
    cni(&sb, "ADD", "c10", &netns, &config).ok();
    let inside = |cmd: &str| sb.sh(&format!("nsenter --net={netns} {cmd}")).ok();
    let ruleset: serde_json::Value = serde_json::from_str(&inside("nft -j list ruleset")).unwrap();
    let rules = ruleset["nftables"].as_array().unwrap().iter().filter(|o| o.get("rule").is_some()).count();
    assert_eq!(rules, 1, "{ruleset:#}");
    assert_eq!(inside("cat /proc/sys/net/ipv4/ip_forward").trim(), "1");
    assert_eq!(sb.sh("cat /proc/sys/net/ipv4/ip_forward").ok().trim(), "0", "forwarding turned on in the node's namespace");
    assert!(!sb.sh("nft list ruleset").ok().contains("netscript"), "a firewall in the node's namespace");
    cni(&sb, "CHECK", "c10", &netns, &config).ok();
    cni(&sb, "DEL", "c10", &netns, &config).ok();
    assert!(!inside("nft list ruleset").contains("netscript"));
    assert_eq!(inside("cat /proc/sys/net/ipv4/ip_forward").trim(), "0");
}
