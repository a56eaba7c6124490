//! The executor: the only module that talks to the kernel.
//!
//! * [`Executor::observe`] reads the state of the namespaces a desired state names (one
//!   dump per object kind per namespace, namespaces in parallel).
//! * [`Executor::apply`] runs a [`Plan`] as one transaction: operations whose
//!   dependencies are done are in flight together (pipelined on each namespace's netlink
//!   socket, namespaces in parallel); on the first failure nothing new starts, in-flight
//!   operations finish, and the undo actions of every completed operation run in reverse
//!   completion order.
//! * [`Executor::rollback`] runs those undo actions on demand (after a failed post-apply
//!   verification, or a signal).
//! * [`Executor::observe_for_plan`] is `observe` without the dumps the planner would not
//!   read (routes, rules, qdiscs of namespaces that declare none); `run`, `--dry-run`
//!   and the post-apply verification use it.
//! * [`Executor::undo_in_reverse`] runs a record's undo actions backwards for `down`,
//!   deleting consecutive namespaces from several threads ([`teardown`]).
//!
//! `NETSCRIPT_TIMINGS=1` in the environment prints each phase's duration to stderr.
//! Figures and the benchmark: `docs/PERFORMANCE.md`, `benches/chain.rs`.
//!
//! Namespaces are made like `ip netns add` makes them, from worker threads
//! ([`netns`]); each has one rtnetlink connection opened from inside it ([`conn`]).
//! Interface names are resolved to indexes per namespace, cached, and the cache entries
//! are dropped when links are created or deleted.

pub mod apply;
pub mod bpf;
pub mod bpf_raw;
pub mod cancel;
pub mod conn;
pub mod error;
pub mod fault;
pub mod inventory;
pub mod messages;
pub mod netns;
pub mod netns_exec;
pub mod nft;
pub mod observe;
mod settle;
pub mod privileges;
pub mod probe;
pub mod stats;
pub mod sysctl;
pub mod tc;
pub mod teardown;
pub mod traffic;

pub use apply::{ApplyFailure, ApplyReport, ExecEvent, RollbackOutcome, UndoFailure};
pub use error::{ExecError, KernelError};
pub use netns_exec::netns_exec;
pub use privileges::check_privileges;

use crate::timing::timed;
use crate::model::{Desired, HOST};
use crate::plan::action::{FilterSpec, LinkKind};
use crate::plan::{Action, Observed, Plan};
use conn::NsConn;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::Arc;
use traffic::{TcRequest, send_tc_message};

/// Observes and applies; holds one netlink connection per namespace it has touched.
/// `host` is the network namespace of the thread that made the executor.
pub struct Executor {
    inner: Inner,
    runtime: tokio::runtime::Runtime,
}

type ConnCell = Rc<tokio::sync::OnceCell<Rc<NsConn>>>;

pub(crate) struct Inner {
    home: Arc<OwnedFd>,
    workers: netns::NetnsWorkers,
    conns: RefCell<HashMap<String, ConnCell>>,
    /// Interface indexes by namespace, then name.
    ifindex: RefCell<HashMap<String, HashMap<String, u32>>>,
    run_dir_ready: Cell<bool>,
    /// eBPF programs detached or replaced by this executor, kept loaded until it ends so
    /// that a rollback can attach them again.
    kept_programs: RefCell<Vec<OwnedFd>>,
}

/// Worker threads for namespace work. Creating a namespace is mostly kernel time under
/// global locks (mount, sysctl registration): measured, more than 2 workers do not help.
const NETNS_WORKERS: usize = 2;

impl Executor {
    pub fn new() -> Result<Executor, ExecError> {
        Executor::with_netns_workers(NETNS_WORKERS)
    }

