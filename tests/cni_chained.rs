//! netscript chained after Debian's reference CNI plugins (`containernetworking-plugins`:
//! bridge, host-local; bandwidth and sbr for comparison), driven by the real CNI library
//! (libcni, `golang-github-appc-cni-dev`) through the small Go driver in
//! `tests/cni/src/cnidriver`, built offline here. Everything runs in a sandbox: the
//! bridge, the container namespaces (bind mounts under /run/pods), host-local's leases
//! (`dataDir` under /run) and libcni's cache.

mod support;
use support::{Run, Sandbox};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Builds the driver once per test binary: `GO111MODULE=off`, sources from the repository
/// and /usr/share/gocode only (no network).
fn driver() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cnidriver");
        let gopath = format!("{}/tests/cni:/usr/share/gocode", env!("CARGO_MANIFEST_DIR"));
        let run: Run = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg("cnidriver")
            .env("GO111MODULE", "off")
            .env("GOPATH", gopath)
            .env("GOFLAGS", "")
            .env("GOCACHE", Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-cache"))
            .output()
            .expect("cannot run go (scripts/test.sh installs golang-go)")
            .into();
        run.ok();
        out
    })
}

const PLUGINS: &str = "/usr/lib/cni";

/// A sandbox with the plugin directory (the reference plugins, and netscript under its
/// plugin name) and the container namespaces `names` at /run/pods/NAME.
fn setup(names: &[&str]) -> Sandbox {
    assert!(Path::new(PLUGINS).join("bridge").exists(), "scripts/test.sh installs containernetworking-plugins");
    let sb = Sandbox::new();
    let pods: String = names.iter().map(|n| format!("touch /run/pods/{n}; unshare --net=/run/pods/{n} true; ")).collect();
    sb.sh(&format!("mkdir -p /run/bin /run/cache /run/pods; ln -s {} /run/bin/netscript; {pods}", env!("CARGO_BIN_EXE_netscript"))).ok();
    sb
}

fn conflist(sb: &Sandbox, name: &str, bridge: &str, subnet: &str, last: Value) -> String {
    let list = json!({"cniVersion": "1.0.0", "name": name, "plugins": [
        {"type": "bridge", "bridge": bridge, "isGateway": true,
         "ipam": {"type": "host-local", "subnet": subnet, "dataDir": "/run/ipam", "routes": [{"dst": "0.0.0.0/0"}]}},
        last]});
    let path = format!("/run/{name}.conflist");
    sb.put(&path, &list.to_string());
    path
}

/// `cnidriver COMMAND CONFLIST CONTAINER /run/pods/POD eth0` in the sandbox.
fn drive(sb: &Sandbox, command: &str, list: &str, container: &str, pod: &str) -> Run {
    let netns = format!("/run/pods/{pod}");
    sb.run(
        "env",
        &[&format!("CNI_PATH={PLUGINS}:/run/bin"), "CNI_CACHE_DIR=/run/cache", driver().to_str().unwrap(), command, list, container, &netns, "eth0"],
    )
}

fn json_in(sb: &Sandbox, pod: Option<&str>, command: &str) -> Value {
    let text = match pod {
        Some(pod) => sb.sh(&format!("nsenter --net=/run/pods/{pod} {command}")).ok(),
        None => sb.sh(command).ok(),
    };
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{command}: {e}: {text}"))
}

/// The tbf options (rate, burst, latency) of `dev`'s root qdisc, normalised.
fn tbf(qdiscs: &Value, dev: &str) -> Value {
    let q = qdiscs.as_array().unwrap().iter().find(|q| q["dev"] == dev && q["root"] == true).unwrap_or_else(|| panic!("no root qdisc on {dev}: {qdiscs:#}"));
    assert_eq!(q["kind"], "tbf", "{q:#}");
    json!({"rate": q["options"]["rate"], "burst": q["options"]["burst"], "lat": q["options"]["lat"]})
}

