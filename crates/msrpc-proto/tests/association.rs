//! Client and server association state machines wired together in memory (quinn's `Pair`
//! style): bind negotiation, fragmentation, reassembly limits, call tracking, cancel and
//! orphan, alter_context, and an authenticated association with a toy mechanism that proves
//! where signatures and sealing apply, in both byte orders (the verification trailer stays
//! little-endian in a big-endian request, as Samba and Windows send it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::ops::Range;

use msrpc_ndr::{DataRep, Uuid};
use msrpc_proto::client::{
    ClientConfig, ClientConnection, ClientEvent, RequestOptions, TrailerMode,
};
use msrpc_proto::pdu::{
    AuthLevel, AuthType, Bind, BindNakReason, BindTimeFeatures, Body, ContextElement,
    ContextResult, FaultStatus, Header, PacketType, Pdu, PfcFlags, ProviderReason, Request,
    SyntaxId,
};
use msrpc_proto::security::{AuthStep, SecurityError, SecurityProvider};
use msrpc_proto::server::{ServerConfig, ServerConnection, ServerEnv, ServerEvent};

const ECHO: SyntaxId = SyntaxId::new(
    Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
    1,
    0,
);
const EPM: SyntaxId = SyntaxId::new(
    Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa),
    3,
    0,
);
const UNKNOWN: SyntaxId = SyntaxId::new(Uuid::from_u128(0x1234), 1, 0);

struct Env {
    groups: Vec<u32>,
    bad_user: bool,
    /// Interfaces served in NDR64 too.
    ndr64: Vec<SyntaxId>,
}

impl Env {
    fn new() -> Self {
        Env {
            groups: Vec::new(),
            bad_user: false,
            ndr64: Vec::new(),
        }
    }
}

impl ServerEnv for Env {
    fn lookup_interface(&self, a: &SyntaxId) -> Option<SyntaxId> {
        [ECHO, EPM]
            .into_iter()
            .find(|s| s.uuid == a.uuid && s.major == a.major && s.minor >= a.minor)
    }
    fn supports_ndr64(&self, interface: &SyntaxId) -> bool {
        self.ndr64.contains(interface)
    }
    fn assoc_group(&mut self, requested: u32) -> Option<u32> {
        if requested == 0 {
            let id = 0x5000 + self.groups.len() as u32;
            self.groups.push(id);
            Some(id)
        } else {
            self.groups.contains(&requested).then_some(requested)
        }
    }
    fn security_provider(&mut self, t: AuthType) -> Option<Box<dyn SecurityProvider>> {
        (t == AuthType(0xfe))
            .then(|| Box::new(Toy::acceptor(self.bad_user)) as Box<dyn SecurityProvider>)
    }
}

/// A toy mechanism: three legs, a 16-byte keyed checksum with per-direction sequence numbers
/// over the whole PDU, and XOR "sealing" of the data range. Not security, but it fails exactly
/// where a real mechanism would if the state machines signed or sealed the wrong bytes.
struct Toy {
    client: bool,
    legs: u8,
    established: bool,
    send_seq: u32,
    recv_seq: u32,
    reject: bool,
    /// Initiator: a fourth leg, like SPNEGO's mechListMIC (the third token expects an answer).
    four_legs: bool,
}

impl Toy {
    fn initiator() -> Self {
        Toy {
            client: true,
            legs: 0,
            established: false,
            send_seq: 0,
            recv_seq: 0,
            reject: false,
            four_legs: false,
        }
    }
    fn four_leg_initiator() -> Self {
        Toy {
            four_legs: true,
            ..Self::initiator()
        }
    }
    fn acceptor(reject: bool) -> Self {
        Toy {
            client: false,
            legs: 0,
            established: false,
            send_seq: 0,
            recv_seq: 0,
            reject,
            four_legs: false,
        }
    }
    fn mac(dir: u8, seq: u32, pdu: &[u8]) -> Vec<u8> {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(dir) ^ (u64::from(seq) << 8);
        for b in pdu {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let mut out = h.to_le_bytes().to_vec();
        out.extend_from_slice(&h.rotate_left(17).to_le_bytes());
        out
    }
    fn dir(&self, sending: bool) -> u8 {
        u8::from(self.client == sending)
    }
}

impl SecurityProvider for Toy {
    fn auth_type(&self) -> AuthType {
        AuthType(0xfe)
    }
    fn step(&mut self, input: Option<&[u8]>) -> Result<AuthStep, SecurityError> {
        self.legs += 1;
        match (self.client, self.legs, input) {
            (true, 1, None) => Ok(AuthStep::Continue(b"NEGOTIATE".to_vec())),
            (true, 2, Some(b"CHALLENGE")) if self.four_legs => {
                Ok(AuthStep::Continue(b"AUTHENTICATE+MIC".to_vec()))
            }
            (true, 2, Some(b"CHALLENGE")) => {
                self.established = true;
                Ok(AuthStep::Done(Some(b"AUTHENTICATE".to_vec())))
            }
            (true, 3, Some(b"COMPLETED+MIC")) if self.four_legs => {
                self.established = true;
                Ok(AuthStep::Done(None))
            }
            (false, 1, Some(b"NEGOTIATE")) => Ok(AuthStep::Continue(b"CHALLENGE".to_vec())),
            (false, 2, Some(b"AUTHENTICATE")) if !self.reject => {
                self.established = true;
                Ok(AuthStep::Done(None))
            }
            (false, 2, Some(b"AUTHENTICATE+MIC")) if !self.reject => {
                self.established = true;
                Ok(AuthStep::Done(Some(b"COMPLETED+MIC".to_vec())))
            }
            _ => Err(SecurityError::AuthenticationFailed(
                "toy: unexpected token".into(),
            )),
        }
    }
    fn is_established(&self) -> bool {
        self.established
    }
    fn peer_name(&self) -> Option<String> {
        (!self.client && self.established).then(|| "toy-user".to_string())
    }
    fn signature_len(&self) -> usize {
        16
    }
    fn sign(&mut self, pdu: &[u8], _data: Range<usize>) -> Result<Vec<u8>, SecurityError> {
        let s = Self::mac(self.dir(true), self.send_seq, pdu);
        self.send_seq += 1;
        Ok(s)
    }
    fn verify(&mut self, pdu: &[u8], _data: Range<usize>, sig: &[u8]) -> Result<(), SecurityError> {
        let want = Self::mac(self.dir(false), self.recv_seq, pdu);
        self.recv_seq += 1;
        if want == sig {
            Ok(())
        } else {
            Err(SecurityError::BadSignature)
        }
    }
    fn seal(&mut self, pdu: &mut [u8], data: Range<usize>) -> Result<Vec<u8>, SecurityError> {
        let sig = self.sign(pdu, data.clone())?;
        for b in &mut pdu[data] {
            *b ^= 0x5a;
        }
        Ok(sig)
    }
    fn unseal(
        &mut self,
        pdu: &mut [u8],
        data: Range<usize>,
        sig: &[u8],
    ) -> Result<(), SecurityError> {
        for b in &mut pdu[data.clone()] {
            *b ^= 0x5a;
        }
        self.verify(pdu, data, sig)
    }
}

struct Pair {
    client: ClientConnection,
    server: ServerConnection,
    env: Env,
    server_events: Vec<ServerEvent>,
    client_events: Vec<ClientEvent>,
    wire_to_server: Vec<Vec<u8>>,
    /// Frames the server sent.
    to_client: usize,
}

impl Pair {
    fn new(c: ClientConfig, s: ServerConfig) -> Self {
        Pair {
            client: ClientConnection::new(c),
            server: ServerConnection::new(s),
            env: Env::new(),
            server_events: Vec::new(),
            client_events: Vec::new(),
            wire_to_server: Vec::new(),
            to_client: 0,
        }
    }

