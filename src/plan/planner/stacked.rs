//! Links that sit on another (a macvlan or vlan on its parent, a vxlan on its `dev`):
//! the kernel deletes them with it. When this plan deletes a link — one the script
//! makes again, or one it no longer declares — the links on it go too:
//!
//! - the script's own, still declared, are made again after it (`link` sees their
//!   parent replaced);
//! - a rollback makes each again as it was, with its addresses, what it held and the
//!   routes through it, after the link it sits on (but those whose own removal this
//!   plan undoes itself);
//! - a link on it that is not the script's stops a plan that would make the link again
//!   (`stacked_link`): netscript does not delete what it did not create to keep what it
//!   did. When the script drops the link, what sits on it goes with it (as what others
//!   put in a namespace netscript made goes with the namespace), and comes back on
//!   rollback.

use super::super::action::*;
use super::{Planner, STACKED_LINK};
use crate::diagnostic::Diagnostic;
use crate::source::Span;

impl Planner<'_> {
    /// The links that sit on `ns.name` as observed, by name.
    fn stacked_on(&self, ns: &str, name: &str) -> Vec<String> {
        let Some(seen) = self.observed_ns(ns) else { return Vec::new() };
        seen.links.values().filter(|l| l.lower.as_deref() == Some(name)).map(|l| l.name.clone()).collect()
    }

    /// What makes the links on `ns.name` again after it, each as it is now, and the links
    /// on those: a rollback's part when this plan deletes `ns.name`.
    pub(super) fn stacked_put_back(&self, ns: &str, name: &str) -> Vec<Action> {
        let mut put_back = Vec::new();
        for child in self.stacked_on(ns, name) {
            let Some(link) = self.observed_ns(ns).and_then(|o| o.links.get(&child)) else { continue };
            let Some(kind) = link.made_as.clone() else { continue };
            if self.removed_by_plan(ns, &child) {
                continue;
            }
            let attrs = super::links::observed_attrs(link, &LinkAttrs::default());
            put_back.push(Action::CreateLink { ns: ns.to_string(), name: child.clone(), kind, attrs });
            put_back.extend(self.addrs_of(ns, &child));
            put_back.extend(self.held_by(ns, &child));
            put_back.extend(self.routes_through(ns, &child));
            put_back.extend(self.stacked_put_back(ns, &child));
        }
        put_back
    }

    /// Whether every link on `ns.name` (and on those) is the script's, so that making
    /// `ns.name` again may take them with it; otherwise each is refused at `span`.
    pub(super) fn stacked_are_ours(&mut self, ns: &str, name: &str, span: Span) -> bool {
        let mut ours = true;
        for child in self.stacked_on(ns, name) {
            if !self.created_by_script(ns, &child) {
                self.diagnostics.push(
                    Diagnostic::error(STACKED_LINK, span, format!("making `{name}` in `{ns}` again would delete `{child}`, which sits on it and is not this script's"))
                        .label("made again by this plan")
                        .help(format!("the kernel deletes a link with the one it sits on; delete `{child}` first (`{}`), or declare it in this script", ip_link_del(ns, &child))),
                );
                ours = false;
            } else {
                ours &= self.stacked_are_ours(ns, &child, span);
            }
        }
        ours
    }

    /// Whether one of this plan's removals (planned before anything else) deletes the
    /// link (ns, name): its own undo makes it again as it is.
    fn removed_by_plan(&self, ns: &str, name: &str) -> bool {
        self.ops.iter().any(|o| o.removes.is_some() && matches!(&o.action, Action::DeleteLink { ns: n, name: c } if n == ns && c == name))
    }

    /// The kernel lowers the mtu of the links on a link whose mtu goes below theirs (and
    /// never raises it back): what a rollback sets back on them, after the link's own —
    /// but for those this plan removes, which are not there then.
    pub(super) fn stacked_mtus_put_back(&self, ns: &str, name: &str, new_mtu: u32) -> Vec<Action> {
        let Some(seen) = self.observed_ns(ns) else { return Vec::new() };
        let mut put_back = Vec::new();
        for child in self.stacked_on(ns, name) {
            if self.removed_by_plan(ns, &child) {
                continue;
            }
            let Some(link) = seen.links.get(&child) else { continue };
            if link.mtu > new_mtu {
                put_back.push(Action::SetLink { ns: ns.to_string(), name: child.clone(), set: LinkSet { mtu: Some(link.mtu), ..Default::default() } });
                put_back.extend(self.stacked_mtus_put_back(ns, &child, new_mtu));
            }
        }
        put_back
    }

    /// Whether the link (ns, name), as observed, sits on one this plan deletes: then the
    /// kernel deletes it too, and the script's is made again (see the module's text).
    pub(super) fn sits_on_replaced(&self, ns: &str, name: &str) -> bool {
        self.observed_link(ns, name).and_then(|l| l.lower.as_deref()).is_some_and(|lower| self.is_replaced(ns, lower))
    }
}

/// The ip command that deletes link `name` of namespace `ns`.
pub(super) fn ip_link_del(ns: &str, name: &str) -> String {
    if ns == crate::model::HOST { format!("ip link del {name}") } else { format!("ip -n {ns} link del {name}") }
}
