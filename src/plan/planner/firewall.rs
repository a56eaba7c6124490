//! Packet policy: netscript's nftables table of each namespace, whole (see
//! [`crate::plan::firewall`]). One operation a namespace whose table differs from the
//! script's: it sets the table's whole content in one atomic batch, and its undo puts
//! back what was there (or deletes the table, if there was none).

use super::super::action::Action;
use super::super::firewall::{desired_table, TABLE};
use super::Planner;
use crate::diagnostic::Diagnostic;
use crate::model::Namespace;

pub const FOREIGN_FIREWALL: &str = "netscript::plan::foreign_firewall";

impl Planner<'_> {
    pub(super) fn firewall(&mut self, ns: &Namespace) {
        let Some(want) = desired_table(ns) else { return };
        let key = format!("firewall {}", ns.name);
        let seen = self.observed_ns(&ns.name).and_then(|o| o.firewall.as_ref());
        let origin = ns.firewall.first().map(|c| c.span).unwrap_or(ns.span);
        if let Some(have) = seen {
            if !self.owns(&key) {
                let other = self.others.iter().find(|o| o.owned.iter().any(|e| e.undo.first().is_some_and(|u| super::ownership::key(u) == key)));
                let d = match other {
                    Some(o) => Diagnostic::error(super::OWNED_BY_OTHER, origin, format!("the firewall of `{}` was made by another script, {}", ns.name, o.script))
                        .label("declared here too")
                        .help(format!("netscript keeps one table a namespace, which belongs to one script; declare the rules in one of them (or `netscript down {}` first)", o.script)),
                    None => Diagnostic::error(FOREIGN_FIREWALL, origin, format!("namespace `{}` has an nftables table `inet {TABLE}` that netscript did not make", ns.name))
                        .label("netscript would own this table")
                        .help(format!("netscript uses the table `inet {TABLE}` for the script's rules and does not take over one it did not make; remove it (`nft delete table inet {TABLE}` in `{}`) and run again", ns.name)),
                };
                self.diagnostics.push(d);
                return;
            }
            if have.holds(&want) {
                return;
            }
        }
        let undo = match seen {
            Some(have) => Action::SetFirewall { ns: ns.name.clone(), table: have.table.clone() },
            None => Action::DeleteFirewall { ns: ns.name.clone() },
        };
        let deps = self.ns_deps(&ns.name);
        self.push(Action::SetFirewall { ns: ns.name.clone(), table: want }, origin, deps, vec![undo]);
    }
}
