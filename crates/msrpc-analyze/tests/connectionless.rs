//! Connectionless DCE/RPC (`ncadg_ip_udp`) through the analyzer: traffic made by msrpc's own
//! sans-IO connectionless client and server (`msrpc_proto::cl`, serving the real endpoint
//! mapper), with the conversation callback, fragmented answers and duplicated datagrams, then
//! synthetic datagrams for the abuse no free tool produces (reflection, spoofed sources,
//! Messenger spam, UDP endpoint-map sweeps). The analyzer must make the calls, the EPM
//! events and the alerts — and no alert for ordinary use. tshark (which must be installed)
//! must see the same calls in our own traffic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use msrpc_analyze::net::build_udp_v4;
use msrpc_analyze::{Analyzer, Config};
use msrpc_audit::detect::{DetectorConfig, Detectors};
use msrpc_audit::{Event, EventKind};
use msrpc_epm::*;
use msrpc_ndr::{ContextHandle, DataRep, DecodeLimits, Unique, Uuid};
use msrpc_proto::cl::client::{ClActivity, ClClientConfig, ClRequest};
use msrpc_proto::cl::pdu::{ClBody, ClFlags1, ClHeader, ClPdu};
use msrpc_proto::cl::server::{ClOutcome, ClServer, ClServerConfig, ClServerEvent};
use msrpc_proto::dispatch::{
    BoxFuture, CallContext, CallError, Dispatch, DispatchError, Interface, Invoke, ResponseStub,
};
use msrpc_proto::pdu::{FaultStatus, PacketType, SyntaxId};

const EPM: &str = "e1af8308-5d1f-11c9-91a4-08002b14a0fa";
const CONV: &str = "333a2276-0000-0000-0d00-00809c000000";
const MSGSVCSEND: Uuid = Uuid::from_u128(0x5a7b91f8_ff00_11d0_a9b2_00c04fb6e6fc);
const ECHO: SyntaxId = SyntaxId::new(
    Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
    1,
    0,
);

/// Runs a future that never waits (everything here is in memory).
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the in-memory exchange waited"),
    }
}

/// One datagram on the wire.
#[derive(Clone)]
struct Datagram {
    from: SocketAddrV4,
    to: SocketAddrV4,
    data: Vec<u8>,
}

struct Net {
    server: ClServer,
    client: ClActivity,
    client_addr: SocketAddrV4,
    server_addr: SocketAddrV4,
    now: Instant,
    wire: Vec<Datagram>,
    /// Every datagram goes twice (a capture with duplicates, as some taps make).
    twice: bool,
}

/// msrpc's connectionless client and server in memory, the server hosting the endpoint
/// mapper over a database with an rpcecho entry on UDP and one on TCP.
#[derive(Clone)]
struct Pair {
    net: Arc<Mutex<Net>>,
    service: Arc<dyn Dispatch>,
    drep: DataRep,
}

impl Pair {
    fn new(client: SocketAddrV4, server: SocketAddrV4, activity: u128, drep: DataRep) -> Pair {
        let db = Arc::new(Mutex::new(EndpointDb::new()));
        db.lock()
            .unwrap()
            .register(
                1,
                vec![
                    NewEntry::new(
                        Uuid::nil(),
                        Tower::ncadg_ip_udp(ECHO, SyntaxId::NDR20, *server.ip(), 4000),
                        "echo over udp",
                    ),
                    NewEntry::new(
                        Uuid::nil(),
                        Tower::ncacn_ip_tcp(ECHO, SyntaxId::NDR20, *server.ip(), 4001),
                        "echo over tcp",
                    ),
                ],
                false,
            )
            .unwrap();
        Pair {
            net: Arc::new(Mutex::new(Net {
                server: ClServer::new(
                    ClServerConfig {
                        boot_time: 0x5f00_0000,
                        // Small fragments: the lookup's answer comes in several.
                        max_frag_body: 120,
                        window: 2,
                        ..Default::default()
                    },
                    [EptInterface::SYNTAX],
                ),
                client: ClActivity::new(
                    Uuid::from_u128(activity),
                    ClClientConfig {
                        drep,
                        max_frag_body: 120,
                        window: 2,
                        ..Default::default()
                    },
                ),
                client_addr: client,
                server_addr: server,
                now: Instant::now(),
                wire: Vec::new(),
                twice: false,
            })),
            service: Arc::new(EptServer::new(EpmService::new(db))),
            drep,
        }
    }

