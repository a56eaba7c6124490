//! Round trips of u32 filters (on the htb and the ingress qdisc, with gact verdicts, hash
//! tables and links) through the encoders and decoders.

use super::tests::over_the_wire;
use super::*;
use netlink_packet_route::tc::TcFilterU32Option;

#[test]
fn u32_filters_round_trip() {
    let u32 = |prio, proto, src: Option<&str>, dst: Option<&str>, sport, dport, flowid| FilterSpec::U32 {
        ingress: false,
        action: None,
        prio,
        proto,
        src: src.map(|s| s.parse().unwrap()),
        dst: dst.map(|s| s.parse().unwrap()),
        sport,
        dport,
        flowid: Some(flowid),
        link: None,
        hashkey: None, raw: Vec::new(), ht: None,
        handle: None,
    };
    use crate::model::IpProto::*;
    for spec in [
        u32(1, None, None, None, None, None, 0x10),
        u32(2, Some(Tcp), None, None, None, Some(5001), 0x10),
        u32(3, Some(Udp), Some("10.0.0.0/24"), Some("192.168.1.7/32"), Some(53), Some(4000), 0xffff),
        u32(7, None, Some("0.0.0.0/0"), None, Some(80), None, 0x20),
        u32(9, Some(Icmp), None, Some("10.1.0.0/16"), None, None, 1),
    ] {
        let msg = over_the_wire(&filter_message(3, &spec, None).unwrap());
        let decoded = decode_filter(&msg).unwrap().unwrap();
        assert_eq!(decoded.spec.as_ref(), Some(&spec));
        // The same filter on the ingress qdisc: parent ffff:, read back as such.
        let on_ingress = match spec {
            FilterSpec::U32 { ingress: _, prio, proto, src, dst, sport, dport, flowid, handle, action, link, hashkey, raw, ht } => FilterSpec::U32 { ingress: true, prio, proto, src, dst, sport, dport, flowid, handle, action, link, hashkey, raw, ht },
            other => other,
        };
        let msg = over_the_wire(&filter_message(3, &on_ingress, None).unwrap());
        assert_eq!(msg.header.parent, TcHandle { major: 0xffff, minor: 0xfff2 });
        assert_eq!(decode_filter(&msg).unwrap().unwrap().spec, Some(on_ingress.clone()));
        // With each gact verdict: read back as written.
        for verdict in [crate::model::FilterVerdict::Ok, crate::model::FilterVerdict::Drop, crate::model::FilterVerdict::Reclassify, crate::model::FilterVerdict::Continue] {
            let acting = match on_ingress.clone() {
                FilterSpec::U32 { ingress, prio, proto, src, dst, sport, dport, flowid, handle, link, hashkey, raw, ht, .. } => FilterSpec::U32 { ingress, prio, proto, src, dst, sport, dport, flowid, handle, action: Some(verdict), link, hashkey, raw, ht },
                other => other,
            };
            let msg = over_the_wire(&filter_message(3, &acting, None).unwrap());
            assert_eq!(decode_filter(&msg).unwrap().unwrap().spec, Some(acting));
        }
    }
    // `handle ::10`: tc sends the node id alone; the kernel dumps it in the priority's
    // hash table (801:0:10 here), and its default node (800) reads as no handle.
    let with_node = |handle| match u32(5, None, None, None, None, Some(22), 0x10) {
        FilterSpec::U32 { prio, proto, src, dst, sport, dport, flowid, .. } => FilterSpec::U32 { ingress: false, prio, proto, src, dst, sport, dport, flowid, handle, action: None, link: None, hashkey: None, raw: Vec::new(), ht: None },
        other => other,
    };
    let with_handle = with_node(Some(0x10));
    let msg = filter_message(3, &with_handle, None).unwrap();
    assert_eq!(msg.header.handle, TcHandle { major: 0, minor: 0x10 });
    let mut dumped = msg.clone();
    dumped.header.handle = TcHandle::from(0x8010_0010);
    assert_eq!(decode_filter(&over_the_wire(&dumped)).unwrap().unwrap().spec, Some(with_handle.clone()));
    dumped.header.handle = TcHandle::from(0x8000_0800);
    let plain = with_node(None);
    assert_eq!(decode_filter(&over_the_wire(&dumped)).unwrap().unwrap().spec, Some(plain.clone()));
    assert_eq!(filter_message(3, &plain, None).unwrap().header.handle, TcHandle::UNSPEC);
    // The ingress redirect is no u32 classifier netscript writes (the observer reads it
    // as a redirect first), and a hash-table node is no filter.
    let redirect = FilterSpec::MirredToIfb { ifb: "ifb-x".into() };
    assert_eq!(decode_filter(&over_the_wire(&filter_message(3, &redirect, Some(9)).unwrap())).unwrap(), Some(DecodedFilter { prio: 1, handle: 0, spec: None }));
    // It is decoded as a redirect instead, to the device it names; a classifier is not.
    assert_eq!(decode_redirect(&over_the_wire(&filter_message(3, &redirect, Some(9)).unwrap())), Some(9));
    assert_eq!(decode_redirect(&over_the_wire(&filter_message(3, &u32(1, None, None, None, None, Some(1), 0x10), None).unwrap())), None);
    let mut node = filter_message(3, &u32(1, None, None, None, None, Some(1), 0x10), None).unwrap();
    node.attributes.retain(|a| matches!(a, TcAttribute::Kind(_)));
    assert_eq!(decode_filter(&over_the_wire(&node)).unwrap(), None);
    // A key netscript does not write (a `nexthdr+` offset): seen, but foreign.
    let mut odd = filter_message(3, &u32(4, None, None, None, None, Some(1), 0x10), None).unwrap();
    for a in &mut odd.attributes {
        if let TcAttribute::Options(options) = a {
            for o in options {
                if let TcOption::U32(TcFilterU32Option::Selector(sel)) = o {
                    sel.keys[0].offmask = -1;
                }
            }
        }
    }
    assert_eq!(decode_filter(&over_the_wire(&odd)).unwrap(), Some(DecodedFilter { prio: 4, handle: 0, spec: None }));
    // A filter that links to a hash table, with a hashkey and no flowid (u32.json 1644),
    // and with a flowid and no hashkey: read back as written; a hashkey without a link
    // is foreign.
    let linking = |flowid, hashkey| FilterSpec::U32 {
        ingress: true,
        prio: 98,
        proto: None,
        src: Some("192.168.0.0/16".parse().unwrap()),
        dst: None,
        sport: None,
        dport: None,
        flowid,
        link: Some(0x43),
        hashkey,
        handle: None,
        action: None,
        raw: Vec::new(),
        ht: None,
    };
    for spec in [linking(None, Some(crate::model::HashKey { mask: 0xff00, at: 12 })), linking(Some(1), None)] {
        let msg = over_the_wire(&filter_message(3, &spec, None).unwrap());
        assert_eq!(decode_filter(&msg).unwrap().unwrap().spec, Some(spec));
    }
    let mut unlinked = filter_message(3, &linking(None, Some(crate::model::HashKey { mask: 0xff00, at: 12 })), None).unwrap();
    for a in &mut unlinked.attributes {
        if let TcAttribute::Options(options) = a {
            options.retain(|o| !matches!(o, TcOption::U32(TcFilterU32Option::Link(_))));
        }
    }
    assert_eq!(decode_filter(&over_the_wire(&unlinked)).unwrap(), Some(DecodedFilter { prio: 98, handle: 0, spec: None }));
}

