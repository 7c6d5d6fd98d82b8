//! `Pdu::decode` on arbitrary bytes must not panic; what decodes must re-encode and decode to
//! the same PDU (frag_length/auth_length aside, which encode recomputes), and encoding must be
//! stable. `Header::decode`, `frame_length` and `AuthLayout::parse` must agree and stay in
//! bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_fuzz::{check_auth_layout, hex};
use msrpc_proto::pdu::{frame_length, Header, Pdu};

fuzz_target!(|data: &[u8]| {
    let header = Header::decode(data);
    let framed = frame_length(data);
    check_auth_layout(data);
    let Ok(pdu) = Pdu::decode(data) else {
        return;
    };
    assert!(header.is_ok(), "Pdu::decode accepted what Header::decode refused");
    if let Ok(Some(n)) = framed {
        assert!(n <= data.len(), "decoded a PDU whose frag_length {n} exceeds the input");
    }
    let bytes = match pdu.encode() {
        Ok(b) => b,
        Err(e) => panic!("decoded PDU does not re-encode ({e}): {pdu:?}\ninput {}", hex(data)),
    };
    let again = match Pdu::decode(&bytes) {
        Ok(p) => p,
        Err(e) => panic!("re-encoded PDU does not decode ({e}): {}\nfrom {pdu:?}", hex(&bytes)),
    };
    let mut a = pdu.clone();
    let mut b = again.clone();
    a.header.frag_length = 0;
    a.header.auth_length = 0;
    b.header.frag_length = 0;
    b.header.auth_length = 0;
    assert_eq!(a, b, "round trip changed the PDU\ninput {}\nre-encoded {}", hex(data), hex(&bytes));
    let bytes2 = again.encode().expect("second encode");
    assert_eq!(bytes, bytes2, "encode is not stable");
    check_auth_layout(&bytes);
});
