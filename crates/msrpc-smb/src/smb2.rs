//! SMB2/3 messages (MS-SMB2 2.2): the 64-byte header (2.2.1), compounding (3.2.4.1.4:
//! NextCommand, related operations), and the fields of the commands that carry named pipes.
//! Offsets inside a body are relative to the start of that message's header, as the
//! specification defines them.

use crate::frame::Verdict;
use crate::wire::{id16_at, range, u16_at, u32_at, u64_at, u8_at, utf16};
use crate::{pipe_name, share_of, Dir, FileKey, FileRef, Pending, ReqKey, Sink, Tables, TreeKey};

/// Length of the SMB2 header (2.2.1.1, 2.2.1.2).
pub const HEADER_LEN: usize = 64;

/// SMB2 command codes (2.2.1.2).
pub mod command {
    /// NEGOTIATE.
    pub const NEGOTIATE: u16 = 0x0000;
    /// SESSION_SETUP.
    pub const SESSION_SETUP: u16 = 0x0001;
    /// TREE_CONNECT.
    pub const TREE_CONNECT: u16 = 0x0003;
    /// TREE_DISCONNECT.
    pub const TREE_DISCONNECT: u16 = 0x0004;
    /// CREATE.
    pub const CREATE: u16 = 0x0005;
    /// CLOSE.
    pub const CLOSE: u16 = 0x0006;
    /// READ.
    pub const READ: u16 = 0x0008;
    /// WRITE.
    pub const WRITE: u16 = 0x0009;
    /// IOCTL.
    pub const IOCTL: u16 = 0x000B;
}

/// Header flags (2.2.1.2).
pub mod flags {
    /// SMB2_FLAGS_SERVER_TO_REDIR: a response.
    pub const RESPONSE: u32 = 0x0000_0001;
    /// SMB2_FLAGS_ASYNC_COMMAND: the header carries an AsyncId instead of a TreeId.
    pub const ASYNC: u32 = 0x0000_0002;
    /// SMB2_FLAGS_RELATED_OPERATIONS: a compounded request using the previous one's FileId.
    pub const RELATED: u32 = 0x0000_0004;
    /// SMB2_FLAGS_SIGNED.
    pub const SIGNED: u32 = 0x0000_0008;
}

/// FSCTL_PIPE_TRANSCEIVE (MS-FSCC 2.3.48): write then read a message-mode pipe in one IOCTL.
pub const FSCTL_PIPE_TRANSCEIVE: u32 = 0x0011_C017;
/// STATUS_PENDING: an interim answer to an async request; the final one follows.
pub const STATUS_PENDING: u32 = 0x0000_0103;
/// STATUS_BUFFER_OVERFLOW: a pipe read or transceive answered with part of a message; the
/// data it carries is valid and the rest follows in reads.
pub const STATUS_BUFFER_OVERFLOW: u32 = 0x8000_0005;

/// The FileId that, in a related compounded request, means "the previous request's file".
const RELATED_FILE: [u8; 16] = [0xFF; 16];

/// The fields of an SMB2 header this crate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Status (responses).
    pub status: u32,
    /// Command.
    pub command: u16,
    /// Flags.
    pub flags: u32,
    /// Offset of the next compounded message from this header, 0 for the last.
    pub next_command: u32,
    /// MessageId.
    pub message_id: u64,
    /// TreeId (synchronous messages only).
    pub tree_id: Option<u32>,
}

impl Header {
    /// Reads a header: all 64 bytes, the protocol id `0xFE 'S' 'M' 'B'` and StructureSize 64
    /// are required.
    pub fn parse(b: &[u8]) -> Option<Header> {
        if b.len() < HEADER_LEN || b.get(..4)? != [0xFE, b'S', b'M', b'B'] || u16_at(b, 4)? != 64 {
            return None;
        }
        let flags = u32_at(b, 16)?;
        Some(Header {
            status: u32_at(b, 8)?,
            command: u16_at(b, 12)?,
            flags,
            next_command: u32_at(b, 20)?,
            message_id: u64_at(b, 24)?,
            tree_id: if flags & flags::ASYNC == 0 {
                Some(u32_at(b, 36)?)
            } else {
                None
            },
        })
    }

    /// The message is a response.
    pub fn is_response(&self) -> bool {
        self.flags & flags::RESPONSE != 0
    }
}

/// The dialect name of a DialectRevision (2.2.4).
pub fn dialect_name(rev: u16) -> String {
    match rev {
        0x0202 => "2.0.2".into(),
        0x0210 => "2.1".into(),
        0x0300 => "3.0".into(),
        0x0302 => "3.0.2".into(),
        0x0311 => "3.1.1".into(),
        0x02FF => "2.???".into(),
        n => format!("0x{n:04x}"),
    }
}