    fn wire_to_client_len(&self) -> usize {
        self.to_client
    }

    /// An NDR20-only client (NDR64 negotiation has tests of its own).
    fn default() -> Self {
        Self::new(
            ClientConfig {
                offer_ndr64: false,
                ..ClientConfig::default()
            },
            ServerConfig::default(),
        )
    }

    /// Moves every queued fragment both ways; returns the new server events.
    fn drive(&mut self) -> Vec<ServerEvent> {
        let mut new = Vec::new();
        loop {
            let mut moved = false;
            while let Some(f) = self.client.poll_transmit() {
                moved = true;
                self.wire_to_server.push(f.clone());
                new.extend(self.server.receive(&f, &mut self.env));
            }
            while let Some(f) = self.server.poll_transmit() {
                moved = true;
                self.to_client += 1;
                self.client_events.extend(self.client.receive(&f).unwrap());
            }
            if !moved {
                break;
            }
        }
        self.server_events.extend(new.clone());
        new
    }

    fn calls(events: &[ServerEvent]) -> Vec<msrpc_proto::server::IncomingCall> {
        events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::Call(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn bind_negotiates_each_context_and_bind_time_features() {
    let mut p = Pair::default();
    p.client.bind(&[ECHO, EPM, UNKNOWN]).unwrap();
    let ev = p.drive();
    let ServerEvent::Bound {
        results,
        assoc_group_id,
        ..
    } = &ev[0]
    else {
        panic!("{ev:?}")
    };
    assert_eq!(*assoc_group_id, 0x5000);
    // three interfaces plus the bind-time feature negotiation context
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].result, ContextResult::ACCEPTANCE);
    assert_eq!(results[0].transfer_syntax, SyntaxId::NDR20);
    assert_eq!(results[1].result, ContextResult::ACCEPTANCE);
    assert_eq!(results[2].result, ContextResult::PROVIDER_REJECTION);
    assert_eq!(
        results[2].reason,
        ProviderReason::ABSTRACT_SYNTAX_NOT_SUPPORTED
    );
    assert_eq!(results[3].result, ContextResult::NEGOTIATE_ACK);
    assert_eq!(results[3].reason, ProviderReason(BindTimeFeatures::BOTH.0));
    assert!(p.client.context_for(&ECHO).is_some());
    assert!(p.client.context_for(&UNKNOWN).is_none());
    assert_eq!(p.client.features(), Some(BindTimeFeatures::BOTH));
    assert_eq!(p.client.assoc_group_id(), 0x5000);
}

fn raw_bind(contexts: Vec<ContextElement>, vers: (u8, u8), drep: DataRep) -> Vec<u8> {
    Pdu {
        header: Header {
            rpc_vers: vers.0,
            rpc_vers_minor: vers.1,
            ptype: PacketType::BIND,
            flags: PfcFlags::FIRST_AND_LAST,
            drep,
            frag_length: 0,
            auth_length: 0,
            call_id: 7,
        },
        body: Body::Bind(Bind {
            max_xmit_frag: 4280,
            max_recv_frag: 4280,
            assoc_group_id: 0,
            contexts,
        }),
        auth: None,
    }
    .encode()
    .unwrap()
}

fn first_reply(server: &mut ServerConnection) -> Pdu {
    Pdu::decode(&server.poll_transmit().expect("a reply")).unwrap()
}

#[test]
fn bind_refuses_unsupported_transfer_syntax_version_and_context_storms() {
    let mut env = Env::new();
    // NDR64 only: provider rejection, proposed transfer syntaxes not supported.
    let mut s = ServerConnection::new(ServerConfig::default());
    let ctx = ContextElement {
        context_id: 0,
        abstract_syntax: ECHO,
        transfer_syntaxes: vec![SyntaxId::NDR64],
    };
    s.receive(&raw_bind(vec![ctx], (5, 0), DataRep::BIG_ENDIAN), &mut env);
    let Body::BindAck(ack) = first_reply(&mut s).body else {
        panic!()
    };
    assert_eq!(ack.results[0].result, ContextResult::PROVIDER_REJECTION);
    assert_eq!(
        ack.results[0].reason,
        ProviderReason::PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED
    );

    // Protocol version 4: bind_nak.
    let mut s = ServerConnection::new(ServerConfig::default());
    let ctx = ContextElement {
        context_id: 0,
        abstract_syntax: ECHO,
        transfer_syntaxes: vec![SyntaxId::NDR20],
    };
    s.receive(
        &raw_bind(vec![ctx], (4, 0), DataRep::LITTLE_ENDIAN),
        &mut env,
    );
    let Body::BindNak(nak) = first_reply(&mut s).body else {
        panic!()
    };
    assert_eq!(nak.reason, BindNakReason::PROTOCOL_VERSION_NOT_SUPPORTED);

    // More contexts than the configured limit: bind_nak local limit exceeded. (A bind with
    // thousands of contexts does not fit in a fragment and is refused by the framer.)
    let mut s = ServerConnection::new(ServerConfig {
        max_contexts: 16,
        ..Default::default()
    });
    let many = (0..100u16)
        .map(|i| ContextElement {
            context_id: i,
            abstract_syntax: ECHO,
            transfer_syntaxes: vec![SyntaxId::NDR20],
        })
        .collect::<Vec<_>>();
    let ev = s.receive(&raw_bind(many, (5, 0), DataRep::LITTLE_ENDIAN), &mut env);
    let Body::BindNak(nak) = first_reply(&mut s).body else {
        panic!()
    };
    assert_eq!(nak.reason, BindNakReason::LOCAL_LIMIT_EXCEEDED);
    assert!(matches!(ev[0], ServerEvent::BindRejected { .. }));

    // Joining an association group that does not exist: bind_nak.
    let mut s = ServerConnection::new(ServerConfig::default());
    let mut b = Pdu::decode(&raw_bind(
        vec![ContextElement {
            context_id: 0,
            abstract_syntax: ECHO,
            transfer_syntaxes: vec![SyntaxId::NDR20],
        }],
        (5, 0),
        DataRep::LITTLE_ENDIAN,
    ))
    .unwrap();
    if let Body::Bind(bind) = &mut b.body {
        bind.assoc_group_id = 0xdead;
    }
    s.receive(&b.encode().unwrap(), &mut env);
    assert!(matches!(first_reply(&mut s).body, Body::BindNak(_)));
}

fn request_pdu(call_id: u32, context_id: u16, flags: PfcFlags, stub: Vec<u8>) -> Vec<u8> {
    Pdu {
        header: Header {
            rpc_vers: 5,
            rpc_vers_minor: 0,
            ptype: PacketType::REQUEST,
            flags,
            drep: DataRep::LITTLE_ENDIAN,
            frag_length: 0,
            auth_length: 0,
            call_id,
        },
        body: Body::Request(Request {
            alloc_hint: u32::try_from(stub.len()).unwrap(),
            context_id,
            opnum: 0,
            object: None,
            stub,
        }),
        auth: None,
    }
    .encode()
    .unwrap()
}

#[test]
fn request_before_bind_gets_proto_error_and_close() {
    let mut env = Env::new();
    let mut s = ServerConnection::new(ServerConfig::default());
    let ev = s.receive(
        &request_pdu(3, 0, PfcFlags::FIRST_AND_LAST, vec![1, 2, 3, 4]),
        &mut env,
    );
    assert!(matches!(
        ev[0],
        ServerEvent::Refused {
            status: FaultStatus::NCA_S_PROTO_ERROR,
            ..
        }
    ));
    let Body::Fault(f) = first_reply(&mut s).body else {
        panic!()
    };
    assert_eq!(f.status, FaultStatus::NCA_S_PROTO_ERROR);
    assert!(s.wants_close());
}

#[test]
fn unknown_context_and_call_id_reuse_are_refused() {
    let mut p = Pair::default();
    p.client.bind(&[ECHO]).unwrap();
    p.drive();
    let ev = p.server.receive(
        &request_pdu(9, 42, PfcFlags::FIRST_AND_LAST, vec![0; 4]),
        &mut p.env,
    );
    assert!(matches!(
        ev[0],
        ServerEvent::Refused {
            status: FaultStatus::NCA_S_UNK_IF,
            ..
        }
    ));
    assert!(!p.server.wants_close());
    let _ = p.server.poll_transmit();
    // A first fragment, then a second first fragment with the same call_id.
    let ev = p.server.receive(
        &request_pdu(10, 0, PfcFlags::FIRST_FRAG, vec![0; 8]),
        &mut p.env,
    );
    assert!(ev.is_empty());
    let ev = p.server.receive(
        &request_pdu(10, 0, PfcFlags::FIRST_FRAG, vec![0; 8]),
        &mut p.env,
    );
    assert!(matches!(
        ev[0],
        ServerEvent::Refused {
            reason: "call_id_reuse",
            ..
        }
    ));
    assert!(p.server.wants_close());
}

#[test]
fn middle_fragment_without_first_is_refused() {
    let mut p = Pair::default();
    p.client.bind(&[ECHO]).unwrap();
    p.drive();
    let ev = p.server.receive(
        &request_pdu(11, 0, PfcFlags::LAST_FRAG, vec![0; 8]),
        &mut p.env,
    );
    assert!(matches!(
        ev[0],
        ServerEvent::Refused {
            reason: "fragment_out_of_order",
            ..
        }
    ));
}

#[test]
fn large_stubs_fragment_and_reassemble_both_ways_in_both_byte_orders() {
    for drep in [DataRep::LITTLE_ENDIAN, DataRep::BIG_ENDIAN] {
        let mut p = Pair::new(
            ClientConfig {
                drep,
                max_xmit_frag: 1432,
                max_recv_frag: 1432,
                ..Default::default()
            },
            ServerConfig::default(),
        );
        p.client.bind(&[ECHO]).unwrap();
        p.drive();
        assert_eq!(p.client.max_xmit_frag(), 1432);
        let stub: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let id = p.client.request(&ECHO, 1, None, &stub).unwrap();
        let before = p.wire_to_server.len();
        let ev = p.drive();
        let frags = p.wire_to_server.len() - before;
        assert!(frags >= 14, "20000 bytes in 1432-byte fragments: {frags}");
        assert!(p.wire_to_server[before..].iter().all(|f| f.len() <= 1432));
        let calls = Pair::calls(&ev);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].stub, stub);
        assert_eq!(calls[0].drep, drep);
        assert_eq!(calls[0].fragments as usize, frags);
        let reply: Vec<u8> = stub
            .iter()
            .rev()
            .copied()
            .chain(stub.iter().copied())
            .collect();
        p.server.respond(id, Ok(reply.clone()));
        p.drive();
        let got = p.client_events.iter().find_map(|e| match e {
            ClientEvent::Response {
                call_id,
                stub,
                drep: d,
            } if *call_id == id => Some((stub.clone(), *d)),
            _ => None,
        });
        assert_eq!(got, Some((reply, drep)));
    }
}

