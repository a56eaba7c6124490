//! TCP transfers between two namespaces of a sandbox, with plain std sockets: each
//! sender and receiver is a thread of the test process that has joined its namespace
//! (`setns` on `/run/netns/NAME` moves only the calling thread). Use inside a sandboxed
//! test (`sandbox_test!`), where `/run/netns` is the sandbox's own.
//!
//! Goodput is measured at the receivers, as payload bytes over a time window that opens
//! after a warm-up (slow start, queues filling): the bytes counted between the first read
//! past the window's start and the first read past its end, over the time between those
//! two reads.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Moves the calling thread into network namespace `ns` (`/run/netns/ns`).
pub fn enter_netns(ns: &str) {
    let file = std::fs::File::open(format!("/run/netns/{ns}")).unwrap_or_else(|e| panic!("open /run/netns/{ns}: {e}"));
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| panic!("setns {ns}: {e}"));
}

/// One flow's measurement.
#[derive(Debug, Clone, Copy)]
pub struct Goodput {
    pub port: u16,
    /// Payload bits per second over the window.
    pub bits_per_sec: f64,
    pub bytes: u64,
    pub secs: f64,
}

impl Goodput {
    pub fn mbit(&self) -> f64 {
        self.bits_per_sec / 1e6
    }
}

/// Runs one TCP transfer per port at once, from namespace `from` to `addr:port` in
/// namespace `to`, for `warmup + window` (plus connection set-up), and returns each
/// flow's goodput over the common window.
pub fn measure(from: &str, to: &str, addr: Ipv4Addr, ports: &[u16], warmup: Duration, window: Duration) -> Vec<Goodput> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (start_tx, start_rx) = mpsc::channel::<Instant>();
    let mut start_txs = Vec::new();
    let mut receivers = Vec::new();
    // Each receiver gets the common start through its own channel.
    let mut start_rxs = Vec::new();
    for _ in ports {
        let (tx, rx) = mpsc::channel::<Instant>();
        start_txs.push(tx);
        start_rxs.push(rx);
    }
    drop((start_tx, start_rx));
    for (&port, start) in ports.iter().zip(start_rxs) {
        let to = to.to_string();
        let ready = ready_tx.clone();
        receivers.push(std::thread::spawn(move || {
            enter_netns(&to);
            let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).expect("bind");
            ready.send(()).unwrap();
            let (mut stream, _) = listener.accept().expect("accept");
            let start = start.recv().unwrap();
            let (open, close) = (start + warmup, start + warmup + window);
            let mut buf = vec![0u8; 256 * 1024];
            let mut total: u64 = 0;
            let mut first: Option<(Instant, u64)> = None;
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            loop {
                let n = stream.read(&mut buf).unwrap_or_else(|e| panic!("flow {port}: read: {e}"));
                assert!(n > 0, "flow {port}: the sender stopped before the window closed");
                total += n as u64;
                let now = Instant::now();
                if first.is_none() && now >= open {
                    first = Some((now, total));
                }
                if now >= close {
                    let (t1, b1) = first.expect("the window opened");
                    let secs = (now - t1).as_secs_f64();
                    let bytes = total - b1;
                    return Goodput { port, bits_per_sec: bytes as f64 * 8.0 / secs, bytes, secs };
                }
            }
        }));
    }
    drop(ready_tx);
    for _ in ports {
        ready_rx.recv_timeout(Duration::from_secs(10)).expect("receivers listening");
    }
    let start = Instant::now();
    let deadline = start + warmup + window + Duration::from_secs(5);
    let mut senders = Vec::new();
    for &port in ports {
        let from = from.to_string();
        senders.push(std::thread::spawn(move || {
            enter_netns(&from);
            let mut stream = TcpStream::connect_timeout(&SocketAddr::from((addr, port)), Duration::from_secs(5)).expect("connect");
            stream.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
            let buf = vec![0x5au8; 64 * 1024];
            // Until the receiver closes (it stops reading when its window closes).
            while Instant::now() < deadline {
                match stream.write(&buf) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => break,
                }
            }
        }));
    }
    for tx in start_txs {
        tx.send(start).unwrap();
    }
    let results: Vec<Goodput> = receivers.into_iter().map(|r| r.join().expect("receiver")).collect();
    for s in senders {
        s.join().expect("sender");
    }
    results
}
