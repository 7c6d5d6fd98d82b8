//! The endpoint map's rules: identity, validation, capacity, replace, owners, lookup, map,
//! paging.

use super::*;
use crate::tower::Floor;
use std::net::Ipv4Addr;

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn iface(n: u128, major: u16, minor: u16) -> SyntaxId {
    SyntaxId::new(Uuid::from_u128(0x1000_0000 + n), major, minor)
}

fn obj(n: u128) -> Uuid {
    Uuid::from_u128(0xab00_0000 + n)
}

fn tcp(i: SyntaxId, port: u16) -> Tower {
    Tower::ncacn_ip_tcp(i, SyntaxId::NDR20, LOCAL, port)
}

fn np(i: SyntaxId, pipe: &str) -> Tower {
    Tower::ncacn_np(i, SyntaxId::NDR20, pipe, "\\\\HOST")
}

fn reg(db: &mut EndpointDb, owner: u64, object: Uuid, tower: Tower) {
    db.register(owner, vec![NewEntry::new(object, tower, "")], false)
        .unwrap();
}

fn ports(entries: &[&Entry]) -> Vec<u16> {
    entries
        .iter()
        .map(|e| match e.tower().endpoint() {
            Some(Endpoint::Port(p)) => p,
            other => panic!("no port: {other:?}"),
        })
        .collect()
}

fn all(db: &EndpointDb) -> Vec<u16> {
    ports(&db.lookup(&Lookup::All, Cursor::START, usize::MAX).entries)
}

fn map_all(db: &EndpointDb, q: &MapQuery) -> Vec<u16> {
    let page = db.map(q, Cursor::START, usize::MAX);
    assert!(page.next.is_none());
    ports(&page.entries)
}

fn mq(object: Uuid, i: SyntaxId) -> MapQuery {
    MapQuery::from_tower(object, &tcp(i, 0)).unwrap()
}

#[test]
fn registration_order_identity_and_owner() {
    let mut db = EndpointDb::new();
    assert!(db.is_empty());
    let i = iface(1, 1, 0);
    db.register(
        7,
        vec![
            NewEntry::new(Uuid::nil(), tcp(i, 3000), "a"),
            NewEntry::new(Uuid::nil(), tcp(i, 1000), "b"),
            NewEntry::new(obj(1), tcp(i, 3000), "c"),
        ],
        false,
    )
    .unwrap();
    assert_eq!(db.len(), 3);
    assert_eq!(all(&db), [3000, 1000, 3000]);
    let first = db.iter().next().unwrap();
    assert_eq!(first.annotation(), "a");
    assert_eq!(first.owner(), 7);
    assert_eq!(first.interface(), i);
    assert_eq!(first.transfer_syntax(), SyntaxId::NDR20);
    assert_eq!(first.protocol_ids(), (0x0b, Some(0x07)));
    assert_eq!(first.tower_bytes(), tcp(i, 3000).encode().unwrap());
    assert_eq!(db.get(first.id()), Some(first));
    let ept = first.to_ept_entry();
    assert_eq!(ept.annotation, "a");
    assert_eq!(
        Tower::from_twr(ept.tower.get().unwrap()).unwrap(),
        tcp(i, 3000)
    );

    // the same (object, tower) again: annotation and owner updated, nothing added
    let id = first.id();
    reg(&mut db, 8, Uuid::nil(), tcp(i, 3000));
    assert_eq!(db.len(), 3);
    let again = db.get(id).unwrap();
    assert_eq!(again.annotation(), "");
    assert_eq!(again.owner(), 8);
    assert_eq!(db.owned_by(7), 2);
    assert_eq!(db.owned_by(8), 1);
    assert_eq!(all(&db), [3000, 1000, 3000]);
}

