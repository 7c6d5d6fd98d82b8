//! NTLM message codec (MS-NLMP 2.2): NEGOTIATE, CHALLENGE, AUTHENTICATE and AV pairs.
//!
//! Parsing is bounded: every length and offset taken from the peer is checked against the
//! token, and failures are reported as [`MessageError`], never as a panic.

/// The eight-byte signature that starts every NTLM message.
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// Offset of the MIC in an AUTHENTICATE message that carries one.
pub const MIC_OFFSET: usize = 72;

/// Negotiate flags (MS-NLMP 2.2.2.5).
pub mod flags {
    /// Unicode strings.
    pub const UNICODE: u32 = 0x0000_0001;
    /// OEM strings.
    pub const OEM: u32 = 0x0000_0002;
    /// The server should return its target name.
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// Message integrity.
    pub const SIGN: u32 = 0x0000_0010;
    /// Message confidentiality.
    pub const SEAL: u32 = 0x0000_0020;
    /// LAN Manager session key (refused).
    pub const LM_KEY: u32 = 0x0000_0080;
    /// NTLM session security.
    pub const NTLM: u32 = 0x0000_0200;
    /// Anonymous connection.
    pub const ANONYMOUS: u32 = 0x0000_0800;
    /// Signatures even without SIGN.
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    /// The target is a domain.
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    /// The target is a server.
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    /// Extended session security (required here).
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// The CHALLENGE carries target info.
    pub const TARGET_INFO: u32 = 0x0080_0000;
    /// The Version field is present.
    pub const VERSION: u32 = 0x0200_0000;
    /// 128-bit session keys (required here).
    pub const NEGOTIATE_128: u32 = 0x2000_0000;
    /// Explicit key exchange.
    pub const KEY_EXCH: u32 = 0x4000_0000;
    /// 56-bit session keys.
    pub const NEGOTIATE_56: u32 = 0x8000_0000;
}

/// AV pair identifiers (MS-NLMP 2.2.2.1).
pub mod av_id {
    /// End of list.
    pub const EOL: u16 = 0;
    /// NetBIOS computer name.
    pub const NB_COMPUTER_NAME: u16 = 1;
    /// NetBIOS domain name.
    pub const NB_DOMAIN_NAME: u16 = 2;
    /// DNS computer name.
    pub const DNS_COMPUTER_NAME: u16 = 3;
    /// DNS domain name.
    pub const DNS_DOMAIN_NAME: u16 = 4;
    /// DNS tree name.
    pub const DNS_TREE_NAME: u16 = 5;
    /// Flags (bit 0x2: the AUTHENTICATE carries a MIC).
    pub const FLAGS: u16 = 6;
    /// FILETIME of the server.
    pub const TIMESTAMP: u16 = 7;
    /// Target (SPN) name.
    pub const TARGET_NAME: u16 = 9;
    /// Channel bindings hash.
    pub const CHANNEL_BINDINGS: u16 = 10;
}

/// MsvAvFlags bit: the AUTHENTICATE message carries a MIC.
pub const AV_FLAG_MIC_PRESENT: u32 = 0x2;

