//! Round trips of every tc object through the encoders and decoders, against the
//! rounding the kernel applies.

use super::*;
use crate::model::{Netem, Tbf};
use crate::units::{Duration, Percent, Rate, Size};
use netlink_packet_core::{Emitable, Parseable};

const P: Psched = Psched::HIGH_RES;

/// Through the wire and back, as a dump arrives: emitted, then parsed by
/// netlink-packet-route.
pub(super) fn over_the_wire(msg: &TcMessage) -> TcMessage {
    let mut bytes = vec![0; msg.buffer_len()];
    msg.emit(&mut bytes);
    TcMessage::parse(&bytes).unwrap()
}

fn round_trip(spec: &QdiscSpec) -> QdiscSpec {
    let msg = over_the_wire(&qdisc_message(3, spec, &P).unwrap());
    decode_qdisc(&msg).unwrap().spec.unwrap()
}

fn tbf(rate: u64, burst: u64, latency_us: u64) -> Tbf {
    Tbf {
        rate: Rate(rate),
        burst: Size(burst),
        latency: Duration(latency_us * 1000),
        limit: None,
        peakrate: None,
        mtu: None,
        framing: Default::default(),
    }
}

#[test]
fn tbf_round_trips_exactly_for_whole_values() {
    for t in [
        tbf(1_000_000, 10_240, 70_000),
        tbf(5_000_000, 32_768, 400_000),
        tbf(8_000, 1_514, 1_000),
    ] {
        assert_eq!(round_trip(&QdiscSpec::Tbf(t.clone())), QdiscSpec::Tbf(t));
    }
}

#[test]
fn tbf_equivalence_tolerates_only_the_rounding() {
    // 70.0001 ms at 1mbit is 0.0125 bytes more than 70 ms: tc's limit is the same.
    let desired = QdiscSpec::Tbf(tbf(1_000_000, 10_240, 70_000));
    let observed = QdiscSpec::Tbf(
        TbfState::predict(&TbfParams::new(&tbf(1_000_000, 10_240, 70_000), &P).unwrap())
            .to_tbf(),
    );
    assert!(equivalent(&desired, &observed, &P));
    let same_limit = QdiscSpec::Tbf(Tbf {
        latency: Duration(70_000_100),
        ..tbf(1_000_000, 10_240, 70_000)
    });
    assert!(equivalent(&same_limit, &observed, &P));
    for different in [
        tbf(1_000_000, 10_241, 70_000),
        tbf(1_000_000, 10_240, 70_008),
        tbf(1_000_008, 10_240, 70_000),
    ] {
        assert!(!equivalent(&QdiscSpec::Tbf(different), &observed, &P));
    }
    assert!(!equivalent(
        &desired,
        &QdiscSpec::Htb { default_class: 0, r2q: None, direct_qlen: None },
        &P
    ));
}

#[test]
fn htb_qdisc_round_trips() {
    for default_class in [0, 0x20, 0xffff] {
        assert_eq!(
            round_trip(&QdiscSpec::Htb { default_class, r2q: None, direct_qlen: None }),
            QdiscSpec::Htb { default_class, r2q: None, direct_qlen: None }
        );
    }
}

fn netem(delay_us: u64, jitter_us: Option<u64>, loss: Option<f64>, rate: Option<u64>) -> Netem {
    Netem {
        delay: Duration(delay_us * 1000),
        jitter: jitter_us.map(|j| Duration(j * 1000)),
        loss: loss.map(Percent),
        rate: rate.map(Rate),
        ..Netem::delay(Duration(0))
    }
}

#[test]
fn netem_round_trips_through_equivalence() {
    for n in [
        netem(100_000, None, None, None),
        netem(100_000, Some(10_000), Some(1.0), Some(1_000_000)),
        netem(0, None, Some(0.25), None),
        netem(3, Some(5), Some(33.3), Some(40_000_000_000)),
    ] {
        let spec = QdiscSpec::Netem(n.clone());
        let decoded = round_trip(&spec);
        assert!(equivalent(&spec, &decoded, &P), "{n:?} → {decoded:?}");
        let QdiscSpec::Netem(d) = &decoded else {
            panic!()
        };
        assert_eq!(d.rate, n.rate);
        assert_eq!(d.jitter.is_some(), n.jitter.is_some());
    }
    // Whole multiples of 8 µs are exact; 3 µs is 46 ticks, 2944 ns.
    assert_eq!(
        round_trip(&QdiscSpec::Netem(netem(100_000, None, None, None))),
        QdiscSpec::Netem(netem(100_000, None, None, None))
    );
    let QdiscSpec::Netem(short) = round_trip(&QdiscSpec::Netem(netem(3, None, None, None)))
    else {
        panic!()
    };
    assert_eq!(short.delay, Duration(2944));
    let desired = QdiscSpec::Netem(netem(100_000, None, Some(1.0), None));
    assert!(!equivalent(
        &desired,
        &QdiscSpec::Netem(netem(100_000, None, Some(1.1), None)),
        &P
    ));
    assert!(!equivalent(
        &desired,
        &QdiscSpec::Netem(netem(100_008, None, Some(1.0), None)),
        &P
    ));
}