    /// An executor with `workers` namespace worker threads (for measurements).
    pub fn with_netns_workers(workers: usize) -> Result<Executor, ExecError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ExecError::io("cannot start the tokio runtime", &e))?;
        let home = Arc::new(netns::current_thread_netns()?);
        let workers = netns::NetnsWorkers::new(workers, home.clone());
        Ok(Executor {
            inner: Inner {
                home,
                workers,
                conns: RefCell::new(HashMap::new()),
                ifindex: RefCell::new(HashMap::new()),
                run_dir_ready: Cell::new(false),
                kept_programs: RefCell::new(Vec::new()),
            },
            runtime,
        })
    }

    /// The current state of `host` and of every namespace `desired` names that exists.
    pub fn observe(&mut self, desired: &Desired) -> Result<Observed, ExecError> {
        let Executor { inner, runtime } = self;
        let mut observed = timed("observe", || runtime.block_on(observe::observe(inner, desired, &Default::default(), observe::Scope::Full)))?;
        traffic::normalize(&mut observed, desired, &Default::default());
        Ok(observed)
    }

    /// What the planner needs of the current state to plan `desired`: like
    /// [`Executor::observe`], without the kinds of objects a namespace declares none of
    /// (the planner compares observed objects with declared ones only).
    pub fn observe_for_plan(&mut self, desired: &Desired) -> Result<Observed, ExecError> {
        self.observe_owned(desired, &Default::default())
    }

    /// [`Executor::observe_for_plan`], plus what a script's record owns (`interest`),
    /// so that the planner sees what the script no longer declares.
    pub fn observe_owned(&mut self, desired: &Desired, interest: &crate::plan::ownership::Interest) -> Result<Observed, ExecError> {
        let Executor { inner, runtime } = self;
        let mut observed = timed("observe", || runtime.block_on(observe::observe(inner, desired, interest, observe::Scope::Declared)))?;
        traffic::normalize(&mut observed, desired, interest);
        Ok(observed)
    }

    /// Applies `plan` as one transaction; `on_event` sees every operation start, finish
    /// and be undone.
    pub fn apply(&mut self, plan: &Plan, on_event: &mut dyn FnMut(&ExecEvent)) -> Result<ApplyReport, ApplyFailure> {
        let Executor { inner, runtime } = self;
        timed("apply", || runtime.block_on(apply::apply(inner, plan, on_event)))
    }

    /// Runs the undo actions of the operations `completed` (op indexes in completion
    /// order, as in [`ApplyReport::completed`]) in reverse order.
    pub fn rollback(&mut self, plan: &Plan, completed: &[usize], on_event: &mut dyn FnMut(&ExecEvent)) -> RollbackOutcome {
        let Executor { inner, runtime } = self;
        timed("rollback", || runtime.block_on(apply::rollback(inner, plan, completed, on_event)))
    }

    /// Runs a record's undo actions (in the order they were recorded) backwards, for
    /// `down`: every action with its result, in the order tried (see [`teardown`]).
    pub fn undo_in_reverse(&mut self, undo: Vec<Action>, on_event: &mut dyn FnMut(&ExecEvent)) -> Vec<(Action, Result<(), ExecError>)> {
        let Executor { inner, runtime } = self;
        timed("undo", || runtime.block_on(teardown::undo_in_reverse(inner, undo, on_event)))
    }

    /// Runs one action outside any transaction (tests, tools).
    pub fn run_action(&mut self, action: &Action) -> Result<(), ExecError> {
        let Executor { inner, runtime } = self;
        runtime.block_on(inner.run_action(action)).map_err(|e| e.in_context_of(action))
    }
}

/// Observes with a fresh executor.
pub fn observe(desired: &Desired) -> Result<Observed, ExecError> {
    Executor::new()?.observe(desired)
}

/// Applies with a fresh executor (see [`Executor::apply`]).
pub fn apply(plan: &Plan, on_event: &mut dyn FnMut(&ExecEvent)) -> Result<ApplyReport, ApplyFailure> {
    let mut exec = Executor::new().map_err(ApplyFailure::before_start)?;
    exec.apply(plan, on_event)
}

/// Rolls back with a fresh executor (see [`Executor::rollback`]).
pub fn rollback(plan: &Plan, completed: &[usize], on_event: &mut dyn FnMut(&ExecEvent)) -> RollbackOutcome {
    match Executor::new() {
        Ok(mut exec) => exec.rollback(plan, completed, on_event),
        Err(error) => RollbackOutcome::could_not_start(plan, completed, error),
    }
}

impl Inner {
    /// The connection to namespace `ns`, opened on first use from inside it.
    async fn conn(&self, ns: &str) -> Result<Rc<NsConn>, ExecError> {
        let cell = self.conns.borrow_mut().entry(ns.to_string()).or_default().clone();
        let conn = cell
            .get_or_try_init(|| async {
                let fd = if ns == HOST {
                    self.home.try_clone().map_err(|e| ExecError::io("cannot duplicate the host namespace descriptor", &e))?
                } else {
                    netns::open_named(ns)?
                };
                let (fd, socket) = self
                    .workers
                    .run(move || {
                        netns::enter(&fd)?;
                        Ok((fd, conn::socket_in_current_namespace()?))
                    })
                    .await?;
                Ok::<_, ExecError>(Rc::new(NsConn::new(ns.to_string(), fd, socket)?))
            })
            .await?;
        Ok(conn.clone())
    }

