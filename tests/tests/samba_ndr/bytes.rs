//! Comparing our stubs with Samba's, shared by the NDR cross-checks (`samba_ndr.rs`,
//! `samba_ndr64.rs`, `samba_ndr_spoolss.rs`, `samba_ndr_services.rs`): byte comparison up to
//! renumbered referent ids, the hex vector files the scripts write, and reading ndrdump's
//! output.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;

use msrpc_ndr::{DataRep, Endian, FIRST_REF_ID};

pub(crate) fn hex_window(b: &[u8], at: usize) -> String {
    let from = at.saturating_sub(16) & !3;
    let to = (at + 16).min(b.len());
    b.get(from..to)
        .map(|s| format!("@{from:#x}: {}", hex::encode(s)))
        .unwrap_or_default()
}

/// True when the 4-byte word `w` is a referent id our writer hands out: `FIRST_REF_ID`, then
/// steps of 4, no more of them than words in a stub of `len` bytes.
pub(crate) fn our_referent_id(w: &[u8], drep: DataRep, len: usize) -> bool {
    let Ok(a) = <[u8; 4]>::try_from(w) else {
        return false;
    };
    let v = match drep.endian() {
        Endian::Little => u32::from_le_bytes(a),
        Endian::Big => u32::from_be_bytes(a),
    };
    v.checked_sub(FIRST_REF_ID)
        .is_some_and(|d| d % 4 == 0 && (d / 4) as usize <= len / 4)
}

/// `Ok(n)` when `theirs` equals `ours` except for `n` referent ids: 4-byte-aligned words that
/// hold one of our referent ids and a non-zero word on Samba's side, renumbered one to one
/// (C706 14.3.10: a referent id is any non-zero value, unique per referent in a stub).
pub(crate) fn same_but_referent_ids(
    ours: &[u8],
    theirs: &[u8],
    drep: DataRep,
) -> Result<usize, String> {
    if ours.len() != theirs.len() {
        let at = ours
            .iter()
            .zip(theirs)
            .position(|(a, b)| a != b)
            .unwrap_or(ours.len().min(theirs.len()));
        return Err(format!(
            "{} bytes, ours {}; first difference at {at:#x}\n      ours   {}\n      theirs {}",
            theirs.len(),
            ours.len(),
            hex_window(ours, at),
            hex_window(theirs, at)
        ));
    }
    let mut forward: HashMap<&[u8], &[u8]> = HashMap::new();
    let mut backward: HashMap<&[u8], &[u8]> = HashMap::new();
    for (i, (o, t)) in ours.chunks(4).zip(theirs.chunks(4)).enumerate() {
        if o == t {
            continue;
        }
        let nonzero = |w: &[u8]| w.iter().any(|&b| b != 0);
        let consistent = our_referent_id(o, drep, ours.len())
            && nonzero(t)
            && *forward.entry(o).or_insert(t) == t
            && *backward.entry(t).or_insert(o) == o;
        if !consistent {
            let at = i * 4;
            return Err(format!(
                "bytes differ at {at:#x} (not a referent id)\n      ours   {}\n      theirs {}",
                hex_window(ours, at),
                hex_window(theirs, at)
            ));
        }
    }
    Ok(forward.len())
}

pub(crate) fn read_hex(path: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let clean: String = text.split_whitespace().collect();
    hex::decode(clean).map_err(|e| format!("{}: not hex: {e}", path.display()))
}

/// `text` has a line whose words are `field`, `:` and then start with `value`.
pub(crate) fn has(text: &str, field: &str, value: &str) -> bool {
    text.lines().any(|l| {
        let mut w = l.split_whitespace();
        w.next() == Some(field)
            && w.next() == Some(":")
            && w.collect::<Vec<_>>().join(" ").starts_with(value)
    })
}
