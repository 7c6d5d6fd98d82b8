//! The connectionless client and server wired together in memory (time fed by the test):
//! calls with the WAY callback, fragmentation both ways with facks, a lost datagram recovered,
//! a duplicate executed once, cancels, rejects, and the amplification budget against a
//! spoofed source.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use msrpc_ndr::{DataRep, Uuid};
use msrpc_proto::cl::client::{ClActivity, ClClientConfig, ClRequest};
use msrpc_proto::cl::pdu::*;
use msrpc_proto::cl::server::*;
use msrpc_proto::dispatch::CallError;
use msrpc_proto::pdu::{FaultStatus, PacketType, SyntaxId};

const IF: SyntaxId = SyntaxId::new(
    Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
    1,
    0,
);

fn peer() -> SocketAddr {
    "127.0.6.9:40000".parse().unwrap()
}

struct Pair {
    server: ClServer,
    client: ClActivity,
    now: Instant,
    /// Datagrams seen (to server, bytes).
    wire: Vec<(bool, Vec<u8>)>,
    /// Drop the nth datagram to the server (counting from 0) when set.
    drop_to_server: Vec<usize>,
    drop_to_client: Vec<usize>,
    to_server: usize,
    to_client: usize,
    executed: Vec<(u16, Vec<u8>)>,
    /// Calls held back (not completed) by the test.
    hold: bool,
    held: Vec<ClCallId>,
    cancels: Vec<ClCallId>,
}

impl Pair {
    fn new(sc: ClServerConfig, cc: ClClientConfig) -> Pair {
        Pair {
            server: ClServer::new(sc, [IF]),
            client: ClActivity::new(Uuid::from_u128(0xabcdef), cc),
            now: Instant::now(),
            wire: vec![],
            drop_to_server: vec![],
            drop_to_client: vec![],
            to_server: 0,
            to_client: 0,
            executed: vec![],
            hold: false,
            held: vec![],
            cancels: vec![],
        }
    }

    fn pump_once(&mut self) -> bool {
        let mut moved = false;
        while let Some(d) = self.client.poll_transmit() {
            moved = true;
            let n = self.to_server;
            self.to_server += 1;
            self.wire.push((true, d.clone()));
            if !self.drop_to_server.contains(&n) {
                self.server.handle_datagram(self.now, peer(), &d);
            }
        }
        while let Some(ev) = self.server.poll_event() {
            match ev {
                ClServerEvent::Call(c) => {
                    moved = true;
                    self.executed.push((c.opnum, c.stub.clone()));
                    if self.hold {
                        self.held.push(c.id);
                    } else if c.opnum == 9 {
                        self.server.complete(
                            self.now,
                            c.id,
                            ClOutcome::Reject(FaultStatus::NCA_S_OP_RNG_ERROR),
                        );
                    } else {
                        // echo: the response is the request stub reversed
                        let mut s = c.stub.clone();
                        s.reverse();
                        self.server.complete(self.now, c.id, ClOutcome::Response(s));
                    }
                }
                ClServerEvent::Cancel(id) => self.cancels.push(id),
                _ => {}
            }
        }
        while let Some(t) = self.server.poll_transmit() {
            moved = true;
            assert_eq!(t.peer, peer());
            let n = self.to_client;
            self.to_client += 1;
            self.wire.push((false, t.bytes.clone()));
            if !self.drop_to_client.contains(&n) {
                self.client.handle_datagram(self.now, &t.bytes);
            }
        }
        moved
    }

    /// Runs until the client's call ends, advancing time to the next timer when idle.
    fn run(&mut self) -> Result<Vec<u8>, CallError> {
        for _ in 0..10_000 {
            if self.pump_once() {
                continue;
            }
            if let Some(o) = self.client.poll_outcome() {
                // let the final ack reach the server
                self.pump_once();
                return o.map(|r| r.stub);
            }
            let next = [self.client.next_timeout(), self.server.next_timeout()]
                .into_iter()
                .flatten()
                .min()
                .expect("nothing to wait for");
            self.now = self.now.max(next);
            self.client.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
        }
        panic!("no outcome");
    }