/// Why a token could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The token is shorter than its fixed header.
    #[error("token too short for {0}")]
    TooShort(&'static str),
    /// The token does not start with `NTLMSSP\0`.
    #[error("missing NTLMSSP signature")]
    BadSignature,
    /// The message type is not the expected one.
    #[error("expected message type {expected}, got {got}")]
    WrongType {
        /// Type wanted.
        expected: u32,
        /// Type found.
        got: u32,
    },
    /// A field's offset and length point outside the token.
    #[error("field {0} lies outside the token")]
    FieldOutOfBounds(&'static str),
    /// A string field is not valid UTF-16LE.
    #[error("field {0} is not valid UTF-16")]
    BadString(&'static str),
    /// An AV pair list is truncated or lacks its terminator.
    #[error("malformed AV pair list")]
    BadAvPairs,
    /// A field has an impossible size.
    #[error("field {0} has an invalid length")]
    BadLength(&'static str),
}

/// One AV pair of target info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvPair {
    /// Identifier, see [`av_id`].
    pub id: u16,
    /// Raw value.
    pub value: Vec<u8>,
}

impl AvPair {
    /// A pair holding a UTF-16LE string.
    pub fn string(id: u16, s: &str) -> Self {
        AvPair {
            id,
            value: crate::crypto::utf16le(s),
        }
    }
}

/// Parses an AV pair list up to and excluding MsvAvEOL. Bytes after the EOL are ignored.
pub fn parse_av_pairs(mut b: &[u8]) -> Result<Vec<AvPair>, MessageError> {
    let mut out = Vec::new();
    loop {
        let id = read_u16(b, 0).ok_or(MessageError::BadAvPairs)?;
        let len = usize::from(read_u16(b, 2).ok_or(MessageError::BadAvPairs)?);
        if id == av_id::EOL {
            return Ok(out);
        }
        let value = b.get(4..4 + len).ok_or(MessageError::BadAvPairs)?;
        out.push(AvPair {
            id,
            value: value.to_vec(),
        });
        b = b.get(4 + len..).ok_or(MessageError::BadAvPairs)?;
    }
}

/// Encodes an AV pair list and appends MsvAvEOL. Pairs with an EOL id are skipped; values
/// longer than 65535 bytes are truncated (names never are).
pub fn encode_av_pairs(pairs: &[AvPair]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pairs.iter().filter(|p| p.id != av_id::EOL) {
        let v = p.value.get(..usize::from(u16::MAX)).unwrap_or(&p.value);
        out.extend_from_slice(&p.id.to_le_bytes());
        out.extend_from_slice(&(v.len() as u16).to_le_bytes());
        out.extend_from_slice(v);
    }
    out.extend_from_slice(&[0; 4]);
    out
}

/// Finds the value of the first pair with `id`.
pub fn find_av(pairs: &[AvPair], id: u16) -> Option<&[u8]> {
    pairs
        .iter()
        .find(|p| p.id == id)
        .map(|p| p.value.as_slice())
}

/// NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1). Domain and workstation are not carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiate {
    /// Requested flags.
    pub flags: u32,
    /// Version, present when [`flags::VERSION`] is set.
    pub version: Option<[u8; 8]>,
}

/// CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// Negotiated flags.
    pub flags: u32,
    /// The server's target name.
    pub target_name: String,
    /// Random server challenge.
    pub server_challenge: [u8; 8],
    /// Target info AV pairs (EOL excluded).
    pub target_info: Vec<AvPair>,
    /// Version.
    pub version: Option<[u8; 8]>,
}

/// AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3).
#[derive(Clone, PartialEq, Eq)]
pub struct Authenticate {
    /// Flags the client settled on.
    pub flags: u32,
    /// LmChallengeResponse.
    pub lm_response: Vec<u8>,
    /// NtChallengeResponse (NTProofStr followed by the client blob for NTLMv2).
    pub nt_response: Vec<u8>,
    /// User's domain.
    pub domain: String,
    /// User name.
    pub user: String,
    /// Client workstation.
    pub workstation: String,
    /// RC4-encrypted exported session key (key exchange).
    pub encrypted_random_session_key: Vec<u8>,
    /// Version.
    pub version: Option<[u8; 8]>,
    /// Message integrity code, when the payload leaves room for one.
    pub mic: Option<[u8; 16]>,
}

impl std::fmt::Debug for Authenticate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticate")
            .field("flags", &format_args!("{:#010x}", self.flags))
            .field("domain", &self.domain)
            .field("user", &self.user)
            .field("workstation", &self.workstation)
            .field("nt_response_len", &self.nt_response.len())
            .field("mic", &self.mic.is_some())
            .finish_non_exhaustive()
    }
}

/// The version we announce: 6.1 build 7601, NTLMSSP revision 15.
pub const OUR_VERSION: [u8; 8] = [6, 1, 0xb1, 0x1d, 0, 0, 0, 0x0f];

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*s.first()?, *s.get(1)?]))
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_le_bytes(a))
}

fn read_array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    let s = b.get(at..at.checked_add(N)?)?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Some(a)
}

/// A (len, maxlen, offset) field descriptor resolved against the token.
struct Field {
    offset: usize,
    len: usize,
}