    fn wire(&self) -> Vec<Datagram> {
        self.net.lock().unwrap().wire.clone()
    }

    fn exchange(
        &self,
        interface: SyntaxId,
        opnum: u16,
        stub: Vec<u8>,
    ) -> Result<ResponseStub, CallError> {
        let mut g = self.net.lock().unwrap();
        let l = &mut *g;
        let now = l.now;
        l.client.start_call(
            now,
            ClRequest {
                interface,
                opnum,
                object: None,
                stub,
                idempotent: false,
                maybe: false,
                deadline: now + Duration::from_secs(600),
            },
        )?;
        let peer = SocketAddr::V4(l.client_addr);
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(d) = l.client.poll_transmit() {
                moved = true;
                for _ in 0..=usize::from(l.twice) {
                    l.wire.push(Datagram {
                        from: l.client_addr,
                        to: l.server_addr,
                        data: d.clone(),
                    });
                    l.server.handle_datagram(l.now, peer, &d);
                }
            }
            while let Some(ev) = l.server.poll_event() {
                if let ClServerEvent::Call(c) = ev {
                    moved = true;
                    let ctx = CallContext {
                        opnum: c.opnum,
                        ..Default::default()
                    };
                    let r =
                        ready(
                            self.service
                                .dispatch(ctx, c.stub, c.drep, DecodeLimits::DEFAULT),
                        );
                    let o = match r {
                        Ok(s) => ClOutcome::Response(s),
                        Err(DispatchError::OpnumOutOfRange(_)) => {
                            ClOutcome::Reject(FaultStatus::NCA_S_OP_RNG_ERROR)
                        }
                        Err(e) => ClOutcome::Fault(e.status()),
                    };
                    l.server.complete(l.now, c.id, o);
                }
            }
            while let Some(t) = l.server.poll_transmit() {
                moved = true;
                for _ in 0..=usize::from(l.twice) {
                    l.wire.push(Datagram {
                        from: l.server_addr,
                        to: l.client_addr,
                        data: t.bytes.clone(),
                    });
                    l.client.handle_datagram(l.now, &t.bytes);
                }
            }
            if moved {
                continue;
            }
            if let Some(o) = l.client.poll_outcome() {
                // The client's ack.
                while let Some(d) = l.client.poll_transmit() {
                    l.wire.push(Datagram {
                        from: l.client_addr,
                        to: l.server_addr,
                        data: d.clone(),
                    });
                    l.server.handle_datagram(l.now, peer, &d);
                }
                l.now += Duration::from_millis(10);
                return o;
            }
            let next = [l.client.next_timeout(), l.server.next_timeout()]
                .into_iter()
                .flatten()
                .min()
                .expect("a pending call has a timer");
            l.now = l.now.max(next);
            l.client.handle_timeout(l.now);
            l.server.handle_timeout(l.now);
        }
        panic!("the exchange did not end");
    }
}

impl Invoke for Pair {
    fn invoke<'a>(
        &'a self,
        syntax: SyntaxId,
        opnum: u16,
        _object: Option<Uuid>,
        stub: Vec<u8>,
        _drep: DataRep,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        let r = self.exchange(syntax, opnum, stub);
        Box::pin(async move { r })
    }

    fn drep(&self) -> DataRep {
        self.drep
    }
}

fn lookup_all() -> EptLookupRequest {
    EptLookupRequest {
        inquiry_type: RPC_C_EP_ALL_ELTS,
        object: Unique::null(),
        interface_id: Unique::null(),
        vers_option: 1,
        entry_handle: ContextHandle::default(),
        max_ents: 10,
    }
}

fn map_echo() -> EptMapRequest {
    let asked = Tower::ncadg_ip_udp(ECHO, SyntaxId::NDR20, Ipv4Addr::UNSPECIFIED, 0);
    EptMapRequest {
        object: Unique::null(),
        map_tower: Unique::new(asked.to_twr().unwrap()),
        entry_handle: ContextHandle::default(),
        max_towers: 4,
    }
}

fn addr(s: &str) -> SocketAddrV4 {
    s.parse().unwrap()
}