    fn call(&mut self, opnum: u16, stub: Vec<u8>, idempotent: bool) -> Result<Vec<u8>, CallError> {
        self.client
            .start_call(
                self.now,
                ClRequest {
                    interface: IF,
                    opnum,
                    object: None,
                    stub,
                    idempotent,
                    maybe: false,
                    deadline: self.now + Duration::from_secs(60),
                },
            )
            .unwrap();
        self.run()
    }

    fn count(&self, to_server: bool, ptype: PacketType) -> usize {
        self.wire
            .iter()
            .filter(|(d, b)| *d == to_server && ClHeader::decode(b).unwrap().ptype == ptype)
            .count()
    }
}

#[test]
fn a_non_idempotent_call_runs_after_the_way_callback_and_once() {
    for drep in [DataRep::LITTLE_ENDIAN, DataRep::BIG_ENDIAN] {
        let mut p = Pair::new(
            ClServerConfig::default(),
            ClClientConfig {
                drep,
                ..Default::default()
            },
        );
        let r = p.call(1, b"hello".to_vec(), false).unwrap();
        assert_eq!(r, b"olleh");
        assert!(p.server.is_verified(peer(), p.now));
        // one callback request to the client, answered
        let cb: Vec<_> = p
            .wire
            .iter()
            .filter(|(d, b)| {
                !*d && ClHeader::decode(b).unwrap().interface == msrpc_proto::cl::conv::CONV.uuid
            })
            .collect();
        assert!(!cb.is_empty());
        assert_eq!(p.executed.len(), 1);
        // the reply was acked and freed
        assert_eq!(p.server.reply_cache_bytes(), 0);
        assert_eq!(p.client.server_boot(), 1);
        // a second call goes straight through (address verified)
        let before = cb.len();
        assert_eq!(p.call(1, b"ab".to_vec(), false).unwrap(), b"ba");
        let after = p
            .wire
            .iter()
            .filter(|(d, b)| {
                !*d && ClHeader::decode(b).unwrap().interface == msrpc_proto::cl::conv::CONV.uuid
            })
            .count();
        assert_eq!(before, after);
        // the responses came in the request's byte order
        let resp = p
            .wire
            .iter()
            .rev()
            .find(|(d, b)| !*d && ClHeader::decode(b).unwrap().ptype == PacketType::RESPONSE)
            .unwrap();
        assert_eq!(ClHeader::decode(&resp.1).unwrap().drep, drep);
    }
}

#[test]
fn multi_fragment_request_and_response_with_facks_and_a_lost_fragment() {
    let mut p = Pair::new(
        ClServerConfig {
            max_frag_body: 100,
            window: 3,
            ..Default::default()
        },
        ClClientConfig {
            max_frag_body: 100,
            window: 3,
            ..Default::default()
        },
    );
    // Drop the second datagram to the server (request fragment 1) and the third to the
    // client.
    p.drop_to_server = vec![1];
    p.drop_to_client = vec![4];
    let stub: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let r = p.call(1, stub.clone(), true).unwrap();
    let mut rev = stub.clone();
    rev.reverse();
    assert_eq!(r, rev);
    assert_eq!(p.executed.len(), 1);
    assert!(
        p.count(false, PacketType::FACK) >= 2,
        "the server facked blasts"
    );
    assert!(
        p.count(true, PacketType::FACK) >= 2,
        "the client facked blasts"
    );
    // the request's fragment 1 went twice
    let f1 = p
        .wire
        .iter()
        .filter(|(d, b)| {
            let h = ClHeader::decode(b).unwrap();
            *d && h.ptype == PacketType::REQUEST && h.fragnum == 1
        })
        .count();
    assert_eq!(f1, 2);
    assert_eq!(p.server.reassembly_bytes(), 0);
}

#[test]
fn a_duplicate_request_is_answered_from_the_cache_and_executed_once() {
    let mut p = Pair::new(ClServerConfig::default(), ClClientConfig::default());
    p.call(1, vec![1, 2, 3], false).unwrap();
    // Lose the response of the next call: the client retransmits, the server answers
    // from its reply cache.
    let before = p.to_client;
    p.drop_to_client = vec![before];
    let r = p.call(1, vec![4, 5, 6], false).unwrap();
    assert_eq!(r, vec![6, 5, 4]);
    assert_eq!(p.executed.len(), 2);
    assert!(p.count(false, PacketType::RESPONSE) >= 3);
}

