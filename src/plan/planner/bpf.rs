//! eBPF programs: `bpf ingress|egress` (a clsact qdisc, then one cls_bpf filter per
//! statement, priorities 1, 2, … in the order of the script on each hook) and `xdp`.
//!
//! Reconcile: a hook position holding the program the script names — same object hash
//! and function, as the filter name (or the XDP label) records them — is left alone; one
//! holding anything else is replaced, with an undo that puts the old program back by id
//! (the executor keeps it loaded until the run ends, so that works within a run's
//! rollback; a later `down` finds it freed and skips it). Filters netscript attached at
//! positions the script no longer uses on an interface that still has `bpf` statements
//! are detached.

use super::super::action::*;
use super::super::observed::{AttachPoint, ObservedProgram};
use super::Planner;
use crate::model::*;

/// The tc priorities of an interface's `bpf` statements: their `prio`, or 1, 2, … per
/// direction.
pub fn bpf_positions(iface: &Interface) -> Vec<(BpfDirection, u16, &crate::source::Spanned<BpfAttach>)> {
    let mut out = Vec::new();
    for direction in [BpfDirection::Ingress, BpfDirection::Egress] {
        for (i, b) in iface.bpf.iter().filter(|b| b.node.direction == direction).enumerate() {
            out.push((direction, b.node.prio_at(i), b));
        }
    }
    out
}

fn same_program(have: &ObservedProgram, want: &BpfProgram) -> bool {
    have.label.as_ref().is_some_and(|l| l.hash == want.hash && l.function == want.function && l.section == want.section)
}