#[test]
fn reassembly_cap_is_enforced_across_interleaved_calls() {
    let mut p = Pair::new(
        ClientConfig::default(),
        ServerConfig {
            max_stub: 10_000,
            ..Default::default()
        },
    );
    p.client.bind(&[ECHO]).unwrap();
    p.drive();
    // Two calls, each under the cap, interleaved: together they exceed it.
    let ev = p.server.receive(
        &request_pdu(20, 0, PfcFlags::FIRST_FRAG, vec![0; 4000]),
        &mut p.env,
    );
    assert!(ev.is_empty());
    let ev = p.server.receive(
        &request_pdu(21, 0, PfcFlags::FIRST_FRAG, vec![0; 4000]),
        &mut p.env,
    );
    assert!(ev.is_empty());
    let ev = p
        .server
        .receive(&request_pdu(20, 0, PfcFlags(0), vec![0; 4000]), &mut p.env);
    assert!(
        matches!(
            ev[0],
            ServerEvent::Refused {
                reason: "reassembly_over_cap",
                ..
            }
        ),
        "{ev:?}"
    );
    assert!(p.server.wants_close());
}

#[test]
fn several_outstanding_calls_answered_out_of_order() {
    let mut p = Pair::default();
    p.client.bind(&[ECHO, EPM]).unwrap();
    p.drive();
    let a = p.client.request(&ECHO, 0, None, &[1, 0, 0, 0]).unwrap();
    let b = p
        .client
        .request(&EPM, 2, Some(Uuid::from_u128(77)), &[2, 0, 0, 0])
        .unwrap();
    let ev = p.drive();
    let calls = Pair::calls(&ev);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].interface, EPM);
    assert_eq!(calls[1].object, Some(Uuid::from_u128(77)));
    assert_eq!(p.server.outstanding_calls(), 2);
    p.server.respond(b, Err(FaultStatus::NCA_S_OP_RNG_ERROR));
    p.server.respond(a, Ok(vec![9, 9, 9, 9]));
    p.drive();
    assert!(
        matches!(p.client_events[1], ClientEvent::Fault { call_id, status: FaultStatus::NCA_S_OP_RNG_ERROR, .. } if call_id == b)
    );
    assert!(
        matches!(&p.client_events[2], ClientEvent::Response { call_id, stub, .. } if *call_id == a && stub == &vec![9, 9, 9, 9])
    );
    assert_eq!(p.client.outstanding_calls(), 0);
}