/// The datagrams through an analyzer with the built-in detectors: its events.
fn analyze(wire: &[Datagram]) -> (Vec<Event>, msrpc_analyze::summary::Summary) {
    let mut a =
        Analyzer::with_detectors(Config::default(), Detectors::new(DetectorConfig::default()));
    for (i, d) in wire.iter().enumerate() {
        let f = build_udp_v4(
            (*d.from.ip(), d.from.port()),
            (*d.to.ip(), d.to.port()),
            &d.data,
        );
        a.packet(1_700_000_000.0 + i as f64 * 0.01, 1, &f);
    }
    a.finish();
    (a.take_events(), a.summary().clone())
}

/// The datagrams as a pcap file (Ethernet).
fn pcap(wire: &[Datagram]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 262_144, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (i, d) in wire.iter().enumerate() {
        let f = build_udp_v4(
            (*d.from.ip(), d.from.port()),
            (*d.to.ip(), d.to.port()),
            &d.data,
        );
        let n = f.len() as u32;
        for v in [
            1_700_000_000 + i as u32 / 100,
            (i as u32 % 100) * 10_000,
            n,
            n,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&f);
    }
    out
}

fn calls(events: &[Event]) -> Vec<&Event> {
    events
        .iter()
        .filter(|e| {
            matches!(
                &e.kind,
                EventKind::Call {
                    transport: Some(_),
                    ..
                }
            )
        })
        .collect()
}

fn alerts(events: &[Event]) -> Vec<String> {
    let mut v: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Alert { detector, .. } => Some(detector.clone()),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// (interface, opnum, fault) of the connectionless calls.
fn call_shapes(events: &[Event]) -> Vec<(String, u16, Option<String>)> {
    calls(events)
        .iter()
        .map(|e| match &e.kind {
            EventKind::Call {
                interface,
                opnum,
                fault,
                ..
            } => (interface.clone().unwrap(), *opnum, fault.clone()),
            _ => unreachable!(),
        })
        .collect()
}

#[test]
fn own_client_and_server_epm_over_udp_make_calls_epm_events_and_the_callback() {
    for (drep, twice) in [(DataRep::LITTLE_ENDIAN, false), (DataRep::BIG_ENDIAN, true)] {
        let client = addr("127.0.8.5:50000");
        let server = addr("127.0.8.1:135");
        let p = Pair::new(client, server, 0x0123_4567, drep);
        p.net.lock().unwrap().twice = twice;
        let c = EptClient::new(p.clone());
        let r = ready(c.ept_lookup(lookup_all())).unwrap();
        assert_eq!((r.status, r.entries.len()), (0, 2));
        let r = ready(c.ept_map(map_echo())).unwrap();
        assert_eq!((r.status, r.towers.len()), (0, 1));
        let wire = p.wire();
        let (events, summary) = analyze(&wire);
        // The server called back (WAY) before the first, non-idempotent call; the client
        // answered.
        assert_eq!(
            call_shapes(&events),
            [
                (CONV.to_string(), 1, None),
                (EPM.to_string(), 2, None),
                (EPM.to_string(), 3, None),
            ],
            "{drep:?}"
        );
        let cs = calls(&events);
        // The callback goes from the server to the client and names the client's activity.
        let way = cs[0];
        assert_eq!(way.conn.orig_h, Some(server.ip().to_owned().into()));
        assert_eq!(way.conn.resp_h, Some(client.ip().to_owned().into()));
        let EventKind::Call {
            args,
            operation,
            endpoint,
            ..
        } = &way.kind
        else {
            unreachable!()
        };
        assert_eq!(operation.as_deref(), Some("conv_who_are_you2"));
        assert_eq!(endpoint.as_deref(), Some("conv"));
        assert_eq!(args[0].name, "actuid");
        assert_eq!(args[0].value, Uuid::from_u128(0x0123_4567).to_string());
        // The lookup: its answer came in fragments, reassembled (every datagram twice in the
        // big-endian run).
        let EventKind::Call {
            stub_in,
            stub_out,
            operation,
            transport,
            call_id,
            ..
        } = &cs[1].kind
        else {
            unreachable!()
        };
        assert_eq!(operation.as_deref(), Some("ept_lookup"));
        assert_eq!(transport.as_deref(), Some("ncadg_ip_udp"));
        assert!(
            *stub_out > 240,
            "{stub_out}: several fragments of 120 bytes"
        );
        assert!(*stub_in > 0);
        let EventKind::Call { call_id: next, .. } = &cs[2].kind else {
            unreachable!()
        };
        assert_eq!(*next, call_id + 1, "sequence numbers as call ids");
        assert_eq!(cs[1].conn.orig_h, Some(client.ip().to_owned().into()));
        assert_eq!(cs[1].conn.uid, cs[2].conn.uid, "one activity");
        assert_ne!(
            cs[0].conn.uid, cs[1].conn.uid,
            "the callback is its own activity"
        );
        // The EPM events, as over TCP.
        let lookup = events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::EpmLookup {
                    inquiry,
                    entries,
                    end,
                    ..
                } => Some((inquiry.clone(), *entries, *end)),
                _ => None,
            })
            .expect("an epm_lookup event");
        assert_eq!(lookup, ("all".to_string(), 2, true));
        let map = events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::EpmMap {
                    entries, protocol, ..
                } => Some((*entries, protocol.clone())),
                _ => None,
            })
            .expect("an epm_map event");
        assert_eq!(map, (1, Some("ncadg_ip_udp".to_string())));
        assert!(summary.learned_endpoints >= 2, "{summary:?}");
        assert_eq!(summary.cl_activities, 2);
        // A full walk over UDP is the library's epm_full_walk; nothing else fires.
        assert_eq!(alerts(&events), ["epm_full_walk"]);
    }
}

