//! Exploit shapes that only a request's stub shows: DCOM activation requests carrying
//! oversized names or paths (the MS03-026 and MS03-039 class: `RemoteActivation`'s object name
//! with an overlong `\\server` part, activation properties with overlong file or server
//! names).
//!
//! The inspection does not decode the DCOM structures (ORPCTHIS, activation property blobs);
//! it scans the stub for NDR conformant-varying UTF-16 strings (`max_count`, `offset` 0,
//! `actual_count`, then the characters) that fit in the stub, and judges their length. That is
//! robust to how the strings are nested (a property blob is serialized with its own
//! alignment) and costs one pass over the stub with a bounded look at each candidate. In an
//! NDR64 call the stub's own strings have 8-byte counts (MS-RPCE 2.2.5.3.1) while those inside
//! an activation properties blob keep the blob's NDR20 ones: both layouts are looked for.
//!
//! Fragment-level shapes (lengths or `alloc_hint` that would overflow a reassembly buffer,
//! the CVE-2022-26809 class) are reported by the producers as [`EventKind::Malformed`]
//! events with one of the [`OVERFLOW_REASONS`] codes; the `exploit_shape` detector turns
//! those into alerts.
//!
//! [`EventKind::Malformed`]: crate::EventKind::Malformed

use msrpc_ndr::{DataRep, TransferSyntax, Uuid};
use serde::{Deserialize, Serialize};

use crate::names::{IREMOTE_ACTIVATION, ISYSTEM_ACTIVATOR};

/// A UNC server name (`\\server\...`) longer than this many UTF-16 units is an exploit
/// shape. Windows computer names are at most 15 (NetBIOS) or 63 (DNS label) characters.
pub const MAX_SERVER_NAME_CHARS: u32 = 64;

/// A name or path longer than this many UTF-16 units is an exploit shape (`MAX_PATH` is 260).
pub const MAX_NAME_CHARS: u32 = 1024;

/// `Malformed` reason codes that mean a fragment sequence's lengths or `alloc_hint` would
/// overflow a reassembly buffer (the CVE-2022-26809 class). `frag_length_over_max` is not one:
/// ordinary clients (Impacket without a fragment size) send fragments larger than negotiated.
pub const OVERFLOW_REASONS: &[&str] = &[
    "reassembly_over_cap",
    "alloc_hint_overflow",
    "alloc_hint_over_cap",
];

/// An exploit shape found in a request stub.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable shape code: `dcom_oversized_server_name` or `dcom_oversized_name`.
    pub shape: String,
    /// Human-readable detail (lengths and where in the stub).
    pub detail: String,
}

/// Whether requests on `interface` are worth keeping the stub of for [`request`].
pub fn inspects(interface: &Uuid) -> bool {
    *interface == IREMOTE_ACTIVATION || *interface == ISYSTEM_ACTIVATOR
}

/// Looks at a request stub for an exploit shape: DCOM activation (`IRemoteActivation`
/// opnum 0, `ISystemActivator` opnums 3 and 4) with an oversized server name or name.
/// `None` for other interfaces and for ordinary requests. Never panics, whatever the bytes.
/// `syntax` is the transfer syntax of the call's presentation context.
pub fn request(
    interface: &Uuid,
    opnum: u16,
    stub: &[u8],
    drep: DataRep,
    syntax: TransferSyntax,
) -> Option<Finding> {
    let activation = (*interface == IREMOTE_ACTIVATION && opnum == 0)
        || (*interface == ISYSTEM_ACTIVATOR && (opnum == 3 || opnum == 4));
    if !activation {
        return None;
    }
    let op = crate::names::operation_name(interface, opnum).unwrap_or("activation");
    let little = matches!(drep.endian(), msrpc_ndr::Endian::Little);
    let mut at = 0usize;
    while at.saturating_add(12) <= stub.len() {
        let found = wide_string_at(stub, at, little, false).or_else(|| {
            (syntax.is_ndr64() && at % 8 == 0)
                .then(|| wide_string_at(stub, at, little, true))
                .flatten()
        });
        if let Some(s) = found {
            if let Some(server) = s.server_name_len {
                if server > MAX_SERVER_NAME_CHARS {
                    return Some(Finding {
                        shape: "dcom_oversized_server_name".into(),
                        detail: format!(
                            "{op}: UNC name at stub offset {at} has a {server}-character server \
                             name (limit {MAX_SERVER_NAME_CHARS})"
                        ),
                    });
                }
            }
            if s.chars > MAX_NAME_CHARS {
                return Some(Finding {
                    shape: "dcom_oversized_name".into(),
                    detail: format!(
                        "{op}: {}-character string at stub offset {at} (limit {MAX_NAME_CHARS})",
                        s.chars
                    ),
                });
            }
        }
        at += 1;
    }
    None
}

