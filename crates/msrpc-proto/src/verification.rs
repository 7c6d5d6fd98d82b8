//! The verification trailer (MS-RPCE 2.2.2.13): a structure a client appends to the stub of a
//! signed request so the server can check, under the signature, the parts of the PDU the
//! security provider may not cover (the header fields, the presentation context, whether
//! the client asked for header signing).
//!
//! Wire layout (all integers little-endian whatever the request's data representation: Samba's
//! client writes and its server reads the trailer with a little-endian NDR context of its own,
//! and Wireshark dissects it so; the PDU's drep appears only as HEADER2's copy): the 8-byte magic
//! `8a e3 13 71 02 f4 36 71` at a 4-byte aligned offset from the stub start, then commands,
//! each `command: u16` (low 14 bits the command, `0x4000` END on the last one, `0x8000`
//! MUST_PROCESS), `length: u16`, `length` bytes of value:
//! - `BITMASK_1` (1), 4 bytes: bit `0x1` = the client asked for header signing in its bind;
//! - `PCONTEXT` (2), 40 bytes: the context's abstract syntax and transfer syntax;
//! - `HEADER2` (3), 16 bytes: PTYPE, 3 reserved bytes, drep, call_id, p_cont_id, opnum.
//!
//! This module does not decide policy: [`VerificationTrailer::check`] compares a decoded
//! trailer against the facts of the request, the server state machine refuses on mismatch.

use msrpc_ndr::Uuid;

use crate::pdu::{PacketType, SyntaxId};

/// The trailer's signature (MS-RPCE 2.2.2.13.1).
pub const MAGIC: [u8; 8] = [0x8a, 0xe3, 0x13, 0x71, 0x02, 0xf4, 0x36, 0x71];
/// `SEC_VT_COMMAND_END`: set on the last command.
pub const COMMAND_END: u16 = 0x4000;
/// `SEC_VT_MUST_PROCESS_COMMAND`: a receiver that does not understand the command must fail.
pub const MUST_PROCESS: u16 = 0x8000;
/// Mask of the command number.
pub const COMMAND_MASK: u16 = 0x3fff;
/// `SEC_VT_COMMAND_BITMASK_1`.
pub const CMD_BITMASK_1: u16 = 1;
/// `SEC_VT_COMMAND_PCONTEXT`.
pub const CMD_PCONTEXT: u16 = 2;
/// `SEC_VT_COMMAND_HEADER2`.
pub const CMD_HEADER2: u16 = 3;
/// `CLIENT_SUPPORT_HEADER_SIGNING` in BITMASK_1.
pub const CLIENT_SUPPORT_HEADER_SIGNING: u32 = 1;
/// Most commands one trailer may carry (a bound on work for a hostile stub).
pub const MAX_COMMANDS: usize = 16;
/// How far from the end of the stub a trailer is looked for, in bytes.
pub const MAX_SEARCH: usize = 1024;

/// The `rpc_sec_vt_header2` command's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header2 {
    /// PTYPE of the request (0).
    pub ptype: PacketType,
    /// The request's drep.
    pub drep: [u8; 4],
    /// The request's call_id.
    pub call_id: u32,
    /// The request's p_cont_id.
    pub context_id: u16,
    /// The request's opnum.
    pub opnum: u16,
}

/// One command of a verification trailer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// BITMASK_1 with its bits.
    Bitmask1(u32),
    /// PCONTEXT: abstract and transfer syntax.
    Pcontext {
        /// The interface of the presentation context.
        abstract_syntax: SyntaxId,
        /// Its transfer syntax.
        transfer_syntax: SyntaxId,
    },
    /// HEADER2.
    Header2(Header2),
    /// A command this implementation does not know (number, value).
    Unknown(u16, Vec<u8>),
}

/// A decoded (or to-be-encoded) verification trailer: commands with their MUST_PROCESS flag.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct VerificationTrailer {
    /// `(command, must_process)` in wire order; the encoder sets END on the last.
    pub commands: Vec<(Command, bool)>,
}

/// Why a trailer was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrailerError {
    /// The magic was found but what follows does not decode (or does not end the stub).
    #[error("malformed verification trailer: {0}")]
    Malformed(&'static str),
    /// A command disagrees with the request.
    #[error("verification trailer mismatch: {0}")]
    Mismatch(&'static str),
}

impl TrailerError {
    /// Stable reason code for audit records.
    pub fn reason_code(&self) -> &'static str {
        match self {
            TrailerError::Malformed(_) => "vt_malformed",
            TrailerError::Mismatch(_) => "vt_mismatch",
        }
    }
}

