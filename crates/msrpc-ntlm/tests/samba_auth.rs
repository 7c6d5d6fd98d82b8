//! Interop with Samba's samba-dcerpcd (on 127.0.0.102:135) for the auth core, driving the
//! sans-IO `ClientConnection` over a plain TCP socket so every PDU is ours to shape:
//! - the levels CONNECT, CALL (sent as PKT), PKT, PKT_INTEGRITY and PKT_PRIVACY: mgmt
//!   `inq_if_ids` answered, Samba's response signatures verified by our client;
//! - header signing: asked in our bind, echoed in Samba's bind_ack (and not when not asked);
//! - the verification trailer: ours accepted; a wrong HEADER2, a wrong PCONTEXT, a false
//!   header-signing claim and an unknown MUST_PROCESS command refused with access denied,
//!   the connection still serving afterwards;
//! - two users on one connection (a second auth context by alter_context), each request
//!   answered under its own context.
//!
//! Needs Samba (`/usr/libexec/samba/samba-dcerpcd`, `pdbedit`) and root; fails loudly when
//! they are missing. Samba is always stopped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{unix_user, Samba, DOMAIN, EPM_UUID_LE, MGMT, PASSWORD};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use msrpc_ndr::DataRep;
use msrpc_ntlm::NtlmClient;
use msrpc_proto::client::{
    ClientConfig, ClientConnection, ClientError, ClientEvent, RequestOptions, TrailerMode,
};
use msrpc_proto::pdu::{AuthLevel, FaultStatus, PacketType, SyntaxId};
use msrpc_proto::security::SecurityProvider;
use msrpc_proto::verification::{Command as VtCommand, Header2, VerificationTrailer};

const ADDR: &str = "127.0.0.102";
const PASSWORD2: &str = "Msrpc-test-pw2";

/// One TCP connection driven by our sans-IO client, recording every frame Samba sent.
struct Conn {
    c: ClientConnection,
    s: TcpStream,
    received: Vec<Vec<u8>>,
}

impl Conn {
    fn open(config: ClientConfig, provider: Box<dyn SecurityProvider>, level: AuthLevel) -> Conn {
        let s = TcpStream::connect((ADDR, 135)).unwrap_or_else(|e| panic!("connect {ADDR}: {e}"));
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut c = ClientConnection::new(config);
        c.set_auth(provider, level, 1);
        let mut conn = Conn {
            c,
            s,
            received: Vec::new(),
        };
        let id = conn.c.bind(&[MGMT]).unwrap();
        let ev = conn.until(id).unwrap();
        assert!(
            matches!(ev, ClientEvent::Bound { .. }),
            "bind at {level:?}: {ev:?}"
        );
        // The auth3 leg (NTLM): Samba does not answer it.
        conn.flush();
        assert!(conn.c.auth_established(1));
        conn
    }

    fn flush(&mut self) {
        while let Some(f) = self.c.poll_transmit() {
            self.s.write_all(&f).unwrap();
        }
    }

    /// Sends what is queued, then reads until the event for `call_id` (bounded by the read
    /// timeout and a frame count).
    fn until(&mut self, call_id: u32) -> Result<ClientEvent, ClientError> {
        self.flush();
        for _ in 0..256 {
            let mut head = [0u8; 16];
            self.s
                .read_exact(&mut head)
                .map_err(|e| ClientError::Protocol {
                    reason: "read",
                    detail: e.to_string(),
                })?;
            let len = usize::from(u16::from_le_bytes([head[8], head[9]]));
            let mut frame = head.to_vec();
            frame.resize(len.max(16), 0);
            self.s.read_exact(&mut frame[16..]).unwrap();
            self.received.push(frame.clone());
            for ev in self.c.receive(&frame)? {
                let id = match &ev {
                    ClientEvent::Bound { call_id, .. }
                    | ClientEvent::BindNak { call_id, .. }
                    | ClientEvent::Response { call_id, .. }
                    | ClientEvent::Fault { call_id, .. } => *call_id,
                    ClientEvent::Shutdown => return Ok(ev),
                };
                if id == call_id {
                    return Ok(ev);
                }
            }
        }
        panic!("no answer to call {call_id}");
    }

    fn inq_if_ids(&mut self, opts: &RequestOptions) -> Result<ClientEvent, ClientError> {
        let id = self.c.request_with(&MGMT, 0, None, &[], opts).unwrap();
        self.until(id)
    }
}