fn netscript_rules(sb: &Sandbox, pod: &str) -> usize {
    let rules = json_in(sb, Some(pod), "ip -json rule");
    rules.as_array().unwrap().iter().filter(|r| r["protocol"] == "110" || r["protocol"] == 110).count()
}

fn records(sb: &Sandbox) -> String {
    sb.sh("find /run/netscript/cni -name attachment.json 2>/dev/null | sort").ok()
}

#[test]
fn bridge_host_local_then_netscript_add_check_del() {
    let sb = setup(&["a"]);
    let snippet = "link {ifname} < shape 10mbit burst 12500b latency 25ms >\nrule from {ip4} table 100\nroute default via {gw4} table 100";
    let list = conflist(&sb, "nsnet", "cni0", "10.22.0.0/16", json!({"type": "netscript", "script": snippet}));
    let result: Value = serde_json::from_str(&drive(&sb, "add", &list, "ca", "a").ok()).unwrap();
    // bridge's result, passed through by netscript.
    assert_eq!(result["ips"][0]["address"], "10.22.0.2/16", "{result:#}");
    assert_eq!(result["interfaces"][2]["name"], "eth0", "{result:#}");
    // The state the snippet declares, in the container's namespace, with host-local's
    // address and bridge's gateway filled in.
    let qdiscs = json_in(&sb, Some("a"), "tc -json qdisc show");
    assert_eq!(tbf(&qdiscs, "eth0"), json!({"rate": 1_250_000, "burst": 12500, "lat": 25000}));
    let rules = json_in(&sb, Some("a"), "ip -json rule show table 100");
    assert_eq!(rules[0]["src"], "10.22.0.2", "{rules:#}");
    let routes = json_in(&sb, Some("a"), "ip -json route show table 100");
    assert_eq!(routes[0]["gateway"], "10.22.0.1", "{routes:#}");
    drive(&sb, "check", &list, "ca", "a").ok();
    // Drift: CHECK fails through libcni with netscript's error.
    sb.sh("nsenter --net=/run/pods/a ip rule del from 10.22.0.2 table 100").ok();
    let check = drive(&sb, "check", &list, "ca", "a");
    assert!(!check.success && check.stderr.contains("no longer holds what the snippet declares"), "{check:?}");
    drive(&sb, "del", &list, "ca", "a").ok();
    assert_eq!(netscript_rules(&sb, "a"), 0);
    assert_eq!(records(&sb), "");
    // A second DEL, as runtimes do.
    drive(&sb, "del", &list, "ca", "a").ok();
}

