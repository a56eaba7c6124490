//! Plans of `firewall` against hand-built observed tables (pure: no kernel): every rule
//! the table's one atomic operation adds, changes or removes is shown with its source
//! line, in text, JSON and dot (golden files, `insta`); and the refusals that only a
//! kernel state provokes (a table netscript did not make, a table another script made).
//! Regenerate with `INSTA_UPDATE=always cargo test --test plan_firewall`.

use netscript::check::{self, Checked, FsLoader};
use netscript::diagnostic::{render_all, RenderOptions};
use netscript::plan::action::Action;
use netscript::plan::firewall::{desired_table, ObservedFirewall};
use netscript::plan::observed::ObservedNs;
use netscript::plan::ownership::{OtherScript, Owned};
use netscript::plan::{self, Observed, Ownership, Plan};
use netscript::source::SourceMap;

fn checked(name: &str, script: &str) -> (Checked, SourceMap) {
    let mut sources = SourceMap::new();
    let file = sources.add(name.to_string(), None, script.to_string());
    let checked = check::check(&mut sources, file, &FsLoader);
    assert!(!checked.has_errors(), "{name} does not check: {:?}", checked.diagnostics);
    (checked, sources)
}

/// The kernel as `old` leaves it: namespace `lab` with the table `old` declares, plus
/// `unknown` rules someone added by hand.
fn observed_after(old: &str, unknown: usize) -> Observed {
    let (c, _) = checked("old.ns", old);
    let table = desired_table(&c.desired.namespaces["lab"]).expect("old declares a firewall");
    let counters = table.chains.iter().map(|ch| vec![None; ch.rules.len()]).collect();
    let mut o = Observed { offline: false, ..Observed::empty() };
    let ns = ObservedNs { firewall: Some(ObservedFirewall { table, unknown_rules: unknown, edited_rules: 0, other_objects: 0, counters, generation: None, netns_cookie: None, digest: None }), ..Default::default() };
    o.namespaces.insert("lab".into(), ns);
    o
}

/// The record of the script's earlier run: it made `lab`'s table.
fn record() -> Vec<Owned> {
    vec![Owned { made: None, undo: vec![Action::DeleteFirewall { ns: "lab".into() }] }]
}

fn plan_with(new: &Checked, observed: &Observed, owned: &[Owned], others: &[OtherScript]) -> Result<Plan, Vec<netscript::diagnostic::Diagnostic>> {
    let ids = Default::default();
    plan::plan_owned(&new.desired, observed, Ownership { entries: owned, netns_ids: &ids, netns_cookies: &ids, others })
}

const OLD: &str = "netns lab <
  firewall input policy drop <
    accept ct established,related
    accept proto tcp dport 22
    accept proto tcp dport 80
    drop proto udp dport 53
  >
  firewall postrouting < masquerade >
>
";

/// OLD edited: port 22 becomes 2222 (changed), the UDP rule goes and two rules come
/// after port 80 (removed, added), the policy goes back to accept, the NAT chain goes
/// and an output chain comes.
const NEW: &str = "netns lab <
  firewall input <
    accept ct established,related
    accept proto tcp dport 2222
    accept proto tcp dport 80
    accept proto icmp
    accept proto tcp dport 443 counter
  >
  firewall output < mark 7 proto udp dport 9999 >
>
";

#[test]
fn an_edit_lists_each_rule_added_changed_and_removed() {
    let (new, sources) = checked("edit.ns", NEW);
    let plan = plan_with(&new, &observed_after(OLD, 1), &record(), &[]).expect("plans");
    // Still one atomic operation for the whole table.
    assert_eq!(plan.ops.len(), 1, "{:?}", plan.ops);
    let text = plan::render_text(&plan, &new.desired, &sources);
    for line in ["~ accept proto tcp dport 2222", "(was: accept proto tcp dport 22)", "- drop proto udp dport 53", "+ accept proto icmp", "- masquerade", "policy drop -> accept", "= 2 rules unchanged", "1 rule not written by netscript"] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let icmp = text.lines().find(|l| l.trim_start().starts_with("+ accept proto icmp")).unwrap_or_default();
    assert!(icmp.ends_with("  # edit.ns:6:5"), "an added rule carries its source line:\n{text}");
    insta::assert_snapshot!("edit_text", text);
    let json = plan::render_json(&plan, &new.desired, &sources);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let changes = &v["operations"][0]["firewall_changes"];
    assert_eq!((changes["added"].as_u64(), changes["changed"].as_u64(), changes["removed"].as_u64(), changes["unchanged"].as_u64()), (Some(3), Some(1), Some(2), Some(2)));
    insta::assert_snapshot!("edit_json", json);
    let dot = plan::render_dot(&plan, &new.desired, &sources);
    assert!(dot.contains("~ accept proto tcp dport 2222  # edit.ns:4:5\\l"), "{dot}");
    assert!(dot.contains("- drop proto udp dport 53\\l"), "{dot}");
}

