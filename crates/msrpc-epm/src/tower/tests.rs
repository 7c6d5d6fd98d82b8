//! Towers: byte literals per floor kind, Impacket's towers, hostile input, round trips.

use super::*;
use proptest::prelude::*;

fn rpcecho() -> SyntaxId {
    SyntaxId::new(
        Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
        1,
        0,
    )
}

/// Reads `tests/vectors/impacket/NAME.hex` from the workspace.
pub(crate) fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/vectors/impacket/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let clean: String = text.split_whitespace().collect();
    hex::decode(clean).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes one floor given as raw bytes (`lhs_len lhs rhs_len rhs`) in a one-floor tower and
/// checks that it re-encodes to the same bytes.
fn one(floor_bytes: &[u8]) -> Floor {
    let mut t = vec![1, 0];
    t.extend_from_slice(floor_bytes);
    let tower = Tower::decode(&t).unwrap();
    assert_eq!(
        tower.encode().unwrap(),
        t,
        "round trip of {floor_bytes:02x?}"
    );
    assert_eq!(tower.floors.len(), 1);
    tower.floors.into_iter().next().unwrap()
}

#[test]
fn uuid_floor() {
    #[rustfmt::skip]
    let bytes = [
        19, 0, 0x0d,
        0xc5, 0x5e, 0xa1, 0x60, 0xe8, 0x4d, 0xd7, 0x11, // GUID, little-endian fields
        0xa6, 0x37, 0x00, 0x50, 0x56, 0xa2, 0x01, 0x82,
        1, 0,                                           // major, LE
        2, 0, 3, 0,                                     // rhs: minor 3, LE
    ];
    let mut want = rpcecho();
    want.minor = 3;
    assert_eq!(one(&bytes), Floor::Uuid(want));
    // 0x0d with a short lhs is kept raw
    assert!(matches!(
        one(&[2, 0, 0x0d, 1, 2, 0, 0, 0]),
        Floor::Other { .. }
    ));
}

#[test]
fn rpc_protocol_floors() {
    assert_eq!(one(&[1, 0, 0x0b, 2, 0, 0, 0]), Floor::RpcCo(0));
    assert_eq!(one(&[1, 0, 0x0b, 2, 0, 1, 0]), Floor::RpcCo(1));
    assert_eq!(one(&[1, 0, 0x0a, 2, 0, 4, 0]), Floor::RpcCl(4));
    assert_eq!(one(&[1, 0, 0x0c, 2, 0, 0, 0]), Floor::Lrpc(0));
    // a one-octet right-hand side is not canonical: raw
    assert_eq!(
        one(&[1, 0, 0x0b, 1, 0, 5]),
        Floor::Other {
            lhs: vec![0x0b],
            rhs: vec![5]
        }
    );
}

#[test]
fn port_and_address_floors() {
    assert_eq!(one(&[1, 0, 0x07, 2, 0, 0xc0, 0x00]), Floor::Tcp(49152));
    assert_eq!(one(&[1, 0, 0x07, 2, 0, 0x00, 0x87]), Floor::Tcp(135));
    assert_eq!(one(&[1, 0, 0x08, 2, 0, 0x00, 0x87]), Floor::Udp(135));
    assert_eq!(one(&[1, 0, 0x1f, 2, 0, 0x02, 0x51]), Floor::Http(593));
    assert_eq!(
        one(&[1, 0, 0x09, 4, 0, 10, 0, 0, 1]),
        Floor::Ip(Ipv4Addr::new(10, 0, 0, 1))
    );
    // an IP floor of 16 octets (IPv6-sized) is kept raw
    let mut v6 = vec![1, 0, 0x09, 16, 0];
    v6.extend_from_slice(&[0xfe; 16]);
    assert!(matches!(one(&v6), Floor::Other { .. }));
    // extra lhs data after a known identifier: raw
    assert!(matches!(
        one(&[2, 0, 0x07, 0xff, 2, 0, 0, 1]),
        Floor::Other { .. }
    ));
}

