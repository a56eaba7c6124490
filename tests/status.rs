//! `netscript status`: the managed scripts, what they own, drift after a hand change, and
//! pending journals — text and JSON, against a real kernel in a sandbox.

mod support;
use support::Sandbox;

const SCRIPT: &str = "netns st-a < veth v0 <-> st-b.v1 < addr 10.61.0.1/24 > >\nnetns st-b < link v1 < addr 10.61.0.2/24 >; forward >\n";

fn status_json(sb: &Sandbox) -> serde_json::Value {
    let out = sb.netscript(&["status", "--format", "json"]).ok();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("status JSON: {e}\n{out}"))
}

fn script<'a>(status: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    status["scripts"].as_array().unwrap().iter().find(|s| s["script"] == key).unwrap_or_else(|| panic!("no {key} in {status:#}"))
}

#[test]
fn nothing_managed() {
    let sb = Sandbox::new();
    let text = sb.netscript(&["status"]).ok();
    assert_eq!(text, "no script is managed on this host (no record in /run/netscript/state)\n");
    let json = status_json(&sb);
    assert_eq!(json["scripts"], serde_json::json!([]));
    assert_eq!(json["journals"], serde_json::json!([]));
}

#[test]
fn drift_after_a_hand_change_in_text_and_json() {
    let sb = Sandbox::new();
    let path = sb.write_script("st.ns", SCRIPT);
    sb.netscript(&["run", &path]).ok();
    // A second script, from standard input, recorded under a name.
    sb.sh(&format!("echo 'netns st-c < bridge br0 < addr 10.62.0.1/24 > >' | {} run --name lab -", env!("CARGO_BIN_EXE_netscript"))).ok();

    let json = status_json(&sb);
    let s = script(&json, &path);
    assert_eq!(s["exists"], true);
    assert_eq!(s["owns"], serde_json::json!({"namespaces": 2, "links": 1, "addresses": 2, "sysctls": 2}));
    assert_eq!(s["drift"]["state"], "in_sync", "{s:#}");
    assert_eq!(s["drift"]["operations"], serde_json::json!([]));
    assert!(s["applied"].as_str().unwrap().ends_with('Z'), "{s:#}");
    let lab = script(&json, "stdin:lab");
    assert_eq!(lab["exists"], serde_json::Value::Null);
    assert_eq!(lab["drift"]["state"], "unknown", "{lab:#}");
    let text = sb.netscript(&["status"]).ok();
    assert!(text.starts_with("2 scripts managed on this host"), "{text}");
    assert!(text.contains(&format!("\n{path}\n")), "{text}");
    assert!(text.contains("  owns     2 namespaces, 1 link, 2 addresses, 2 sysctls\n"), "{text}");
    assert!(text.contains("  drift    none: the live state is what the script declares\n"), "{text}");

    // Hand changes: an address of the script's deleted, forwarding turned off, and the
    // stdin script's bridge deleted.
    sb.sh("ip -n st-a addr del 10.61.0.1/24 dev v0 && ip netns exec st-b sysctl -qw net.ipv4.ip_forward=0 && ip -n st-c link del br0").ok();
    let json = status_json(&sb);
    let s = script(&json, &path);
    assert_eq!(s["drift"]["state"], "drift", "{s:#}");
    let ops: Vec<&str> = s["drift"]["operations"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
    assert!(ops.contains(&"add address 10.61.0.1/24 to st-a.v0"), "{ops:?}");
    assert!(ops.iter().any(|o| o.contains("net.ipv4.ip_forward") && o.contains("st-b")), "{ops:?}");
    assert_eq!(ops.len(), 2, "{ops:?}");
    let lab = script(&json, "stdin:lab");
    assert_eq!(lab["drift"]["state"], "drift", "{lab:#}");
    assert_eq!(lab["drift"]["gone"], 2, "the bridge and its address: {lab:#}");
    let text = sb.netscript(&["status"]).ok();
    assert!(text.contains("  drift    2 operations would restore what the script declares:\n             add address 10.61.0.1/24 to st-a.v0\n"), "{text}");

    // A run restores it; status agrees.
    sb.netscript(&["run", &path]).ok();
    assert_eq!(script(&status_json(&sb), &path)["drift"]["state"], "in_sync");
    // An edit after the run is told apart from drift.
    std::thread::sleep(std::time::Duration::from_millis(20));
    sb.put(&path, &SCRIPT.replace("10.61.0.2/24", "10.61.0.3/24"));
    let s = status_json(&sb);
    assert_eq!(script(&s, &path)["drift"]["state"], "edited", "{s:#}");
    // A script that is gone is reported as such.
    sb.sh(&format!("rm {path}")).ok();
    let s = status_json(&sb);
    assert_eq!(script(&s, &path)["exists"], false);
    assert_eq!(script(&s, &path)["drift"]["state"], "unknown");
    sb.netscript(&["down", &path]).ok();
    sb.netscript(&["down", "--name", "lab"]).ok();
    assert_eq!(status_json(&sb)["scripts"], serde_json::json!([]));
}

#[test]
fn an_interrupted_run_shows_its_journal() {
    let sb = Sandbox::new();
    let path = sb.write_script("st.ns", SCRIPT);
    let killed = sb.run("env", &["NETSCRIPT_TEST_KILL_AFTER_RECORDS=3", env!("CARGO_BIN_EXE_netscript"), "run", &path]);
    assert_eq!(killed.code, None, "the run was not killed: {killed:?}");
    let json = status_json(&sb);
    let journals = json["journals"].as_array().unwrap();
    assert_eq!(journals.len(), 1, "{json:#}");
    assert_eq!(journals[0]["script"], path.as_str());
    assert_eq!(journals[0]["running"], false);
    assert_eq!(journals[0]["committed"], false);
    assert_eq!(journals[0]["operations"], 2, "{json:#}");
    let text = sb.netscript(&["status"]).ok();
    assert!(text.contains("journals of scripts with no record yet:"), "{text}");
    assert!(text.contains("interrupted with 2 operations: `netscript recover` rolls it back"), "{text}");
    sb.netscript(&["recover"]).ok();
    assert_eq!(status_json(&sb)["journals"], serde_json::json!([]));
}