fn read_field(b: &[u8], at: usize, name: &'static str) -> Result<Field, MessageError> {
    let len = usize::from(read_u16(b, at).ok_or(MessageError::TooShort(name))?);
    let offset = read_u32(b, at + 4).ok_or(MessageError::TooShort(name))? as usize;
    Ok(Field { offset, len })
}

fn field_bytes<'a>(b: &'a [u8], f: &Field, name: &'static str) -> Result<&'a [u8], MessageError> {
    if f.len == 0 {
        return Ok(&[]);
    }
    let end = f
        .offset
        .checked_add(f.len)
        .ok_or(MessageError::FieldOutOfBounds(name))?;
    b.get(f.offset..end)
        .ok_or(MessageError::FieldOutOfBounds(name))
}

fn decode_string(b: &[u8], unicode: bool, name: &'static str) -> Result<String, MessageError> {
    if unicode {
        if b.len() % 2 != 0 {
            return Err(MessageError::BadString(name));
        }
        let units = b.chunks_exact(2).map(|c| match c {
            [lo, hi] => u16::from_le_bytes([*lo, *hi]),
            _ => 0,
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| MessageError::BadString(name))
    } else {
        // OEM strings: decoded as Latin-1, which is exact for ASCII names.
        Ok(b.iter().map(|&c| char::from(c)).collect())
    }
}

fn encode_string(s: &str, unicode: bool) -> Vec<u8> {
    if unicode {
        crate::crypto::utf16le(s)
    } else {
        s.chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect()
    }
}

fn check_header(b: &[u8], ty: u32, min: usize, what: &'static str) -> Result<(), MessageError> {
    if b.len() < min {
        return Err(MessageError::TooShort(what));
    }
    if b.get(..8) != Some(SIGNATURE.as_slice()) {
        return Err(MessageError::BadSignature);
    }
    let got = read_u32(b, 8).ok_or(MessageError::TooShort(what))?;
    if got != ty {
        return Err(MessageError::WrongType { expected: ty, got });
    }
    Ok(())
}

/// Lays out a message: a fixed header of `header_len` bytes followed by `payloads`, each
/// referenced by an 8-byte descriptor at the given header offset.
struct Builder {
    buf: Vec<u8>,
}

impl Builder {
    fn new(ty: u32, header_len: usize) -> Self {
        let mut buf = vec![0u8; header_len];
        if let Some(s) = buf.get_mut(..8) {
            s.copy_from_slice(SIGNATURE);
        }
        let mut b = Builder { buf };
        b.put(8, &ty.to_le_bytes());
        b
    }
    fn put(&mut self, at: usize, v: &[u8]) {
        if let Some(s) = self.buf.get_mut(at..at + v.len()) {
            s.copy_from_slice(v);
        }
    }
    fn payload(&mut self, desc_at: usize, v: &[u8]) {
        let len = u16::try_from(v.len()).unwrap_or(u16::MAX);
        let v = v.get(..usize::from(len)).unwrap_or(v);
        let off = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.put(desc_at, &len.to_le_bytes());
        self.put(desc_at + 2, &len.to_le_bytes());
        self.put(desc_at + 4, &off.to_le_bytes());
        self.buf.extend_from_slice(v);
    }
}

impl Negotiate {
    /// Encodes the message (empty domain and workstation).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Builder::new(1, 40);
        b.put(12, &self.flags.to_le_bytes());
        b.payload(16, &[]);
        b.payload(24, &[]);
        if let Some(v) = self.version {
            b.put(32, &v);
        }
        b.buf
    }

    /// Parses a NEGOTIATE message.
    pub fn decode(b: &[u8]) -> Result<Self, MessageError> {
        check_header(b, 1, 16, "NEGOTIATE")?;
        let flags = read_u32(b, 12).ok_or(MessageError::TooShort("NEGOTIATE"))?;
        let version = if flags & flags::VERSION != 0 {
            read_array(b, 32)
        } else {
            None
        };
        Ok(Negotiate { flags, version })
    }
}