impl Planner<'_> {
    /// What puts `have` back: the program by id, and the object or code that made it
    /// where the record knows it (the label's hash names it), to load again if freed.
    pub(super) fn restore(&self, have: &ObservedProgram) -> BpfSource {
        let hash = have.label.as_ref().map(|l| l.hash.as_str());
        let again = self.owned.iter().filter_map(|o| o.made.as_ref()).find_map(|made| match made {
            Action::AttachBpf { program, .. } | Action::AttachXdp { program, .. } => match program {
                BpfSource::Object { program: p, .. } | BpfSource::Code { program: p, .. } if Some(p.hash.as_str()) == hash => Some(Box::new(program.clone())),
                _ => None,
            },
            _ => None,
        });
        BpfSource::Loaded { id: have.id, name: have.name.clone(), again }
    }

    fn observed_programs(&self, ns: &str, dev: &str) -> Vec<ObservedProgram> {
        if self.is_replaced(ns, dev) {
            return Vec::new();
        }
        self.observed_ns(ns).map(|o| o.programs.iter().filter(|p| p.dev == dev).cloned().collect()).unwrap_or_default()
    }

    pub(super) fn programs(&mut self, ns: &Namespace, iface: &Interface) {
        if !iface.bpf.is_empty() {
            self.classifiers(ns, iface);
        }
        if let Some(xdp) = &iface.xdp {
            self.xdp(ns, iface, xdp);
        }
    }

    fn classifiers(&mut self, ns: &Namespace, iface: &Interface) {
        let (nsn, dev) = (&ns.name, &iface.name);
        let observed = self.observed_programs(nsn, dev);
        let first = iface.bpf[0].span;
        let clsact = self.qdisc(nsn, dev, QdiscSpec::Clsact, first, vec![]);
        let positions = bpf_positions(iface);
        for &(direction, prio, b) in &positions {
            let Some((program, source)) = super::bpf_inline::source(&b.node.path, b.node.program.as_ref(), b.node.rules.as_deref(), crate::plan::bpfgen::Target::Tc) else { continue };
            let program = &program;
            let have = observed.iter().find(|p| p.attach == AttachPoint::Tc { direction, prio });
            let mut deps: Vec<usize> = clsact.into_iter().collect();
            deps.extend(self.link_deps(nsn, dev));
            match have {
                Some(h) if same_program(h, program) && h.direct_action && h.handle == b.node.handle => continue,
                Some(h) => {
                    let detach = Action::DetachBpf { ns: nsn.clone(), dev: dev.clone(), direction, prio, keep: Some(h.id) };
                    let undo = vec![Action::AttachBpf { ns: nsn.clone(), dev: dev.clone(), direction, prio, handle: h.handle, program: self.restore(h) }];
                    let op = self.push(detach, b.span, deps.clone(), undo);
                    deps.push(op);
                }
                None => {}
            }
            let attach = Action::AttachBpf {
                ns: nsn.clone(),
                dev: dev.clone(),
                direction,
                prio,
                handle: b.node.handle,
                program: source,
            };
            let undo = vec![Action::DetachBpf { ns: nsn.clone(), dev: dev.clone(), direction, prio, keep: None }];
            self.push(attach, b.span, deps, undo);
        }
        // netscript's filters at positions the script no longer uses.
        for h in &observed {
            let AttachPoint::Tc { direction, prio } = h.attach else { continue };
            if h.label.is_none() || positions.iter().any(|&(d, p, _)| d == direction && p == prio) {
                continue;
            }
            let detach = Action::DetachBpf { ns: nsn.clone(), dev: dev.clone(), direction, prio, keep: Some(h.id) };
            let undo = vec![Action::AttachBpf { ns: nsn.clone(), dev: dev.clone(), direction, prio, handle: h.handle, program: self.restore(h) }];
            let deps = self.link_deps(nsn, dev);
            self.push(detach, first, deps, undo);
        }
    }

    fn xdp(&mut self, ns: &Namespace, iface: &Interface, xdp: &crate::source::Spanned<XdpAttach>) {
        let Some((program, source)) = super::bpf_inline::source(&xdp.node.path, xdp.node.program.as_ref(), xdp.node.rules.as_deref(), crate::plan::bpfgen::Target::Xdp) else { return };
        let program = &program;
        let (nsn, dev) = (&ns.name, &iface.name);
        let have = self.observed_programs(nsn, dev).into_iter().find(|p| matches!(p.attach, AttachPoint::Xdp { .. }));
        let mode = xdp.node.mode;
        let mut deps = self.link_deps(nsn, dev);
        // A veth takes a native program only while its peer's mtu fits in a page, and caps
        // the peer's mtu there while it has one: what this plan changes on the peer comes
        // before the attach, and after the detach of a native program (below).
        let peer_deps = match &iface.kind {
            IfaceKind::Veth { peer: other } | IfaceKind::VethPeer { of: other } => self.link_deps(&other.ns, &other.name),
            _ => Vec::new(),
        };
        let mut keep = None;
        let mut undo = vec![Action::DetachXdp { ns: nsn.clone(), dev: dev.clone(), mode, keep: None }];
        if let Some(h) = &have {
            let AttachPoint::Xdp { mode: have_mode } = h.attach else { unreachable!() };
            // Without a mode the kernel picks native where the driver has it: a generic
            // program there is not what the script makes on a fresh link (and the kernel
            // refuses a native attach while a generic program is on: "Native and generic
            // XDP can't be active at the same time").
            let kernels_pick = match self.observed_link(nsn, dev).and_then(|l| l.kind.as_deref()) {
                Some(kind) if has_native_xdp(kind) => XdpMode::Native,
                _ => have_mode,
            };
            let mode_ok = mode.unwrap_or(kernels_pick) == have_mode;
            if same_program(h, program) && mode_ok {
                return;
            }
            let put_back = Action::AttachXdp { ns: nsn.clone(), dev: dev.clone(), mode: Some(have_mode), program: self.restore(h), keep: None };
            if mode_ok {
                // Same mode: the kernel swaps the programs in one step, and so does the
                // undo (a detach first would free the old program when nothing else
                // holds it: a recovery after a SIGKILL).
                keep = Some(h.id);
                undo = vec![put_back];
            } else {
                // Another mode: the kernel holds one XDP program per link; take the old one off first.
                let detach = Action::DetachXdp { ns: nsn.clone(), dev: dev.clone(), mode: Some(have_mode), keep: Some(h.id) };
                let op = self.push(detach, xdp.span, deps.clone(), vec![put_back]);
                if have_mode == XdpMode::Native {
                    for &peer_op in &peer_deps {
                        self.ops[peer_op].deps.push(op);
                    }
                }
                deps.push(op);
            }
        }
        deps.extend(peer_deps);
        let attach = Action::AttachXdp {
            ns: nsn.clone(),
            dev: dev.clone(),
            mode,
            program: source,
            keep,
        };
        self.push(attach, xdp.span, deps, undo);
    }
}

/// Link kinds whose driver runs XDP programs natively (the kernel's pick when an attach
/// names no mode). Others (bridge, vxlan, macvlan, ...) fall back to generic XDP.
fn has_native_xdp(kind: &str) -> bool {
    matches!(kind, "veth" | "tun")
}
