//! The verification trailer codec (crates/msrpc-proto `verification`, MS-RPCE 2.2.2.13) on
//! arbitrary request stubs, as the server sees them after reassembly and unsealing.
//!
//! Input: `[drep, flags, stub...]`; drep even = a little-endian request, odd = big-endian (only
//! HEADER2's copy of the drep depends on it: the trailer itself is little-endian in both); flags
//! bit 0 = the client asked for header signing (for `check`), bits 1-7 the opnum of the facts.
//!
//! Invariants: no panic; a trailer `find` returns starts at a 4-byte aligned offset with the
//! magic, is what `decode` gives for the bytes after the magic, and re-encodes (`append_to` on
//! the stub before it) to a stub where `find` returns the same trailer at the same offset;
//! `check` never panics; our own trailer (`for_request` + `append_to`) appended to the input is
//! found, decodes to itself and passes `check` against the facts it was built from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_fuzz::hex;
use msrpc_ndr::{DataRep, Uuid};
use msrpc_proto::pdu::{PacketType, SyntaxId};
use msrpc_proto::verification::{Header2, RequestFacts, VerificationTrailer, MAGIC};

fuzz_target!(|data: &[u8]| {
    let [d, flags, stub @ ..] = data else { return };
    let drep = if d % 2 == 0 { DataRep::LITTLE_ENDIAN } else { DataRep::BIG_ENDIAN };
    let facts = RequestFacts {
        header2: Header2 {
            ptype: PacketType::REQUEST,
            drep: drep.0,
            call_id: 7,
            context_id: 1,
            opnum: u16::from(flags >> 1),
        },
        abstract_syntax: SyntaxId::new(Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa), 3, 0),
        transfer_syntax: SyntaxId::NDR20,
        client_header_signing: flags & 1 != 0,
    };
    match VerificationTrailer::find(stub) {
        Ok(Some((vt, at))) => {
            assert_eq!(at % 4, 0, "trailer at an unaligned offset; input {}", hex(data));
            assert_eq!(stub.get(at..at + MAGIC.len()), Some(&MAGIC[..]), "no magic at {at}");
            let rest = stub.get(at + MAGIC.len()..).unwrap_or_default();
            assert_eq!(VerificationTrailer::decode(rest).as_ref(), Ok(&vt), "find != decode");
            let _ = vt.check(&facts);
            let mut again = stub.get(..at).unwrap_or_default().to_vec();
            vt.append_to(&mut again);
            assert_eq!(
                VerificationTrailer::find(&again),
                Ok(Some((vt.clone(), at))),
                "trailer does not round-trip; input {} re-encoded {}",
                hex(data),
                hex(&again)
            );
        }
        Ok(None) | Err(_) => {}
    }
    // Our own trailer after arbitrary stub bytes is always found and accepted.
    let ours = VerificationTrailer::for_request(
        facts.header2,
        facts.abstract_syntax,
        facts.transfer_syntax,
        facts.client_header_signing,
    );
    let mut with = stub.to_vec();
    ours.append_to(&mut with);
    let at = stub.len().div_ceil(4) * 4;
    assert_eq!(
        VerificationTrailer::find(&with),
        Ok(Some((ours.clone(), at))),
        "our trailer not found after {}",
        hex(stub)
    );
    assert_eq!(ours.check(&facts), Ok(()));
});
