//! Unit tests of the object tables with a fake clock (plain `Duration`s).

use std::time::Duration;

use super::*;
use crate::ids::guids::IID_IUNKNOWN;

const IID_A: Uuid = Uuid::from_u128(0x1111_1111_0000_0000_0000_0000_0000_0001);
const IID_B: Uuid = Uuid::from_u128(0x1111_1111_0000_0000_0000_0000_0000_0002);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn tables(config: GcConfig) -> (ObjectTables<&'static str>, Oxid) {
    let mut t = ObjectTables::with_ids(config, Box::new(SequentialIds::default()));
    let oxid = t.add_exporter(Bindings::default(), 2).unwrap().oxid;
    (t, oxid)
}

fn rr(ipid: Ipid, public_refs: u32) -> RemInterfaceRef {
    RemInterfaceRef {
        ipid,
        public_refs,
        private_refs: 0,
    }
}

#[test]
fn export_gives_a_stdobjref_and_lookup_finds_it() {
    let (mut t, oxid) = tables(GcConfig::DEFAULT);
    let std = t.export(oxid, "calc", IID_A, 5, true, secs(0)).unwrap();
    assert_eq!(std.oxid, oxid);
    assert_eq!(std.public_refs, 5);
    assert_eq!(std.flags, 0);
    let (e, v) = t.lookup(std.ipid).unwrap();
    assert_eq!(*v, "calc");
    assert_eq!(e.iid, IID_A);
    assert_eq!(e.public_refs, 5);
    // The same interface again: same IPID, more references.
    let again = t.add_interface(std.oid, IID_A, 5, secs(1)).unwrap();
    assert_eq!(again.ipid, std.ipid);
    assert_eq!(t.lookup(std.ipid).unwrap().0.public_refs, 10);
    // Another interface: a new IPID.
    let b = t.add_interface(std.oid, IID_B, 1, secs(1)).unwrap();
    assert_ne!(b.ipid, std.ipid);
    assert_eq!(t.ipid_count(), 2);
    // The IRemUnknown IPID is distinct from object IPIDs.
    let ex = t.exporter(oxid).unwrap();
    assert_ne!(ex.rem_unknown, std.ipid);
    assert_eq!(
        t.exporter_by_rem_unknown(ex.rem_unknown).unwrap().oxid,
        oxid
    );
}

#[test]
fn noping_export_is_flagged_and_lives_by_refcount() {
    let (mut t, oxid) = tables(GcConfig::DEFAULT);
    let std = t.export(oxid, "x", IID_A, 1, false, secs(0)).unwrap();
    assert_eq!(std.flags, SORF_NOPING);
    // Never pinged: still alive long after the timeout.
    assert!(t.expire(secs(10_000)).is_empty());
    let out = t.release(&[rr(std.ipid, 1)]);
    assert_eq!(out.collected, vec![std.oid]);
    assert_eq!(t.object_count(), 0);
    assert_eq!(t.ipid_count(), 0);
}

#[test]
fn release_collects_only_when_no_refs_and_no_set() {
    let (mut t, oxid) = tables(GcConfig::DEFAULT);
    let std = t.export(oxid, "x", IID_A, 2, true, secs(0)).unwrap();
    let set = t.complex_ping(SetId(0), &[std.oid], &[], secs(1)).unwrap();
    assert_ne!(set.set_id, SetId(0));
    // Half the references: nothing happens.
    assert!(t.release(&[rr(std.ipid, 1)]).collected.is_empty());
    // All of them: the set still holds the OID.
    assert!(t.release(&[rr(std.ipid, 1)]).collected.is_empty());
    assert_eq!(t.object_count(), 1);
    // The set lets go: collected at once.
    let out = t
        .complex_ping(set.set_id, &[], &[std.oid], secs(2))
        .unwrap();
    assert_eq!(out.collected, vec![std.oid]);
    assert_eq!(t.object_count(), 0);
    // The set itself stays until it expires.
    assert_eq!(t.set_count(), 1);
}

#[test]
fn release_never_goes_below_zero_and_counts_unknown_ipids() {
    let (mut t, oxid) = tables(GcConfig::DEFAULT);
    let std = t.export(oxid, "x", IID_A, 1, false, secs(0)).unwrap();
    let other = t.export(oxid, "y", IID_A, 1, false, secs(0)).unwrap();
    let out = t.release(&[rr(std.ipid, 100), rr(Ipid(Uuid::from_u128(7)), 1)]);
    assert_eq!(out.unknown, 1);
    assert_eq!(out.collected, vec![std.oid]);
    assert!(t.lookup(other.ipid).is_some());
}

#[test]
fn add_refs_reports_unknown_ipids() {
    let (mut t, oxid) = tables(GcConfig::DEFAULT);
    let std = t.export(oxid, "x", IID_A, 1, true, secs(0)).unwrap();
    let r = t.add_refs(&[rr(std.ipid, 2), rr(Ipid(Uuid::from_u128(9)), 1)], secs(1));
    assert_eq!(r, vec![HResult::S_OK, HResult::E_INVALIDARG]);
    assert_eq!(t.lookup(std.ipid).unwrap().0.public_refs, 3);
}