/// What the server knows about a request, to check a trailer against.
#[derive(Clone, Copy, Debug)]
pub struct RequestFacts {
    /// The header fields HEADER2 repeats.
    pub header2: Header2,
    /// The presentation context's interface.
    pub abstract_syntax: SyntaxId,
    /// The presentation context's transfer syntax.
    pub transfer_syntax: SyntaxId,
    /// True when the client set PFC_SUPPORT_HEADER_SIGN in its bind.
    pub client_header_signing: bool,
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_syntax(out: &mut Vec<u8>, s: &SyntaxId) {
    // A UUID in NDR: time_low u32, time_mid u16, time_hi u16, then 8 bytes as they are.
    let b = s.uuid.as_bytes();
    let tl = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let tm = u16::from_be_bytes([b[4], b[5]]);
    let th = u16::from_be_bytes([b[6], b[7]]);
    put_u32(out, tl);
    put_u16(out, tm);
    put_u16(out, th);
    out.extend_from_slice(&b[8..]);
    put_u16(out, s.major);
    put_u16(out, s.minor);
}

/// A bounded little-endian reader over the trailer's bytes.
struct Rd<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Rd<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], TrailerError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(TrailerError::Malformed("length"))?;
        let s = self
            .b
            .get(self.pos..end)
            .ok_or(TrailerError::Malformed("truncated"))?;
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, TrailerError> {
        let s = self.take(2)?;
        let a = [s.first().copied(), s.get(1).copied()];
        let [Some(x), Some(y)] = a else {
            return Err(TrailerError::Malformed("truncated"));
        };
        Ok(u16::from_le_bytes([x, y]))
    }
    fn u32(&mut self) -> Result<u32, TrailerError> {
        let lo = self.u16()?;
        let hi = self.u16()?;
        Ok(u32::from(lo) | (u32::from(hi) << 16))
    }
    fn syntax(&mut self) -> Result<SyntaxId, TrailerError> {
        let tl = self.u32()?;
        let tm = self.u16()?;
        let th = self.u16()?;
        let rest = self.take(8)?;
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&tl.to_be_bytes());
        b[4..6].copy_from_slice(&tm.to_be_bytes());
        b[6..8].copy_from_slice(&th.to_be_bytes());
        b[8..].copy_from_slice(rest);
        let major = self.u16()?;
        let minor = self.u16()?;
        Ok(SyntaxId::new(Uuid::from_bytes(b), major, minor))
    }
}

/// Which commands [`VerificationTrailer::for_request`] puts in a trailer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrailerParts {
    /// BITMASK_1 with `CLIENT_SUPPORT_HEADER_SIGNING`.
    pub bitmask1: bool,
    /// PCONTEXT: the request's presentation context.
    pub pcontext: bool,
    /// HEADER2: the request's header fields.
    pub header2: bool,
}

impl VerificationTrailer {
    /// The full trailer: BITMASK_1 (when `header_signing`), PCONTEXT and HEADER2, the last two
    /// marked MUST_PROCESS.
    pub fn for_request(
        header2: Header2,
        abstract_syntax: SyntaxId,
        transfer_syntax: SyntaxId,
        header_signing: bool,
    ) -> Self {
        Self::build(
            header2,
            abstract_syntax,
            transfer_syntax,
            TrailerParts {
                bitmask1: header_signing,
                pcontext: true,
                header2: true,
            },
        )
    }

    /// The trailer our client sends, with the `parts` asked for; `None` when no part is.
    pub fn with_parts(
        header2: Header2,
        abstract_syntax: SyntaxId,
        transfer_syntax: SyntaxId,
        parts: TrailerParts,
    ) -> Option<Self> {
        let vt = Self::build(header2, abstract_syntax, transfer_syntax, parts);
        (!vt.commands.is_empty()).then_some(vt)
    }

    fn build(
        header2: Header2,
        abstract_syntax: SyntaxId,
        transfer_syntax: SyntaxId,
        parts: TrailerParts,
    ) -> Self {
        let mut commands = Vec::new();
        if parts.bitmask1 {
            commands.push((Command::Bitmask1(CLIENT_SUPPORT_HEADER_SIGNING), false));
        }
        if parts.pcontext {
            commands.push((
                Command::Pcontext {
                    abstract_syntax,
                    transfer_syntax,
                },
                true,
            ));
        }
        if parts.header2 {
            commands.push((Command::Header2(header2), true));
        }
        VerificationTrailer { commands }
    }