#[test]
fn string_floors() {
    let pipe = b"\\PIPE\\epmapper\0";
    let mut f = vec![1, 0, 0x0f, pipe.len() as u8, 0];
    f.extend_from_slice(pipe);
    assert_eq!(one(&f), Floor::NamedPipe("\\PIPE\\epmapper".into()));

    let mut f = vec![1, 0, 0x10, 7, 0];
    f.extend_from_slice(b"LRPC-1\0");
    assert_eq!(one(&f), Floor::LrpcPort("LRPC-1".into()));

    let mut f = vec![1, 0, 0x11, 9, 0];
    f.extend_from_slice(b"\\\\SERVER\0");
    assert_eq!(one(&f), Floor::NetBios("\\\\SERVER".into()));

    let mut f = vec![1, 0, 0x20, 10, 0];
    f.extend_from_slice(b"/run/epm\0\0");
    // two NULs: not a single-terminator string, kept raw
    assert!(matches!(one(&f), Floor::Other { .. }));
    let mut f = vec![1, 0, 0x20, 9, 0];
    f.extend_from_slice(b"/run/epm\0");
    assert_eq!(one(&f), Floor::UnixDomain("/run/epm".into()));

    // the empty name hept_map sends: just the terminator
    assert_eq!(one(&[1, 0, 0x0f, 1, 0, 0]), Floor::NamedPipe(String::new()));
    // no terminator, or an empty right-hand side: raw
    assert!(matches!(
        one(&[1, 0, 0x0f, 1, 0, b'a']),
        Floor::Other { .. }
    ));
    assert!(matches!(one(&[1, 0, 0x11, 0, 0]), Floor::Other { .. }));
    // Latin-1 octets survive
    assert_eq!(
        one(&[1, 0, 0x11, 2, 0, 0xe9, 0]),
        Floor::NetBios("\u{e9}".into())
    );
}

#[test]
fn unknown_and_empty_floors_are_kept_raw() {
    assert_eq!(
        one(&[2, 0, 0x42, 0x01, 3, 0, 1, 2, 3]),
        Floor::Other {
            lhs: vec![0x42, 1],
            rhs: vec![1, 2, 3]
        }
    );
    let empty = one(&[0, 0, 0, 0]);
    assert_eq!(
        empty,
        Floor::Other {
            lhs: vec![],
            rhs: vec![]
        }
    );
    assert_eq!(empty.protocol_id(), None);
}

#[test]
fn impacket_tcp_tower() {
    let bytes = vector("epm_tower_tcp");
    assert_eq!(bytes.len(), 75);
    let t = Tower::decode(&bytes).unwrap();
    let want = Tower::ncacn_ip_tcp(
        rpcecho(),
        SyntaxId::NDR20,
        Ipv4Addr::new(127, 0, 0, 1),
        49152,
    );
    assert_eq!(t, want);
    assert_eq!(want.encode().unwrap(), bytes);
    assert_eq!(t.interface(), Some(rpcecho()));
    assert_eq!(t.transfer_syntax(), Some(SyntaxId::NDR20));
    assert_eq!(t.protocol_sequence(), Some("ncacn_ip_tcp"));
    assert_eq!(
        t.protocol_ids(),
        Some((protocol::RPC_CO, Some(protocol::TCP)))
    );
    assert_eq!(t.endpoint(), Some(Endpoint::Port(49152)));
    assert_eq!(t.address(), Some(Address::Ip(Ipv4Addr::new(127, 0, 0, 1))));
    assert_eq!(
        t.binding_string().as_deref(),
        Some("ncacn_ip_tcp:127.0.0.1[49152]")
    );
    assert_eq!(t.to_string(), "ncacn_ip_tcp:127.0.0.1[49152]");
    let twr = t.to_twr().unwrap();
    assert_eq!(twr.tower_length, 75);
    assert_eq!(Tower::from_twr(&twr).unwrap(), t);
}

#[test]
fn impacket_np_tower() {
    let bytes = vector("epm_tower_np");
    let t = Tower::decode(&bytes).unwrap();
    let want = Tower::ncacn_np(rpcecho(), SyntaxId::NDR20, "\\PIPE\\rpcecho", "\\\\SERVER");
    assert_eq!(t, want);
    assert_eq!(want.encode().unwrap(), bytes);
    assert_eq!(t.protocol_sequence(), Some("ncacn_np"));
    assert_eq!(t.endpoint(), Some(Endpoint::Name("\\PIPE\\rpcecho".into())));
    assert_eq!(t.address(), Some(Address::NetBios("\\\\SERVER".into())));
    assert_eq!(
        t.binding_string().as_deref(),
        Some("ncacn_np:\\\\SERVER[\\PIPE\\rpcecho]")
    );
}