#[test]
fn cancel_and_orphan() {
    let mut p = Pair::default();
    p.client.bind(&[ECHO]).unwrap();
    p.drive();
    let a = p.client.request(&ECHO, 6, None, &[5, 0, 0, 0]).unwrap();
    p.drive();
    p.client.cancel(a);
    let ev = p.drive();
    assert_eq!(ev, vec![ServerEvent::Cancel { call_id: a }]);
    p.client.orphan(a);
    let ev = p.drive();
    assert_eq!(ev, vec![ServerEvent::Orphaned { call_id: a }]);
    // The service finishes anyway: nothing is sent for an orphaned call.
    p.server.respond(a, Ok(vec![0; 4]));
    assert!(p.server.poll_transmit().is_none());
    assert_eq!(p.server.outstanding_calls(), 0);
}

#[test]
fn alter_context_adds_an_interface() {
    let mut p = Pair::default();
    p.client.bind(&[ECHO]).unwrap();
    p.drive();
    assert!(p.client.context_for(&EPM).is_none());
    p.client.bind(&[EPM]).unwrap();
    let ev = p.drive();
    assert!(matches!(
        ev[0],
        ServerEvent::Bound {
            kind: msrpc_proto::server::BindKind::AlterContext,
            ..
        }
    ));
    assert!(p.client.context_for(&EPM).is_some());
    let id = p.client.request(&EPM, 3, None, &[0; 16]).unwrap();
    let calls = Pair::calls(&p.drive());
    assert_eq!((calls[0].call_id, calls[0].interface), (id, EPM));
}

