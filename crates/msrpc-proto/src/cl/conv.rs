//! The conversation manager interface `conv` (333a2276-0000-0000-0d00-00809c000000 v3,
//! DCE RI `conv.idl`, C706 10.3.4 "who are you"), which a connectionless server calls back on
//! its client to learn an activity's sequence number before it executes a non-idempotent call
//! (at-most-once semantics), and which proves the client's address.
//!
//! Only `conv_who_are_you2` (opnum 1) is encoded: in `actuid` (the activity, a `uuid_t`) and
//! `boot_time` (the server's); out `seq` (the activity's current sequence number),
//! `cas_uuid` (the client address space) and `st` (status). Both are NDR20 in the PDU's drep.

use msrpc_ndr::{DataRep, Uuid};

use super::pdu::{read_uuid, write_uuid};
use crate::pdu::SyntaxId;

/// The `conv` interface, version 3.0.
pub const CONV: SyntaxId = SyntaxId::new(
    Uuid::from_u128(0x333a2276_0000_0000_0d00_00809c000000),
    3,
    0,
);
/// `conv_who_are_you` (opnum 0).
pub const OP_WHO_ARE_YOU: u16 = 0;
/// `conv_who_are_you2` (opnum 1).
pub const OP_WHO_ARE_YOU2: u16 = 1;
/// `conv_are_you_there` (opnum 2).
pub const OP_ARE_YOU_THERE: u16 = 2;

/// The in-arguments of `conv_who_are_you` and `conv_who_are_you2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WayRequest {
    /// The activity asked about.
    pub actuid: Uuid,
    /// The asking server's boot time.
    pub boot_time: u32,
}

/// The out-arguments of `conv_who_are_you2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WayResponse {
    /// The activity's current sequence number.
    pub seq: u32,
    /// The client address space's UUID.
    pub cas_uuid: Uuid,
    /// Status (0: ok; `nca_s_bad_actid` when the client knows no such activity, `nca_s_you_crashed`
    /// when the boot time is not the server it talked to).
    pub st: u32,
}

fn u32_of(drep: DataRep, b: [u8; 4]) -> u32 {
    match drep.endian() {
        msrpc_ndr::Endian::Little => u32::from_le_bytes(b),
        msrpc_ndr::Endian::Big => u32::from_be_bytes(b),
    }
}

fn bytes_of(drep: DataRep, v: u32) -> [u8; 4] {
    match drep.endian() {
        msrpc_ndr::Endian::Little => v.to_le_bytes(),
        msrpc_ndr::Endian::Big => v.to_be_bytes(),
    }
}

impl WayRequest {
    /// The request stub (20 bytes).
    pub fn encode(&self, drep: DataRep) -> Vec<u8> {
        let mut v = write_uuid(drep.endian(), self.actuid).to_vec();
        v.extend_from_slice(&bytes_of(drep, self.boot_time));
        v
    }

    /// Reads a request stub (trailing bytes are ignored, as NDR stubs do).
    pub fn decode(stub: &[u8], drep: DataRep) -> Option<WayRequest> {
        let (u, rest) = stub.split_first_chunk::<16>()?;
        let (t, _) = rest.split_first_chunk::<4>()?;
        Some(WayRequest {
            actuid: read_uuid(drep.endian(), *u),
            boot_time: u32_of(drep, *t),
        })
    }
}

impl WayResponse {
    /// The response stub (24 bytes).
    pub fn encode(&self, drep: DataRep) -> Vec<u8> {
        let mut v = bytes_of(drep, self.seq).to_vec();
        v.extend_from_slice(&write_uuid(drep.endian(), self.cas_uuid));
        v.extend_from_slice(&bytes_of(drep, self.st));
        v
    }

    /// Reads a response stub.
    pub fn decode(stub: &[u8], drep: DataRep) -> Option<WayResponse> {
        let (s, rest) = stub.split_first_chunk::<4>()?;
        let (u, rest) = rest.split_first_chunk::<16>()?;
        let (st, _) = rest.split_first_chunk::<4>()?;
        Some(WayResponse {
            seq: u32_of(drep, *s),
            cas_uuid: read_uuid(drep.endian(), *u),
            st: u32_of(drep, *st),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stubs_round_trip_in_both_byte_orders() {
        for d in [DataRep::LITTLE_ENDIAN, DataRep::BIG_ENDIAN] {
            let q = WayRequest {
                actuid: Uuid::from_u128(7),
                boot_time: 9,
            };
            assert_eq!(q.encode(d).len(), 20);
            assert_eq!(WayRequest::decode(&q.encode(d), d), Some(q));
            let r = WayResponse {
                seq: 3,
                cas_uuid: Uuid::from_u128(5),
                st: 0,
            };
            assert_eq!(WayResponse::decode(&r.encode(d), d), Some(r));
            assert_eq!(WayResponse::decode(&r.encode(d)[..23], d), None);
        }
    }
}