#[test]
fn ping_is_answered_with_working_and_cancel_with_cancel_ack() {
    let mut p = Pair::new(ClServerConfig::default(), ClClientConfig::default());
    p.call(1, vec![1], false).unwrap();
    p.hold = true;
    p.client
        .start_call(
            p.now,
            ClRequest {
                interface: IF,
                opnum: 6,
                object: None,
                stub: vec![0; 4],
                idempotent: false,
                maybe: false,
                deadline: p.now + Duration::from_secs(60),
            },
        )
        .unwrap();
    while p.pump_once() {}
    assert_eq!(p.held.len(), 1);
    // time passes: the client's retransmission / ping gets "working"
    for _ in 0..3 {
        p.now += Duration::from_secs(1);
        p.client.handle_timeout(p.now);
        while p.pump_once() {}
    }
    assert!(p.count(false, PacketType::WORKING) >= 1);
    p.client.cancel();
    while p.pump_once() {}
    assert_eq!(p.cancels, p.held);
    assert_eq!(p.count(false, PacketType::CANCEL_ACK), 1);
    let id = p.held[0];
    p.server
        .complete(p.now, id, ClOutcome::Fault(FaultStatus::NCA_S_FAULT_CANCEL));
    while p.pump_once() {}
    assert_eq!(
        p.client.poll_outcome().unwrap(),
        Err(CallError::Fault(FaultStatus::NCA_S_FAULT_CANCEL))
    );
}

#[test]
fn rejects_wrong_boot_time_unknown_interface_and_opnum() {
    let mut p = Pair::new(ClServerConfig::default(), ClClientConfig::default());
    p.call(1, vec![0; 40], true).unwrap();
    p.client.set_server_boot(77);
    assert_eq!(
        p.call(1, vec![0; 40], true),
        Err(CallError::Fault(FaultStatus::NCA_S_WRONG_BOOT_TIME))
    );
    p.client.set_server_boot(1);
    assert_eq!(
        p.call(9, vec![0; 40], true),
        Err(CallError::Fault(FaultStatus::NCA_S_OP_RNG_ERROR))
    );
    p.client
        .start_call(
            p.now,
            ClRequest {
                interface: SyntaxId::new(Uuid::from_u128(5), 1, 0),
                opnum: 0,
                object: None,
                stub: vec![0; 40],
                idempotent: true,
                maybe: false,
                deadline: p.now + Duration::from_secs(60),
            },
        )
        .unwrap();
    assert_eq!(p.run(), Err(CallError::Fault(FaultStatus::NCA_S_UNK_IF)));
}

/// A request with a verifier (`auth_proto` NTLM) is refused with `nca_s_unsupported_authn_level`:
/// connectionless authentication is not implemented, and the call must not run unauthenticated.
#[test]
fn an_authenticated_request_is_rejected_not_run_unauthenticated() {
    let mut server = ClServer::new(ClServerConfig::default(), [IF]);
    let client: SocketAddr = "127.0.6.67:1050".parse().unwrap();
    let now = Instant::now();
    let pdu = ClPdu {
        header: ClHeader {
            interface: IF.uuid,
            if_vers: ClHeader::vers(1, 0),
            activity: Uuid::from_u128(0x77),
            seqnum: 1,
            opnum: 1,
            auth_proto: msrpc_proto::pdu::AuthType::WINNT,
            flags1: ClFlags1::IDEMPOTENT,
            ..Default::default()
        },
        body: ClBody::Request(vec![0; 40]),
        auth: vec![0; 16],
    };
    server.handle_datagram(now, client, &pdu.encode().unwrap());
    let mut rejects = vec![];
    while let Some(t) = server.poll_transmit() {
        let answer = ClPdu::decode(&t.bytes).unwrap();
        assert_eq!(t.peer, client);
        rejects.push(answer.body);
    }
    assert_eq!(
        rejects,
        [ClBody::Reject(FaultStatus::NCA_S_UNSUPPORTED_AUTHN_LEVEL)]
    );
    while let Some(e) = server.poll_event() {
        assert!(!matches!(e, ClServerEvent::Call(_)), "the call ran: {e:?}");
    }
    // The same request without a verifier runs (idempotent: no callback first).
    let mut plain = pdu.clone();
    plain.header.auth_proto = msrpc_proto::pdu::AuthType::NONE;
    plain.header.activity = Uuid::from_u128(0x78);
    plain.auth.clear();
    server.handle_datagram(now, client, &plain.encode().unwrap());
    let mut ran = false;
    while let Some(e) = server.poll_event() {
        ran |= matches!(e, ClServerEvent::Call(_));
    }
    assert!(ran);
}