#[test]
fn netem_dump_prefers_the_64_bit_times() {
    // A kernel dump carries TCA_NETEM_LATENCY64/JITTER64 (ns) after the struct.
    let mut options = NetemParams::new(&netem(1, None, None, None), &P)
        .unwrap()
        .options();
    options.extend(wire::nlas_bytes(&[
        wire::nla(10, 123_456_789u64.to_ne_bytes().to_vec()),
        wire::nla(11, 1_000u64.to_ne_bytes().to_vec()),
    ]));
    let state = NetemState::parse(&options).unwrap();
    assert_eq!((state.latency_ns, state.jitter_ns), (123_456_789, 1_000));
}

#[test]
fn classes_round_trip() {
    for (class, wire_parent) in [
        (
            ClassSpec {
                id: 0x10,
                parent: None,
                rate: Rate(1_000_000),
                ceil: Rate(2_000_000),
                prio: Some(1),
                burst: None,
                cburst: None,
                quantum: None,
                mtu: None,
        framing: Default::default(),
            },
            TcHandle::ROOT,
        ),
        (
            ClassSpec {
                id: 0x20,
                parent: Some(1),
                rate: Rate(40_000_000_000),
                ceil: Rate(100_000_000_000),
                prio: None,
                burst: None,
                cburst: None,
                quantum: None,
                mtu: None,
        framing: Default::default(),
            },
            handle(1, 1),
        ),
    ] {
        let mut msg = over_the_wire(&class_message(3, &class, &P).unwrap());
        assert!(class_equivalent(
            &class,
            &decode_class(&msg).unwrap().unwrap(),
            &P
        ));
        assert_eq!(decode_class(&msg).unwrap().unwrap(), class);
        // As the kernel dumps it (a root class has parent TC_H_ROOT).
        msg.header.parent = wire_parent;
        assert_eq!(decode_class(&msg).unwrap().unwrap(), class);
    }
    let c = ClassSpec {
        id: 0x10,
        parent: None,
        rate: Rate(1_000_000),
        ceil: Rate(1_000_000),
        prio: Some(9),
        burst: None,
        cburst: None,
        quantum: None,
        mtu: None,
        framing: Default::default(),
    };
    let observed = ClassSpec {
        prio: Some(7),
        ..c.clone()
    };
    assert!(
        class_equivalent(&c, &observed, &P),
        "the kernel clamps prio to 7"
    );
    assert!(!class_equivalent(
        &c,
        &ClassSpec {
            id: 0x11,
            ..observed.clone()
        },
        &P
    ));
    assert!(!class_equivalent(
        &c,
        &ClassSpec {
            ceil: Rate(2_000_000),
            ..observed
        },
        &P
    ));
}

#[test]
fn foreign_qdiscs_are_seen_but_not_claimed() {
    // A tbf somewhere else than root 1:, and a kind netscript does not make.
    let mut msg = over_the_wire(
        &qdisc_message(3, &QdiscSpec::Tbf(tbf(1_000_000, 10_240, 70_000)), &P).unwrap(),
    );
    msg.header.handle = handle(2, 0);
    let decoded = decode_qdisc(&msg).unwrap();
    assert_eq!(
        (decoded.kind.as_str(), decoded.position, decoded.spec),
        ("tbf", Some(QdiscParent::Root), None)
    );
    let mut fq = TcMessage::with_index(3);
    fq.header.parent = TcHandle::ROOT;
    fq.attributes.push(TcAttribute::Kind("pfifo_fast".into()));
    assert_eq!(decode_qdisc(&fq).unwrap().spec, None);
}