    /// Appends the trailer to `stub`: zero padding to a 4-byte boundary, the magic, the
    /// commands (END on the last), little-endian in any data representation.
    pub fn append_to(&self, stub: &mut Vec<u8>) {
        while stub.len() % 4 != 0 {
            stub.push(0);
        }
        stub.extend_from_slice(&MAGIC);
        let n = self.commands.len();
        for (i, (c, must)) in self.commands.iter().enumerate() {
            let mut value = Vec::new();
            let num = match c {
                Command::Bitmask1(bits) => {
                    put_u32(&mut value, *bits);
                    CMD_BITMASK_1
                }
                Command::Pcontext {
                    abstract_syntax,
                    transfer_syntax,
                } => {
                    put_syntax(&mut value, abstract_syntax);
                    put_syntax(&mut value, transfer_syntax);
                    CMD_PCONTEXT
                }
                Command::Header2(h) => {
                    value.push(h.ptype.0);
                    value.extend_from_slice(&[0, 0, 0]);
                    value.extend_from_slice(&h.drep);
                    put_u32(&mut value, h.call_id);
                    put_u16(&mut value, h.context_id);
                    put_u16(&mut value, h.opnum);
                    CMD_HEADER2
                }
                Command::Unknown(num, v) => {
                    value.extend_from_slice(v);
                    *num & COMMAND_MASK
                }
            };
            let mut word = num;
            if *must {
                word |= MUST_PROCESS;
            }
            if i + 1 == n {
                word |= COMMAND_END;
            }
            put_u16(stub, word);
            put_u16(stub, u16::try_from(value.len()).unwrap_or(u16::MAX));
            stub.extend_from_slice(&value);
        }
    }

    /// Looks for a trailer at the end of `stub` (MS-RPCE 2.2.2.13: the magic at a 4-byte
    /// aligned offset, searched from the end over the last [`MAX_SEARCH`] bytes, its commands
    /// ending exactly at the stub's end). Returns the trailer and the offset where it starts
    /// (where the stub proper ends), `Ok(None)` when there is none. The trailer is
    /// little-endian whatever the request's data representation.
    pub fn find(stub: &[u8]) -> Result<Option<(Self, usize)>, TrailerError> {
        let len = stub.len();
        if len < MAGIC.len() + 4 {
            return Ok(None);
        }
        let last = (len - MAGIC.len() - 4) & !3;
        let lowest = len.saturating_sub(MAX_SEARCH);
        let mut at = last;
        loop {
            if stub.get(at..at + MAGIC.len()) == Some(&MAGIC[..]) {
                let t = Self::decode(stub.get(at + MAGIC.len()..).unwrap_or_default())?;
                return Ok(Some((t, at)));
            }
            if at < lowest + 4 || at < 4 {
                return Ok(None);
            }
            at -= 4;
        }
    }

    /// Decodes the commands after the magic (little-endian); they must end exactly at the end
    /// of `b`.
    pub fn decode(b: &[u8]) -> Result<Self, TrailerError> {
        let mut r = Rd { b, pos: 0 };
        let mut commands = Vec::new();
        loop {
            if commands.len() >= MAX_COMMANDS {
                return Err(TrailerError::Malformed("too many commands"));
            }
            let word = r.u16()?;
            let length = usize::from(r.u16()?);
            let must = word & MUST_PROCESS != 0;
            let value = r.take(length)?;
            let mut v = Rd { b: value, pos: 0 };
            let cmd = match word & COMMAND_MASK {
                CMD_BITMASK_1 if length == 4 => Command::Bitmask1(v.u32()?),
                CMD_PCONTEXT if length == 40 => Command::Pcontext {
                    abstract_syntax: v.syntax()?,
                    transfer_syntax: v.syntax()?,
                },
                CMD_HEADER2 if length == 16 => {
                    let head = v.take(4)?;
                    let ptype = PacketType(head.first().copied().unwrap_or(0xff));
                    let mut drep_b = [0u8; 4];
                    drep_b.copy_from_slice(v.take(4)?);
                    Command::Header2(Header2 {
                        ptype,
                        drep: drep_b,
                        call_id: v.u32()?,
                        context_id: v.u16()?,
                        opnum: v.u16()?,
                    })
                }
                CMD_BITMASK_1 | CMD_PCONTEXT | CMD_HEADER2 => {
                    return Err(TrailerError::Malformed("command length"))
                }
                n => {
                    if length % 4 != 0 {
                        return Err(TrailerError::Malformed("unknown command length"));
                    }
                    Command::Unknown(n, value.to_vec())
                }
            };
            let num = word & COMMAND_MASK;
            if commands
                .iter()
                .any(|(c, _): &(Command, bool)| cmd_num(c) == num)
            {
                return Err(TrailerError::Malformed("repeated command"));
            }
            commands.push((cmd, must));
            if word & COMMAND_END != 0 {
                break;
            }
        }
        if r.pos != b.len() {
            return Err(TrailerError::Malformed("bytes after the END command"));
        }
        Ok(VerificationTrailer { commands })
    }