#[test]
fn second_bind_is_refused_and_closes() {
    let mut p = Pair::default();
    p.client.bind(&[ECHO]).unwrap();
    p.drive();
    let ctx = ContextElement {
        context_id: 5,
        abstract_syntax: EPM,
        transfer_syntaxes: vec![SyntaxId::NDR20],
    };
    let ev = p.server.receive(
        &raw_bind(vec![ctx], (5, 0), DataRep::LITTLE_ENDIAN),
        &mut p.env,
    );
    assert!(matches!(ev[0], ServerEvent::BindRejected { .. }));
    assert!(p.server.wants_close());
}

#[test]
fn malformed_frames_close_the_connection() {
    let mut env = Env::new();
    let mut s = ServerConnection::new(ServerConfig::default());
    // frag_length 8: below the 16-byte header.
    let ev = s.receive(
        &[5, 0, 11, 3, 0x10, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0],
        &mut env,
    );
    assert!(matches!(ev[0], ServerEvent::ProtocolError { .. }), "{ev:?}");
    assert!(s.wants_close());
    // frag_length beyond the negotiated maximum.
    let mut s = ServerConnection::new(ServerConfig::default());
    let ev = s.receive(
        &[5, 0, 11, 3, 0x10, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0],
        &mut env,
    );
    assert!(
        matches!(
            ev[0],
            ServerEvent::ProtocolError {
                reason: "frag_length_over_max",
                ..
            }
        ),
        "{ev:?}"
    );
}

fn auth_pair(level: AuthLevel, bad_user: bool) -> Pair {
    let mut p = Pair::default();
    p.env.bad_user = bad_user;
    p.client.set_auth(Box::new(Toy::initiator()), level, 79);
    p.client.bind(&[ECHO]).unwrap();
    p.drive();
    p
}

#[test]
fn authenticated_association_signs_and_seals() {
    for level in [AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
        let mut p = auth_pair(level, false);
        assert!(p.server_events.iter().any(|e| matches!(e, ServerEvent::Authenticated { user: Some(u), error: None, .. } if u == "toy-user")));
        let secret = b"a secret stub that must not travel in clear".to_vec();
        let id = p.client.request(&ECHO, 1, None, &secret).unwrap();
        let before = p.wire_to_server.len();
        let calls = Pair::calls(&p.drive());
        assert_eq!(calls.len(), 1, "{:?}", p.server_events);
        // Verification trailer stripped; the alignment padding before it stays.
        assert!(calls[0].stub.starts_with(&secret) && calls[0].stub.len() - secret.len() < 4);
        assert_eq!(calls[0].auth.as_ref().unwrap().level, level);
        let wire = &p.wire_to_server[before];
        let in_clear = wire.windows(secret.len()).any(|w| w == secret.as_slice());
        assert_eq!(in_clear, level != AuthLevel::PKT_PRIVACY);
        p.server.respond(id, Ok(b"reply".to_vec()));
        p.drive();
        assert!(p
            .client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::Response { stub, .. } if stub == b"reply")));
    }
}

#[test]
fn tampered_or_replayed_protected_pdus_are_refused() {
    for level in [AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
        // Tampered stub byte.
        let mut p = auth_pair(level, false);
        p.client.request(&ECHO, 1, None, &[7; 32]).unwrap();
        let mut f = p.client.poll_transmit().unwrap();
        f[30] ^= 1;
        let ev = p.server.receive(&f, &mut p.env);
        assert!(
            matches!(
                ev[0],
                ServerEvent::Refused {
                    status: FaultStatus::RPC_S_SEC_PKG_ERROR,
                    ..
                }
            ),
            "{ev:?}"
        );
        assert!(p.server.wants_close());

        // Replay of a good PDU: the sequence number no longer matches.
        let mut p = auth_pair(level, false);
        p.client.request(&ECHO, 1, None, &[7; 32]).unwrap();
        let f = p.client.poll_transmit().unwrap();
        let ev = p.server.receive(&f, &mut p.env);
        assert!(matches!(ev[0], ServerEvent::Call(_)));
        // The identical bytes again: refused by the sequence number inside the signature,
        // before call_id reuse is even looked at.
        let ev = p.server.receive(&f, &mut p.env);
        assert!(
            matches!(
                ev[0],
                ServerEvent::Refused {
                    status: FaultStatus::RPC_S_SEC_PKG_ERROR,
                    reason: "bad_signature" | "bad_seal",
                    ..
                }
            ),
            "{ev:?}"
        );
    }
}

#[test]
fn unauthenticated_request_on_protected_association_and_failed_auth3() {
    let mut p = auth_pair(AuthLevel::PKT_PRIVACY, false);
    let ev = p.server.receive(
        &request_pdu(50, 0, PfcFlags::FIRST_AND_LAST, vec![0; 8]),
        &mut p.env,
    );
    assert!(
        matches!(
            ev[0],
            ServerEvent::Refused {
                reason: "auth_verifier_missing",
                ..
            }
        ),
        "{ev:?}"
    );

    // The acceptor refuses the AUTHENTICATE leg: no reply to auth3 (like Samba), then the next
    // request is refused with access denied.
    let mut p = auth_pair(AuthLevel::PKT_INTEGRITY, true);
    assert!(p
        .server_events
        .iter()
        .any(|e| matches!(e, ServerEvent::Authenticated { error: Some(_), .. })));
    let ev = p.server.receive(
        &request_pdu(51, 0, PfcFlags::FIRST_AND_LAST, vec![0; 8]),
        &mut p.env,
    );
    assert!(
        matches!(
            ev[0],
            ServerEvent::Refused {
                status: FaultStatus::ACCESS_DENIED,
                ..
            }
        ),
        "{ev:?}"
    );
}