/// A spoofed source: requests arrive from an address whose owner never answers the WAY
/// callback. The server sends at most as many bytes as it received, and rejects the call with
/// `nca_s_who_are_you_failed` when the callback fails.
#[test]
fn a_spoofed_source_that_never_answers_way_gets_no_amplification() {
    let mut server = ClServer::new(ClServerConfig::default(), [IF]);
    let victim: SocketAddr = "127.0.6.66:135".parse().unwrap();
    let mut now = Instant::now();
    let mut bytes_in = 0u64;
    let mut bytes_out = 0u64;
    let mut events = vec![];
    for i in 0..50u32 {
        let pdu = ClPdu {
            header: ClHeader {
                interface: IF.uuid,
                if_vers: ClHeader::vers(1, 0),
                activity: Uuid::from_u128(u128::from(i % 5) + 1),
                seqnum: 1,
                opnum: 1,
                ..Default::default()
            },
            body: ClBody::Request(vec![0; 4]),
            auth: vec![],
        };
        let b = pdu.encode().unwrap();
        bytes_in += b.len() as u64;
        server.handle_datagram(now, victim, &b);
        now += Duration::from_millis(200);
        server.handle_timeout(now);
        while let Some(t) = server.poll_transmit() {
            assert_eq!(t.peer, victim);
            bytes_out += t.bytes.len() as u64;
            // nothing but callbacks and rejects goes to an unverified address
            let h = ClHeader::decode(&t.bytes).unwrap();
            assert!(
                matches!(h.ptype, PacketType::REQUEST | PacketType::REJECT),
                "{h:?}"
            );
        }
        while let Some(e) = server.poll_event() {
            assert!(
                !matches!(e, ClServerEvent::Call(_)),
                "a call ran for a spoofed source"
            );
            events.push(e);
        }
        assert!(bytes_out <= bytes_in, "{bytes_out} > {bytes_in}");
    }
    assert_eq!(server.budget(victim.ip()), Some((bytes_in, bytes_out)));
    assert!(events.iter().any(|e| matches!(
        e,
        ClServerEvent::Limit {
            reason: "amplification_budget",
            ..
        }
    )));
    assert!(events.iter().any(|e| matches!(e, ClServerEvent::Rejected { status, .. } if *status == NCA_S_WHO_ARE_YOU_FAILED)));
    assert!(!server.is_verified(victim, now));
}

#[test]
fn broadcast_is_dropped_unless_enabled_and_rate_limits_hold() {
    let mut server = ClServer::new(
        ClServerConfig {
            limits: ClLimits {
                rate_per_source: 10,
                ..Default::default()
            },
            ..Default::default()
        },
        [IF],
    );
    let now = Instant::now();
    let mut pdu = ClPdu {
        header: ClHeader {
            flags1: ClFlags1::BROADCAST.with(ClFlags1::IDEMPOTENT),
            interface: IF.uuid,
            if_vers: ClHeader::vers(1, 0),
            activity: Uuid::from_u128(1),
            seqnum: 1,
            ..Default::default()
        },
        body: ClBody::Request(vec![0; 200]),
        auth: vec![],
    };
    server.handle_datagram(now, peer(), &pdu.encode().unwrap());
    assert_eq!(
        server.poll_event(),
        Some(ClServerEvent::Limit {
            peer: peer(),
            reason: "broadcast"
        })
    );
    pdu.header.flags1 = ClFlags1::IDEMPOTENT;
    let mut calls = 0;
    let mut limited = 0;
    for i in 0..100u32 {
        pdu.header.seqnum = i + 2;
        server.handle_datagram(now, peer(), &pdu.encode().unwrap());
        while let Some(e) = server.poll_event() {
            match e {
                ClServerEvent::Call(c) => {
                    calls += 1;
                    server.complete(now, c.id, ClOutcome::Response(vec![]));
                }
                ClServerEvent::Limit {
                    reason: "rate_source",
                    ..
                } => limited += 1,
                _ => {}
            }
        }
    }
    // burst of 2 x rate, minus the broadcast datagram
    assert_eq!(calls, 19);
    assert_eq!(limited, 1, "one event per second, not one per datagram");
}