    /// Checks every command against the request (MS-RPCE 3.3.3.5.1 / what Samba checks):
    /// HEADER2 fields, PCONTEXT syntaxes, BITMASK_1's header-signing claim, and refuses an
    /// unknown command marked MUST_PROCESS.
    pub fn check(&self, facts: &RequestFacts) -> Result<(), TrailerError> {
        for (c, must) in &self.commands {
            match c {
                Command::Bitmask1(bits) => {
                    if bits & CLIENT_SUPPORT_HEADER_SIGNING != 0 && !facts.client_header_signing {
                        return Err(TrailerError::Mismatch("bitmask1 header signing"));
                    }
                }
                Command::Pcontext {
                    abstract_syntax,
                    transfer_syntax,
                } => {
                    if *abstract_syntax != facts.abstract_syntax {
                        return Err(TrailerError::Mismatch("pcontext interface"));
                    }
                    if *transfer_syntax != facts.transfer_syntax {
                        return Err(TrailerError::Mismatch("pcontext transfer syntax"));
                    }
                }
                Command::Header2(h) => {
                    if *h != facts.header2 {
                        return Err(TrailerError::Mismatch("header2"));
                    }
                }
                Command::Unknown(..) => {
                    if *must {
                        return Err(TrailerError::Mismatch("unknown must-process command"));
                    }
                }
            }
        }
        Ok(())
    }
}

