//! `netscript down` deletes runs of namespaces from several threads (exec::teardown):
//! a chain long enough to be split between threads, with objects outside the created
//! namespaces in the same record, must come down to exactly the starting state.

mod support;
use support::Sandbox;

fn write_script(sb: &Sandbox, name: &str, text: &str) -> String {
    let path = format!("/run/{name}");
    let mut child = std::process::Command::new("nsenter")
        .args(["-t", &sb.pid().to_string(), "-n", "-m", "--", "sh", "-c", &format!("cat > {path}")])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    path
}

#[test]
fn down_of_a_long_chain_restores_the_start_and_leaves_no_namespace() {
    let sb = Sandbox::new();
    // A namespace the script changes but did not create: its rule must go, it must stay.
    sb.sh("ip netns add kept && ip -n kept link add kb type bridge").ok();
    let before = sb.dump();
    let mut text = String::from("netns kept < rule from 10.201.0.1 lookup 100 >\n");
    let n = 40;
    for i in 0..n {
        let mut body = vec![format!("rule from 10.200.0.{i} lookup 100")];
        if i + 1 < n {
            body.push(format!("veth a{i} <-> dc{}.b{i} < addr 10.0.{i}.1/24 >", i + 1));
        }
        if i > 0 {
            body.push(format!("link b{} < addr 10.0.{}.2/24 >", i - 1, i - 1));
        }
        text.push_str(&format!("netns dc{i} < {} >\n", body.join("; ")));
    }
    let script = write_script(&sb, "dchain.ns", &text);
    sb.netscript(&["run", &script]).ok();
    let during = sb.sh("ls /run/netns | wc -l; ip -n kept rule show").ok();
    assert!(during.starts_with(&format!("{}\n", n + 1)) && during.contains("10.201.0.1"), "{during}");
    let down = sb.netscript(&["down", &script]);
    assert!(down.success && down.stderr.contains(&format!("{} operation(s) undone", n + 1)), "{}", down.stderr);
    assert_eq!(sb.sh("ls /run/netns").ok(), "kept\n");
    assert_eq!(sb.dump(), before, "down did not restore the starting state");
    // Nothing is recorded any more.
    let again = sb.netscript(&["down", &script]);
    assert!(again.success && again.stderr.contains("nothing to do"), "{}", again.stderr);
}
