//! The connectionless client (`msrpc_proto::cl::client::ClActivity`) in the middle of a call,
//! fed datagrams "from the server" and a clock the input moves.
//!
//! Input: a selector byte (bit 0: big-endian requests; bit 1: a multi-fragment request;
//! bit 2: cancel after the first datagram; bit 3: an idempotent call), then records
//! `[ctl][len_lo][len_hi][datagram]` (`ctl` bits 0-2: 0-700 ms to advance; bit 3: rewrite the
//! datagram's activity and seqnum to the call's, so headers the fuzzer mutates still reach the
//! call's state machine). Invariants beyond "no panic": every datagram the client sends
//! decodes; a finished call's response stub stays within the client's limits.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use msrpc_ndr::{DataRep, Uuid};
use msrpc_proto::cl::client::{ClActivity, ClClientConfig, ClRequest};
use msrpc_proto::cl::pdu::{write_uuid, ClPdu, CL_HEADER_LEN};
use msrpc_proto::pdu::SyntaxId;

const ECHO: SyntaxId = SyntaxId::new(Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182), 1, 0);
const MAX_RESPONSE: usize = 16 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let drep = if sel & 1 != 0 { DataRep::BIG_ENDIAN } else { DataRep::LITTLE_ENDIAN };
    let act = Uuid::from_u128(0x1234);
    let mut c = ClActivity::new(
        act,
        ClClientConfig {
            drep,
            max_frag_body: 100,
            window: 3,
            max_response_bytes: MAX_RESPONSE,
            max_response_fragments: 64,
            ..ClClientConfig::default()
        },
    );
    let mut now = Instant::now();
    let stub = vec![0x5a; if sel & 2 != 0 { 450 } else { 8 }];
    let started = c.start_call(
        now,
        ClRequest {
            interface: ECHO,
            opnum: 1,
            object: None,
            stub,
            idempotent: sel & 8 != 0,
            maybe: false,
            deadline: now + Duration::from_secs(30),
        },
    );
    assert!(started.is_ok());
    let drain = |c: &mut ClActivity| {
        while let Some(d) = c.poll_transmit() {
            if let Err(e) = ClPdu::decode(&d) {
                panic!("the client sent an undecodable datagram: {e}");
            }
        }
    };
    drain(&mut c);
    let mut first = true;
    while let [ctl, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (d, next) = tail.split_at(len);
        rest = next;
        now += Duration::from_millis(u64::from(ctl & 7) * 100);
        c.handle_timeout(now);
        let mut d = d.to_vec();
        if ctl & 8 != 0 && d.len() >= CL_HEADER_LEN {
            // the call's activity and seqnum, in the datagram's byte order
            let e = DataRep([d[4], 0, 0, 0]).endian();
            d[40..56].copy_from_slice(&write_uuid(e, act));
            let seq = c.seqnum();
            let b = match e {
                msrpc_ndr::Endian::Little => seq.to_le_bytes(),
                msrpc_ndr::Endian::Big => seq.to_be_bytes(),
            };
            d[64..68].copy_from_slice(&b);
        }
        c.handle_datagram(now, &d);
        if first && sel & 4 != 0 {
            c.cancel();
        }
        first = false;
        drain(&mut c);
        if let Some(o) = c.poll_outcome() {
            if let Ok(r) = o {
                assert!(r.stub.len() <= MAX_RESPONSE);
            }
            break;
        }
    }
});