fn ntlm(user: &str, password: &str) -> Box<dyn SecurityProvider> {
    Box::new(NtlmClient::new(user, DOMAIN, password))
}

fn assert_if_ids(ev: &ClientEvent, what: &str) {
    let ClientEvent::Response { stub, .. } = ev else {
        panic!("{what}: {ev:?}");
    };
    let status = u32::from_le_bytes(stub[stub.len() - 4..].try_into().unwrap());
    assert_eq!(status, 0, "{what}");
    assert!(
        stub.windows(16).any(|w| w == EPM_UUID_LE),
        "{what}: {stub:02x?}"
    );
}

fn header2(call_id: u32, context_id: u16, opnum: u16) -> Header2 {
    Header2 {
        ptype: PacketType::REQUEST,
        drep: DataRep::LITTLE_ENDIAN.0,
        call_id,
        context_id,
        opnum,
    }
}

/// Builds a verification trailer for a call_id.
type MakeVt = Box<dyn Fn(u32) -> VerificationTrailer>;

#[test]
fn samba_and_the_auth_core() {
    let samba = Samba::start(ADDR);
    let user = unix_user();
    samba.add_user(&user, PASSWORD);
    samba.add_user("bin", PASSWORD2);

    // Levels.
    for level in [
        AuthLevel::CONNECT,
        AuthLevel::CALL,
        AuthLevel::PKT,
        AuthLevel::PKT_INTEGRITY,
        AuthLevel::PKT_PRIVACY,
    ] {
        let mut conn = Conn::open(ClientConfig::default(), ntlm(&user, PASSWORD), level);
        for round in 0..2 {
            let ev = conn
                .inq_if_ids(&RequestOptions::default())
                .unwrap_or_else(|e| panic!("{level:?} round {round}: {e}\n{}", samba.logs()));
            if level == AuthLevel::CONNECT {
                // Samba 4.x answers mgmt at CONNECT with fault 1 (Impacket gets the same):
                // the association is authenticated, the call is refused by its policy.
                assert!(
                    matches!(
                        ev,
                        ClientEvent::Fault {
                            status: FaultStatus::FAULT_OTHER,
                            ..
                        }
                    ) || matches!(ev, ClientEvent::Response { .. }),
                    "{ev:?}"
                );
                eprintln!("Samba at CONNECT: {ev:?}");
                continue;
            }
            assert_if_ids(&ev, &format!("{level:?}"));
        }
        let last = conn.received.last().unwrap();
        let auth_len = u16::from_le_bytes([last[10], last[11]]);
        if level == AuthLevel::CONNECT {
            assert_eq!(auth_len, 0, "Samba sends no verifier at CONNECT");
        } else {
            assert_eq!(auth_len, 16, "{level:?}: Samba signs");
            let t = last.len() - 16 - 8;
            let on_wire = if level == AuthLevel::CALL {
                AuthLevel::PKT
            } else {
                level
            };
            assert_eq!(last[t + 1], on_wire.0);
        }
        eprintln!("Samba answered at {level:?}");
    }

    // Header signing: asked -> echoed; not asked -> not echoed.
    for asked in [true, false] {
        let config = ClientConfig {
            header_signing: asked,
            ..ClientConfig::default()
        };
        let mut conn = Conn::open(config, ntlm(&user, PASSWORD), AuthLevel::PKT_INTEGRITY);
        let ack = &conn.received[0];
        assert_eq!(ack[2], PacketType::BIND_ACK.0);
        assert_eq!(
            ack[3] & 0x04 != 0,
            asked,
            "PFC_SUPPORT_HEADER_SIGN in bind_ack"
        );
        let ev = conn.inq_if_ids(&RequestOptions::default()).unwrap();
        assert_if_ids(&ev, "after header signing negotiation");
    }

    // Verification trailer: without one and with ours Samba answers; wrong ones are refused
    // with access denied and the connection keeps serving.
    let mut conn = Conn::open(
        ClientConfig::default(),
        ntlm(&user, PASSWORD),
        AuthLevel::PKT_PRIVACY,
    );
    let omit = RequestOptions {
        trailer: TrailerMode::Omit,
        ..RequestOptions::default()
    };
    assert_if_ids(&conn.inq_if_ids(&omit).unwrap(), "no trailer");
    assert_if_ids(
        &conn.inq_if_ids(&RequestOptions::default()).unwrap(),
        "our trailer",
    );
    let wrong: Vec<(&str, MakeVt)> = vec![
        (
            "header2 opnum",
            Box::new(|id| {
                VerificationTrailer::for_request(header2(id, 0, 5), MGMT, SyntaxId::NDR20, true)
            }),
        ),
        (
            "header2 call_id",
            Box::new(|id| {
                VerificationTrailer::for_request(header2(id + 1, 0, 0), MGMT, SyntaxId::NDR20, true)
            }),
        ),
        (
            "pcontext interface",
            Box::new(|id| {
                VerificationTrailer::for_request(
                    header2(id, 0, 0),
                    SyntaxId::NDR20,
                    SyntaxId::NDR20,
                    true,
                )
            }),
        ),
        (
            "unknown must-process command",
            Box::new(|id| {
                let mut vt = VerificationTrailer::for_request(
                    header2(id, 0, 0),
                    MGMT,
                    SyntaxId::NDR20,
                    true,
                );
                vt.commands
                    .insert(0, (VtCommand::Unknown(0x0155, vec![0; 8]), true));
                vt
            }),
        ),
    ];
    for (what, make) in &wrong {
        // The next call_id is predictable: the client counts up by one per call.
        let next = conn.c.request_with(&MGMT, 0, None, &[], &omit).unwrap() + 1;
        let ev = conn.until(next - 1).unwrap();
        assert_if_ids(&ev, "between wrong trailers");
        let opts = RequestOptions {
            trailer: TrailerMode::Custom(make(next)),
            ..RequestOptions::default()
        };
        let ev = conn.inq_if_ids(&opts).unwrap();
        assert!(
            matches!(
                ev,
                ClientEvent::Fault {
                    status: FaultStatus::ACCESS_DENIED,
                    ..
                }
            ),
            "{what}: {ev:?}"
        );
        eprintln!("Samba refused a wrong verification trailer ({what}): {ev:?}");
    }
    assert_if_ids(
        &conn.inq_if_ids(&RequestOptions::default()).unwrap(),
        "still serving",
    );
    // A false header-signing claim on a connection that did not ask for it.
    let config = ClientConfig {
        header_signing: false,
        ..ClientConfig::default()
    };
    let mut conn = Conn::open(config, ntlm(&user, PASSWORD), AuthLevel::PKT_INTEGRITY);
    let next = 2;
    let opts = RequestOptions {
        trailer: TrailerMode::Custom(VerificationTrailer::for_request(
            header2(next, 0, 0),
            MGMT,
            SyntaxId::NDR20,
            true,
        )),
        ..RequestOptions::default()
    };
    let ev = conn.inq_if_ids(&opts).unwrap();
    assert!(
        matches!(
            ev,
            ClientEvent::Fault {
                status: FaultStatus::ACCESS_DENIED,
                ..
            }
        ),
        "false header-signing claim: {ev:?}"
    );

    // Two users on one connection.
    let mut conn = Conn::open(
        ClientConfig::default(),
        ntlm(&user, PASSWORD),
        AuthLevel::PKT_INTEGRITY,
    );
    let id = conn
        .c
        .add_auth_context(ntlm("bin", PASSWORD2), AuthLevel::PKT_INTEGRITY, 2)
        .unwrap();
    let ev = conn
        .until(id)
        .unwrap_or_else(|e| panic!("alter_context: {e}\n{}", samba.logs()));
    assert!(matches!(ev, ClientEvent::Bound { .. }), "{ev:?}");
    conn.flush();
    assert!(conn.c.auth_established(2));
    for ctx in [2u32, 1, 2] {
        let opts = RequestOptions {
            auth_context_id: Some(ctx),
            ..RequestOptions::default()
        };
        let ev = conn
            .inq_if_ids(&opts)
            .unwrap_or_else(|e| panic!("request under auth context {ctx}: {e}\n{}", samba.logs()));
        assert_if_ids(&ev, &format!("auth context {ctx}"));
        let last = conn.received.last().unwrap();
        let t = last.len() - 16 - 8;
        assert_eq!(
            u32::from_le_bytes(last[t + 4..t + 8].try_into().unwrap()),
            ctx,
            "Samba answered under the request's context"
        );
    }
}