#[test]
fn a_table_made_anew_lists_every_rule() {
    let (new, sources) = checked("new.ns", NEW);
    let mut observed = Observed { offline: false, ..Observed::empty() };
    observed.namespaces.insert("lab".into(), ObservedNs::default());
    let plan = plan_with(&new, &observed, &[], &[]).expect("plans");
    let text = plan::render_text(&plan, &new.desired, &sources);
    insta::assert_snapshot!("new_table_text", text);
    assert_eq!(text.matches("\n         + ").count(), 6, "every rule, added:\n{text}");
}

#[test]
fn a_firewall_no_longer_declared_lists_every_rule_removed() {
    let (new, sources) = checked("gone.ns", "netns lab\n");
    let owned = vec![Owned { made: None, undo: vec![Action::DeleteFirewall { ns: "lab".into() }] }];
    let plan = plan_with(&new, &observed_after(OLD, 0), &owned, &[]).expect("plans");
    let text = plan::render_text(&plan, &new.desired, &sources);
    insta::assert_snapshot!("removed_text", text);
    assert!(text.contains("delete firewall in lab (table inet netscript): 5 rules removed"), "{text}");
    assert_eq!(text.matches("\n         - ").count(), 5, "{text}");
}

#[test]
fn a_table_that_holds_what_the_script_declares_is_left_alone() {
    let (same, sources) = checked("same.ns", OLD);
    let plan = plan_with(&same, &observed_after(OLD, 0), &record(), &[]).expect("plans");
    assert!(plan.is_empty(), "{:?}", plan.ops);
    assert_eq!(plan::render_text(&plan, &same.desired, &sources), "up to date: nothing to do\n");
    // A rule added by hand is a difference: the table is written again, and the plan
    // says what goes.
    let plan = plan_with(&same, &observed_after(OLD, 2), &record(), &[]).expect("plans");
    let text = plan::render_text(&plan, &same.desired, &sources);
    assert!(text.contains("set firewall in lab (table inet netscript): 5 rules unchanged") && text.contains("2 rules not written by netscript (added by hand): removed"), "{text}");
}

/// Checks `script`, plans it and returns the rendered refusal with its codes.
fn refused(name: &str, script: &str, observed: &Observed, owned: &[Owned], others: &[OtherScript]) -> (String, Vec<&'static str>) {
    let (c, sources) = checked(name, script);
    let diagnostics = match plan_with(&c, observed, owned, others) {
        Ok(p) => panic!("{name}: the plan was not refused: {} operations", p.ops.len()),
        Err(d) => d,
    };
    (render_all(&diagnostics, &sources, RenderOptions::plain()), diagnostics.iter().map(|d| d.code).collect())
}

#[test]
fn a_table_netscript_did_not_make_is_refused() {
    // The table exists, and no record says netscript made it.
    let (text, codes) = refused("foreign.ns", NEW, &observed_after(OLD, 0), &[], &[]);
    assert_eq!(codes, ["netscript::plan::foreign_firewall"]);
    insta::assert_snapshot!("foreign_firewall", text);
}

#[test]
fn a_table_another_script_made_is_refused() {
    let other = OtherScript { script: "/srv/other.ns".into(), owned: record() };
    let (text, codes) = refused("second.ns", NEW, &observed_after(OLD, 0), &[], &[other]);
    assert_eq!(codes, ["netscript::plan::owned_by_other"]);
    insta::assert_snapshot!("owned_by_other", text);
}