#[test]
fn reassembly_limits_refuse_and_free() {
    let mut server = ClServer::new(
        ClServerConfig {
            limits: ClLimits {
                max_fragments: 4,
                max_reassembly_per_source: 1000,
                ..Default::default()
            },
            ..Default::default()
        },
        [IF],
    );
    let now = Instant::now();
    let frag = |act: u128, n: u16, len: usize| {
        ClPdu {
            header: ClHeader {
                flags1: ClFlags1::FRAG.with(ClFlags1::NOFACK),
                interface: IF.uuid,
                if_vers: ClHeader::vers(1, 0),
                activity: Uuid::from_u128(act),
                seqnum: 1,
                fragnum: n,
                ..Default::default()
            },
            body: ClBody::Request(vec![0; len]),
            auth: vec![],
        }
        .encode()
        .unwrap()
    };
    for n in 0..4 {
        server.handle_datagram(now, peer(), &frag(1, n, 10));
    }
    assert_eq!(server.reassembly_bytes(), 40);
    server.handle_datagram(now, peer(), &frag(1, 4, 10));
    let evs: Vec<_> = std::iter::from_fn(|| server.poll_event()).collect();
    assert!(
        evs.contains(&ClServerEvent::Limit {
            peer: peer(),
            reason: "fragments"
        }),
        "{evs:?}"
    );
    assert_eq!(server.reassembly_bytes(), 0);
    server.handle_datagram(now, peer(), &frag(2, 0, 600));
    server.handle_datagram(now, peer(), &frag(3, 0, 600));
    let evs: Vec<_> = std::iter::from_fn(|| server.poll_event()).collect();
    assert!(
        evs.contains(&ClServerEvent::Limit {
            peer: peer(),
            reason: "reassembly_source"
        }),
        "{evs:?}"
    );
    assert_eq!(server.reassembly_bytes(), 600);
}

fn idem_request(act: u128, seq: u32, len: usize) -> Vec<u8> {
    ClPdu {
        header: ClHeader {
            flags1: ClFlags1::IDEMPOTENT,
            interface: IF.uuid,
            if_vers: ClHeader::vers(1, 0),
            activity: Uuid::from_u128(act),
            seqnum: seq,
            ..Default::default()
        },
        body: ClBody::Request(vec![0; len]),
        auth: vec![],
    }
    .encode()
    .unwrap()
}

fn limits_hit(server: &mut ClServer) -> Vec<&'static str> {
    let mut v = vec![];
    while let Some(e) = server.poll_event() {
        if let ClServerEvent::Limit { reason, .. } = e {
            v.push(reason);
        }
    }
    v
}

fn at(ip: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 6, ip], 5000))
}