/// A provider that continues after the bind_ack (SPNEGO with mechListMIC): the client sends
/// its third token in an alter_context, not an auth3, and reports the bind only once the
/// alter_context_resp brought the acceptor's final token; a refused leg is reported as a fault
/// of the bind.
#[test]
fn four_leg_auth_continues_in_alter_context() {
    for level in [AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
        let mut p = Pair::default();
        p.client
            .set_auth(Box::new(Toy::four_leg_initiator()), level, 79);
        let bind_id = p.client.bind(&[ECHO]).unwrap();
        p.drive();
        let types: Vec<u8> = p.wire_to_server.iter().map(|f| f[2]).collect();
        assert_eq!(types, vec![11, 14], "bind then alter_context, no auth3");
        let bound: Vec<u32> = p
            .client_events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Bound {
                    call_id, results, ..
                } => {
                    assert_eq!(results.len(), 1);
                    assert_eq!(results[0].1.result, ContextResult::ACCEPTANCE);
                    Some(*call_id)
                }
                _ => None,
            })
            .collect();
        assert_eq!(bound, vec![bind_id], "one Bound, for the bind");
        assert!(p.server_events.iter().any(|e| matches!(e, ServerEvent::Authenticated { user: Some(u), error: None, .. } if u == "toy-user")));
        let id = p.client.request(&ECHO, 1, None, b"four legs").unwrap();
        let calls = Pair::calls(&p.drive());
        assert_eq!(calls.len(), 1, "{:?}", p.server_events);
        // The verification trailer is stripped; the client's alignment padding before it stays.
        assert!(
            calls[0].stub.starts_with(b"four legs"),
            "{:?}",
            calls[0].stub
        );
        assert!(calls[0].stub[9..].iter().all(|&b| b == 0) && calls[0].stub.len() < 13);
        p.server.respond(id, Ok(b"ok".to_vec()));
        p.drive();
        assert!(p
            .client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::Response { stub, .. } if stub == b"ok")));
    }
    // The acceptor refuses the third leg: the alter_context is faulted, reported for the bind.
    let mut p = Pair::default();
    p.env.bad_user = true;
    p.client.set_auth(
        Box::new(Toy::four_leg_initiator()),
        AuthLevel::PKT_PRIVACY,
        79,
    );
    let bind_id = p.client.bind(&[ECHO]).unwrap();
    p.drive();
    assert!(!p
        .client_events
        .iter()
        .any(|e| matches!(e, ClientEvent::Bound { .. })));
    assert!(p.client_events.iter().any(|e| matches!(e, ClientEvent::Fault { call_id, status, .. } if *call_id == bind_id && *status == FaultStatus::ACCESS_DENIED)), "{:?}", p.client_events);
}

/// The verification trailer's magic (MS-RPCE 2.2.2.13.1).
const VT_MAGIC: [u8; 8] = [0x8a, 0xe3, 0x13, 0x71, 0x02, 0xf4, 0x36, 0x71];

fn be16(f: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([f[at], f[at + 1]]))
}

/// A big-endian association at every level: the client's requests and the server's responses
/// are big-endian (header, stub, sec_trailer's auth_context_id), signed and sealed where the
/// level asks, several fragments each way; the verification trailer inside a big-endian
/// request is little-endian, as Samba's client and server (and Wireshark) have it.
#[test]
fn big_endian_association_at_every_level() {
    for level in [
        AuthLevel::CONNECT,
        AuthLevel::CALL,
        AuthLevel::PKT,
        AuthLevel::PKT_INTEGRITY,
        AuthLevel::PKT_PRIVACY,
    ] {
        let config = ClientConfig {
            drep: DataRep::BIG_ENDIAN,
            ..ClientConfig::default()
        };
        let mut p = Pair::new(config, ServerConfig::default());
        p.client.set_auth(Box::new(Toy::initiator()), level, 79);
        p.client.bind(&[ECHO]).unwrap();
        p.drive();
        let on_wire = if level == AuthLevel::CALL {
            AuthLevel::PKT
        } else {
            level
        };
        let signs = on_wire != AuthLevel::CONNECT;
        let stub: Vec<u8> = (0..9000u32).map(|i| (i % 251) as u8).collect();
        let before = p.wire_to_server.len();
        let id = p.client.request(&ECHO, 1, None, &stub).unwrap();
        let calls = Pair::calls(&p.drive());
        assert_eq!(calls.len(), 1, "{level:?}: {:?}", p.server_events);
        let call = &calls[0];
        assert_eq!(call.drep, DataRep::BIG_ENDIAN);
        assert_eq!(call.fragments, 2, "{level:?}");
        assert!(call.stub.starts_with(&stub) && call.stub.len() - stub.len() < 4);
        assert_eq!(call.auth.as_ref().unwrap().level, on_wire);
        let frames = &p.wire_to_server[before..];
        assert_eq!(frames.len(), 2);
        for f in frames {
            assert_eq!(f[4], 0x00, "big-endian drep");
            assert_eq!(be16(f, 8), f.len(), "frag_length, big-endian");
            let auth_len = be16(f, 10);
            assert_eq!(auth_len, if signs { 16 } else { 0 }, "{level:?}");
            if signs {
                let ctx = f.len() - auth_len - 4;
                assert_eq!(u32::from_be_bytes(f[ctx..ctx + 4].try_into().unwrap()), 79);
                assert_eq!(f[ctx - 3], on_wire.0, "sec_trailer auth_level");
            }
        }
        let last = &frames[1];
        let magic = last.windows(8).position(|w| w == VT_MAGIC);
        match on_wire {
            AuthLevel::PKT | AuthLevel::PKT_INTEGRITY => {
                // BITMASK_1 (header signing was asked), then PCONTEXT and HEADER2 (the toy does
                // not sign the header): little-endian words in a big-endian PDU.
                let vt = &last[magic.expect("a trailer in the last fragment") + 8..];
                assert_eq!(vt[..8], [0x01, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00]);
                assert_eq!(
                    vt[8..12],
                    [0x02, 0x80, 0x28, 0x00],
                    "PCONTEXT, MUST_PROCESS"
                );
                // rpcecho's UUID with time_low first and little-endian.
                assert_eq!(vt[12..16], [0xc5, 0x5e, 0xa1, 0x60]);
                let h2 = &vt[52..];
                assert_eq!(
                    h2[..4],
                    [0x03, 0xc0, 0x10, 0x00],
                    "HEADER2, END, MUST_PROCESS"
                );
                assert_eq!(
                    h2[8..12],
                    [0, 0, 0, 0],
                    "HEADER2 repeats the big-endian drep"
                );
                let call_id = u32::from_be_bytes(last[12..16].try_into().unwrap());
                assert_eq!(h2[12..16], call_id.to_le_bytes(), "call_id, little-endian");
            }
            // Sealed (the toy's XOR hides the magic) or not signed at all (no trailer).
            _ => assert_eq!(magic, None, "{level:?}"),
        }
        let reply: Vec<u8> = (0..7000u32).map(|i| (i % 13) as u8).collect();
        let before = p.wire_to_client_len();
        p.server.respond(id, Ok(reply.clone()));
        p.drive();
        assert!(p.client_events.iter().any(
            |e| matches!(e, ClientEvent::Response { stub, drep, .. } if *stub == reply && *drep == DataRep::BIG_ENDIAN)
        ), "{level:?}: {:?}", p.client_events);
        assert_eq!(p.wire_to_client_len() - before, 2, "two response fragments");
    }
}