#[test]
fn other_protocol_sequences() {
    let ip = Ipv4Addr::new(192, 0, 2, 7);
    let u = Tower::ncadg_ip_udp(rpcecho(), SyntaxId::NDR20, ip, 135);
    assert_eq!(
        u.binding_string().as_deref(),
        Some("ncadg_ip_udp:192.0.2.7[135]")
    );
    let h = Tower::ncacn_http(rpcecho(), SyntaxId::NDR20, ip, 593);
    assert_eq!(
        h.binding_string().as_deref(),
        Some("ncacn_http:192.0.2.7[593]")
    );
    let l = Tower::ncalrpc(rpcecho(), SyntaxId::NDR20, "epmapper");
    assert_eq!(l.floors.len(), 4);
    assert_eq!(l.binding_string().as_deref(), Some("ncalrpc:[epmapper]"));
    assert_eq!(
        l.protocol_ids(),
        Some((protocol::LRPC, Some(protocol::LRPC_PORT)))
    );
    // the Windows ncalrpc tower, byte for byte (floor 3: 0x0c with a zero u16; floor 4: 0x10)
    let enc = l.encode().unwrap();
    assert_eq!(&enc[..2], &[4, 0]);
    assert_eq!(
        &enc[52..],
        b"\x01\x00\x0c\x02\x00\x00\x00\x01\x00\x10\x09\x00epmapper\0"
    );
    let s = Tower::ncacn_unix_stream(rpcecho(), SyntaxId::NDR20, "/run/msrpc/epm");
    assert_eq!(
        s.binding_string().as_deref(),
        Some("ncacn_unix_stream:[/run/msrpc/epm]")
    );
    // no address floor: an empty place
    let mut bare = Tower::ncacn_ip_tcp(rpcecho(), SyntaxId::NDR20, ip, 1);
    bare.floors.truncate(4);
    assert_eq!(bare.binding_string().as_deref(), Some("ncacn_ip_tcp:[1]"));
    // without floor 4 the transport is unknown
    bare.floors.truncate(3);
    assert_eq!(bare.protocol_ids(), Some((protocol::RPC_CO, None)));
    assert_eq!(bare.protocol_sequence(), None);
    // an unknown combination has no name; Display falls back to the identifiers
    let odd = Tower::new(vec![
        Floor::Uuid(rpcecho()),
        Floor::Uuid(SyntaxId::NDR20),
        Floor::Other {
            lhs: vec![0x05],
            rhs: vec![],
        },
    ]);
    assert_eq!(odd.protocol_sequence(), None);
    assert_eq!(odd.binding_string(), None);
    assert_eq!(odd.to_string(), "tower[0x0d 0x0d 0x05]");
    assert_eq!(Tower::default().interface(), None);
}

