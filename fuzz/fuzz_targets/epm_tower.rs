//! Protocol towers (crates/msrpc-epm `Tower`): decoding arbitrary `tower_octet_string` octets.
//!
//! Invariants: no panic; a decoded tower encodes, and the encoding decodes to the same tower
//! and encodes to the same octets again; floors survive `to_sides`/`from_sides`; the accessors
//! (interface, transfer syntax, protocol ids and sequence, endpoint, address, binding string,
//! Display) and the database's view of a tower (`MapQuery::from_tower`, `NewEntry` +
//! `EndpointDb::register`) never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msrpc_epm::db::MapQuery;
use msrpc_epm::{EndpointDb, NewEntry, Tower, Twr};
use msrpc_fuzz::hex;
use msrpc_ndr::Uuid;

fuzz_target!(|data: &[u8]| {
    let Ok(tower) = Tower::decode(data) else {
        return;
    };
    let bytes = match tower.encode() {
        Ok(b) => b,
        Err(e) => panic!("decoded tower does not encode ({e}): {tower:?}\ninput {}", hex(data)),
    };
    let again = match Tower::decode(&bytes) {
        Ok(t) => t,
        Err(e) => panic!("re-encoded tower does not decode ({e}): {}\nfrom {tower:?}", hex(&bytes)),
    };
    assert_eq!(again, tower, "tower round trip; input {} re-encoded {}", hex(data), hex(&bytes));
    assert_eq!(again.encode().ok().as_deref(), Some(&bytes[..]), "tower encode not stable");
    let twr = Twr::new(data.to_vec());
    assert_eq!(Tower::from_twr(&twr).as_ref(), Ok(&tower));

    let _ = tower.interface();
    let _ = tower.transfer_syntax();
    let _ = tower.protocol_ids();
    let _ = tower.protocol_sequence();
    let _ = tower.endpoint().map(|e| e.to_string());
    let _ = tower.address().map(|a| a.to_string());
    let _ = tower.binding_string();
    let _ = tower.to_string();

    let object = Uuid::from_u128(0x1234);
    let _ = MapQuery::from_tower(object, &tower);
    let mut db = EndpointDb::with_max_entries(4);
    let _ = db.register(1, vec![NewEntry::new(object, tower.clone(), "fuzz")], data.first() == Some(&1));
    let _ = db.mgmt_delete(Some(object), &tower);
});