#[test]
fn own_traffic_calls_agree_with_tshark() {
    let p = Pair::new(
        addr("127.0.8.6:50001"),
        addr("127.0.8.1:135"),
        7,
        DataRep::BIG_ENDIAN,
    );
    let c = EptClient::new(p.clone());
    ready(c.ept_lookup(lookup_all())).unwrap();
    ready(c.ept_map(map_echo())).unwrap();
    let wire = p.wire();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cl_own_epm.pcap");
    std::fs::write(&path, pcap(&wire)).unwrap();
    let (events, _) = analyze(&wire);
    let mut ours = BTreeMap::<(String, u16), u64>::new();
    for (i, o, _) in call_shapes(&events) {
        *ours.entry((i, o)).or_default() += 1;
    }
    let out = std::process::Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(&path)
        // A big-endian request whose flags are 0 starts 04 00 00 00: tshark's WireGuard
        // heuristic takes it for a transport-data message before DCE/RPC sees it.
        .args(["--disable-protocol", "wg"])
        .args([
            "-Y",
            "dcerpc.pkt_type == 0",
            "-T",
            "fields",
            "-E",
            "separator=;",
            "-e",
            "dcerpc.dg_act_id",
            "-e",
            "dcerpc.dg_seqnum",
            "-e",
            "dcerpc.dg_if_id",
            "-e",
            "dcerpc.opnum",
        ])
        .output()
        .expect("tshark is required for this test");
    let mut seen = std::collections::BTreeSet::new();
    let mut theirs = BTreeMap::<(String, u16), u64>::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = l.split(';').collect();
        if seen.insert((f[0].to_string(), f[1].to_string())) {
            *theirs
                .entry((f[2].to_string(), f[3].parse().unwrap()))
                .or_default() += 1;
        }
    }
    assert_eq!(ours, theirs);
    assert_eq!(ours.values().sum::<u64>(), 3);
}

/// A request datagram (little-endian, one fragment).
fn request(activity: u128, interface: Uuid, opnum: u16, seqnum: u32, stub: &[u8]) -> Vec<u8> {
    ClPdu {
        header: ClHeader {
            ptype: PacketType::REQUEST,
            flags1: ClFlags1::IDEMPOTENT,
            interface,
            if_vers: ClHeader::vers(1, 0),
            activity: Uuid::from_u128(activity),
            seqnum,
            opnum,
            ..ClHeader::default()
        },
        body: ClBody::Request(stub.to_vec()),
        auth: Vec::new(),
    }
    .encode()
    .unwrap()
}

/// The response datagram to [`request`].
fn response(activity: u128, interface: Uuid, opnum: u16, seqnum: u32, stub: &[u8]) -> Vec<u8> {
    ClPdu {
        header: ClHeader {
            ptype: PacketType::RESPONSE,
            interface,
            if_vers: ClHeader::vers(1, 0),
            activity: Uuid::from_u128(activity),
            seqnum,
            opnum,
            server_boot: 1,
            ..ClHeader::default()
        },
        body: ClBody::Response(stub.to_vec()),
        auth: Vec::new(),
    }
    .encode()
    .unwrap()
}