    /// Closes the connection to `ns`, if open and not in use; the next use reopens it.
    pub(crate) async fn release(&self, ns: &str) {
        let cell = self.conns.borrow_mut().remove(ns);
        if let Some(conn) = cell.and_then(|c| Rc::try_unwrap(c).ok()).and_then(|c| c.into_inner()).and_then(|c| Rc::try_unwrap(c).ok()) {
            conn.close().await;
        }
    }

    async fn create_netns(&self, ns: &str) -> Result<(), ExecError> {
        if ns == HOST {
            return Err(ExecError::InvalidPlan("the host namespace cannot be created".into()));
        }
        if !self.run_dir_ready.get() {
            netns::ensure_run_dir()?;
            self.run_dir_ready.set(true);
        }
        let name = ns.to_string();
        let (fd, socket) = self
            .workers
            .run(move || {
                let fd = netns::create_on_this_thread(&name)?;
                Ok((fd, conn::socket_in_current_namespace()?))
            })
            .await?;
        let conn = Rc::new(NsConn::new(ns.to_string(), fd, socket)?);
        let cell = Rc::new(tokio::sync::OnceCell::new_with(Some(conn)));
        self.conns.borrow_mut().insert(ns.to_string(), cell);
        self.ifindex.borrow_mut().remove(ns);
        Ok(())
    }

    async fn delete_netns(&self, ns: &str) -> Result<(), ExecError> {
        if ns == HOST {
            return Err(ExecError::InvalidPlan("the host namespace cannot be deleted".into()));
        }
        self.forget_netns(ns).await;
        netns::delete(ns)
    }

    /// Closes our connection to `ns` and forgets what is cached about it: before it is
    /// deleted (our socket would keep the namespace, and its links, alive).
    pub(crate) async fn forget_netns(&self, ns: &str) {
        let cell = self.conns.borrow_mut().remove(ns);
        if let Some(cell) = cell
            && let Ok(cell) = Rc::try_unwrap(cell)
                && let Some(conn) = cell.into_inner()
                    && let Ok(conn) = Rc::try_unwrap(conn) {
                        conn.close().await;
                    }
        self.ifindex.borrow_mut().remove(ns);
    }

    fn forget_link(&self, ns: &str, name: &str) {
        if let Some(m) = self.ifindex.borrow_mut().get_mut(ns) {
            m.remove(name);
        }
    }

    pub(crate) fn remember_links(&self, ns: &str, links: impl IntoIterator<Item = (String, u32)>) {
        let mut cache = self.ifindex.borrow_mut();
        let map = cache.entry(ns.to_string()).or_default();
        map.clear();
        map.extend(links);
    }

