//! The server association and its reassembler fed an arbitrary byte stream in chunks.
//!
//! Input: a selector byte, then the client-to-server stream.
//! - bits 0-5 choose chunk sizes (0: everything at once; see `Chunker`);
//! - bit 6: answer calls by echoing the request stub (multi-fragment responses) instead of 8 bytes;
//! - bit 7: serve every interface offered (not only ept, mgmt and rpcecho), so captured traffic
//!   for other interfaces reaches the request path.
//!
//! Authenticated binds get the toy mechanism of `msrpc_fuzz` (any auth type except 0xfe, which
//! is refused). Every call is answered; cancels are answered with a fault. Invariants: no panic,
//! every queued fragment decodes, response fragments fit the negotiated size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_fuzz::{check_outgoing, Chunker, ToyProvider};
use msrpc_ndr::Uuid;
use msrpc_proto::pdu::{AuthType, FaultStatus, SyntaxId};
use msrpc_proto::security::SecurityProvider;
use msrpc_proto::server::{ServerConfig, ServerConnection, ServerEnv, ServerEvent};

const EPM: SyntaxId = SyntaxId::new(Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa), 3, 0);
const MGMT: SyntaxId = SyntaxId::new(Uuid::from_u128(0xafa8bd80_7d8a_11c9_bef4_08002b102989), 1, 0);
const ECHO: SyntaxId = SyntaxId::new(Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182), 1, 0);

struct Env {
    serve_all: bool,
}

impl ServerEnv for Env {
    fn lookup_interface(&self, s: &SyntaxId) -> Option<SyntaxId> {
        if self.serve_all {
            return Some(*s);
        }
        [EPM, MGMT, ECHO]
            .into_iter()
            .find(|i| i.uuid == s.uuid && i.major == s.major && i.minor >= s.minor)
    }

    fn assoc_group(&mut self, requested: u32) -> Option<u32> {
        match requested {
            0 => Some(0x5aa5),
            0xffff_ffff => None,
            g => Some(g),
        }
    }

    fn security_provider(&mut self, auth_type: AuthType) -> Option<Box<dyn SecurityProvider>> {
        (auth_type != AuthType(0xfe)).then(|| Box::new(ToyProvider::new(auth_type)) as Box<dyn SecurityProvider>)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, stream)) = data.split_first() else {
        return;
    };
    let echo_back = sel & 0x40 != 0;
    let mut env = Env { serve_all: sel & 0x80 != 0 };
    let config = ServerConfig { max_stub: 64 * 1024, max_outstanding_calls: 8, max_contexts: 8, ..ServerConfig::default() };
    let mut conn = ServerConnection::new(config);
    for chunk in Chunker::new(sel, stream) {
        let events = conn.receive(chunk, &mut env);
        for ev in events {
            match ev {
                ServerEvent::Call(call) => {
                    let stub = if echo_back { call.stub } else { vec![0; 8] };
                    conn.respond(call.call_id, Ok(stub));
                }
                ServerEvent::Cancel { call_id } => conn.respond(call_id, Err(FaultStatus::NCA_S_FAULT_CANCEL)),
                _ => {}
            }
        }
        let max = conn.max_xmit_frag();
        while let Some(frame) = conn.poll_transmit() {
            check_outgoing(&frame, max);
        }
        if conn.wants_close() {
            break;
        }
    }
});