#[test]
fn our_server_meets_spoofed_sources_with_unanswered_callbacks() {
    // Five spoofed sources send ept_map requests (non-idempotent, so the server calls back
    // each address first); nobody answers.
    let server = addr("127.0.8.1:135");
    let mut wire = Vec::new();
    let p = Pair::new(addr("127.0.8.9:1"), server, 1, DataRep::LITTLE_ENDIAN);
    // The map request's stub, as the generated client encodes it.
    let rec = Recorder(Arc::new(Mutex::new(Vec::new())));
    let _ = ready(EptClient::new(rec.clone()).ept_map(map_echo()));
    let stub = rec.0.lock().unwrap().clone();
    let mut l = p.net.lock().unwrap();
    let mut now = l.now;
    for i in 0..5u8 {
        let spoofed = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, i + 1), 40_000);
        let mut act = ClActivity::new(
            Uuid::from_u128(0x5000 + u128::from(i)),
            ClClientConfig::default(),
        );
        act.start_call(
            now,
            ClRequest {
                interface: EptInterface::SYNTAX,
                opnum: 3,
                object: None,
                stub: stub.clone(),
                idempotent: false,
                maybe: false,
                deadline: now + Duration::from_secs(600),
            },
        )
        .unwrap();
        let d = act.poll_transmit().unwrap();
        wire.push(Datagram {
            from: spoofed,
            to: server,
            data: d.clone(),
        });
        l.server.handle_datagram(now, SocketAddr::V4(spoofed), &d);
    }
    // The server retries its callbacks, then gives up.
    for _ in 0..200 {
        while let Some(ev) = l.server.poll_event() {
            assert!(
                !matches!(ev, ClServerEvent::Call(_)),
                "nothing runs unverified"
            );
        }
        while let Some(t) = l.server.poll_transmit() {
            let SocketAddr::V4(to) = t.peer else { panic!() };
            wire.push(Datagram {
                from: server,
                to,
                data: t.bytes,
            });
        }
        let Some(next) = l.server.next_timeout() else {
            break;
        };
        now = now.max(next);
        l.server.handle_timeout(now);
    }
    drop(l);
    let (events, _) = analyze(&wire);
    let shapes = call_shapes(&events);
    let unanswered_way = shapes
        .iter()
        .filter(|(i, _, f)| i == CONV && f.as_deref() == Some("no_response"))
        .count();
    assert_eq!(unanswered_way, 5, "{shapes:?}");
    assert_eq!(
        shapes
            .iter()
            .filter(|(i, o, f)| i == EPM && *o == 3 && f.as_deref() == Some("no_response"))
            .count(),
        5
    );
    // Spoofed sources drew unanswered callbacks; our server reflected nothing larger.
    assert_eq!(alerts(&events), ["cl_way_unanswered"]);
    let a = events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Alert { .. }))
        .unwrap();
    let EventKind::Alert { source, .. } = &a.kind else {
        unreachable!()
    };
    assert_eq!(*source, Some(std::net::IpAddr::V4(*server.ip())));
    // The same with four spoofed sources is quiet.
    let four: Vec<Datagram> = wire
        .iter()
        .filter(|d| d.from.ip().octets()[3] != 5 && d.to.ip().octets()[3] != 5)
        .cloned()
        .collect();
    assert!(alerts(&analyze(&four).0).is_empty());
}

/// Records the request stubs a generated client encodes, answering nothing.
#[derive(Clone)]
struct Recorder(Arc<Mutex<Vec<u8>>>);

impl Invoke for Recorder {
    fn invoke<'a>(
        &'a self,
        _syntax: SyntaxId,
        _opnum: u16,
        _object: Option<Uuid>,
        stub: Vec<u8>,
        _drep: DataRep,
    ) -> BoxFuture<'a, Result<ResponseStub, CallError>> {
        *self.0.lock().unwrap() = stub;
        Box::pin(async { Err(CallError::Timeout) })
    }
}