    /// The index of interface `name` in `ns`: cached, else one RTM_GETLINK by name.
    async fn ifindex(&self, ns: &str, name: &str) -> Result<u32, ExecError> {
        if let Some(i) = self.ifindex.borrow().get(ns).and_then(|m| m.get(name)) {
            return Ok(*i);
        }
        let conn = self.conn(ns).await?;
        let replies = match conn.request(RouteNetlinkMessage::GetLink(messages::link_by_name(name)), 0).await {
            Ok(r) => r,
            Err(ExecError::Kernel(mut k)) if k.errno == nix::libc::ENODEV => {
                k.meaning = format!("no network device {name} in namespace {ns}");
                return Err(ExecError::Kernel(k));
            }
            Err(e) => return Err(e),
        };
        let index = replies
            .iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })
            .ok_or_else(|| ExecError::Protocol(format!("no link message in the answer for {ns}.{name}")))?;
        self.ifindex.borrow_mut().entry(ns.to_string()).or_default().insert(name.to_string(), index);
        Ok(index)
    }

    async fn opt_ifindex(&self, ns: &str, name: Option<&String>) -> Result<Option<u32>, ExecError> {
        match name {
            Some(n) => Ok(Some(self.ifindex(ns, n).await?)),
            None => Ok(None),
        }
    }

    /// Performs one action.
    pub(crate) async fn run_action(&self, action: &Action) -> Result<(), ExecError> {
        use RouteNetlinkMessage as M;
        const NEW: u16 = NLM_F_CREATE | NLM_F_EXCL;
        match action {
            Action::CreateNetns { ns } => self.create_netns(ns).await,
            Action::DeleteNetns { ns } => self.delete_netns(ns).await,
            Action::CreateLink { ns, name, kind, attrs } => self.create_link(ns, name, kind, attrs).await,
            Action::DeleteLink { ns, name } => {
                let conn = self.conn(ns).await?;
                let result = conn.request(M::DelLink(messages::link_by_name(name)), 0).await;
                // Deleting a link can delete others (a veth's peer, a macvlan on it).
                self.ifindex.borrow_mut().remove(ns);
                result.map(drop)
            }
            Action::SetLink { ns, name, set } => {
                let conn = self.conn(ns).await?;
                let master = match &set.master {
                    Some(Some(m)) => Some(Some(self.ifindex(ns, m).await?)),
                    Some(None) => Some(None),
                    None => None,
                };
                conn.request(M::SetLink(messages::set_link(name, set, master)), 0).await.map(drop)
            }
            Action::ChangeLink { ns, name, kind } => {
                let conn = self.conn(ns).await?;
                let message = match kind {
                    LinkKind::Ipvlan { mode, flag, .. } => messages::change_ipvlan(name, *mode, *flag),
                    LinkKind::Tunnel { tunnel, params } => messages::change_tunnel(name, *tunnel, params),
                    _ => return Err(ExecError::InvalidPlan(format!("a {} cannot be changed in place", error::link_kind_word(kind)))),
                };
                conn.request(M::NewLink(message), 0).await.map(drop)
            }
            Action::AddAddr { ns, dev, addr } => {
                let conn = self.conn(ns).await?;
                let index = self.ifindex(ns, dev).await?;
                conn.request(M::NewAddress(messages::address(index, addr)), NEW).await.map(drop)
            }
            Action::DelAddr { ns, dev, addr } => {
                let conn = self.conn(ns).await?;
                let index = self.ifindex(ns, dev).await?;
                conn.request(M::DelAddress(messages::address(index, addr)), 0).await.map(drop)
            }
            Action::AddRoute { ns, route } => {
                let conn = self.conn(ns).await?;
                let oif = self.opt_ifindex(ns, route.dev.as_ref()).await?;
                let mut msg = messages::route(route, oif, false);
                let mut oifs = Vec::new();
                for hop in &route.nexthops {
                    oifs.push(self.opt_ifindex(ns, hop.dev.as_ref()).await?);
                }
                messages::add_nexthops(&mut msg, route, &oifs);
                settle::add_route(&conn, msg, route.dest.addr().is_ipv6()).await
            }
            Action::DelRoute { ns, route } => {
                let conn = self.conn(ns).await?;
                let oif = self.opt_ifindex(ns, route.dev.as_ref()).await?;
                conn.request(M::DelRoute(messages::route(route, oif, true)), 0).await.map(drop)
            }
            Action::AddRule { ns, rule } => {
                let conn = self.conn(ns).await?;
                conn.request(M::NewRule(messages::rule(rule)), NEW).await.map(drop)
            }
            Action::DelRule { ns, rule } => {
                let conn = self.conn(ns).await?;
                conn.request(M::DelRule(messages::rule(rule)), 0).await.map(drop)
            }
            Action::ReplaceQdisc { ns, dev, qdisc } => {
                let conn = self.conn(ns).await?;
                let index = self.ifindex(ns, dev).await?;
                send_tc_message(&conn, TcRequest::ReplaceQdisc, traffic::qdisc_message(index, qdisc)?).await
            }
            Action::DelQdisc { ns, dev, parent } => {
                let conn = self.conn(ns).await?;
                let index = self.ifindex(ns, dev).await?;
                send_tc_message(&conn, TcRequest::DelQdisc, traffic::del_qdisc_message(index, *parent)).await
            }
            Action::ReplaceClass { ns, dev, class } => {
                let conn = self.conn(ns).await?;
                let index = self.ifindex(ns, dev).await?;
                send_tc_message(&conn, TcRequest::ReplaceClass, traffic::class_message(index, class)?).await
            }
            Action::DelClass { ns, dev, id } => {
                let conn = self.conn(ns).await?;
                let index = self.ifindex(ns, dev).await?;
                send_tc_message(&conn, TcRequest::DelClass, traffic::del_class_message(index, *id)).await
            }
            Action::AddFilter { ns, dev, filter } | Action::DelFilter { ns, dev, filter } => {
                let conn = self.conn(ns).await?;
                let index = self.ifindex(ns, dev).await?;
                let target = match filter {
                    FilterSpec::MirredToIfb { ifb } => Some(self.ifindex(ns, ifb).await?),
                    FilterSpec::U32 { .. } | FilterSpec::U32Table { .. } => None,
                };
                if matches!(action, Action::AddFilter { .. }) {
                    let sent = send_tc_message(&conn, TcRequest::AddFilter, traffic::filter_message(index, filter, target)?).await;
                    match (filter, sent) {
                        // A script's table made again where the kernel may have deleted it
                        // with its priority's last node (planner/traffic_ht.rs): one there
                        // already is the one the plan saw (it refuses another's of the id).
                        (FilterSpec::U32Table { .. }, Err(e)) if e.errno() == Some(nix::libc::EEXIST) => Ok(()),
                        (_, sent) => sent,
                    }
                } else if matches!(filter, FilterSpec::U32Table { .. }) {
                    settle::delete_u32_table(&conn, traffic::filter_delete_message(index, filter)?).await
                } else {
                    send_tc_message(&conn, TcRequest::DelFilter, traffic::filter_delete_message(index, filter)?).await
                }
            }
            Action::AttachBpf { .. } | Action::DetachBpf { .. } | Action::AttachXdp { .. } | Action::DetachXdp { .. } => self.bpf_action(action).await,
            Action::SetFirewall { .. } | Action::DeleteFirewall { .. } => self.firewall_action(action).await,
            Action::SetSysctl { ns, key, value } => {
                let conn = self.conn(ns).await?;
                let fd = conn.ns_fd.clone();
                let (key, value) = (key.clone(), value.clone());
                self.workers
                    .run(move || {
                        netns::enter(&fd)?;
                        sysctl::write(&key, &value)
                    })
                    .await
            }
        }
    }

    async fn create_link(&self, ns: &str, name: &str, kind: &LinkKind, attrs: &crate::plan::action::LinkAttrs) -> Result<(), ExecError> {
        let conn = self.conn(ns).await?;
        let mut resolved = messages::ResolvedCreate {
            master: self.opt_ifindex(ns, attrs.master.as_ref()).await?,
            ..Default::default()
        };
        // Keeps the peer namespace's connection (and so its descriptor) alive meanwhile.
        let mut peer_conn = None;
        match kind {
            LinkKind::Veth { peer_ns, peer_name, .. } => {
                if peer_ns != ns {
                    let peer = self.conn(peer_ns).await?;
                    resolved.peer_ns_fd = Some(peer.ns_fd.as_raw_fd());
                    peer_conn = Some(peer);
                }
                self.forget_link(peer_ns, peer_name);
            }
            LinkKind::Macvlan { parent, .. } | LinkKind::Vlan { parent, .. } | LinkKind::Ipvlan { parent, .. } => resolved.lower = Some(self.ifindex(ns, parent).await?),
            LinkKind::Vxlan { dev, .. } => resolved.lower = self.opt_ifindex(ns, dev.as_ref()).await?,
            LinkKind::Bridge | LinkKind::Ifb | LinkKind::Dummy | LinkKind::Vrf { .. } | LinkKind::Tunnel { .. } => {}
        }
        self.forget_link(ns, name);
        let message = messages::create_link(name, kind, attrs, resolved);
        conn.request(RouteNetlinkMessage::NewLink(message), NLM_F_CREATE | NLM_F_EXCL).await?;
        drop(peer_conn);
        // The kernel takes neither a master nor "up" for a veth peer inside
        // VETH_INFO_PEER (it configures the peer before pairing it, and an unpaired veth
        // cannot open): one more request on the peer's namespace, and if it fails the
        // pair is removed so that the op leaves nothing behind.
        if let LinkKind::Veth { peer_ns, peer_name, peer_attrs } = kind
            && (peer_attrs.up || peer_attrs.master.is_some()) {
                let finish_peer = async {
                    let master = self.opt_ifindex(peer_ns, peer_attrs.master.as_ref()).await?;
                    let set = crate::plan::action::LinkSet { up: peer_attrs.up.then_some(true), ..Default::default() };
                    let peer = self.conn(peer_ns).await?;
                    peer.request(RouteNetlinkMessage::SetLink(messages::set_link(peer_name, &set, master.map(Some))), 0).await
                };
                if let Err(e) = finish_peer.await {
                    let _ = conn.request(RouteNetlinkMessage::DelLink(messages::link_by_name(name)), 0).await;
                    self.forget_link(ns, name);
                    self.forget_link(peer_ns, peer_name);
                    return Err(e);
                }
            }
        Ok(())
    }
}

impl Inner {
    /// Sets or deletes netscript's nftables table, from a worker thread in the namespace.
    async fn firewall_action(&self, action: &Action) -> Result<(), ExecError> {
        let conn = self.conn(action.namespace()).await?;
        let fd = conn.ns_fd.clone();
        let action = action.clone();
        self.workers
            .run(move || {
                netns::enter(&fd)?;
                match &action {
                    Action::SetFirewall { table, .. } => nft::set_table(table),
                    _ => nft::delete_table(),
                }
            })
            .await
    }
}