#[test]
fn invalid_entries_are_refused_whole() {
    let mut db = EndpointDb::new();
    let i = iface(1, 1, 0);
    let ok = NewEntry::new(Uuid::nil(), tcp(i, 1), "fine");
    let mut seven = tcp(i, 2);
    seven.floors.push(Floor::RpcCo(0));
    seven.floors.push(Floor::RpcCo(0));
    let mut three = tcp(i, 3);
    three.floors.truncate(3);
    let mut no_iface = tcp(i, 4);
    no_iface.floors[0] = Floor::RpcCo(0);
    let mut no_transfer = tcp(i, 5);
    no_transfer.floors[1] = Floor::Tcp(1);
    let nil_iface = tcp(SyntaxId::new(Uuid::nil(), 1, 0), 6);
    let mut nil_transfer = tcp(i, 7);
    nil_transfer.floors[1] = Floor::Uuid(SyntaxId::new(Uuid::nil(), 2, 0));
    let bad_string = Tower::ncacn_np(i, SyntaxId::NDR20, "a\0b", "h");
    let mut anonymous = tcp(i, 8);
    anonymous.floors[3] = Floor::Other {
        lhs: vec![],
        rhs: vec![],
    };
    let cases = [
        NewEntry::new(Uuid::nil(), seven, ""),
        NewEntry::new(Uuid::nil(), three, ""),
        NewEntry::new(Uuid::nil(), no_iface, ""),
        NewEntry::new(Uuid::nil(), no_transfer, ""),
        NewEntry::new(Uuid::nil(), nil_iface, ""),
        NewEntry::new(Uuid::nil(), nil_transfer, ""),
        NewEntry::new(Uuid::nil(), bad_string, ""),
        NewEntry::new(Uuid::nil(), anonymous, ""),
        NewEntry::new(Uuid::nil(), tcp(i, 9), "x".repeat(64)),
        NewEntry::new(Uuid::nil(), tcp(i, 9), "nul\0"),
        NewEntry::new(Uuid::nil(), tcp(i, 9), "\u{263a}"),
    ];
    for bad in cases {
        let e = db
            .register(1, vec![ok.clone(), bad.clone()], false)
            .unwrap_err();
        assert!(matches!(e, DbError::InvalidEntry(_)), "{bad:?}: {e}");
        assert_eq!(e.status(), status::EPT_S_INVALID_ENTRY);
        assert!(db.is_empty(), "nothing registered for {bad:?}");
    }
    // six floors and a 63-character Latin-1 annotation are fine
    let mut six = tcp(i, 10);
    six.floors.push(Floor::Other {
        lhs: vec![0x42],
        rhs: vec![],
    });
    db.register(
        1,
        vec![NewEntry::new(Uuid::nil(), six, "\u{e9}".repeat(63))],
        false,
    )
    .unwrap();
    // ncalrpc's four floors too
    reg(
        &mut db,
        1,
        Uuid::nil(),
        Tower::ncalrpc(i, SyntaxId::NDR20, "port"),
    );
    assert_eq!(db.len(), 2);
    // from an ept_entry_t
    let null = EptEntry::default();
    assert!(matches!(
        NewEntry::from_ept_entry(&null),
        Err(DbError::InvalidEntry(_))
    ));
    let garbage = EptEntry {
        tower: Unique::new(Twr::new(vec![9, 9, 9])),
        ..EptEntry::default()
    };
    assert!(matches!(
        NewEntry::from_ept_entry(&garbage),
        Err(DbError::InvalidEntry(_))
    ));
}

#[test]
fn capacity_is_enforced_but_reregistration_and_replace_fit() {
    let mut db = EndpointDb::with_max_entries(3);
    assert_eq!(db.max_entries(), 3);
    let i = iface(1, 1, 0);
    for p in 1..=3 {
        reg(&mut db, 1, obj(p.into()), tcp(i, p));
    }
    let e = db
        .register(1, vec![NewEntry::new(obj(9), tcp(i, 9), "")], false)
        .unwrap_err();
    assert_eq!(e, DbError::Full { max: 3 });
    assert_eq!(e.status(), status::EPT_S_CANT_CREATE);
    // a batch that would overflow is refused whole
    let j = iface(2, 1, 0);
    let e = db.register(
        1,
        vec![
            NewEntry::new(obj(1), tcp(i, 1), "existing"),
            NewEntry::new(Uuid::nil(), tcp(j, 5), ""),
        ],
        false,
    );
    assert_eq!(e, Err(DbError::Full { max: 3 }));
    assert_eq!(db.get(1).unwrap().annotation(), "");
    // re-registering an existing element fits, twice in one batch too
    db.register(
        2,
        vec![
            NewEntry::new(obj(1), tcp(i, 1), "x"),
            NewEntry::new(obj(1), tcp(i, 1), "y"),
        ],
        false,
    )
    .unwrap();
    assert_eq!(db.len(), 3);
    assert_eq!(db.get(1).unwrap().annotation(), "y");
    // replacing an element (new port, same object/interface/protocol) fits
    db.register(1, vec![NewEntry::new(obj(2), tcp(i, 22), "")], true)
        .unwrap();
    assert_eq!(all(&db), [1, 3, 22]);
}