#[test]
fn reflection_toward_many_sources_fires_and_ordinary_answers_do_not() {
    // A reflector (not ours: ours never answers an unverified source with more than it
    // sent) answering 20 spoofed victims' 8-byte requests with 400 bytes each.
    let reflector = addr("10.9.0.135:135");
    let mut wire = Vec::new();
    for i in 0..20u8 {
        let victim = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, i + 1), 53);
        let iface = Uuid::parse_str(EPM).unwrap();
        wire.push(Datagram {
            from: victim,
            to: reflector,
            data: request(u128::from(i) + 1, iface, 2, 0, &[0; 8]),
        });
        wire.push(Datagram {
            from: reflector,
            to: victim,
            data: response(u128::from(i) + 1, iface, 2, 0, &[7; 400]),
        });
    }
    let (events, _) = analyze(&wire);
    assert_eq!(calls(&events).len(), 20);
    assert_eq!(alerts(&events), ["cl_reflection"]);
    // Nineteen victims, or twenty answered with less than they sent: quiet.
    let (events, _) = analyze(&wire[2..]);
    assert!(alerts(&events).is_empty());
    let small: Vec<Datagram> = wire
        .iter()
        .map(|d| {
            let mut d = d.clone();
            if d.from == reflector {
                let pdu = ClPdu::decode(&d.data).unwrap();
                d.data = response(
                    pdu.header.activity.as_u128(),
                    pdu.header.interface,
                    2,
                    0,
                    &[7; 8],
                );
            }
            d
        })
        .collect();
    assert!(alerts(&analyze(&small).0).is_empty());
}

/// A NetrSendMessage request stub: From, To, Text as NDR conformant varying ANSI strings.
fn netsend(from: &str, to: &str, text: &str) -> Vec<u8> {
    let mut s = Vec::new();
    for v in [from, to, text] {
        while s.len() % 4 != 0 {
            s.push(0);
        }
        let n = v.len() as u32 + 1;
        for x in [n, 0, n] {
            s.extend_from_slice(&x.to_le_bytes());
        }
        s.extend_from_slice(v.as_bytes());
        s.push(0);
    }
    s
}

#[test]
fn messenger_spam_over_udp_fires_and_one_message_is_only_noted() {
    let spammer = addr("203.0.113.7:1025");
    let stub = netsend("ADMIN", "USER", "your computer is infected, visit ...");
    let mut wire = Vec::new();
    for i in 0..5u8 {
        let host = SocketAddrV4::new(Ipv4Addr::new(10, 9, 1, i + 1), 135);
        wire.push(Datagram {
            from: spammer,
            to: host,
            data: request(0x77 + u128::from(i), MSGSVCSEND, 0, 0, &stub),
        });
        wire.push(Datagram {
            from: host,
            to: spammer,
            data: response(0x77 + u128::from(i), MSGSVCSEND, 0, 0, &[0; 4]),
        });
    }
    let (events, _) = analyze(&wire);
    let cs = calls(&events);
    assert_eq!(cs.len(), 5);
    let EventKind::Call {
        endpoint,
        operation,
        ..
    } = &cs[0].kind
    else {
        unreachable!()
    };
    assert_eq!(endpoint.as_deref(), Some("msgsvcsend"));
    assert_eq!(operation.as_deref(), Some("NetrSendMessage"));
    assert_eq!(
        alerts(&events),
        ["messenger_netsend", "messenger_netsend_spam"]
    );
    // Four hosts: each message noted (low severity), no spam alert.
    let (events, _) = analyze(&wire[2..]);
    assert_eq!(alerts(&events), ["messenger_netsend"]);
}

#[test]
fn udp_endpoint_map_sweep_fires_and_a_few_lookups_with_callbacks_do_not() {
    // One client asks ten hosts' endpoint mappers over UDP (answering their callbacks).
    let sweep = |hosts: u8, full: bool| {
        let mut wire = Vec::new();
        for h in 0..hosts {
            let server = SocketAddrV4::new(Ipv4Addr::new(127, 0, 8, 20 + h), 135);
            let p = Pair::new(
                addr("127.0.8.10:50010"),
                server,
                0x900 + u128::from(h),
                DataRep::LITTLE_ENDIAN,
            );
            let c = EptClient::new(p.clone());
            if full {
                ready(c.ept_lookup(lookup_all())).unwrap();
            } else {
                ready(c.ept_map(map_echo())).unwrap();
            }
            wire.extend(p.wire());
        }
        wire
    };
    let (events, _) = analyze(&sweep(10, false));
    assert_eq!(call_shapes(&events).len(), 20, "ten maps and ten callbacks");
    assert_eq!(alerts(&events), ["epm_udp_sweep"]);
    // Three hosts' maps, callbacks answered: nothing.
    let (events, _) = analyze(&sweep(3, false));
    assert!(alerts(&events).is_empty(), "{:?}", alerts(&events));
}