#[test]
fn ping_set_expires_after_three_missed_periods() {
    let (mut t, oxid) = tables(GcConfig::DEFAULT);
    let std = t.export(oxid, "x", IID_A, 5, true, secs(0)).unwrap();
    let set = t
        .complex_ping(SetId(0), &[std.oid], &[], secs(0))
        .unwrap()
        .set_id;
    // Pinged every 120 s: alive far beyond 6 minutes.
    for k in 1..=10 {
        t.simple_ping(set, secs(120 * k)).unwrap();
        assert!(t.expire(secs(120 * k + 1)).is_empty());
    }
    // The client stops at 1200 s: alive at 1200 + 359, gone at 1200 + 360.
    assert!(t.expire(secs(1200 + 359)).is_empty());
    assert_eq!(t.expire(secs(1200 + 360)), vec![std.oid]);
    assert_eq!(t.set_count(), 0);
    assert_eq!(t.object_count(), 0);
    assert_eq!(t.ipid_count(), 0);
    assert_eq!(
        t.simple_ping(set, secs(2000)),
        Err(TableError::UnknownSet(set))
    );
}

#[test]
fn unpinged_object_of_a_vanished_client_goes_after_the_timeout() {
    let (mut t, oxid) = tables(GcConfig::DEFAULT);
    let std = t.export(oxid, "x", IID_A, 5, true, secs(100)).unwrap();
    assert!(t.expire(secs(100 + 359)).is_empty());
    assert_eq!(t.expire(secs(100 + 360)), vec![std.oid]);
}

#[test]
fn period_and_missed_pings_are_configurable() {
    let config = GcConfig {
        ping_period: Duration::from_millis(100),
        missed_pings: 2,
        ..GcConfig::DEFAULT
    };
    assert_eq!(config.timeout(), Duration::from_millis(200));
    let (mut t, oxid) = tables(config);
    let std = t.export(oxid, "x", IID_A, 1, true, secs(0)).unwrap();
    let set = t
        .complex_ping(SetId(0), &[std.oid], &[], secs(0))
        .unwrap()
        .set_id;
    t.simple_ping(set, Duration::from_millis(150)).unwrap();
    assert!(t.expire(Duration::from_millis(349)).is_empty());
    assert_eq!(t.expire(Duration::from_millis(350)), vec![std.oid]);
}

#[test]
fn object_in_two_sets_survives_one_set_expiring() {
    let (mut t, oxid) = tables(GcConfig::DEFAULT);
    let std = t.export(oxid, "x", IID_A, 1, true, secs(0)).unwrap();
    let s1 = t
        .complex_ping(SetId(0), &[std.oid], &[], secs(0))
        .unwrap()
        .set_id;
    let s2 = t
        .complex_ping(SetId(0), &[std.oid], &[], secs(0))
        .unwrap()
        .set_id;
    assert_ne!(s1, s2);
    t.simple_ping(s2, secs(300)).unwrap();
    assert!(t.expire(secs(400)).is_empty());
    assert_eq!(t.set_count(), 1);
    assert_eq!(t.expire(secs(660)), vec![std.oid]);
}

#[test]
fn complex_ping_reports_unknown_oids_and_unknown_sets() {
    let (mut t, oxid) = tables(GcConfig::DEFAULT);
    let std = t.export(oxid, "x", IID_A, 1, true, secs(0)).unwrap();
    let out = t
        .complex_ping(SetId(0), &[std.oid, Oid(0xdead)], &[], secs(0))
        .unwrap();
    assert_eq!(out.unknown_oids, vec![Oid(0xdead)]);
    let err = t
        .complex_ping(SetId(0x1234_5678), &[], &[], secs(0))
        .unwrap_err();
    assert_eq!(err.status(), status::OR_INVALID_SET);
    // Sequence numbers are not checked: pinging twice with anything works.
    t.complex_ping(out.set_id, &[], &[], secs(1)).unwrap();
}

#[test]
fn limits_refuse_without_changing_anything() {
    let config = GcConfig {
        max_exporters: 1,
        max_objects: 2,
        max_ipids: 3,
        max_sets: 1,
        max_oids_per_set: 1,
        ..GcConfig::DEFAULT
    };
    let (mut t, oxid) = tables(config);
    assert!(matches!(
        t.add_exporter(Bindings::default(), 2),
        Err(TableError::Limit {
            what: "exporters",
            ..
        })
    ));
    let a = t.export(oxid, "a", IID_A, 1, true, secs(0)).unwrap();
    let b = t.export(oxid, "b", IID_A, 1, true, secs(0)).unwrap();
    assert!(matches!(
        t.export(oxid, "c", IID_A, 1, true, secs(0)),
        Err(TableError::Limit {
            what: "objects",
            ..
        })
    ));
    t.add_interface(a.oid, IID_B, 1, secs(0)).unwrap();
    assert!(matches!(
        t.add_interface(b.oid, IID_B, 1, secs(0)),
        Err(TableError::Limit { what: "IPIDs", .. })
    ));
    // Two OIDs into a set of at most one: refused, no set created.
    assert!(matches!(
        t.complex_ping(SetId(0), &[a.oid, b.oid], &[], secs(0)),
        Err(TableError::Limit {
            what: "OIDs per ping set",
            ..
        })
    ));
    assert_eq!(t.set_count(), 0);
    let s = t
        .complex_ping(SetId(0), &[a.oid], &[], secs(0))
        .unwrap()
        .set_id;
    assert!(matches!(
        t.complex_ping(SetId(0), &[], &[], secs(0)),
        Err(TableError::Limit {
            what: "ping sets",
            ..
        })
    ));
    // Swapping the one OID for another stays within the limit.
    t.complex_ping(s, &[b.oid], &[a.oid], secs(0)).unwrap();
    assert_eq!(t.object_count(), 2);
    assert!(matches!(
        t.export(Oxid(12345), "z", IID_IUNKNOWN, 1, true, secs(0)),
        Err(TableError::UnknownOxid(_))
    ));
}