#[test]
fn refusals() {
    let zero = QdiscSpec::Tbf(tbf(0, 10_240, 70_000));
    assert_eq!(qdisc_message(3, &zero, &P), Err(TcError::ZeroRate));
    let huge_burst = QdiscSpec::Tbf(tbf(1_000_000, 1 << 33, 70_000));
    assert!(qdisc_message(3, &huge_burst, &P).is_err());
    let v6 = FilterSpec::U32 {
        ingress: false,
        action: None,
        prio: 1,
        proto: None,
        src: Some("fd00::/8".parse().unwrap()),
        dst: None,
        sport: None,
        dport: None,
        flowid: Some(0x10),
        link: None,
        hashkey: None, raw: Vec::new(), ht: None,
        handle: None,
    };
    assert!(filter_message(3, &v6, None).is_err());
    let prio0 = FilterSpec::U32 {
        ingress: false,
        action: None,
        prio: 0,
        proto: None,
        src: None,
        dst: None,
        sport: None,
        dport: Some(1),
        flowid: Some(0x10),
        link: None,
        hashkey: None, raw: Vec::new(), ht: None,
        handle: None,
    };
    assert!(filter_message(3, &prio0, None).is_err());
    let big_minor = ClassSpec {
        id: 0x10000,
        parent: None,
        rate: Rate(8),
        ceil: Rate(8),
        prio: None,
        burst: None,
        cburst: None,
        quantum: None,
        mtu: None,
        framing: Default::default(),
    };
    assert!(class_message(3, &big_minor, &P).is_err());
    let loss = QdiscSpec::Netem(netem(0, None, Some(101.0), None));
    assert!(qdisc_message(3, &loss, &P).is_err());
}

#[test]
fn netem_finer_options_round_trip() {
    let finer = Netem {
        limit: Some(200),
        duplicate: Some(Percent(1.0)),
        corrupt: Some(Percent(0.5)),
        reorder: Some(Percent(25.0)),
        gap: Some(5),
        ..netem(10_000, None, None, None)
    };
    let spec = QdiscSpec::Netem(finer.clone());
    let decoded = round_trip(&spec);
    assert!(equivalent(&spec, &decoded, &P), "{finer:?} → {decoded:?}");
    let QdiscSpec::Netem(d) = &decoded else { panic!() };
    assert_eq!((d.limit, d.gap), (Some(200), Some(5)));
    assert!(d.duplicate.is_some() && d.corrupt.is_some() && d.reorder.is_some(), "{d:?}");
    // A reorder without a gap: tc sends gap 1, which reads back as none.
    let reorder = Netem { reorder: Some(Percent(10.0)), ..netem(10_000, None, None, None) };
    let QdiscSpec::Netem(d) = round_trip(&QdiscSpec::Netem(reorder)) else { panic!() };
    assert_eq!((d.gap, d.reorder.is_some()), (None, true));
    // 0% (what a change that drops `corrupt` sends) reads back as none, and a netem that
    // still has one is not what a script without it wants.
    let zero = Netem { corrupt: Some(Percent(0.0)), ..netem(10_000, None, None, None) };
    assert_eq!(round_trip(&QdiscSpec::Netem(zero)), QdiscSpec::Netem(netem(10_000, None, None, None)));
    assert!(!equivalent(&QdiscSpec::Netem(netem(10_000, None, None, None)), &QdiscSpec::Netem(Netem { corrupt: Some(Percent(0.5)), ..netem(10_000, None, None, None) }), &P));
}

/// A limit below the burst (tc-testing 6430: `limit 1000 burst 1500`) reads back as that
/// limit: read as a latency (0) it came back as a limit of the burst, so a rollback or an
/// export that sent the decoding made another qdisc.
#[test]
fn a_limit_below_the_burst_reads_back_as_the_limit() {
    let small = Tbf { latency: Duration(0), limit: Some(Size(1000)), ..tbf(10_000, 1500, 0) };
    assert_eq!(round_trip(&QdiscSpec::Tbf(small.clone())), QdiscSpec::Tbf(small));
}

/// Framing round trips through what the kernel keeps (it recomputes the bucket times
/// with the framing; the request carries tc's bare ones): an overhead reads back exactly,
/// ATM in whole cells' payload (1500 bytes are 32 cells, which hold 1536), which makes
/// the same state.
#[test]
fn framed_tbf_round_trips_up_to_whole_cells() {
    use crate::model::{Framing, LinkLayer};
    let kept = |t: &Tbf| TbfState::predict(&TbfParams::new(t, &P).unwrap()).to_tbf();
    let overhead = Tbf { framing: Framing { overhead: 300, mpu: 64, ..Framing::default() }, ..tbf(20_000, 1500, 0) };
    let overhead = Tbf { latency: Duration(0), limit: Some(Size(1000)), ..overhead };
    assert_eq!(kept(&overhead), overhead);
    let atm = Tbf { framing: Framing { linklayer: LinkLayer::Atm, ..Framing::default() }, ..tbf(20_000, 1500, 70_000) };
    let back = kept(&atm);
    assert_eq!((back.burst, back.framing), (Size(1536), atm.framing));
    assert!(equivalent(&QdiscSpec::Tbf(atm), &QdiscSpec::Tbf(back.clone()), &P));
    assert_eq!(kept(&back), back);
}