/// Verdict on a long message from its first bytes: hold it unless it is a file read or write
/// that no pipe is involved in, or a command this crate does not read.
pub(crate) fn verdict(t: &mut Tables, head: &[u8]) -> Verdict {
    let Some(h) = Header::parse(head) else {
        return Verdict::Keep;
    };
    if h.next_command != 0 {
        return Verdict::Keep;
    }
    let body = head.get(HEADER_LEN..).unwrap_or_default();
    let tree = h.tree_id.map(|id| t.tree_is_ipc(TreeKey::V2(id)));
    let may_be_pipe = |t: &Tables, at: usize| match id16_at(body, at) {
        Some(f) if f == RELATED_FILE => true,
        Some(f) => t.lookup(FileKey::V2(f)).is_some() || tree.flatten() != Some(false),
        None => true,
    };
    use command::*;
    let keep = match (h.command, h.is_response()) {
        (WRITE, false) => may_be_pipe(t, 16),
        (READ, true) => t.has_pending(&ReqKey::V2(h.message_id)),
        (IOCTL, _) | (NEGOTIATE, _) | (SESSION_SETUP, _) | (TREE_CONNECT, _) | (CREATE, _) => true,
        _ => false,
    };
    if keep {
        Verdict::Keep
    } else {
        Verdict::Skip
    }
}

/// One SMB2 message, compounded ones included.
pub(crate) fn message(t: &mut Tables, msg: &[u8], truncated: bool, sink: &mut Sink<'_>) {
    let mut off = 0usize;
    // The file the previous request of a related compound used.
    let mut chain: Option<FileRef> = None;
    for n in 0.. {
        if n >= t.limits.max_compound {
            t.anomaly("smb2_compound_too_long", sink);
            return;
        }
        let rest = msg.get(off..).unwrap_or_default();
        let Some(h) = Header::parse(rest) else {
            if !truncated {
                t.anomaly("smb2_bad_header", sink);
            }
            return;
        };
        t.stats.smb2_messages += 1;
        if h.flags & flags::SIGNED != 0 {
            t.stats.signed += 1;
        }
        let next = h.next_command as usize;
        let this = if next == 0 {
            rest
        } else if next < HEADER_LEN || next % 8 != 0 {
            t.anomaly("smb2_bad_next_command", sink);
            return;
        } else {
            match rest.get(..next) {
                Some(m) => m,
                None if truncated => rest,
                None => {
                    t.anomaly("smb2_bad_next_command", sink);
                    return;
                }
            }
        };
        one(t, &h, this, truncated, &mut chain, sink);
        if next == 0 {
            return;
        }
        off += next;
    }
}

/// A `len`-byte buffer at header-relative `at`, or what to do when it is not in the message.
fn buffer<'a>(
    t: &mut Tables,
    m: &'a [u8],
    at: usize,
    len: usize,
    truncated: bool,
    sink: &mut Sink<'_>,
) -> Result<&'a [u8], bool> {
    if len == 0 {
        return Ok(&[]);
    }
    match range(m, at, len) {
        Some(b) if at >= HEADER_LEN => Ok(b),
        // Over the limit: the caller records a gap.
        _ if truncated => Err(true),
        _ => {
            t.anomaly("smb2_buffer_out_of_range", sink);
            Err(false)
        }
    }
}

/// Resolves a request's FileId (the previous one in a related compound).
fn file(
    t: &mut Tables,
    h: &Header,
    body: &[u8],
    at: usize,
    confirmed: bool,
    chain: &mut Option<FileRef>,
    sink: &mut Sink<'_>,
) -> Option<FileRef> {
    let f = id16_at(body, at)?;
    let r = if f == RELATED_FILE && h.flags & flags::RELATED != 0 {
        (*chain)?
    } else {
        let tree = h.tree_id.and_then(|id| t.tree_is_ipc(TreeKey::V2(id)));
        t.file(FileKey::V2(f), tree, confirmed, sink)
    };
    *chain = Some(r);
    Some(r)
}

