//! Traffic-control statistics: what `tc -s qdisc show` and `tc -s class show` print
//! (bytes, packets, drops, overlimits, requeues, backlog), for every qdisc and class of
//! one namespace, read from the kernel's dumps.

use super::conn::DumpSocket;
use super::{ExecError, Executor, messages, netns, traffic};
use netlink_packet_route::RouteNetlinkMessage as M;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage, TcStats2};
use std::collections::BTreeMap;

/// The counters of one qdisc or class.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TcCounters {
    pub bytes: u64,
    pub packets: u64,
    pub drops: u64,
    pub overlimits: u64,
    pub requeues: u64,
    /// Bytes and packets queued right now.
    pub backlog: u64,
    pub qlen: u64,
}

/// One qdisc or class with its counters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TcStatsEntry {
    pub dev: String,
    /// `qdisc` or `class`.
    pub object: &'static str,
    pub kind: String,
    /// tc's notation: `1:`, `1:10`, `ffff:`.
    pub handle: String,
    /// `root`, `ingress`, or a handle.
    pub parent: String,
    #[serde(flatten)]
    pub counters: TcCounters,
}

/// tc's notation of a handle: `1:` for a qdisc's, `1:10` for a class's (hex).
pub fn handle_text(h: TcHandle) -> String {
    if h == TcHandle::ROOT {
        "root".into()
    } else if h == TcHandle::INGRESS {
        "ingress".into()
    } else if h.minor == 0 {
        format!("{:x}:", h.major)
    } else {
        format!("{:x}:{:x}", h.major, h.minor)
    }
}

/// The counters of a dumped qdisc or class: TCA_STATS2 (basic + queue) when present,
/// else the old TCA_STATS.
pub fn counters(msg: &TcMessage) -> TcCounters {
    let mut c = TcCounters::default();
    let mut have_stats2 = false;
    for a in &msg.attributes {
        if let TcAttribute::Stats2(items) = a {
            for item in items {
                match item {
                    TcStats2::Basic(b) => {
                        have_stats2 = true;
                        c.bytes = b.bytes;
                        c.packets = b.packets as u64;
                    }
                    TcStats2::Queue(q) => {
                        have_stats2 = true;
                        c.drops = q.drops as u64;
                        c.overlimits = q.overlimits as u64;
                        c.requeues = q.requeues as u64;
                        c.backlog = q.backlog as u64;
                        c.qlen = q.qlen as u64;
                    }
                    _ => {}
                }
            }
        }
    }
    if !have_stats2 {
        for a in &msg.attributes {
            if let TcAttribute::Stats(s) = a {
                c.bytes = s.bytes;
                c.packets = s.packets as u64;
                c.drops = s.drops as u64;
                c.overlimits = s.overlimits as u64;
                c.backlog = s.backlog as u64;
                c.qlen = s.qlen as u64;
            }
        }
    }
    c
}

fn kind(msg: &TcMessage) -> String {
    msg.attributes
        .iter()
        .find_map(|a| match a {
            TcAttribute::Kind(k) => Some(k.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

impl Executor {
    /// Every qdisc and class of namespace `ns` (`host` for the initial one) with its
    /// counters, by device name, qdiscs of a device before its classes. Read from inside
    /// the namespace by a worker thread, as the state is (see `exec::observe`).
    pub fn tc_stats(&mut self, ns: &str) -> Result<Vec<TcStatsEntry>, ExecError> {
        let Executor { inner, runtime } = self;
        let ns = ns.to_string();
        runtime.block_on(inner.workers.run(move || {
            netns::enter_named(&ns)?;
            read_tc_stats(&mut DumpSocket::in_current_namespace(&ns)?)
        }))
    }
}

fn read_tc_stats(socket: &mut DumpSocket) -> Result<Vec<TcStatsEntry>, ExecError> {
    let links = socket.dump(M::GetLink(LinkMessage::default()))?;
    let names: BTreeMap<u32, String> = links
        .iter()
        .filter_map(|m| match m {
            M::NewLink(l) => messages::decode_link(l).map(|l| (l.index, l.name)),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    let entry = |object, msg: &TcMessage, dev: &str| TcStatsEntry {
        dev: dev.to_string(),
        object,
        kind: kind(msg),
        handle: handle_text(msg.header.handle),
        parent: handle_text(msg.header.parent),
        counters: counters(msg),
    };
    let qdiscs = socket.dump(traffic::dump_qdiscs_message())?;
    for (index, dev) in &names {
        for m in &qdiscs {
            if let M::NewQueueDiscipline(q) = m
                && q.header.index as u32 == *index
            {
                out.push(entry("qdisc", q, dev));
            }
        }
        for m in socket.dump(traffic::dump_classes_message(*index))? {
            if let M::NewTrafficClass(c) = &m {
                out.push(entry("class", c, dev));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_read_as_tc_writes_them() {
        assert_eq!(handle_text(TcHandle { major: 1, minor: 0 }), "1:");
        assert_eq!(handle_text(TcHandle { major: 1, minor: 0x10 }), "1:10");
        assert_eq!(handle_text(TcHandle { major: 0xffff, minor: 0 }), "ffff:");
        assert_eq!(handle_text(TcHandle::ROOT), "root");
        assert_eq!(handle_text(TcHandle::INGRESS), "ingress");
    }
}