struct WideString {
    chars: u32,
    /// For a `\\server\...` name: the server part's length.
    server_name_len: Option<u32>,
}

fn u32_at(b: &[u8], at: usize, little: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if little {
        u32::from_le_bytes(s)
    } else {
        u32::from_be_bytes(s)
    })
}

/// A conformance or variance count: 4 bytes, or 8 (NDR64) that must fit in 32 bits.
fn count_at(b: &[u8], at: usize, little: bool, ndr64: bool) -> Option<u32> {
    if !ndr64 {
        return u32_at(b, at, little);
    }
    let s: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
    let v = if little {
        u64::from_le_bytes(s)
    } else {
        u64::from_be_bytes(s)
    };
    u32::try_from(v).ok()
}

fn u16_at(b: &[u8], at: usize, little: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if little {
        u16::from_le_bytes(s)
    } else {
        u16::from_be_bytes(s)
    })
}

/// Units of a string looked at to judge it plausible text, and to measure a server name.
const LOOK: u32 = 4096;

/// A conformant-varying UTF-16 string header at `at` (counts of 4 bytes, or 8 with `ndr64`)
/// whose characters fit in the stub and look like text.
fn wide_string_at(b: &[u8], at: usize, little: bool, ndr64: bool) -> Option<WideString> {
    let w = if ndr64 { 8 } else { 4 };
    let max = count_at(b, at, little, ndr64)?;
    let offset = count_at(b, at.checked_add(w)?, little, ndr64)?;
    let actual = count_at(b, at.checked_add(2 * w)?, little, ndr64)?;
    if offset != 0 || actual < 3 || actual > max {
        return None;
    }
    let start = at.checked_add(3 * w)?;
    let bytes = usize::try_from(actual).ok()?.checked_mul(2)?;
    if start.checked_add(bytes)? > b.len() {
        return None;
    }
    let unit = |i: u32| u16_at(b, start + 2 * i as usize, little);
    // Plausible text: the first units are printable BMP characters (a terminating NUL may
    // end the string).
    let probe = actual.min(16);
    for i in 0..probe {
        let c = unit(i)?;
        let last = i + 1 == actual;
        if (c == 0 && !last) || (c != 0 && c < 0x20) || (0xd800..0xe000).contains(&c) {
            return None;
        }
    }
    let server_name_len = if unit(0)? == u16::from(b'\\') && unit(1)? == u16::from(b'\\') {
        let mut n = 0u32;
        for i in 2..actual.min(LOOK) {
            let c = unit(i)?;
            if c == u16::from(b'\\') || c == 0 {
                break;
            }
            n += 1;
        }
        Some(n)
    } else {
        None
    };
    Some(WideString {
        chars: actual,
        server_name_len,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// A RemoteActivation-like stub: ORPCTHIS-sized prefix, a CLSID, then a unique pointer
    /// and the object name as a conformant-varying string.
    fn activation_stub(name: &str, little: bool) -> Vec<u8> {
        let mut s = vec![0u8; 32 + 16];
        let put = |s: &mut Vec<u8>, v: u32| {
            s.extend_from_slice(&if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            })
        };
        put(&mut s, 0x0002_0000);
        let units: Vec<u16> = name.encode_utf16().chain([0]).collect();
        let n = units.len() as u32;
        put(&mut s, n);
        put(&mut s, 0);
        put(&mut s, n);
        for u in units {
            s.extend_from_slice(&if little {
                u.to_le_bytes()
            } else {
                u.to_be_bytes()
            });
        }
        s.extend_from_slice(&[0; 20]);
        s
    }

    #[test]
    fn ms03_026_shape_fires() {
        let name = format!("\\\\{}\\c$\\a.doc", "A".repeat(300));
        for little in [true, false] {
            let drep = if little {
                DataRep::LITTLE_ENDIAN
            } else {
                DataRep::BIG_ENDIAN
            };
            let f = request(
                &IREMOTE_ACTIVATION,
                0,
                &activation_stub(&name, little),
                drep,
                TransferSyntax::Ndr20,
            )
            .unwrap();
            assert_eq!(f.shape, "dcom_oversized_server_name");
            assert!(f.detail.contains("300-character"), "{}", f.detail);
        }
        let long = "C:\\".to_string() + &"x".repeat(2000);
        let f = request(
            &ISYSTEM_ACTIVATOR,
            4,
            &activation_stub(&long, true),
            DataRep::LITTLE_ENDIAN,
            TransferSyntax::Ndr20,
        )
        .unwrap();
        assert_eq!(f.shape, "dcom_oversized_name");
    }

    const LE: DataRep = DataRep::LITTLE_ENDIAN;
    const NDR20: TransferSyntax = TransferSyntax::Ndr20;

    /// RemoteActivation's object name in an NDR64 stub: an 8-byte referent id, then 8-byte
    /// max count, offset and actual count, each aligned to 8 (MS-RPCE 2.2.5.3.1).
    fn ndr64_activation_stub(name: &str) -> Vec<u8> {
        let mut s = vec![0u8; 32 + 16];
        s.extend_from_slice(&0x0002_0000u64.to_le_bytes());
        let units: Vec<u16> = name.encode_utf16().chain([0]).collect();
        let n = units.len() as u64;
        for v in [n, 0, n] {
            s.extend_from_slice(&v.to_le_bytes());
        }
        for u in units {
            s.extend_from_slice(&u.to_le_bytes());
        }
        s.extend_from_slice(&[0; 20]);
        s
    }

    #[test]
    fn ndr64_stub_strings_are_inspected() {
        let bad = ndr64_activation_stub(&format!("\\\\{}\\c$", "A".repeat(300)));
        let f = request(&IREMOTE_ACTIVATION, 0, &bad, LE, TransferSyntax::Ndr64).unwrap();
        assert_eq!(f.shape, "dcom_oversized_server_name");
        assert!(f.detail.contains("300-character"), "{}", f.detail);
        // The NDR20 scan alone does not see a string with 8-byte counts.
        assert_eq!(request(&IREMOTE_ACTIVATION, 0, &bad, LE, NDR20), None);
        let ok = ndr64_activation_stub("\\\\FILESERVER01\\share\\doc.txt");
        assert_eq!(
            request(&IREMOTE_ACTIVATION, 0, &ok, LE, TransferSyntax::Ndr64),
            None
        );
        // A blob's NDR20 strings are still found in an NDR64 call.
        let blob = activation_stub(&format!("\\\\{}", "A".repeat(300)), true);
        assert!(request(&ISYSTEM_ACTIVATOR, 4, &blob, LE, TransferSyntax::Ndr64).is_some());
        for cut in 0..bad.len() {
            let _ = request(
                &IREMOTE_ACTIVATION,
                0,
                &bad[..cut],
                LE,
                TransferSyntax::Ndr64,
            );
        }
    }

    #[test]
    fn ordinary_activation_and_other_interfaces_stay_quiet() {
        let ok = activation_stub("\\\\FILESERVER01\\share\\doc.txt", true);
        assert_eq!(request(&IREMOTE_ACTIVATION, 0, &ok, LE, NDR20), None);
        let bad = activation_stub(&format!("\\\\{}", "A".repeat(300)), true);
        // The same bytes on another interface or opnum are not inspected.
        assert_eq!(request(&crate::names::EPM, 0, &bad, LE, NDR20), None);
        assert_eq!(request(&ISYSTEM_ACTIVATOR, 0, &bad, LE, NDR20), None);
        // Truncated or garbage stubs never panic.
        for cut in 0..bad.len() {
            let _ = request(&IREMOTE_ACTIVATION, 0, &bad[..cut], LE, NDR20);
        }
        let junk: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(request(&ISYSTEM_ACTIVATOR, 3, &junk, LE, NDR20), None);
    }
}