impl Challenge {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let unicode = self.flags & flags::UNICODE != 0;
        let mut b = Builder::new(2, 56);
        b.put(20, &self.flags.to_le_bytes());
        b.put(24, &self.server_challenge);
        if let Some(v) = self.version {
            b.put(48, &v);
        }
        b.payload(12, &encode_string(&self.target_name, unicode));
        b.payload(40, &encode_av_pairs(&self.target_info));
        b.buf
    }

    /// Parses a CHALLENGE message.
    pub fn decode(b: &[u8]) -> Result<Self, MessageError> {
        check_header(b, 2, 48, "CHALLENGE")?;
        let flags = read_u32(b, 20).ok_or(MessageError::TooShort("CHALLENGE"))?;
        let unicode = flags & flags::UNICODE != 0;
        let tn = read_field(b, 12, "TargetName")?;
        let target_name = decode_string(field_bytes(b, &tn, "TargetName")?, unicode, "TargetName")?;
        let server_challenge = read_array(b, 24).ok_or(MessageError::TooShort("CHALLENGE"))?;
        let ti = read_field(b, 40, "TargetInfo")?;
        let target_info = if ti.len == 0 {
            Vec::new()
        } else {
            parse_av_pairs(field_bytes(b, &ti, "TargetInfo")?)?
        };
        let version = if flags & flags::VERSION != 0 {
            read_array(b, 48)
        } else {
            None
        };
        Ok(Challenge {
            flags,
            target_name,
            server_challenge,
            target_info,
            version,
        })
    }
}

impl Authenticate {
    /// Encodes the message. A MIC slot (zeros when `mic` is `None`) is always laid out.
    pub fn encode(&self) -> Vec<u8> {
        let unicode = self.flags & flags::UNICODE != 0;
        let mut b = Builder::new(3, 88);
        b.put(60, &self.flags.to_le_bytes());
        if let Some(v) = self.version {
            b.put(64, &v);
        }
        if let Some(m) = self.mic {
            b.put(MIC_OFFSET, &m);
        }
        b.payload(28, &encode_string(&self.domain, unicode));
        b.payload(36, &encode_string(&self.user, unicode));
        b.payload(44, &encode_string(&self.workstation, unicode));
        b.payload(12, &self.lm_response);
        b.payload(20, &self.nt_response);
        b.payload(52, &self.encrypted_random_session_key);
        b.buf
    }

    /// Parses an AUTHENTICATE message. The MIC is read when every non-empty payload starts
    /// at or after the end of the MIC field.
    pub fn decode(b: &[u8]) -> Result<Self, MessageError> {
        check_header(b, 3, 64, "AUTHENTICATE")?;
        let flags = read_u32(b, 60).ok_or(MessageError::TooShort("AUTHENTICATE"))?;
        let unicode = flags & flags::UNICODE != 0;
        let lm = read_field(b, 12, "LmChallengeResponse")?;
        let nt = read_field(b, 20, "NtChallengeResponse")?;
        let dom = read_field(b, 28, "DomainName")?;
        let user = read_field(b, 36, "UserName")?;
        let ws = read_field(b, 44, "Workstation")?;
        let key = read_field(b, 52, "EncryptedRandomSessionKey")?;
        let min_offset = [&lm, &nt, &dom, &user, &ws, &key]
            .iter()
            .filter(|f| f.len > 0)
            .map(|f| f.offset)
            .min()
            .unwrap_or(b.len());
        let version = if flags & flags::VERSION != 0 && min_offset >= 72 {
            read_array(b, 64)
        } else {
            None
        };
        let mic = if min_offset >= MIC_OFFSET + 16 {
            read_array(b, MIC_OFFSET)
        } else {
            None
        };
        Ok(Authenticate {
            flags,
            lm_response: field_bytes(b, &lm, "LmChallengeResponse")?.to_vec(),
            nt_response: field_bytes(b, &nt, "NtChallengeResponse")?.to_vec(),
            domain: decode_string(field_bytes(b, &dom, "DomainName")?, unicode, "DomainName")?,
            user: decode_string(field_bytes(b, &user, "UserName")?, unicode, "UserName")?,
            workstation: decode_string(
                field_bytes(b, &ws, "Workstation")?,
                unicode,
                "Workstation",
            )?,
            encrypted_random_session_key: field_bytes(b, &key, "EncryptedRandomSessionKey")?
                .to_vec(),
            version,
            mic,
        })
    }
}
