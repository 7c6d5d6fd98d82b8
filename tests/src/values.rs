//! The values the NDR64 vs NDR20 comparison encodes and decodes in both transfer syntaxes
//! (`benches/codec.rs`'s `ndr64_vs_ndr20` groups, `examples/ndr_instructions.rs`).

use std::net::Ipv4Addr;

use msrpc_echo::{
    EchoEnum1, EchoEnum1_32, EchoEnum2, EchoEnum3, EchoInfo, EchoInfo4, EchoInfo7, EchoSurrounding,
    NtStatus, TestCall2Request, TestCall2Response, TestCallRequest, TestEnumRequest,
    TestSurroundingRequest,
};
use msrpc_epm::tower::Tower;
use msrpc_epm::{EptEntry, EptLookupRequest, EptLookupResponse};
use msrpc_ndr::{ContextHandle, Unique, Uuid};
use msrpc_proto::pdu::SyntaxId;

/// An `ept_lookup` request for `n` entries and its answer with `n` entries: pointers, towers
/// (conformant structures), varying strings, a conformant-varying array.
#[allow(clippy::expect_used)] // an ncacn_ip_tcp tower always encodes
pub fn ept_lookup(n: u16) -> (EptLookupRequest, EptLookupResponse) {
    let entries: Vec<EptEntry> = (0..n)
        .map(|i| {
            let iface = SyntaxId::new(Uuid::from_u128(u128::from(i) << 64 | 0x1234), 1, 0);
            let tower = Tower::ncacn_ip_tcp(iface, SyntaxId::NDR20, Ipv4Addr::LOCALHOST, 49152 + i);
            EptEntry {
                object: Uuid::nil(),
                tower: Unique::new(tower.to_twr().expect("a tower")),
                annotation: format!("service {i}"),
            }
        })
        .collect();
    let req = EptLookupRequest {
        inquiry_type: 0,
        object: Unique::null(),
        interface_id: Unique::null(),
        vers_option: 1,
        entry_handle: ContextHandle::NULL,
        max_ents: u32::from(n),
    };
    let resp = EptLookupResponse {
        entry_handle: ContextHandle::NULL,
        num_ents: u32::from(n),
        entries,
        status: 0,
    };
    (req, resp)
}

/// TestCall2's answer at level 7: a union arm holding a structure holding a structure with a
/// hyper.
pub fn test_call2_info7() -> (TestCall2Request, TestCall2Response) {
    (
        TestCall2Request { level: 7 },
        TestCall2Response {
            info: EchoInfo::Info7(EchoInfo7 {
                v1: 80,
                info4: EchoInfo4 { v: 90 },
            }),
            result: NtStatus::OK,
        },
    )
}

/// TestEnum's request: 16- and 32-bit enums and a union.
pub fn test_enum() -> TestEnumRequest {
    TestEnumRequest {
        foo1: EchoEnum1::Enum2,
        foo2: EchoEnum2 {
            e1: EchoEnum1::Enum1,
            e2: EchoEnum1_32::Enum2,
        },
        foo3: EchoEnum3::E2(EchoEnum2 {
            e1: EchoEnum1::Enum2,
            e2: EchoEnum1_32::Enum1,
        }),
    }
}

/// TestSurrounding's request: a conformant structure of 256 elements.
pub fn test_surrounding_256() -> TestSurroundingRequest {
    TestSurroundingRequest {
        data: EchoSurrounding {
            x: 256,
            surrounding: (0..256u16).collect(),
        },
    }
}

/// TestCall's request: a 64-character string.
pub fn test_call_64() -> TestCallRequest {
    TestCallRequest { s1: "x".repeat(64) }
}