#[test]
fn removing_an_exporter_removes_its_objects() {
    let (mut t, oxid) = tables(GcConfig::DEFAULT);
    let a = t.export(oxid, "a", IID_A, 1, true, secs(0)).unwrap();
    let set = t
        .complex_ping(SetId(0), &[a.oid], &[], secs(0))
        .unwrap()
        .set_id;
    assert_eq!(t.remove_exporter(oxid), vec![a.oid]);
    assert_eq!(
        (t.object_count(), t.ipid_count(), t.exporter_count()),
        (0, 0, 0)
    );
    // The set no longer holds the OID; pinging it still works until it expires.
    t.simple_ping(set, secs(1)).unwrap();
}

#[test]
fn many_clients_vanishing_return_memory_to_zero() {
    let (mut t, oxid) = tables(GcConfig::DEFAULT);
    for i in 0..500u64 {
        let s = t.export(oxid, "o", IID_A, 5, true, secs(i)).unwrap();
        t.complex_ping(SetId(0), &[s.oid], &[], secs(i)).unwrap();
    }
    assert_eq!(t.object_count(), 500);
    let gone = t.expire(secs(500 + 360));
    assert_eq!(gone.len(), 500);
    assert_eq!((t.object_count(), t.ipid_count(), t.set_count()), (0, 0, 0));
}

#[test]
fn table_errors_map_to_resolver_status() {
    assert_eq!(
        TableError::UnknownOxid(Oxid(1)).status(),
        status::OR_INVALID_OXID
    );
    assert_eq!(
        TableError::UnknownOid(Oid(1)).status(),
        status::OR_INVALID_OID
    );
    assert_eq!(
        TableError::UnknownSet(SetId(1)).status(),
        status::OR_INVALID_SET
    );
}

#[test]
fn adopted_objects_live_by_pings_and_go_by_timeout_or_removal() {
    let (mut t, oxid) = tables(GcConfig::DEFAULT);
    let foreign = t
        .insert_exporter(
            None,
            Some(Ipid(Uuid::from_u128(0xabc))),
            Bindings::default(),
            5,
        )
        .unwrap()
        .oxid;
    // The IPID is taken now, and so is the OXID.
    assert_eq!(
        t.insert_exporter(
            None,
            Some(Ipid(Uuid::from_u128(0xabc))),
            Bindings::default(),
            5
        )
        .map(|e| e.oxid),
        Err(TableError::Taken("IPID"))
    );
    assert_eq!(
        t.insert_exporter(Some(foreign), None, Bindings::default(), 5)
            .map(|e| e.oxid),
        Err(TableError::Taken("OXID"))
    );
    t.adopt(foreign, Oid(500), "elsewhere", secs(0)).unwrap();
    t.adopt(foreign, Oid(501), "elsewhere", secs(0)).unwrap();
    assert_eq!(t.owner(Oid(500)), Some(foreign));
    // Another exporter cannot claim them; the same one refreshes.
    assert_eq!(
        t.adopt(oxid, Oid(500), "x", secs(0)),
        Err(TableError::Taken("OID"))
    );
    assert_eq!(t.adopt(foreign, Oid(500), "x", secs(1)), Ok(()));
    // No references here, yet a collection keeps them (their process holds them).
    assert!(t.expire(secs(2)).is_empty());
    // In a ping set, then out of it: still there (not collected as unreferenced).
    let set = t
        .complex_ping(SetId(0), &[Oid(500), Oid(501)], &[], secs(100))
        .unwrap();
    let out = t
        .complex_ping(set.set_id, &[], &[Oid(501)], secs(101))
        .unwrap();
    assert!(out.collected.is_empty());
    // 501 unpinged for the timeout goes; 500 pinged stays.
    t.simple_ping(set.set_id, secs(400)).unwrap();
    let gone = t.expire_owned(secs(460));
    assert_eq!(gone, vec![(Oid(501), foreign)]);
    assert_eq!(t.owner(Oid(500)), Some(foreign));
    // Removed by its process.
    assert_eq!(t.remove_objects(&[Oid(500), Oid(999)]), vec![Oid(500)]);
    assert_eq!(t.exporter(foreign).map(Exporter::object_count), Some(0));
}
