//! tshark dissects the authenticated traffic of the auth core without a malformed packet: NTLM
//! binds with header signing, auth3, alter_context starting a second security context, and
//! requests/responses at CONNECT (no verifier, no header signing asked), PKT, PKT_INTEGRITY and
//! PKT_PRIVACY, in little- and big-endian PDUs, with our verification trailer (little-endian in
//! both), which tshark finds and decodes with the END and MUST_PROCESS bits where we put them.
//! Fails loudly when tshark is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::process::Command;
use std::sync::Arc;

use msrpc_ndr::{DataRep, Uuid};
use msrpc_ntlm::{MemoryUserStore, NtlmAcceptor, NtlmClient};
use msrpc_proto::client::{ClientConfig, ClientConnection, RequestOptions};
use msrpc_proto::pdu::{AuthLevel, AuthType, SyntaxId};
use msrpc_proto::security::SecurityProvider;
use msrpc_proto::server::{ServerConfig, ServerConnection, ServerEnv, ServerEvent};
use msrpc_tests::pcap;

const ECHO: SyntaxId = SyntaxId::new(
    Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
    1,
    0,
);

struct Env(Arc<MemoryUserStore>);

impl ServerEnv for Env {
    fn lookup_interface(&self, a: &SyntaxId) -> Option<SyntaxId> {
        (a.uuid == ECHO.uuid).then_some(ECHO)
    }
    fn assoc_group(&mut self, _: u32) -> Option<u32> {
        Some(0x55)
    }
    fn security_provider(&mut self, t: AuthType) -> Option<Box<dyn SecurityProvider>> {
        (t == AuthType::WINNT).then(|| {
            Box::new(NtlmAcceptor::new(self.0.clone()).with_names("SERVER", "TESTDOM"))
                as Box<dyn SecurityProvider>
        })
    }
}

/// Drives both sides until quiet, answering every call with a 40-byte reply.
fn pump(
    c: &mut ClientConnection,
    s: &mut ServerConnection,
    env: &mut Env,
    wire: &mut Vec<pcap::Segment>,
) {
    for _ in 0..64 {
        let mut moved = false;
        while let Some(f) = c.poll_transmit() {
            moved = true;
            wire.push(pcap::Segment {
                to_server: true,
                data: f.clone(),
            });
            for ev in s.receive(&f, env) {
                if let ServerEvent::Call(call) = ev {
                    s.respond(call.call_id, Ok(vec![0x42; 40]));
                }
            }
        }
        while let Some(f) = s.poll_transmit() {
            moved = true;
            wire.push(pcap::Segment {
                to_server: false,
                data: f.clone(),
            });
            c.receive(&f).unwrap();
        }
        if !moved {
            break;
        }
    }
}

fn session(level: AuthLevel, drep: DataRep) -> Vec<pcap::Segment> {
    let store = Arc::new(
        MemoryUserStore::new()
            .with_user("alice", "correct horse")
            .with_user("bob", "battery staple"),
    );
    let mut env = Env(store);
    let mut c = ClientConnection::new(ClientConfig {
        drep,
        ..ClientConfig::default()
    });
    let mut s = ServerConnection::new(ServerConfig::default());
    let mut wire = Vec::new();
    c.set_auth(
        Box::new(NtlmClient::new("alice", "TESTDOM", "correct horse")),
        level,
        1,
    );
    c.bind(&[ECHO]).unwrap();
    pump(&mut c, &mut s, &mut env, &mut wire);
    c.request(&ECHO, 1, None, &[7; 33]).unwrap();
    pump(&mut c, &mut s, &mut env, &mut wire);
    c.add_auth_context(
        Box::new(NtlmClient::new("bob", "TESTDOM", "battery staple")),
        level,
        2,
    )
    .unwrap();
    pump(&mut c, &mut s, &mut env, &mut wire);
    let opts = RequestOptions {
        auth_context_id: Some(2),
        ..RequestOptions::default()
    };
    c.request_with(&ECHO, 1, None, &[8; 20], &opts).unwrap();
    pump(&mut c, &mut s, &mut env, &mut wire);
    wire
}