fn cmd_num(c: &Command) -> u16 {
    match c {
        Command::Bitmask1(_) => CMD_BITMASK_1,
        Command::Pcontext { .. } => CMD_PCONTEXT,
        Command::Header2(_) => CMD_HEADER2,
        Command::Unknown(n, _) => *n & COMMAND_MASK,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn h2() -> Header2 {
        Header2 {
            ptype: PacketType::REQUEST,
            drep: [0x10, 0, 0, 0],
            call_id: 7,
            context_id: 1,
            opnum: 3,
        }
    }

    fn facts() -> RequestFacts {
        RequestFacts {
            header2: h2(),
            abstract_syntax: SyntaxId::new(Uuid::from_u128(0x1234), 1, 0),
            transfer_syntax: SyntaxId::NDR20,
            client_header_signing: true,
        }
    }

    #[test]
    fn round_trip_and_check() {
        let f = facts();
        let vt =
            VerificationTrailer::for_request(f.header2, f.abstract_syntax, f.transfer_syntax, true);
        let mut stub = vec![1, 2, 3, 4, 5];
        vt.append_to(&mut stub);
        // 5 bytes of stub, 3 of padding, magic, 8 + 44 + 20 bytes of commands.
        assert_eq!(stub.len(), 8 + 8 + 8 + 44 + 20);
        let (got, at) = VerificationTrailer::find(&stub).unwrap().unwrap();
        assert_eq!(at, 8);
        assert_eq!(got, vt);
        got.check(&f).unwrap();
    }

    /// The stub of an rpcecho AddOne(41) request Samba's client (python3-samba 4.17,
    /// `ncacn_ip_tcp:...[bigendian,ntlm,sign]`) sent in a big-endian PDU (drep 00 00 00 00):
    /// the stub is big-endian, the trailer little-endian, byte for byte what the same client
    /// sends in a little-endian PDU.
    #[test]
    fn little_endian_in_a_big_endian_request() {
        let stub: Vec<u8> = [
            &[0x00, 0x00, 0x00, 0x29][..], // AddOne's in_data = 41, big-endian
            &MAGIC,
            &[0x01, 0x00, 0x04, 0x00], // BITMASK_1, length 4
            &[0x01, 0x00, 0x00, 0x00], // CLIENT_SUPPORT_HEADER_SIGNING
            &[0x02, 0x40, 0x28, 0x00], // PCONTEXT | END, length 40
            // rpcecho 60a15ec5-4de8-11d7-a637-005056a20182: time_low, time_mid, time_hi LE
            &[0xc5, 0x5e, 0xa1, 0x60, 0xe8, 0x4d, 0xd7, 0x11],
            &[0xa6, 0x37, 0x00, 0x50, 0x56, 0xa2, 0x01, 0x82],
            &[0x01, 0x00, 0x00, 0x00], // version 1.0 (major, minor as u16 LE)
            // NDR20 8a885d04-1ceb-11c9-9fe8-08002b104860 v2.0
            &[0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11],
            &[0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60],
            &[0x02, 0x00, 0x00, 0x00],
        ]
        .concat();
        let (vt, at) = VerificationTrailer::find(&stub).unwrap().unwrap();
        assert_eq!(at, 4);
        let echo = SyntaxId::new(
            Uuid::from_u128(0x60a15ec5_4de8_11d7_a637_005056a20182),
            1,
            0,
        );
        assert_eq!(
            vt.commands,
            vec![
                (Command::Bitmask1(CLIENT_SUPPORT_HEADER_SIGNING), false),
                (
                    Command::Pcontext {
                        abstract_syntax: echo,
                        transfer_syntax: SyntaxId::NDR20,
                    },
                    false
                ),
            ]
        );
        let mut f = facts();
        f.header2.drep = [0, 0, 0, 0];
        f.abstract_syntax = echo;
        vt.check(&f).unwrap();
        // Our encoder writes the same bytes (PCONTEXT without MUST_PROCESS here).
        let mut again = vec![0x00, 0x00, 0x00, 0x29];
        vt.append_to(&mut again);
        assert_eq!(again, stub);
    }

    /// HEADER2's integers are little-endian too; its drep is the request's, copied.
    #[test]
    fn header2_of_a_big_endian_request() {
        let h = Header2 {
            ptype: PacketType::REQUEST,
            drep: [0, 0, 0, 0],
            call_id: 0x0102_0304,
            context_id: 0x0506,
            opnum: 0x0708,
        };
        let vt = VerificationTrailer {
            commands: vec![(Command::Header2(h), true)],
        };
        let mut stub = Vec::new();
        vt.append_to(&mut stub);
        let mut want = MAGIC.to_vec();
        want.extend_from_slice(&[0x03, 0xc0, 0x10, 0x00]); // HEADER2 | END | MUST_PROCESS, 16
        want.extend_from_slice(&[0x00, 0, 0, 0]); // PTYPE request, reserved
        want.extend_from_slice(&[0, 0, 0, 0]); // drep as in the header
        want.extend_from_slice(&[0x04, 0x03, 0x02, 0x01]); // call_id
        want.extend_from_slice(&[0x06, 0x05, 0x08, 0x07]); // p_cont_id, opnum
        assert_eq!(stub, want);
        assert_eq!(VerificationTrailer::find(&stub).unwrap(), Some((vt, 0)));
    }

    #[test]
    fn mismatches_are_refused() {
        let f = facts();
        let mut h = f.header2;
        h.opnum = 4;
        let vt = VerificationTrailer::for_request(h, f.abstract_syntax, f.transfer_syntax, false);
        assert_eq!(vt.check(&f), Err(TrailerError::Mismatch("header2")));
        let vt =
            VerificationTrailer::for_request(f.header2, SyntaxId::NDR20, SyntaxId::NDR20, false);
        assert!(vt.check(&f).is_err());
        let mut f2 = f;
        f2.client_header_signing = false;
        let vt =
            VerificationTrailer::for_request(f.header2, f.abstract_syntax, f.transfer_syntax, true);
        assert!(vt.check(&f2).is_err());
        let unknown = VerificationTrailer {
            commands: vec![(Command::Unknown(9, vec![0; 4]), true)],
        };
        assert!(unknown.check(&f).is_err());
        let optional = VerificationTrailer {
            commands: vec![(Command::Unknown(9, vec![0; 4]), false)],
        };
        optional.check(&f).unwrap();
    }

    #[test]
    fn absent_and_malformed() {
        assert_eq!(VerificationTrailer::find(&[0; 64]).unwrap(), None);
        let mut stub = vec![0; 8];
        stub.extend_from_slice(&MAGIC);
        stub.extend_from_slice(&[0x03, 0x40, 0x10, 0x00, 1, 2]); // HEADER2 cut short
        assert!(VerificationTrailer::find(&stub).is_err());
        // Every truncation of a good trailer is either absent or an error, never a panic.
        let f = facts();
        let vt =
            VerificationTrailer::for_request(f.header2, f.abstract_syntax, f.transfer_syntax, true);
        let mut good = vec![9; 4];
        vt.append_to(&mut good);
        for cut in 0..good.len() {
            let r = VerificationTrailer::find(&good[..cut]);
            assert!(!matches!(r, Ok(Some(_))), "cut {cut}");
        }
    }
}