/// The bandwidth plugin shapes the host end of the pod's veth (what the pod receives)
/// and an ifb fed from its ingress (what the pod sends); the snippet shapes the pod's
/// end: `shape` (what it sends) and `shape ingress` (an ifb: what it receives). The
/// same tbf state, each on its side.
#[test]
fn the_bandwidth_snippet_gives_the_bandwidth_plugins_tc_state() {
    let sb = setup(&["bw", "ns"]);
    let bw = conflist(&sb, "bwnet", "cni1", "10.23.0.0/16", json!({"type": "bandwidth", "ingressRate": 10_000_000, "ingressBurst": 100_000, "egressRate": 10_000_000, "egressBurst": 100_000}));
    let snippet = "link {ifname} <\n  shape 10mbit burst 12500b latency 25ms\n  shape ingress 10mbit burst 12500b latency 25ms\n>";
    let ns = conflist(&sb, "nsbw", "cni2", "10.24.0.0/16", json!({"type": "netscript", "script": snippet}));
    let bw_result: Value = serde_json::from_str(&drive(&sb, "add", &bw, "cbw", "bw").ok()).unwrap();
    let ns_result: Value = serde_json::from_str(&drive(&sb, "add", &ns, "cns", "ns").ok()).unwrap();
    // The ifb netscript made is in the result, like bandwidth's.
    let last = ns_result["interfaces"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last, json!({"name": "ifb-eth0", "sandbox": "/run/pods/ns"}), "{ns_result:#}");
    let names: Vec<&str> = bw_result["interfaces"].as_array().unwrap().iter().filter_map(|i| i["name"].as_str()).collect();
    let host_veth = names.iter().find(|n| n.starts_with("veth")).unwrap();
    let ifb = names.iter().find(|n| n.starts_with("bwp")).unwrap();
    let host = json_in(&sb, None, "tc -json qdisc show");
    let pod = json_in(&sb, Some("ns"), "tc -json qdisc show");
    // Received by the pod: bandwidth's host veth root ≙ netscript's ifb in the pod.
    assert_eq!(tbf(&host, host_veth), tbf(&pod, "ifb-eth0"));
    // Sent by the pod: bandwidth's ifb ≙ netscript's eth0 root.
    assert_eq!(tbf(&host, ifb), tbf(&pod, "eth0"));
    // Both feed their ifb from an ingress qdisc with a mirred redirect.
    let has_ingress = |q: &Value, dev: &str| q.as_array().unwrap().iter().any(|q| q["dev"] == dev && (q["kind"] == "ingress" || q["kind"] == "clsact"));
    assert!(has_ingress(&host, host_veth) && has_ingress(&pod, "eth0"), "{host:#}\n{pod:#}");
    let mirred = |filters: String| filters.contains("\"mirred\"") || filters.contains("mirred");
    assert!(mirred(sb.sh(&format!("tc -json filter show dev {host_veth} parent ffff:")).ok()));
    assert!(mirred(sb.sh("nsenter --net=/run/pods/ns tc -json filter show dev eth0 parent ffff:").ok()));
    drive(&sb, "del", &ns, "cns", "ns").ok();
    let pod = json_in(&sb, Some("ns"), "tc -json qdisc show");
    assert!(!pod.to_string().contains("tbf") && !pod.to_string().contains("ifb-eth0"), "{pod:#}");
    drive(&sb, "del", &bw, "cbw", "bw").ok();
}

/// sbr gives the interface a table (100) with its routes and a rule for its source
/// address; the snippet declares the same. (sbr also moves the routes out of main;
/// netscript never deletes what it did not make, so main keeps them, behind the rule.)
#[test]
fn the_sbr_snippet_gives_the_sbr_plugins_rules_and_table() {
    let sb = setup(&["sbr", "ns"]);
    let sbr = conflist(&sb, "sbrnet", "cni1", "10.25.0.0/16", json!({"type": "sbr"}));
    let snippet = "link {ifname}\nrule from {ip4} table 100\nroute default via {gw4} dev {ifname} table 100\nroute {net4} dev {ifname} src {ip4} table 100";
    let ns = conflist(&sb, "nssbr", "cni2", "10.25.0.0/16", json!({"type": "netscript", "script": snippet}));
    drive(&sb, "add", &sbr, "csbr", "sbr").ok();
    // The same subnet on a second bridge: the same addresses in both pods (host-local
    // keeps leases per network name).
    drive(&sb, "add", &ns, "cns", "ns").ok();
    let normal = |pod: &str| {
        let rules = json_in(&sb, Some(pod), "ip -4 -json rule");
        let rules: Vec<Value> = rules.as_array().unwrap().iter().map(|r| json!({"priority": r["priority"], "src": r["src"], "table": r["table"]})).collect();
        let routes = json_in(&sb, Some(pod), "ip -4 -json route show table 100");
        let mut routes: Vec<Value> = routes.as_array().unwrap().iter().map(|r| json!({"dst": r["dst"], "gateway": r["gateway"], "dev": r["dev"], "prefsrc": r["prefsrc"]})).collect();
        routes.sort_by_key(|r| r.to_string());
        json!({"rules": rules, "table 100": routes})
    };
    let expected = normal("sbr");
    assert_eq!(expected["table 100"].as_array().unwrap().len(), 2, "{expected:#}");
    assert_eq!(normal("ns"), expected);
    drive(&sb, "del", &ns, "cns", "ns").ok();
    assert_eq!(netscript_rules(&sb, "ns"), 0);
    drive(&sb, "del", &sbr, "csbr", "sbr").ok();
}