/// A request as Samba's client sends it with `[bigendian,sign]` / `[bigendian,seal]`: a
/// big-endian PDU and stub (AddOne(41)) followed by a little-endian verification trailer
/// (BITMASK_1, PCONTEXT | END). The server finds it, checks it against the presentation
/// context and strips it; one naming another interface is refused as a mismatch (so it was
/// read, not skipped).
#[test]
fn big_endian_request_with_a_little_endian_trailer_like_samba() {
    fn samba_stub(uuid: [u8; 16]) -> Vec<u8> {
        let mut s = vec![0x00, 0x00, 0x00, 0x29]; // in_data = 41, big-endian
        s.extend_from_slice(&VT_MAGIC);
        s.extend_from_slice(&[0x01, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00]); // BITMASK_1
        s.extend_from_slice(&[0x02, 0x40, 0x28, 0x00]); // PCONTEXT | END, length 40
        s.extend_from_slice(&uuid); // the interface, NDR (little-endian fields)
        s.extend_from_slice(&[0x01, 0x00, 0x00, 0x00]); // version 1.0
        s.extend_from_slice(&[
            0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, // NDR20
            0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 0x02, 0x00, 0x00, 0x00,
        ]);
        s
    }
    let echo = ECHO.uuid.to_bytes_le();
    let epm = EPM.uuid.to_bytes_le();
    let omit = RequestOptions {
        trailer: TrailerMode::Omit,
        ..RequestOptions::default()
    };
    for level in [AuthLevel::PKT_INTEGRITY, AuthLevel::PKT_PRIVACY] {
        let config = ClientConfig {
            drep: DataRep::BIG_ENDIAN,
            ..ClientConfig::default()
        };
        let mut p = Pair::new(config, ServerConfig::default());
        p.client.set_auth(Box::new(Toy::initiator()), level, 1);
        p.client.bind(&[ECHO]).unwrap();
        p.drive();
        p.client
            .request_with(&ECHO, 0, None, &samba_stub(echo), &omit)
            .unwrap();
        let ev = p.drive();
        let calls = Pair::calls(&ev);
        assert_eq!(calls.len(), 1, "{level:?}: {ev:?}");
        assert_eq!(calls[0].stub, [0x00, 0x00, 0x00, 0x29], "trailer stripped");
        p.client
            .request_with(&ECHO, 0, None, &samba_stub(epm), &omit)
            .unwrap();
        let ev = p.drive();
        assert!(
            ev.iter().any(|e| matches!(
                e,
                ServerEvent::Refused {
                    status: FaultStatus::ACCESS_DENIED,
                    reason: "vt_mismatch",
                    ..
                }
            )),
            "{level:?}: {ev:?}"
        );
    }
}

#[test]
fn suspicious_alloc_hints_are_reported_once_per_call_and_not_refused() {
    let mut p = Pair::default();
    p.client.bind(&[ECHO]).unwrap();
    p.drive();
    let hinted = |call_id: u32, flags: PfcFlags, alloc_hint: u32| {
        let mut b = request_pdu(call_id, 0, flags, vec![7; 64]);
        b[16..20].copy_from_slice(&alloc_hint.to_le_bytes());
        b
    };
    let mut ev = Vec::new();
    for frag in [
        hinted(40, PfcFlags::FIRST_FRAG, 64),
        hinted(40, PfcFlags(0), u32::MAX - 10),
        hinted(40, PfcFlags::LAST_FRAG, u32::MAX - 10),
        hinted(41, PfcFlags::FIRST_AND_LAST, 0x8000_0000),
    ] {
        ev.extend(p.server.receive(&frag, &mut p.env));
    }
    let anomalies: Vec<(u32, &str)> = ev
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Anomaly {
                call_id, reason, ..
            } => Some((*call_id, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        anomalies,
        [(40, "alloc_hint_overflow"), (41, "alloc_hint_over_cap")]
    );
    let calls: Vec<(u32, usize)> = ev
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Call(c) => Some((c.call_id, c.stub.len())),
            _ => None,
        })
        .collect();
    assert_eq!(calls, [(40, 192), (41, 64)], "both calls still dispatched");
}

