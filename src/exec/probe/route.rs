//! `ip route get` from inside a namespace: the route the kernel chose, as text.

use super::*;

/// `ip route get ADDR` in the current namespace: one RTM_GETROUTE for the address.
pub(super) fn route_get(addr: IpAddr) -> Result<String, String> {
    use netlink_sys::{Socket, SocketAddr as NlAddr, protocols::NETLINK_ROUTE};
    let socket = Socket::new(NETLINK_ROUTE).map_err(|e| format!("cannot open a netlink socket: {e}"))?;
    let mut msg = RouteMessage::default();
    msg.header.address_family = if addr.is_ipv6() { AddressFamily::Inet6 } else { AddressFamily::Inet };
    msg.header.destination_prefix_length = if addr.is_ipv6() { 128 } else { 32 };
    msg.attributes.push(RouteAttribute::Destination(RouteAddress::from(addr)));
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST;
    header.sequence_number = 1;
    let mut request = NetlinkMessage::new(header, NetlinkPayload::from(RouteNetlinkMessage::GetRoute(msg)));
    request.finalize();
    let mut buf = vec![0u8; request.buffer_len()];
    request.serialize(&mut buf);
    socket.send_to(&buf, &NlAddr::new(0, 0), 0).map_err(|e| format!("cannot ask the kernel: {e}"))?;
    let (answer, _) = socket.recv_from_full().map_err(|e| format!("no answer from the kernel: {e}"))?;
    let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&answer).map_err(|e| format!("unreadable answer: {e}"))?;
    match reply.payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(route)) => Ok(route_text(addr, &route)),
        NetlinkPayload::Error(e) => match e.code {
            Some(code) => Err(io::Error::from_raw_os_error(-code.get()).to_string()),
            None => Err("the kernel sent no route".into()),
        },
        other => Err(format!("unexpected answer {other:?}")),
    }
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// The name of interface `index` in the current namespace.
fn ifname(index: u32) -> String {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: the buffer holds IF_NAMESIZE bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return format!("if{index}");
    }
    // SAFETY: if_indextoname wrote a NUL-terminated name into buf.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

/// A route as `ip route get` prints it: `[local] ADDR [via GW] dev DEV [src SRC] [table T]`.
fn route_text(addr: IpAddr, route: &RouteMessage) -> String {
    let mut s = String::new();
    match route.header.kind {
        RouteType::Unicast => {}
        RouteType::Local => s.push_str("local "),
        other => s.push_str(&format!("{} ", format!("{other:?}").to_lowercase())),
    }
    s.push_str(&addr.to_string());
    let (mut via, mut dev, mut src, mut table) = (None, None, None, None);
    for attr in &route.attributes {
        match attr {
            RouteAttribute::Gateway(g) => via = route_ip(g),
            RouteAttribute::Oif(i) => dev = Some(ifname(*i)),
            RouteAttribute::PrefSource(a) => src = route_ip(a),
            RouteAttribute::Table(t) => table = Some(*t),
            _ => {}
        }
    }
    if let Some(via) = via {
        s.push_str(&format!(" via {via}"));
    }
    if let Some(dev) = dev {
        s.push_str(&format!(" dev {dev}"));
    }
    if let Some(src) = src {
        s.push_str(&format!(" src {src}"));
    }
    if let Some(t) = table.filter(|t| *t != 254 && *t != 255) {
        s.push_str(&format!(" table {t}"));
    }
    s
}
