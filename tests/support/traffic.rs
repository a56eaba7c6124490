//! Traffic between namespaces of a sandbox, as oracles: ping, and a TCP exchange made by
//! threads of the test process that joined a namespace of the sandbox (`setns` moves only
//! the calling thread, so the test's other threads stay where they were).

use super::Sandbox;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::time::Duration;

/// Whether one ping from `from_ns` to `addr` is answered within a second.
pub fn pings(sb: &Sandbox, from_ns: &str, addr: &str) -> bool {
    sb.sh(&format!("ip netns exec {from_ns} ping -c 1 -W 1 {addr}")).success
}

/// Runs `f` on a thread inside namespace `ns` of the sandbox.
pub fn in_netns<T: Send + 'static>(sb: &Sandbox, ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/proc/{}/root/run/netns/{ns}", sb.pid());
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
    .join()
    .unwrap()
}

/// Whether a TCP connection from `client_ns` to `addr:port` (a listener in `server_ns`)
/// carries data both ways within a few seconds.
pub fn tcp_works(sb: &Sandbox, server_ns: &str, client_ns: &str, addr: &str, port: u16) -> bool {
    let listener = in_netns(sb, server_ns, move || std::net::TcpListener::bind(("0.0.0.0", port)).unwrap());
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().ok()?;
        s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).ok()?;
        s.write_all(b"world").ok()?;
        Some(buf)
    });
    let target: std::net::SocketAddr = format!("{addr}:{port}").parse().unwrap();
    let answer = in_netns(sb, client_ns, move || {
        let mut c = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(2)).ok()?;
        c.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
        c.write_all(b"hello").ok()?;
        let mut buf = [0u8; 5];
        c.read_exact(&mut buf).ok()?;
        Some(buf)
    });
    let worked = answer == Some(*b"world");
    if !worked {
        // Unblock the accept: a connection from inside the server's own namespace.
        let _ = in_netns(sb, server_ns, move || std::net::TcpStream::connect_timeout(&format!("127.0.0.1:{port}").parse().unwrap(), Duration::from_secs(1)));
    }
    worked && server.join().unwrap() == Some(*b"hello")
}