/// MS-RPCE 2.2.5 negotiation: our client offers NDR20 and NDR64 in two contexts (then the
/// bind-time feature context), as 64-bit Windows clients do; the server accepts one of them
/// by its preference and refuses the other as Windows does
/// (`proposed_transfer_syntaxes_not_supported`); interfaces without NDR64 accept NDR20; calls
/// name the accepted context and arrive in its syntax.
#[test]
fn ndr64_negotiation_follows_the_preference() {
    use msrpc_ndr::TransferSyntax;
    use msrpc_proto::server::TransferPreference;
    for (pref, want) in [
        (TransferPreference::Ndr64, TransferSyntax::Ndr64),
        (TransferPreference::Ndr20, TransferSyntax::Ndr20),
    ] {
        let mut p = Pair::new(
            ClientConfig::default(),
            ServerConfig {
                transfer_preference: pref,
                ..ServerConfig::default()
            },
        );
        p.env.ndr64 = vec![ECHO];
        p.client.bind(&[ECHO, EPM]).unwrap();
        let ev = p.drive();
        let ServerEvent::Bound {
            offered, results, ..
        } = &ev[0]
        else {
            panic!("{ev:?}")
        };
        // ECHO/NDR20, ECHO/NDR64, EPM/NDR20, EPM/NDR64, bind-time features
        let offered: Vec<(u16, SyntaxId)> = offered
            .iter()
            .map(|c| (c.context_id, c.transfer_syntaxes[0]))
            .collect();
        assert_eq!(
            &offered[..4],
            &[
                (0, SyntaxId::NDR20),
                (1, SyntaxId::NDR64),
                (2, SyntaxId::NDR20),
                (3, SyntaxId::NDR64)
            ]
        );
        assert_eq!(results.len(), 5);
        let (won, lost) = if want == TransferSyntax::Ndr64 {
            (1, 0)
        } else {
            (0, 1)
        };
        assert_eq!(results[won].result, ContextResult::ACCEPTANCE);
        assert_eq!(results[won].transfer_syntax, SyntaxId::for_ndr(want));
        assert_eq!(results[lost].result, ContextResult::PROVIDER_REJECTION);
        assert_eq!(
            results[lost].reason,
            ProviderReason::PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED
        );
        // the EPM here has no NDR64: its NDR20 context wins whatever the preference
        assert_eq!(results[2].result, ContextResult::ACCEPTANCE);
        assert_eq!(results[3].result, ContextResult::PROVIDER_REJECTION);
        assert_eq!(results[4].result, ContextResult::NEGOTIATE_ACK);
        assert_eq!(p.client.transfer_for(&ECHO), Some(want));
        assert_eq!(p.client.context_for(&ECHO), Some(won as u16));
        assert_eq!(p.client.transfer_for(&EPM), Some(TransferSyntax::Ndr20));

        p.client.request(&ECHO, 0, None, &[1, 0, 0, 0]).unwrap();
        let calls = Pair::calls(&p.drive());
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].context_id, won as u16);
        assert_eq!(calls[0].transfer_syntax, want);
    }
}

/// Both syntaxes in one context: the preferred one is accepted; NDR64 alone for an interface
/// without it is refused.
#[test]
fn ndr64_in_one_context_and_refused_without_support() {
    use msrpc_proto::server::TransferPreference;
    for (pref, want) in [
        (TransferPreference::Ndr64, SyntaxId::NDR64),
        (TransferPreference::Ndr20, SyntaxId::NDR20),
    ] {
        let mut s = ServerConnection::new(ServerConfig {
            transfer_preference: pref,
            ..ServerConfig::default()
        });
        let mut env = Env::new();
        env.ndr64 = vec![ECHO];
        let bind = Pdu {
            header: Header {
                rpc_vers: 5,
                rpc_vers_minor: 0,
                ptype: PacketType::BIND,
                flags: PfcFlags::FIRST_AND_LAST,
                drep: DataRep::LITTLE_ENDIAN,
                frag_length: 0,
                auth_length: 0,
                call_id: 1,
            },
            body: Body::Bind(Bind {
                max_xmit_frag: 5840,
                max_recv_frag: 5840,
                assoc_group_id: 0,
                contexts: vec![
                    ContextElement {
                        context_id: 0,
                        abstract_syntax: ECHO,
                        transfer_syntaxes: vec![SyntaxId::NDR20, SyntaxId::NDR64],
                    },
                    ContextElement {
                        context_id: 1,
                        abstract_syntax: EPM,
                        transfer_syntaxes: vec![SyntaxId::NDR64],
                    },
                ],
            }),
            auth: None,
        };
        let ev = s.receive(&bind.encode().unwrap(), &mut env);
        let ServerEvent::Bound { results, .. } = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(results[0].result, ContextResult::ACCEPTANCE);
        assert_eq!(results[0].transfer_syntax, want);
        assert_eq!(results[1].result, ContextResult::PROVIDER_REJECTION);
        assert_eq!(
            results[1].reason,
            ProviderReason::PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED
        );
    }
}
