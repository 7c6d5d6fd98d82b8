//! `DUALSTRINGARRAY` (MS-DCOM 2.2.19): network and security bindings of an object exporter or
//! resolver, as the NDR structure, its packet form (inside OBJREFs) and a parsed view.
//!
//! `aStringArray` holds `STRINGBINDING`s (2.2.19.3: tower id, NUL-terminated UTF-16 network
//! address) ended by a 0, then, from `wSecurityOffset` on, `SECURITYBINDING`s (2.2.19.4:
//! authentication service, `0xFFFF`, NUL-terminated UTF-16 principal name) ended by a 0. An
//! empty section is written as two zeros (2.2.19.1: the smallest array is four zeros with
//! `wSecurityOffset` 2). [`DualStringArray::from_bindings`] writes exactly that and nothing
//! more.

use msrpc_ndr::Ndr;

use crate::error::{DcomError, DcomResult};
use crate::le::{put_u16, Cursor};

/// Tower id of `ncacn_ip_tcp` (C706 appendix I), the one Windows and Impacket use.
pub const TOWER_NCACN_IP_TCP: u16 = 0x07;
/// Tower id of `ncadg_ip_udp`.
pub const TOWER_NCADG_IP_UDP: u16 = 0x08;
/// Tower id of `ncacn_np`.
pub const TOWER_NCACN_NP: u16 = 0x0f;
/// Tower id of `ncacn_http`.
pub const TOWER_NCACN_HTTP: u16 = 0x1f;
/// `wAuthzSvc` of a SECURITYBINDING: MUST be 0xFFFF (MS-DCOM 2.2.19.4).
pub const AUTHZ_DEFAULT: u16 = 0xffff;

/// `DUALSTRINGARRAY` (MS-DCOM 2.2.19.2): the NDR (conformant structure) form.
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DualStringArray {
    /// `wNumEntries`: the number of `u16`s in `string_array`.
    pub num_entries: u16,
    /// `wSecurityOffset`: where the security bindings start, in `u16`s.
    pub security_offset: u16,
    /// `aStringArray`.
    #[ndr(size_is = "num_entries")]
    pub string_array: Vec<u16>,
}

/// `STRINGBINDING` (MS-DCOM 2.2.19.3).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct StringBinding {
    /// `wTowerId`: the protocol sequence ([`TOWER_NCACN_IP_TCP`], ...); never 0.
    pub tower_id: u16,
    /// `aNetworkAddr`: a host name or address, optionally with `[endpoint]`.
    pub network_addr: String,
}

/// `SECURITYBINDING` (MS-DCOM 2.2.19.4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SecurityBinding {
    /// `wAuthnSvc`: the authentication service (10 NTLM, 9 negotiate, 16 Kerberos); never 0.
    pub authn_svc: u16,
    /// `Reserved` (`wAuthzSvc`): MUST be [`AUTHZ_DEFAULT`]; other values are kept as received.
    pub authz_svc: u16,
    /// `aPrincName`: the principal name (may be empty).
    pub principal_name: String,
}

impl SecurityBinding {
    /// A binding for `authn_svc` with the required `0xFFFF`.
    pub fn new(authn_svc: u16, principal_name: impl Into<String>) -> Self {
        SecurityBinding {
            authn_svc,
            authz_svc: AUTHZ_DEFAULT,
            principal_name: principal_name.into(),
        }
    }
}

/// The bindings a DUALSTRINGARRAY carries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bindings {
    /// String bindings, in the server's order of preference.
    pub strings: Vec<StringBinding>,
    /// Security bindings, in the server's order of preference.
    pub security: Vec<SecurityBinding>,
}

/// Bounds on parsing a peer's bindings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindingLimits {
    /// Most string bindings plus security bindings. Default 64.
    pub max_bindings: usize,
    /// Longest network address or principal name, in UTF-16 units. Default 512.
    pub max_string_units: usize,
}

impl BindingLimits {
    /// The defaults described on each field.
    pub const DEFAULT: BindingLimits = BindingLimits {
        max_bindings: 64,
        max_string_units: 512,
    };
}

impl Default for BindingLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Splits `part` at its first 0 (the string's terminator): the text and what follows.
fn nul_terminated<'a>(
    part: &'a [u16],
    what: &'static str,
    limits: &BindingLimits,
) -> DcomResult<(String, &'a [u16])> {
    let Some(end) = part.iter().position(|&u| u == 0) else {
        return Err(DcomError::Invalid(
            "DUALSTRINGARRAY: string without terminator",
        ));
    };
    if end > limits.max_string_units {
        return Err(DcomError::Limit {
            what,
            value: end as u64,
            limit: limits.max_string_units as u64,
        });
    }
    let (text, rest) = part.split_at(end);
    let s = String::from_utf16(text).map_err(|_| DcomError::InvalidString(what))?;
    Ok((s, rest.get(1..).unwrap_or(&[])))
}

/// After a section's terminator only zeros may remain (the two-zero empty form).
fn only_zeros(rest: &[u16], what: &'static str) -> DcomResult<()> {
    if rest.iter().all(|&u| u == 0) {
        Ok(())
    } else {
        Err(DcomError::Invalid(what))
    }
}

impl DualStringArray {
    /// The smallest array (no binding of either kind): four zeros, security offset 2.
    pub fn empty() -> Self {
        DualStringArray {
            num_entries: 4,
            security_offset: 2,
            string_array: vec![0; 4],
        }
    }