#[test]
fn activities_and_held_bytes_stay_within_their_limits() {
    let cfg = Config {
        cl: msrpc_analyze::cl::Limits {
            max_activities: 16,
            max_call_bytes: 1000,
            max_held_bytes: 4000,
            ..Default::default()
        },
        ..Config::default()
    };
    let mut a = Analyzer::new(cfg);
    let epm = Uuid::parse_str(EPM).unwrap();
    for i in 0..500u32 {
        // First fragments of EPM requests (stubs kept) that never complete.
        let mut d = ClPdu::decode(&request(u128::from(i), epm, 2, 0, &[1; 600])).unwrap();
        d.header.flags1 = ClFlags1::FRAG;
        let f = build_udp_v4(
            (Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8), 1000),
            (Ipv4Addr::new(10, 1, 0, 1), 135),
            &d.encode().unwrap(),
        );
        a.packet(f64::from(i), 1, &f);
        assert!(a.cl_activities() <= 16);
        assert!(a.cl_held_bytes() <= 4000);
    }
    a.finish();
    assert_eq!(a.cl_activities(), 0);
    assert_eq!(a.cl_held_bytes(), 0);
    // Every activity's call was reported, unanswered.
    let n = a
        .take_events()
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Call { fault: Some(f), .. } if f == "no_response"))
        .count();
    assert_eq!(n, 500);
}

#[test]
fn fragments_in_any_order_with_duplicates_make_one_call_and_faults_and_rejects_end_it() {
    let (client, server) = (addr("10.2.0.5:1030"), addr("10.2.0.1:135"));
    let iface = Uuid::parse_str(EPM).unwrap();
    let frag = |n: u16, flags: ClFlags1, body: &[u8]| {
        let mut p = ClPdu::decode(&request(0xabc, iface, 3, 4, body)).unwrap();
        p.header.fragnum = n;
        p.header.flags1 = flags;
        Datagram {
            from: client,
            to: server,
            data: p.encode().unwrap(),
        }
    };
    let answer = |ptype: PacketType, status: FaultStatus, seqnum: u32| {
        let body = if ptype == PacketType::FAULT {
            ClBody::Fault(status)
        } else {
            ClBody::Reject(status)
        };
        Datagram {
            from: server,
            to: client,
            data: ClPdu {
                header: ClHeader {
                    ptype,
                    interface: iface,
                    activity: Uuid::from_u128(0xabc),
                    seqnum,
                    opnum: 3,
                    ..ClHeader::default()
                },
                body,
                auth: Vec::new(),
            }
            .encode()
            .unwrap(),
        }
    };
    let last = ClFlags1::FRAG.with(ClFlags1::LASTFRAG);
    let wire = vec![
        frag(2, last, &[3; 10]),
        frag(0, ClFlags1::FRAG, &[1; 100]),
        frag(2, last, &[3; 10]),
        frag(1, ClFlags1::FRAG, &[2; 100]),
        frag(0, ClFlags1::FRAG, &[1; 100]),
        answer(PacketType::FAULT, FaultStatus::NCA_S_FAULT_USER_DEFINED, 4),
        // A retransmitted fragment of the finished call changes nothing.
        frag(1, ClFlags1::FRAG, &[2; 100]),
        // The next call on the activity is rejected.
        Datagram {
            from: client,
            to: server,
            data: request(0xabc, iface, 3, 5, &[0; 8]),
        },
        answer(PacketType::REJECT, FaultStatus::NCA_S_UNK_IF, 5),
    ];
    let (events, summary) = analyze(&wire);
    let cs = calls(&events);
    assert_eq!(cs.len(), 2);
    let EventKind::Call {
        call_id,
        fragments,
        stub_in,
        stub_out,
        fault,
        ..
    } = &cs[0].kind
    else {
        unreachable!()
    };
    assert_eq!((*call_id, *fragments, *stub_in, *stub_out), (4, 3, 210, 0));
    assert_eq!(fault.as_deref(), Some("nca_s_fault_user_defined"));
    let EventKind::Call { call_id, fault, .. } = &cs[1].kind else {
        unreachable!()
    };
    assert_eq!(*call_id, 5);
    assert_eq!(fault.as_deref(), Some("nca_s_unk_if"));
    assert_eq!(summary.cl_activities, 1);
    assert_eq!(summary.cl_pdus.get("request"), Some(&7));
}