#[test]
fn replace_follows_dce() {
    let mut db = EndpointDb::new();
    let v10 = iface(1, 1, 0);
    let v11 = iface(1, 1, 1);
    let v12 = iface(1, 1, 2);
    let v20 = iface(1, 2, 0);
    reg(&mut db, 1, Uuid::nil(), tcp(v10, 1));
    reg(&mut db, 1, Uuid::nil(), np(v10, "\\PIPE\\x"));
    reg(&mut db, 1, obj(1), tcp(v10, 2));
    reg(&mut db, 1, Uuid::nil(), tcp(v20, 3));
    // replace v1.0 over tcp: removes port 1 only (np, the object, v2 stay)
    db.register(2, vec![NewEntry::new(Uuid::nil(), tcp(v10, 4), "")], true)
        .unwrap();
    let tcp_ports = |db: &EndpointDb| -> Vec<(Uuid, u16)> {
        db.iter()
            .filter_map(|e| match e.tower().endpoint() {
                Some(Endpoint::Port(p)) => Some((e.object(), p)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        tcp_ports(&db),
        [(obj(1), 2), (Uuid::nil(), 3), (Uuid::nil(), 4)]
    );
    assert_eq!(db.len(), 4);
    // a higher minor version can replace a lower one ...
    db.register(1, vec![NewEntry::new(Uuid::nil(), tcp(v11, 5), "")], true)
        .unwrap();
    assert_eq!(
        tcp_ports(&db),
        [(obj(1), 2), (Uuid::nil(), 3), (Uuid::nil(), 5)]
    );
    // ... but not the reverse
    let e = db
        .register(1, vec![NewEntry::new(Uuid::nil(), tcp(v10, 6), "")], true)
        .unwrap_err();
    assert!(matches!(e, DbError::InvalidEntry(_)));
    // without replace, versions coexist
    reg(&mut db, 1, Uuid::nil(), tcp(v10, 6));
    db.register(1, vec![NewEntry::new(Uuid::nil(), tcp(v12, 7), "")], true)
        .unwrap();
    assert_eq!(
        tcp_ports(&db),
        [(obj(1), 2), (Uuid::nil(), 3), (Uuid::nil(), 7)]
    );
    // replacing with the same element keeps a single copy
    db.register(1, vec![NewEntry::new(Uuid::nil(), tcp(v12, 7), "z")], true)
        .unwrap();
    assert_eq!(db.len(), 4);
}

#[test]
fn unregister_mgmt_delete_and_owners() {
    let mut db = EndpointDb::new();
    let i = iface(1, 1, 0);
    let i1 = iface(1, 1, 1);
    reg(&mut db, 1, Uuid::nil(), tcp(i, 1));
    reg(&mut db, 1, obj(1), tcp(i, 2));
    reg(&mut db, 2, Uuid::nil(), tcp(i, 3));
    reg(&mut db, 2, Uuid::nil(), tcp(i1, 3));
    reg(&mut db, 2, Uuid::nil(), np(i, "\\PIPE\\p"));
    let all = |db: &EndpointDb| -> Vec<u16> {
        db.iter()
            .filter_map(|e| match e.tower().endpoint() {
                Some(Endpoint::Port(p)) => Some(p),
                _ => None,
            })
            .collect()
    };
    // another owner's element, or a missing one: nothing removed
    assert_eq!(
        db.unregister(1, &[(Uuid::nil(), tcp(i, 1)), (Uuid::nil(), tcp(i, 3))]),
        Err(DbError::NotRegistered)
    );
    assert_eq!(
        db.unregister(1, &[(obj(2), tcp(i, 2))]),
        Err(DbError::NotRegistered)
    );
    assert_eq!(db.len(), 5);
    assert_eq!(db.unregister(1, &[(obj(1), tcp(i, 2))]), Ok(1));
    assert_eq!(all(&db), [1, 3, 3]);
    // mgmt_delete: exact interface version, protocol and endpoint, any owner, address ignored
    let other_host = Tower::ncacn_ip_tcp(i, SyntaxId::NDR20, Ipv4Addr::new(10, 1, 1, 1), 3);
    assert_eq!(db.mgmt_delete(None, &other_host), Ok(1));
    assert_eq!(all(&db), [1, 3]);
    assert_eq!(
        db.mgmt_delete(Some(obj(1)), &tcp(i, 1)),
        Err(DbError::NotRegistered)
    );
    assert_eq!(db.mgmt_delete(Some(Uuid::nil()), &tcp(i, 1)), Ok(1));
    assert_eq!(
        db.mgmt_delete(None, &tcp(i, 99)),
        Err(DbError::NotRegistered)
    );
    let mut no_iface = tcp(i, 1);
    no_iface.floors.clear();
    assert!(matches!(
        db.mgmt_delete(None, &no_iface),
        Err(DbError::InvalidEntry(_))
    ));
    // the registrant goes away
    assert_eq!(db.owned_by(2), 2);
    assert_eq!(db.remove_owner(2), 2);
    assert_eq!(db.remove_owner(2), 0);
    assert!(db.is_empty());
    // indexes are clean: the same elements register again
    reg(&mut db, 3, Uuid::nil(), tcp(i, 3));
    assert_eq!(all(&db), [3]);
    assert_eq!(owner_for_group(5), 5);
    const { assert!(IN_PROCESS_OWNER_BASE > u32::MAX as u64) };
}

#[test]
fn vers_options() {
    use VersOption::*;
    assert_eq!(VersOption::from_u32(0), None);
    assert_eq!(VersOption::from_u32(1), Some(All));
    assert_eq!(VersOption::from_u32(5), Some(UpTo));
    assert_eq!(VersOption::from_u32(6), None);
    let w = iface(0, 2, 3);
    // registered versions: 1.9, 2.0, 2.3, 2.4, 3.0
    let table = [
        (All, [true, true, true, true, true]),
        (Compatible, [false, false, true, true, false]),
        (Exact, [false, false, true, false, false]),
        (MajorOnly, [false, true, true, true, false]),
        (UpTo, [true, true, true, false, false]),
    ];
    let regs = [(1, 9), (2, 0), (2, 3), (2, 4), (3, 0)];
    for (opt, want) in table {
        for ((ma, mi), w_) in regs.iter().zip(want) {
            assert_eq!(opt.matches(w, iface(0, *ma, *mi)), w_, "{opt:?} {ma}.{mi}");
        }
    }
}

#[test]
fn lookups() {
    let mut db = EndpointDb::new();
    let a10 = iface(1, 1, 0);
    let a11 = iface(1, 1, 1);
    let b = iface(2, 1, 0);
    reg(&mut db, 1, Uuid::nil(), tcp(a10, 1));
    reg(&mut db, 1, obj(1), tcp(a11, 2));
    reg(&mut db, 1, obj(1), tcp(b, 3));
    reg(&mut db, 1, Uuid::nil(), tcp(b, 4));
    let q = |l: Lookup| ports(&db.lookup(&l, Cursor::START, usize::MAX).entries);
    assert_eq!(q(Lookup::All), [1, 2, 3, 4]);
    let by_if = |interface, vers| Lookup::Interface { interface, vers };
    assert_eq!(q(by_if(a10, VersOption::All)), [1, 2]);
    assert_eq!(q(by_if(a11, VersOption::Compatible)), [2]);
    assert_eq!(q(by_if(a10, VersOption::Exact)), [1]);
    assert_eq!(q(by_if(iface(3, 1, 0), VersOption::All)), Vec::<u16>::new());
    assert_eq!(q(Lookup::Object(obj(1))), [2, 3]);
    assert_eq!(q(Lookup::Object(Uuid::nil())), [1, 4]);
    assert_eq!(q(Lookup::Object(obj(2))), Vec::<u16>::new());
    let both = |object, interface, vers| Lookup::Both {
        object,
        interface,
        vers,
    };
    assert_eq!(q(both(obj(1), a10, VersOption::All)), [2]);
    assert_eq!(q(both(obj(1), a10, VersOption::Exact)), Vec::<u16>::new());
    assert_eq!(q(both(Uuid::nil(), b, VersOption::All)), [4]);
}

#[test]
fn map_matching_follows_dce() {
    let mut db = EndpointDb::new();
    let i1 = iface(1, 1, 0);
    let i2 = iface(2, 1, 0);
    // C706/rpcd's table: <nil,I1> <nil,I2> <O1,I1> <O1,I2> <O2,I1>
    reg(&mut db, 1, Uuid::nil(), tcp(i1, 1));
    reg(&mut db, 1, Uuid::nil(), tcp(i2, 2));
    reg(&mut db, 1, obj(1), tcp(i1, 3));
    reg(&mut db, 1, obj(1), tcp(i2, 4));
    reg(&mut db, 1, obj(2), tcp(i1, 5));
    assert_eq!(map_all(&db, &mq(Uuid::nil(), i1)), [1]);
    assert_eq!(map_all(&db, &mq(obj(1), i1)), [3, 1]);
    assert_eq!(map_all(&db, &mq(obj(2), i1)), [5, 1]);
    assert_eq!(map_all(&db, &mq(obj(3), i1)), [1]);
    assert_eq!(map_all(&db, &mq(obj(1), i2)), [4, 2]);

    // versions: same major, registered minor at least the requested
    let mut db = EndpointDb::new();
    reg(&mut db, 1, Uuid::nil(), tcp(iface(1, 1, 2), 12));
    reg(&mut db, 1, Uuid::nil(), tcp(iface(1, 2, 0), 20));
    assert_eq!(map_all(&db, &mq(Uuid::nil(), iface(1, 1, 0))), [12]);
    assert_eq!(map_all(&db, &mq(Uuid::nil(), iface(1, 1, 2))), [12]);
    assert!(map_all(&db, &mq(Uuid::nil(), iface(1, 1, 3))).is_empty());
    assert_eq!(map_all(&db, &mq(Uuid::nil(), iface(1, 2, 0))), [20]);
    // the protocol sequence must match: np and ncalrpc elements are not tcp answers
    reg(&mut db, 1, Uuid::nil(), np(iface(1, 1, 2), "\\PIPE\\a"));
    reg(
        &mut db,
        1,
        Uuid::nil(),
        Tower::ncalrpc(iface(1, 1, 2), SyntaxId::NDR20, "lrpc"),
    );
    assert_eq!(map_all(&db, &mq(Uuid::nil(), iface(1, 1, 0))), [12]);
    let np_q = MapQuery::from_tower(Uuid::nil(), &np(iface(1, 1, 0), "")).unwrap();
    let page = db.map(&np_q, Cursor::START, 10);
    assert_eq!(page.entries.len(), 1);
    assert_eq!(
        page.entries[0].tower().binding_string().as_deref(),
        Some("ncacn_np:\\\\HOST[\\PIPE\\a]")
    );
    // the transfer syntax must match
    let ndr64 = Tower::ncacn_ip_tcp(iface(1, 1, 0), SyntaxId::NDR64, LOCAL, 0);
    let q64 = MapQuery::from_tower(Uuid::nil(), &ndr64).unwrap();
    assert!(db.map(&q64, Cursor::START, 10).entries.is_empty());
    // a map tower needs the same floors as a registration
    let mut short = tcp(iface(1, 1, 0), 0);
    short.floors.truncate(3);
    assert!(MapQuery::from_tower(Uuid::nil(), &short).is_err());
}

/// Walks `page_fn` to the end, collecting ports.
fn walk(mut page_fn: impl FnMut(Cursor) -> (Vec<u16>, Option<Cursor>)) -> Vec<u16> {
    let mut out = Vec::new();
    let mut cursor = Cursor::START;
    loop {
        let (got, next) = page_fn(cursor);
        out.extend(got);
        match next {
            Some(c) => cursor = c,
            None => return out,
        }
    }
}

#[test]
fn paging_returns_every_element_once() {
    let mut db = EndpointDb::new();
    let i = iface(1, 1, 0);
    let j = iface(2, 1, 0);
    for p in 0..1000u16 {
        let which = if p % 3 == 0 { j } else { i };
        reg(&mut db, 1, Uuid::nil(), tcp(which, p));
    }
    for size in [1, 13, 500, 999, 1000, 1001] {
        let got = walk(|c| {
            let page = db.lookup(&Lookup::All, c, size);
            assert!(page.entries.len() <= size);
            if page.next.is_some() {
                assert_eq!(
                    page.entries.len(),
                    size,
                    "a page with more after it is full"
                );
            }
            (ports(&page.entries), page.next)
        });
        assert_eq!(got, (0..1000).collect::<Vec<_>>(), "page size {size}");
        let by_if = Lookup::Interface {
            interface: i,
            vers: VersOption::All,
        };
        let got = walk(|c| {
            let page = db.lookup(&by_if, c, size);
            (ports(&page.entries), page.next)
        });
        assert_eq!(got, (0..1000).filter(|p| p % 3 != 0).collect::<Vec<_>>());
        let got = walk(|c| {
            let page = db.map(&mq(obj(1), j), c, size);
            (ports(&page.entries), page.next)
        });
        assert_eq!(got, (0..1000).filter(|p| p % 3 == 0).collect::<Vec<_>>());
    }
    // an exactly full last page says so (no empty extra page)
    let page = db.lookup(&Lookup::All, Cursor::START, 1000);
    assert!(page.next.is_none());
}

#[test]
fn map_paging_crosses_from_object_to_nil_elements() {
    let mut db = EndpointDb::new();
    let i = iface(1, 1, 0);
    for p in 0..4u16 {
        reg(&mut db, 1, obj(1), tcp(i, p));
    }
    for p in 10..14u16 {
        reg(&mut db, 1, Uuid::nil(), tcp(i, p));
    }
    for size in 1..=9 {
        let got = walk(|c| {
            let page = db.map(&mq(obj(1), i), c, size);
            if page.next.is_some() {
                assert_eq!(page.entries.len(), size);
            }
            (ports(&page.entries), page.next)
        });
        assert_eq!(got, [0, 1, 2, 3, 10, 11, 12, 13], "page size {size}");
    }
    // a page exactly filled by the object pass still reports the nil ones
    let page = db.map(&mq(obj(1), i), Cursor::START, 4);
    assert_eq!(ports(&page.entries), [0, 1, 2, 3]);
    let next = page.next.unwrap();
    let page = db.map(&mq(obj(1), i), next, 4);
    assert_eq!(ports(&page.entries), [10, 11, 12, 13]);
    assert!(page.next.is_none());
    // with max 0 nothing is returned, but the walk knows more remain
    let page = db.map(&mq(obj(1), i), Cursor::START, 0);
    assert!(page.entries.is_empty());
    assert!(page.next.is_some());
}

#[test]
fn walks_see_changes_behind_the_cursor() {
    let mut db = EndpointDb::new();
    let i = iface(1, 1, 0);
    for p in 0..10u16 {
        reg(&mut db, 1, Uuid::nil(), tcp(i, p));
    }
    let page = db.lookup(&Lookup::All, Cursor::START, 4);
    assert_eq!(ports(&page.entries), [0, 1, 2, 3]);
    let cursor = page.next.unwrap();
    // remove one already returned and one ahead; add one
    db.unregister(1, &[(Uuid::nil(), tcp(i, 2)), (Uuid::nil(), tcp(i, 5))])
        .unwrap();
    reg(&mut db, 1, Uuid::nil(), tcp(i, 42));
    let rest = walk(|c| {
        let c = if c == Cursor::START { cursor } else { c };
        let page = db.lookup(&Lookup::All, c, 3);
        (ports(&page.entries), page.next)
    });
    assert_eq!(rest, [4, 6, 7, 8, 9, 42]);
    // the cursor of an element that was removed still resumes after it
    let page = db.lookup(&Lookup::All, Cursor::START, 1);
    let c = page.next.unwrap();
    db.unregister(1, &[(Uuid::nil(), tcp(i, 0))]).unwrap();
    assert_eq!(ports(&db.lookup(&Lookup::All, c, 2).entries), [1, 3]);
}

#[test]
fn a_large_map_stays_indexed() {
    // 100,000 elements; a map touches only its interface's elements
    let mut db = EndpointDb::with_max_entries(200_000);
    let batch: Vec<NewEntry> = (0..100_000u32)
        .map(|n| {
            NewEntry::new(
                Uuid::nil(),
                tcp(iface(u128::from(n), 1, 0), (n % 60_000) as u16),
                "",
            )
        })
        .collect();
    db.register(1, batch, false).unwrap();
    assert_eq!(db.len(), 100_000);
    let page = db.map(&mq(Uuid::nil(), iface(77_777, 1, 0)), Cursor::START, 4);
    assert_eq!(ports(&page.entries), [17_777]);
    assert!(page.next.is_none());
    let page = db.lookup(&Lookup::All, Cursor::START, 500);
    assert_eq!(page.entries.len(), 500);
    assert_eq!(db.remove_owner(1), 100_000);
    assert!(db.is_empty());
}