fn tshark(path: &std::path::Path, fields: &[&str], filter: &str) -> String {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(path).args([
        "-d",
        "tcp.port==49152,dcerpc",
        "-Y",
        filter,
        "-T",
        "fields",
    ]);
    for f in fields {
        cmd.arg("-e").arg(f);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "tshark is required for this test and could not be run ({e}); apt-get install tshark"
        )
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn tshark_dissects_authenticated_traffic() {
    let dir = std::env::temp_dir().join(format!("msrpc-tshark-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (level, drep) in [
        AuthLevel::CONNECT,
        AuthLevel::PKT,
        AuthLevel::PKT_INTEGRITY,
        AuthLevel::PKT_PRIVACY,
    ]
    .into_iter()
    .flat_map(|l| [(l, DataRep::LITTLE_ENDIAN), (l, DataRep::BIG_ENDIAN)])
    {
        let segments = session(level, drep);
        let path = dir.join(format!("auth-{}-{:02x}.pcap", level.0, drep.0[0]));
        let level_drep = format!("{level:?} {drep:?}");
        std::fs::write(&path, pcap::tcp_session(50001, 49152, &segments)).unwrap();
        let byte_order = tshark(&path, &["dcerpc.drep.byteorder"], "dcerpc");
        let want_order = if drep == DataRep::BIG_ENDIAN {
            "0"
        } else {
            "1"
        };
        assert!(
            byte_order.lines().all(|l| l == want_order) && byte_order.lines().count() == 10,
            "{level_drep}: {byte_order}"
        );
        let bad = tshark(
            &path,
            &["frame.number"],
            "_ws.malformed || _ws.expert.severity == error",
        );
        assert!(
            bad.trim().is_empty(),
            "{level_drep}: tshark flags frames {bad}"
        );
        // bind, bind_ack, auth3, request, response, alter, alter_resp, auth3, request, response
        let types = tshark(&path, &["dcerpc.pkt_type"], "dcerpc");
        // (the verification trailer's HEADER2 repeats the packet type: keep the header's)
        let types: Vec<&str> = types
            .lines()
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(
            types,
            ["11", "12", "16", "0", "2", "14", "15", "16", "0", "2"],
            "{level_drep}"
        );
        // tshark reads the auth context of every protected request and response.
        let ctx = tshark(
            &path,
            &["dcerpc.auth_ctx_id", "dcerpc.auth_level"],
            "dcerpc.pkt_type == 0 || dcerpc.pkt_type == 2",
        );
        if level == AuthLevel::CONNECT {
            assert!(ctx.lines().all(|l| l.trim().is_empty()), "{ctx}");
        } else {
            let want = format!("1\t{0}\n1\t{0}\n2\t{0}\n2\t{0}\n", level.0);
            assert_eq!(ctx, want, "{level_drep}");
        }
        // Header signing asked and echoed, at the levels that sign (not at CONNECT, as
        // Samba's client).
        let hs = tshark(
            &path,
            &["dcerpc.cn_flags.first_frag"],
            "(dcerpc.pkt_type == 11 || dcerpc.pkt_type == 12) && dcerpc.cn_flags.cancel_pending == 1",
        );
        assert_eq!(
            hs.lines().count(),
            if level == AuthLevel::CONNECT { 0 } else { 2 },
            "{level_drep}: PFC_SUPPORT_HEADER_SIGN (0x04)"
        );
        // The verification trailer in the signed-but-clear requests.
        if level == AuthLevel::PKT || level == AuthLevel::PKT_INTEGRITY {
            let vt = tshark(
                &path,
                &[
                    "dcerpc.rpc_sec_vt.command.cmd",
                    "dcerpc.rpc_sec_vt.command.end",
                    "dcerpc.rpc_sec_vt.command.must_process",
                ],
                "dcerpc.rpc_sec_vt.signature",
            );
            // Only the first request carries one (the second follows a verified answer):
            // BITMASK_1 (optional), PCONTEXT (must, end); no HEADER2, NTLM signs the header.
            let lines: Vec<&str> = vt.lines().collect();
            assert_eq!(lines, ["0x0001,0x0002\t0,1\t0,1"], "{level_drep}: {vt}");
        }
    }
}