    /// Encodes `bindings` as 2.2.19 specifies (see the module docs). Fails when a tower id or
    /// authentication service is 0, a string contains a NUL, or the array would exceed 65535
    /// entries.
    pub fn from_bindings(bindings: &Bindings) -> DcomResult<Self> {
        let mut v: Vec<u16> = Vec::new();
        let push_str = |v: &mut Vec<u16>, s: &str| -> DcomResult<()> {
            let start = v.len();
            v.extend(s.encode_utf16());
            if v.get(start..).is_some_and(|t| t.contains(&0)) {
                return Err(DcomError::Unencodable("NUL inside a binding string"));
            }
            v.push(0);
            Ok(())
        };
        if bindings.strings.is_empty() {
            v.extend([0, 0]);
        } else {
            for b in &bindings.strings {
                if b.tower_id == 0 {
                    return Err(DcomError::Unencodable("string binding with tower id 0"));
                }
                v.push(b.tower_id);
                push_str(&mut v, &b.network_addr)?;
            }
            v.push(0);
        }
        let security_offset = v.len();
        if bindings.security.is_empty() {
            v.extend([0, 0]);
        } else {
            for b in &bindings.security {
                if b.authn_svc == 0 {
                    return Err(DcomError::Unencodable(
                        "security binding with authentication service 0",
                    ));
                }
                v.push(b.authn_svc);
                v.push(b.authz_svc);
                push_str(&mut v, &b.principal_name)?;
            }
            v.push(0);
        }
        let too_big = || DcomError::Unencodable("DUALSTRINGARRAY longer than 65535 entries");
        Ok(DualStringArray {
            num_entries: u16::try_from(v.len()).map_err(|_| too_big())?,
            security_offset: u16::try_from(security_offset).map_err(|_| too_big())?,
            string_array: v,
        })
    }

    /// Parses the bindings, strictly: each section ends with a 0 (only zeros may follow it),
    /// `wSecurityOffset` lies within the array, `wNumEntries` equals the array's length,
    /// strings are valid UTF-16 within `limits`.
    pub fn parse(&self, limits: &BindingLimits) -> DcomResult<Bindings> {
        if usize::from(self.num_entries) != self.string_array.len() {
            return Err(DcomError::Invalid(
                "DUALSTRINGARRAY: wNumEntries differs from the array length",
            ));
        }
        let Some((mut strings_part, mut sec_part)) = self
            .string_array
            .split_at_checked(usize::from(self.security_offset))
        else {
            return Err(DcomError::Invalid(
                "DUALSTRINGARRAY: wSecurityOffset beyond wNumEntries",
            ));
        };
        let mut out = Bindings::default();
        let count_check = |out: &Bindings| -> DcomResult<()> {
            let n = out.strings.len() + out.security.len();
            if n > limits.max_bindings {
                return Err(DcomError::Limit {
                    what: "DUALSTRINGARRAY bindings",
                    value: n as u64,
                    limit: limits.max_bindings as u64,
                });
            }
            Ok(())
        };
        loop {
            match strings_part.split_first() {
                None => {
                    return Err(DcomError::Invalid(
                        "DUALSTRINGARRAY: string bindings without terminator",
                    ))
                }
                Some((0, rest)) => {
                    only_zeros(rest, "DUALSTRINGARRAY: data after the string bindings' end")?;
                    break;
                }
                Some((&tower_id, rest)) => {
                    let (network_addr, rest) =
                        nul_terminated(rest, "STRINGBINDING aNetworkAddr", limits)?;
                    out.strings.push(StringBinding {
                        tower_id,
                        network_addr,
                    });
                    count_check(&out)?;
                    strings_part = rest;
                }
            }
        }
        loop {
            match sec_part.split_first() {
                None => {
                    return Err(DcomError::Invalid(
                        "DUALSTRINGARRAY: security bindings without terminator",
                    ))
                }
                Some((0, rest)) => {
                    only_zeros(
                        rest,
                        "DUALSTRINGARRAY: data after the security bindings' end",
                    )?;
                    break;
                }
                Some((&authn_svc, rest)) => {
                    let Some((&authz_svc, rest)) = rest.split_first() else {
                        return Err(DcomError::Invalid(
                            "DUALSTRINGARRAY: truncated security binding",
                        ));
                    };
                    let (principal_name, rest) =
                        nul_terminated(rest, "SECURITYBINDING aPrincName", limits)?;
                    out.security.push(SecurityBinding {
                        authn_svc,
                        authz_svc,
                        principal_name,
                    });
                    count_check(&out)?;
                    sec_part = rest;
                }
            }
        }
        Ok(out)
    }

    /// Reads the packet form (2.2.19.1, little-endian, inside an OBJREF): the two counts and
    /// `wNumEntries` units.
    pub(crate) fn decode_packed(c: &mut Cursor<'_>) -> DcomResult<Self> {
        let num_entries = c.u16()?;
        let security_offset = c.u16()?;
        // The units are read from bytes already present: no allocation beyond the input.
        let bytes = c.take(usize::from(num_entries) * 2)?;
        let string_array = bytes
            .chunks_exact(2)
            .map(|p| {
                u16::from_le_bytes([
                    p.first().copied().unwrap_or(0),
                    p.get(1).copied().unwrap_or(0),
                ])
            })
            .collect();
        Ok(DualStringArray {
            num_entries,
            security_offset,
            string_array,
        })
    }

    /// Writes the packet form.
    pub(crate) fn encode_packed(&self, out: &mut Vec<u8>) -> DcomResult<()> {
        if usize::from(self.num_entries) != self.string_array.len() {
            return Err(DcomError::Unencodable(
                "DUALSTRINGARRAY: wNumEntries differs from the array length",
            ));
        }
        put_u16(out, self.num_entries);
        put_u16(out, self.security_offset);
        for u in &self.string_array {
            put_u16(out, *u);
        }
        Ok(())
    }

    /// Size of the packet form in bytes.
    pub fn packed_len(&self) -> usize {
        4 + 2 * self.string_array.len()
    }
}
