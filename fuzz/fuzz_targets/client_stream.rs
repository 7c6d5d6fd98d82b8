//! The client association fed an arbitrary server-to-client stream in chunks, after a bind.
//!
//! Input: a selector byte, then the stream.
//! - bits 0-5 choose chunk sizes (0: everything at once; see `Chunker`);
//! - bit 7: bind with the toy security mechanism (NTLM-like legs), so responses go through
//!   verification or unsealing; bit 6 then picks privacy over integrity;
//! - bit 6 without bit 7: requests in big-endian.
//!
//! The client binds ept and rpcecho (call 1). Once a bind is acknowledged it sends three
//! requests (calls 2, 3 and a 6000-byte one, 4, fragmented to the negotiated size), cancels
//! call 2 and alters context to add mgmt. Invariants: no panic, every queued fragment decodes,
//! request fragments fit the negotiated size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_fuzz::{check_outgoing, Chunker, ToyProvider};
use msrpc_ndr::{DataRep, Uuid};
use msrpc_proto::client::{ClientConfig, ClientConnection, ClientEvent};
use msrpc_proto::pdu::{AuthLevel, AuthType, SyntaxId};

const EPM: SyntaxId = SyntaxId::new(Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa), 3, 0);
const MGMT: SyntaxId = SyntaxId::new(Uuid::from_u128(0xafa8bd80_7d8a_11c9_bef4_08002b102989), 1, 0);
const ECHO: SyntaxId = SyntaxId::new(Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182), 1, 0);

fn drain(conn: &mut ClientConnection) {
    let max = conn.max_xmit_frag();
    while let Some(frame) = conn.poll_transmit() {
        check_outgoing(&frame, max);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, stream)) = data.split_first() else {
        return;
    };
    let auth = sel & 0x80 != 0;
    let drep = if !auth && sel & 0x40 != 0 { DataRep::BIG_ENDIAN } else { DataRep::LITTLE_ENDIAN };
    let config = ClientConfig { max_stub: 64 * 1024, drep, ..ClientConfig::default() };
    let mut conn = ClientConnection::new(config);
    if auth {
        let level = if sel & 0x40 != 0 { AuthLevel::PKT_PRIVACY } else { AuthLevel::PKT_INTEGRITY };
        conn.set_auth(Box::new(ToyProvider::new(AuthType::WINNT)), level, 0x4242);
    }
    if conn.bind(&[EPM, ECHO]).is_err() {
        return;
    }
    drain(&mut conn);
    let mut requested = false;
    for chunk in Chunker::new(sel, stream) {
        let events = match conn.receive(chunk) {
            Ok(ev) => ev,
            Err(_) => break,
        };
        drain(&mut conn);
        let bound = events.iter().any(|e| matches!(e, ClientEvent::Bound { .. }));
        if bound && !requested {
            requested = true;
            let stub: Vec<u8> = (0..64u8).collect();
            let c2 = conn.request(&EPM, 3, None, &stub);
            let _ = conn.request(&ECHO, 1, Some(Uuid::from_u128(0x1234)), &stub[..13]);
            let big = vec![0x41u8; 6000];
            let _ = conn.request(&EPM, 2, None, &big);
            if let Ok(id) = c2 {
                conn.cancel(id);
            }
            let _ = conn.bind(&[MGMT]);
            drain(&mut conn);
        }
    }
});