fn one(
    t: &mut Tables,
    h: &Header,
    m: &[u8],
    truncated: bool,
    chain: &mut Option<FileRef>,
    sink: &mut Sink<'_>,
) {
    use command::*;
    let body = m.get(HEADER_LEN..).unwrap_or_default();
    let key = ReqKey::V2(h.message_id);
    if h.is_response() {
        // An interim answer: the request stays pending for the final one.
        if h.status == STATUS_PENDING && h.flags & flags::ASYNC != 0 {
            return;
        }
        let ok = h.status == 0 || h.status == STATUS_BUFFER_OVERFLOW;
        match (h.command, t.take_pending(&key)) {
            (NEGOTIATE, _) if h.status == 0 => {
                // 0x02FF answers a multi-protocol SMB1 negotiate: a real one follows.
                if let (Some(mode), Some(rev)) = (u16_at(body, 2), u16_at(body, 4)) {
                    if rev != 0x02FF {
                        t.negotiated(dialect_name(rev), mode & 0x0002 != 0, sink);
                    }
                }
            }
            (SESSION_SETUP, _) if h.status == 0 => t.stats.sessions += 1,
            (TREE_CONNECT, Some(Pending::TreeConnect { share })) if h.status == 0 => {
                if let Some(tid) = h.tree_id {
                    // ShareType 0x02: a named pipe share.
                    let ipc = u8_at(body, 2) == Some(0x02) || share.eq_ignore_ascii_case("IPC$");
                    t.tree(TreeKey::V2(tid), &share, ipc, sink);
                }
            }
            (CREATE, Some(Pending::Create { pipe })) => match id16_at(body, 64) {
                Some(f) if h.status == 0 => t.opened(pipe, FileKey::V2(f), sink),
                _ => t.failed(pipe, sink),
            },
            (READ, Some(Pending::Read { pipe })) if ok => {
                let at = u8_at(body, 2).map_or(0, usize::from);
                let len = u32_at(body, 4).map_or(0, |n| n as usize);
                match buffer(t, m, at, len, truncated, sink) {
                    Ok(d) => t.data(pipe, Dir::ToClient, d, sink),
                    Err(true) => t.pipe_gap(pipe, Dir::ToClient, sink),
                    Err(false) => {}
                }
            }
            (IOCTL, p) if ok && u32_at(body, 4) == Some(FSCTL_PIPE_TRANSCEIVE) => {
                let pipe = match p {
                    Some(Pending::Transceive { pipe }) => Some(pipe),
                    _ => id16_at(body, 8).and_then(|f| t.lookup(FileKey::V2(f))),
                };
                let Some(pipe) = pipe else { return };
                let at = u32_at(body, 32).map_or(0, |n| n as usize);
                let len = u32_at(body, 36).map_or(0, |n| n as usize);
                match buffer(t, m, at, len, truncated, sink) {
                    Ok(d) => t.data(pipe, Dir::ToClient, d, sink),
                    Err(true) => t.pipe_gap(pipe, Dir::ToClient, sink),
                    Err(false) => {}
                }
            }
            (_, Some(Pending::Create { pipe })) => t.failed(pipe, sink),
            _ => {}
        }
        return;
    }
    match h.command {
        TREE_CONNECT => {
            let at = u16_at(body, 4).map_or(0, usize::from);
            let len = u16_at(body, 6).map_or(0, usize::from);
            let path = range(m, at, len.min(2 * t.limits.max_name))
                .map(|b| utf16(b, t.limits.max_name))
                .unwrap_or_default();
            let share = share_of(&path).to_string();
            t.pend(key, Pending::TreeConnect { share }, sink);
        }
        TREE_DISCONNECT => {
            if let Some(tid) = h.tree_id {
                t.untree(TreeKey::V2(tid));
            }
        }
        CREATE => {
            let at = u16_at(body, 44).map_or(0, usize::from);
            let len = u16_at(body, 46).map_or(0, usize::from);
            let name = range(m, at, len.min(2 * t.limits.max_name))
                .map(|b| utf16(b, t.limits.max_name))
                .unwrap_or_default();
            let tree = h.tree_id.and_then(|id| t.tree_is_ipc(TreeKey::V2(id)));
            let pipe = t.new_pipe(tree, Some(pipe_name(&name)), false, sink);
            *chain = Some(pipe.map_or(FileRef::NotPipe, FileRef::Pipe));
            if let Some(pipe) = pipe {
                t.pend(key, Pending::Create { pipe }, sink);
            }
        }
        CLOSE => {
            if let Some(f) = id16_at(body, 8) {
                if f == RELATED_FILE && h.flags & flags::RELATED != 0 {
                    if let Some(FileRef::Pipe(p)) = *chain {
                        t.close_pipe(p, sink);
                    }
                } else {
                    t.close_file(FileKey::V2(f), sink);
                }
            }
        }
        WRITE => {
            let Some(FileRef::Pipe(pipe)) = file(t, h, body, 16, false, chain, sink) else {
                return;
            };
            let at = u16_at(body, 2).map_or(0, usize::from);
            let len = u32_at(body, 4).map_or(0, |n| n as usize);
            match buffer(t, m, at, len, truncated, sink) {
                Ok(d) => t.data(pipe, Dir::ToServer, d, sink),
                Err(true) => t.pipe_gap(pipe, Dir::ToServer, sink),
                Err(false) => {}
            }
        }
        READ => {
            if let Some(FileRef::Pipe(pipe)) = file(t, h, body, 16, false, chain, sink) {
                t.pend(key, Pending::Read { pipe }, sink);
            }
        }
        IOCTL => {
            if u32_at(body, 4) != Some(FSCTL_PIPE_TRANSCEIVE) {
                // Another control code: only the chain's file is worth remembering.
                if let Some(f) = id16_at(body, 8).filter(|f| *f != RELATED_FILE) {
                    *chain = t.lookup(FileKey::V2(f)).map(FileRef::Pipe);
                }
                return;
            }
            let Some(FileRef::Pipe(pipe)) = file(t, h, body, 8, true, chain, sink) else {
                return;
            };
            let at = u32_at(body, 24).map_or(0, |n| n as usize);
            let len = u32_at(body, 28).map_or(0, |n| n as usize);
            match buffer(t, m, at, len, truncated, sink) {
                Ok(d) => t.data(pipe, Dir::ToServer, d, sink),
                Err(true) => t.pipe_gap(pipe, Dir::ToServer, sink),
                Err(false) => {}
            }
            t.pend(key, Pending::Transceive { pipe }, sink);
        }
        _ => {}
    }
}