/// Every other `ClLimits` bound: activities per source and in total, sources tracked, stub
/// bytes per request, reassembly bytes in total, the reply cache, the global rate.
#[test]
fn the_other_limits_refuse_with_their_reasons() {
    let now = Instant::now();
    let cfg = |limits: ClLimits| ClServerConfig {
        limits,
        ..Default::default()
    };

    let mut s = ClServer::new(
        cfg(ClLimits {
            max_activities_per_source: 2,
            max_activities: 3,
            ..Default::default()
        }),
        [IF],
    );
    for act in 1..=3 {
        s.handle_datagram(now, at(1), &idem_request(act, 1, 4));
    }
    assert!(limits_hit(&mut s).contains(&"activities_per_source"));
    assert_eq!(s.activities(), 2);
    s.handle_datagram(now, at(2), &idem_request(10, 1, 4));
    s.handle_datagram(now, at(2), &idem_request(11, 1, 4));
    assert!(limits_hit(&mut s).contains(&"activities"));
    assert_eq!(s.activities(), 3);

    let mut s = ClServer::new(
        cfg(ClLimits {
            max_sources: 2,
            ..Default::default()
        }),
        [IF],
    );
    for ip in 1..=3 {
        s.handle_datagram(now, at(ip), &idem_request(u128::from(ip), 1, 4));
    }
    assert!(limits_hit(&mut s).contains(&"sources"));
    assert_eq!(s.sources(), 2);

    let mut s = ClServer::new(
        cfg(ClLimits {
            max_request_bytes: 100,
            ..Default::default()
        }),
        [IF],
    );
    s.handle_datagram(now, at(1), &idem_request(1, 1, 150));
    assert!(limits_hit(&mut s).contains(&"request_bytes"));
    assert_eq!(s.reassembly_bytes(), 0);

    let frag = |act: u128, len: usize| {
        ClPdu {
            header: ClHeader {
                flags1: ClFlags1::FRAG.with(ClFlags1::NOFACK),
                interface: IF.uuid,
                if_vers: ClHeader::vers(1, 0),
                activity: Uuid::from_u128(act),
                seqnum: 1,
                ..Default::default()
            },
            body: ClBody::Request(vec![0; len]),
            auth: vec![],
        }
        .encode()
        .unwrap()
    };
    let mut s = ClServer::new(
        cfg(ClLimits {
            max_reassembly_total: 1000,
            ..Default::default()
        }),
        [IF],
    );
    s.handle_datagram(now, at(1), &frag(1, 600));
    s.handle_datagram(now, at(2), &frag(2, 600));
    assert!(limits_hit(&mut s).contains(&"reassembly_total"));
    assert_eq!(s.reassembly_bytes(), 600);

    // The reply cache: the oldest reply goes when a new one would exceed the bound.
    let mut s = ClServer::new(
        cfg(ClLimits {
            max_reply_cache_bytes: 1000,
            ..Default::default()
        }),
        [IF],
    );
    let mut limited = vec![];
    for act in 1..=2u128 {
        s.handle_datagram(now, at(1), &idem_request(act, 1, 1000));
        while let Some(e) = s.poll_event() {
            match e {
                ClServerEvent::Call(c) => s.complete(now, c.id, ClOutcome::Response(vec![7; 600])),
                ClServerEvent::Limit { reason, .. } => limited.push(reason),
                _ => {}
            }
        }
    }
    assert!(s.reply_cache_bytes() <= 1000, "{}", s.reply_cache_bytes());
    assert!(limited.contains(&"reply_cache"), "{limited:?}");

    // The global rate: a burst of twice the rate, then drops (one event per second).
    let mut s = ClServer::new(
        cfg(ClLimits {
            rate_global: 5,
            ..Default::default()
        }),
        [IF],
    );
    let mut calls = 0;
    let mut limited = vec![];
    for i in 0..30u8 {
        s.handle_datagram(now, at(i), &idem_request(u128::from(i), 1, 4));
        while let Some(e) = s.poll_event() {
            match e {
                ClServerEvent::Call(_) => calls += 1,
                ClServerEvent::Limit { reason, .. } => limited.push(reason),
                _ => {}
            }
        }
    }
    assert_eq!(calls, 10);
    assert_eq!(limited, vec!["rate_global"]);
}

/// A `maybe` call runs and is not answered; the client's outcome is immediate and empty.
#[test]
fn a_maybe_call_runs_and_sends_nothing_back() {
    let mut p = Pair::new(ClServerConfig::default(), ClClientConfig::default());
    p.client
        .start_call(
            p.now,
            ClRequest {
                interface: IF,
                opnum: 2,
                object: None,
                stub: vec![1, 2, 3, 4],
                idempotent: false,
                maybe: true,
                deadline: p.now + Duration::from_secs(5),
            },
        )
        .unwrap();
    assert_eq!(
        p.client.poll_outcome().unwrap().unwrap().stub,
        Vec::<u8>::new()
    );
    while p.pump_once() {}
    assert_eq!(p.executed, vec![(2, vec![1, 2, 3, 4])]);
    assert!(
        p.wire.iter().all(|(to_server, _)| *to_server),
        "the server answered a maybe call"
    );
    assert!(!p.client.busy());
}