#[test]
fn hostile_towers_fail_cleanly() {
    // empty, one byte
    assert!(matches!(
        Tower::decode(&[]),
        Err(TowerError::Truncated {
            what: "floor count",
            ..
        })
    ));
    assert!(Tower::decode(&[5]).is_err());
    // absurd floor counts are refused before anything is read or allocated
    assert_eq!(
        Tower::decode(&[0xff, 0xff]),
        Err(TowerError::TooManyFloors {
            count: 65535,
            max: Tower::DEFAULT_MAX_FLOORS
        })
    );
    assert_eq!(
        Tower::decode_with_limit(&[7, 0], 6),
        Err(TowerError::TooManyFloors { count: 7, max: 6 })
    );
    // a count the data cannot hold
    assert_eq!(
        Tower::decode(&[3, 0, 1, 0, 0x0b, 2, 0, 0, 0]),
        Err(TowerError::Truncated {
            floor: 1,
            what: "lhs length",
            offset: 9
        })
    );
    // lengths beyond the data
    assert_eq!(
        Tower::decode(&[1, 0, 0xff, 0xff, 0x0d]),
        Err(TowerError::Truncated {
            floor: 0,
            what: "lhs",
            offset: 4
        })
    );
    assert_eq!(
        Tower::decode(&[1, 0, 1, 0, 0x07, 0xff, 0xff, 1, 2]),
        Err(TowerError::Truncated {
            floor: 0,
            what: "rhs",
            offset: 7
        })
    );
    assert_eq!(
        Tower::decode(&[1, 0, 1, 0, 0x07, 2]),
        Err(TowerError::Truncated {
            floor: 0,
            what: "rhs length",
            offset: 5
        })
    );
    // trailing bytes
    assert_eq!(
        Tower::decode(&[0, 0, 0xaa]),
        Err(TowerError::TrailingBytes {
            offset: 2,
            count: 1
        })
    );
    // zero floors is a valid (useless) tower
    assert_eq!(Tower::decode(&[0, 0]).unwrap(), Tower::default());
    // every truncation of a real tower fails without panicking
    let full = vector("epm_tower_np");
    for n in 0..full.len() {
        let e = Tower::decode(&full[..n]).unwrap_err();
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn encode_errors() {
    let bad = Tower::new(vec![Floor::NamedPipe("a\0b".into())]);
    assert_eq!(bad.encode(), Err(TowerError::InvalidString));
    let wide = Tower::new(vec![Floor::NetBios("\u{263a}".into())]);
    assert_eq!(wide.encode(), Err(TowerError::InvalidString));
    let long = Tower::new(vec![Floor::Other {
        lhs: vec![0; 70_000],
        rhs: vec![],
    }]);
    assert_eq!(
        long.encode(),
        Err(TowerError::SideTooLong {
            what: "lhs",
            len: 70_000
        })
    );
}

fn arb_syntax() -> impl Strategy<Value = SyntaxId> {
    (any::<u128>(), any::<u16>(), any::<u16>())
        .prop_map(|(u, a, b)| SyntaxId::new(Uuid::from_u128(u), a, b))
}

fn arb_name() -> impl Strategy<Value = String> {
    proptest::collection::vec(1u8..=255, 0..20)
        .prop_map(|v| v.into_iter().map(char::from).collect())
}

fn arb_floor() -> impl Strategy<Value = Floor> {
    prop_oneof![
        arb_syntax().prop_map(Floor::Uuid),
        any::<u16>().prop_map(Floor::RpcCl),
        any::<u16>().prop_map(Floor::RpcCo),
        any::<u16>().prop_map(Floor::Lrpc),
        any::<u16>().prop_map(Floor::Tcp),
        any::<u16>().prop_map(Floor::Udp),
        any::<u16>().prop_map(Floor::Http),
        any::<[u8; 4]>().prop_map(|a| Floor::Ip(Ipv4Addr::from(a))),
        arb_name().prop_map(Floor::NamedPipe),
        arb_name().prop_map(Floor::LrpcPort),
        arb_name().prop_map(Floor::NetBios),
        arb_name().prop_map(Floor::UnixDomain),
        // raw bytes: only kept as Other when they are not a canonical known floor
        (
            proptest::collection::vec(any::<u8>(), 0..24),
            proptest::collection::vec(any::<u8>(), 0..24)
        )
            .prop_map(|(lhs, rhs)| Floor::from_sides(&lhs, &rhs)),
    ]
}

proptest! {
    #[test]
    fn typed_towers_round_trip(floors in proptest::collection::vec(arb_floor(), 0..8)) {
        let t = Tower::new(floors);
        let bytes = t.encode().unwrap();
        prop_assert_eq!(Tower::decode(&bytes).unwrap(), t.clone());
        prop_assert_eq!(Tower::from_twr(&t.to_twr().unwrap()).unwrap(), t);
    }

    #[test]
    fn any_bytes_decode_or_fail_cleanly_and_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        if let Ok(t) = Tower::decode(&bytes) {
            prop_assert_eq!(t.encode().unwrap(), bytes);
            let _ = (t.binding_string(), t.endpoint(), t.address(), t.to_string());
        }
    }

    #[test]
    fn well_formed_raw_floors_round_trip_byte_exact(
        sides in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..24), proptest::collection::vec(any::<u8>(), 0..24)),
            0..7,
        )
    ) {
        let mut bytes = (sides.len() as u16).to_le_bytes().to_vec();
        for (l, r) in &sides {
            bytes.extend_from_slice(&(l.len() as u16).to_le_bytes());
            bytes.extend_from_slice(l);
            bytes.extend_from_slice(&(r.len() as u16).to_le_bytes());
            bytes.extend_from_slice(r);
        }
        let t = Tower::decode(&bytes).unwrap();
        prop_assert_eq!(t.floors.len(), sides.len());
        prop_assert_eq!(t.encode().unwrap(), bytes);
    }
}