/// A slot reads back as sent; a zero one (what a change that drops the slot sends) is
/// none, as the kernel dumps none.
#[test]
fn netem_slot_round_trips() {
    use crate::model::NetemSlot;
    let slot = NetemSlot { packets: Some(32), bytes: Some(65_536), ..NetemSlot::range(Duration(800_000), Duration(1_000_000)) };
    let with = Netem { slot: Some(slot), ..netem(10_000, None, None, None) };
    let kept = |n: &Netem| NetemState::predict(&NetemParams::new(n, &P).unwrap()).to_netem();
    assert_eq!(kept(&with), with);
    assert_eq!(round_trip(&QdiscSpec::Netem(with.clone())), QdiscSpec::Netem(with.clone()));
    let zero = Netem { slot: Some(NetemSlot::range(Duration(0), Duration(0))), ..netem(10_000, None, None, None) };
    assert_eq!(kept(&zero).slot, None);
    assert!(!equivalent(&QdiscSpec::Netem(netem(10_000, None, None, None)), &QdiscSpec::Netem(with), &P));
}

/// `slot distribution`: the delay and jitter read back as sent (min and max 0), the
/// table does not (the kernel never dumps it: what the record gives back), and the words
/// are tc's (the table left out where it is not known, as tc's `show` prints it).
#[test]
fn netem_slot_distribution_round_trips() {
    use crate::model::{NetemDistribution, NetemSlot, NetemTables, SlotSpacing};
    let spacing = SlotSpacing { delay: Duration(1_000_000), jitter: Duration(100_000), table: Some(NetemDistribution::Pareto) };
    let slot = NetemSlot { spacing: Some(spacing), packets: Some(4), ..NetemSlot::range(Duration(0), Duration(0)) };
    let with = Netem { slot: Some(slot), ..netem(10_000, None, None, None) };
    let kept = |n: &Netem| NetemState::predict(&NetemParams::new(n, &P).unwrap()).to_netem();
    assert_eq!(kept(&with), with);
    let QdiscSpec::Netem(read) = round_trip(&QdiscSpec::Netem(with.clone())) else { panic!("a netem") };
    assert_eq!(read.tables(), NetemTables::default());
    assert_eq!(read.slot.unwrap().words(), " slot distribution 1ms 100us packets 4");
    assert_eq!(read.with_tables(with.tables()), with);
    assert_eq!(slot.words(), " slot distribution pareto 1ms 100us packets 4");
    // A plain slot is another netem.
    let plain = Netem { slot: Some(NetemSlot::range(Duration(1_000_000), Duration(1_000_000))), ..with.clone() };
    assert!(!equivalent(&QdiscSpec::Netem(plain), &QdiscSpec::Netem(with), &P));
}

/// Loss models read back with every parameter explicit, which gives the same request:
/// a re-run is up to date, and one without the model is not.
#[test]
fn netem_loss_models_round_trip() {
    use crate::model::LossModel;
    for model in [
        LossModel::State { p13: Percent(1.0), rest: [None; 4] },
        LossModel::State { p13: Percent(1.0), rest: [Some(Percent(20.0)), Some(Percent(3.0)), Some(Percent(40.0)), Some(Percent(5.0))] },
        LossModel::Gemodel { p: Percent(1.0), rest: [None; 3] },
        LossModel::Gemodel { p: Percent(1.0), rest: [Some(Percent(10.0)), Some(Percent(70.0)), Some(Percent(0.1))] },
    ] {
        let with = Netem { loss_model: Some(model), ..netem(10_000, None, None, None) };
        let kept = |n: &Netem| NetemState::predict(&NetemParams::new(n, &P).unwrap()).to_netem();
        let back = kept(&with);
        assert!(back.loss_model.is_some(), "{model:?}");
        assert_eq!(kept(&back), back, "{model:?}");
        assert_eq!(NetemParams::new(&back, &P).unwrap(), NetemParams::new(&with, &P).unwrap(), "{model:?}");
        assert!(equivalent(&QdiscSpec::Netem(with.clone()), &QdiscSpec::Netem(back.clone()), &P));
        assert!(!equivalent(&QdiscSpec::Netem(netem(10_000, None, None, None)), &QdiscSpec::Netem(back), &P));
    }
}
