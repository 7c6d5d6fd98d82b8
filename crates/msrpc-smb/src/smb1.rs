//! SMB1 messages (MS-CIFS 2.2.3: the 32-byte header, then parameter words and data bytes per
//! command, AndX chains 2.2.3.4) and the fields of the commands that carry named pipes.
//! Offsets (AndXOffset, DataOffset, ParameterOffset) are relative to the start of the header.

use crate::frame::Verdict;
use crate::wire::{oem, range, u16_at, u32_at, u8_at, utf16};
use crate::{pipe_name, share_of, Dir, FileKey, FileRef, Pending, ReqKey, Sink, Tables, TreeKey};

/// Length of the SMB1 header.
pub const HEADER_LEN: usize = 32;

/// SMB1 command codes (MS-CIFS 2.2.2.1).
pub mod command {
    /// SMB_COM_CLOSE.
    pub const CLOSE: u8 = 0x04;
    /// SMB_COM_TRANSACTION.
    pub const TRANSACTION: u8 = 0x25;
    /// SMB_COM_TRANSACTION_SECONDARY.
    pub const TRANSACTION_SECONDARY: u8 = 0x26;
    /// SMB_COM_LOCKING_ANDX.
    pub const LOCKING_ANDX: u8 = 0x24;
    /// SMB_COM_OPEN_ANDX.
    pub const OPEN_ANDX: u8 = 0x2D;
    /// SMB_COM_READ_ANDX.
    pub const READ_ANDX: u8 = 0x2E;
    /// SMB_COM_WRITE_ANDX.
    pub const WRITE_ANDX: u8 = 0x2F;
    /// SMB_COM_TREE_DISCONNECT.
    pub const TREE_DISCONNECT: u8 = 0x71;
    /// SMB_COM_NEGOTIATE.
    pub const NEGOTIATE: u8 = 0x72;
    /// SMB_COM_SESSION_SETUP_ANDX.
    pub const SESSION_SETUP_ANDX: u8 = 0x73;
    /// SMB_COM_LOGOFF_ANDX.
    pub const LOGOFF_ANDX: u8 = 0x74;
    /// SMB_COM_TREE_CONNECT_ANDX.
    pub const TREE_CONNECT_ANDX: u8 = 0x75;
    /// SMB_COM_NT_CREATE_ANDX.
    pub const NT_CREATE_ANDX: u8 = 0xA2;
    /// "No further commands" in an AndX block.
    pub const NO_ANDX: u8 = 0xFF;
}

/// TransactNmPipe, the TRANSACTION subcommand that writes and reads a pipe (MS-CIFS
/// 2.2.5.6).
pub const TRANS_TRANSACT_NMPIPE: u16 = 0x0026;
/// STATUS_BUFFER_OVERFLOW: part of a pipe message; the data is valid.
const STATUS_BUFFER_OVERFLOW: u32 = 0x8000_0005;
/// STATUS_MORE_PROCESSING_REQUIRED: a session setup leg, not its end.
const STATUS_MORE_PROCESSING: u32 = 0xC000_0016;
/// Flags: the message is a reply.
const FLAGS_REPLY: u8 = 0x80;
/// Flags2: strings are UTF-16LE.
const FLAGS2_UNICODE: u16 = 0x8000;
/// Flags2: the message carries a signature.
const FLAGS2_SIGNATURE: u16 = 0x0004;
/// WriteMode bits of a pipe write: raw mode and the start of a message. Together they mean
/// the data starts with a 2-byte message length (MS-CIFS 2.2.4.43.1; Samba skips it too).
const WRITE_RAW_MESSAGE_START: u16 = 0x0004 | 0x0008;

/// The fields of an SMB1 header this crate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The first command.
    pub command: u8,
    /// NT status (or the DOS error class and code).
    pub status: u32,
    /// Flags.
    pub flags: u8,
    /// Flags2.
    pub flags2: u16,
    /// Tree id.
    pub tid: u16,
    /// Process id, high and low words.
    pub pid: u32,
    /// User id.
    pub uid: u16,
    /// Multiplex id.
    pub mid: u16,
}

impl Header {
    /// Reads a header (all 32 bytes and the protocol id `0xFF 'S' 'M' 'B'` required).
    pub fn parse(b: &[u8]) -> Option<Header> {
        if b.len() < HEADER_LEN || b.get(..4)? != [0xFF, b'S', b'M', b'B'] {
            return None;
        }
        Some(Header {
            command: u8_at(b, 4)?,
            status: u32_at(b, 5)?,
            flags: u8_at(b, 9)?,
            flags2: u16_at(b, 10)?,
            tid: u16_at(b, 24)?,
            pid: (u32::from(u16_at(b, 12)?) << 16) | u32::from(u16_at(b, 26)?),
            uid: u16_at(b, 28)?,
            mid: u16_at(b, 30)?,
        })
    }

    /// The message is a reply.
    pub fn is_reply(&self) -> bool {
        self.flags & FLAGS_REPLY != 0
    }

    fn key(&self, cmd: u8) -> ReqKey {
        ReqKey::V1 {
            pid: self.pid,
            mid: self.mid,
            cmd,
        }
    }
}

fn is_andx(cmd: u8) -> bool {
    use command::*;
    matches!(
        cmd,
        LOCKING_ANDX
            | OPEN_ANDX
            | READ_ANDX
            | WRITE_ANDX
            | SESSION_SETUP_ANDX
            | LOGOFF_ANDX
            | TREE_CONNECT_ANDX
            | NT_CREATE_ANDX
    )
}

/// Whether this crate reads a command's data bytes (rather than data at a DataOffset).
fn reads_bytes(cmd: u8, reply: bool) -> bool {
    use command::*;
    matches!(
        (cmd, reply),
        (NEGOTIATE, false) | (TREE_CONNECT_ANDX, _) | (NT_CREATE_ANDX, false)
    )
}

/// Verdict on a long message from its first bytes.
pub(crate) fn verdict(t: &mut Tables, head: &[u8]) -> Verdict {
    let Some(h) = Header::parse(head) else {
        return Verdict::Keep;
    };
    let params = u8_at(head, HEADER_LEN)
        .and_then(|wc| range(head, HEADER_LEN + 1, 2 * usize::from(wc)))
        .unwrap_or_default();
    // A chain goes on after this command: keep it.
    if is_andx(h.command) && u8_at(params, 0).is_some_and(|c| c != command::NO_ANDX) {
        return Verdict::Keep;
    }
    let tree = t.tree_is_ipc(TreeKey::V1(h.tid));
    let keep = match (h.command, h.is_reply()) {
        (command::WRITE_ANDX, false) => match u16_at(params, 4) {
            Some(fid) => t.lookup(FileKey::V1(fid)).is_some() || tree != Some(false),
            None => true,
        },
        (command::READ_ANDX, true) => t.has_pending(&h.key(command::READ_ANDX)),
        (command::TRANSACTION | command::TRANSACTION_SECONDARY, _)
        | (command::NEGOTIATE | command::SESSION_SETUP_ANDX | command::TREE_CONNECT_ANDX, _)
        | (command::NT_CREATE_ANDX, _) => true,
        _ => false,
    };
    if keep {
        Verdict::Keep
    } else {
        Verdict::Skip
    }
}

/// One command block of a message.
struct Block<'a> {
    cmd: u8,
    params: &'a [u8],
    bytes: &'a [u8],
    /// Offset of `bytes` from the header.
    bytes_at: usize,
}

/// One SMB1 message with its AndX chain.
pub(crate) fn message(t: &mut Tables, msg: &[u8], truncated: bool, sink: &mut Sink<'_>) {
    let Some(h) = Header::parse(msg) else {
        if !truncated {
            t.anomaly("smb1_bad_header", sink);
        }
        return;
    };
    t.stats.smb1_messages += 1;
    if h.flags2 & FLAGS2_SIGNATURE != 0 {
        t.stats.signed += 1;
    }
    let mut off = HEADER_LEN;
    let mut cmd = h.command;
    for n in 0.. {
        if n >= t.limits.max_andx {
            t.anomaly("smb1_andx_chain_too_long", sink);
            return;
        }
        let Some(wc) = u8_at(msg, off) else {
            if !truncated {
                t.anomaly("smb1_truncated", sink);
            }
            return;
        };
        // MS-SMB 2.2.4.9.2: Windows answers an extended NT_CREATE_ANDX with WordCount 42
        // but 50 words of parameters (its note on the field).
        let plen = if cmd == command::NT_CREATE_ANDX && h.is_reply() && wc == 42 {
            100
        } else {
            2 * usize::from(wc)
        };
        let Some(params) = range(msg, off + 1, plen) else {
            if !truncated {
                t.anomaly("smb1_truncated", sink);
            }
            return;
        };
        let bc_at = off + 1 + plen;
        let bytes_at = bc_at + 2;
        let bytes = match u16_at(msg, bc_at) {
            Some(bc) => match range(msg, bytes_at, usize::from(bc)) {
                Some(b) => b,
                None => {
                    // Only where the bytes are read: servers leave junk counts in answers
                    // whose bytes nobody reads (a Windows NT_CREATE_ANDX in zeek__mapi.pcap).
                    if !truncated && reads_bytes(cmd, h.is_reply()) {
                        t.anomaly("smb1_byte_count_out_of_range", sink);
                    }
                    msg.get(bytes_at..).unwrap_or_default()
                }
            },
            None => &[],
        };
        command(
            t,
            &h,
            msg,
            Block {
                cmd,
                params,
                bytes,
                bytes_at,
            },
            truncated,
            sink,
        );
        if !is_andx(cmd) {
            return;
        }
        let (Some(next), Some(next_off)) = (u8_at(params, 0), u16_at(params, 2)) else {
            return;
        };
        if next == command::NO_ANDX {
            return;
        }
        let next_off = usize::from(next_off);
        // Each block must start after the previous one: a chain cannot loop.
        if next_off <= off {
            t.anomaly("smb1_andx_loop", sink);
            return;
        }
        off = next_off;
        cmd = next;
    }
}

/// Text of the data bytes at `at` (from the header), UTF-16 aligned to an even offset when
/// the message says its strings are Unicode.
fn string(msg: &[u8], h: &Header, at: usize, len: Option<usize>, max: usize) -> String {
    if h.flags2 & FLAGS2_UNICODE != 0 {
        let at = at + (at & 1);
        let b = match len {
            Some(n) => range(msg, at, n.min(2 * max)).or_else(|| msg.get(at..)),
            None => msg.get(at..),
        };
        utf16(b.unwrap_or_default(), max)
    } else {
        let b = match len {
            Some(n) => range(msg, at, n.min(max)).or_else(|| msg.get(at..)),
            None => msg.get(at..),
        };
        oem(b.unwrap_or_default(), max)
    }
}

/// Data at header offset `at`, `len` bytes, or whether the loss is a gap (over the limit).
fn data<'a>(
    t: &mut Tables,
    msg: &'a [u8],
    at: usize,
    len: usize,
    truncated: bool,
    sink: &mut Sink<'_>,
) -> Result<&'a [u8], bool> {
    if len == 0 {
        return Ok(&[]);
    }
    match range(msg, at, len) {
        Some(b) if at >= HEADER_LEN => Ok(b),
        _ if truncated => Err(true),
        _ => {
            t.anomaly("smb1_data_out_of_range", sink);
            Err(false)
        }
    }
}

fn emit(
    t: &mut Tables,
    pipe: crate::PipeId,
    dir: Dir,
    r: Result<&[u8], bool>,
    sink: &mut Sink<'_>,
) {
    match r {
        Ok(d) => t.data(pipe, dir, d, sink),
        Err(true) => t.pipe_gap(pipe, dir, sink),
        Err(false) => {}
    }
}

fn command(
    t: &mut Tables,
    h: &Header,
    msg: &[u8],
    b: Block<'_>,
    truncated: bool,
    sink: &mut Sink<'_>,
) {
    use command::*;
    let p = b.params;
    let tree = t.tree_is_ipc(TreeKey::V1(h.tid));
    if h.is_reply() {
        let ok = h.status == 0 || h.status == STATUS_BUFFER_OVERFLOW;
        match b.cmd {
            NEGOTIATE => {
                let pending = t.take_pending(&h.key(NEGOTIATE));
                let (Some(i), true) = (u16_at(p, 0), h.status == 0) else {
                    return;
                };
                let dialect = match &pending {
                    Some(Pending::Negotiate { dialects }) => dialects.get(usize::from(i)).cloned(),
                    _ => None,
                }
                .unwrap_or_else(|| format!("dialect #{i}"));
                // NT LM 0.12's answer has 17 words; SecurityMode bit 0x08: signatures
                // required.
                let required = p.len() >= 34 && u8_at(p, 2).is_some_and(|m| m & 0x08 != 0);
                t.negotiated(dialect, required, sink);
            }
            SESSION_SETUP_ANDX if h.status == 0 => t.stats.sessions += 1,
            SESSION_SETUP_ANDX if h.status == STATUS_MORE_PROCESSING => {}
            TREE_CONNECT_ANDX => {
                let Some(Pending::TreeConnect { share }) = t.take_pending(&h.key(b.cmd)) else {
                    return;
                };
                if h.status == 0 && !p.is_empty() {
                    // The service is an OEM string: `IPC` for the pipe share.
                    let service = oem(b.bytes, 8);
                    let ipc = service == "IPC" || share.eq_ignore_ascii_case("IPC$");
                    t.tree(TreeKey::V1(h.tid), &share, ipc, sink);
                }
            }
            NT_CREATE_ANDX => {
                let Some(Pending::Create { pipe }) = t.take_pending(&h.key(b.cmd)) else {
                    return;
                };
                match u16_at(p, 5) {
                    Some(fid) if h.status == 0 => t.opened(pipe, FileKey::V1(fid), sink),
                    _ => t.failed(pipe, sink),
                }
            }
            READ_ANDX => {
                let Some(Pending::Read { pipe }) = t.take_pending(&h.key(b.cmd)) else {
                    return;
                };
                if !ok {
                    return;
                }
                let (Some(low), Some(at)) = (u16_at(p, 10), u16_at(p, 12)) else {
                    return;
                };
                let len = length(msg, usize::from(at), low, u16_at(p, 14));
                let r = data(t, msg, usize::from(at), len, truncated, sink);
                emit(t, pipe, Dir::ToClient, r, sink);
            }
            TRANSACTION => {
                let key = h.key(TRANSACTION);
                // The interim answer to a request continued by secondaries has no words.
                if p.is_empty() && h.status == 0 {
                    return;
                }
                let Some(Pending::Trans {
                    pipe,
                    resp_seen,
                    req_total,
                    req_seen,
                }) = t.take_pending(&key)
                else {
                    return;
                };
                if !ok {
                    return;
                }
                let (Some(total), Some(count), Some(at), Some(disp)) =
                    (u16_at(p, 2), u16_at(p, 12), u16_at(p, 14), u16_at(p, 16))
                else {
                    return;
                };
                if u32::from(disp) != resp_seen {
                    t.pipe_gap(pipe, Dir::ToClient, sink);
                }
                let r = data(t, msg, usize::from(at), usize::from(count), truncated, sink);
                emit(t, pipe, Dir::ToClient, r, sink);
                let seen = u32::from(disp) + u32::from(count);
                if seen < u32::from(total) {
                    t.pend(
                        key,
                        Pending::Trans {
                            pipe,
                            req_total,
                            req_seen,
                            resp_seen: seen,
                        },
                        sink,
                    );
                }
            }
            _ => {}
        }
        return;
    }
    match b.cmd {
        NEGOTIATE => {
            // Dialects: each a 0x02 byte then a NUL-terminated OEM string.
            let mut dialects = Vec::new();
            for d in b.bytes.split(|c| *c == 0x02).skip(1).take(32) {
                dialects.push(oem(d, 32));
            }
            t.pend(h.key(NEGOTIATE), Pending::Negotiate { dialects }, sink);
        }
        TREE_CONNECT_ANDX => {
            let pw = u16_at(p, 6).map_or(0, usize::from);
            let path = string(msg, h, b.bytes_at + pw, None, t.limits.max_name);
            let share = share_of(&path).to_string();
            t.pend(h.key(b.cmd), Pending::TreeConnect { share }, sink);
        }
        TREE_DISCONNECT => t.untree(TreeKey::V1(h.tid)),
        NT_CREATE_ANDX => {
            let len = u16_at(p, 5).map(usize::from);
            let name = string(msg, h, b.bytes_at, len, t.limits.max_name);
            if let Some(pipe) = t.new_pipe(tree, Some(pipe_name(&name)), false, sink) {
                t.pend(h.key(b.cmd), Pending::Create { pipe }, sink);
            }
        }
        WRITE_ANDX => {
            let (Some(fid), Some(mode), Some(low), Some(at)) =
                (u16_at(p, 4), u16_at(p, 14), u16_at(p, 20), u16_at(p, 22))
            else {
                return;
            };
            let FileRef::Pipe(pipe) = t.file(FileKey::V1(fid), tree, false, sink) else {
                return;
            };
            let at = usize::from(at);
            let len = length(msg, at, low, u16_at(p, 18));
            let (at, len) = if mode & WRITE_RAW_MESSAGE_START == WRITE_RAW_MESSAGE_START {
                (at + 2, len.saturating_sub(2))
            } else {
                (at, len)
            };
            let r = data(t, msg, at, len, truncated, sink);
            emit(t, pipe, Dir::ToServer, r, sink);
        }
        READ_ANDX => {
            let Some(fid) = u16_at(p, 4) else { return };
            if let FileRef::Pipe(pipe) = t.file(FileKey::V1(fid), tree, false, sink) {
                t.pend(h.key(b.cmd), Pending::Read { pipe }, sink);
            }
        }
        TRANSACTION => {
            // Setup words: the subcommand and the FID.
            let setup = u8_at(p, 26).map_or(0, usize::from);
            let (Some(sub), Some(fid)) = (u16_at(p, 28), u16_at(p, 30)) else {
                return;
            };
            if setup < 2 || sub != TRANS_TRANSACT_NMPIPE {
                return;
            }
            let (Some(total), Some(count), Some(at)) = (u16_at(p, 2), u16_at(p, 22), u16_at(p, 24))
            else {
                return;
            };
            let FileRef::Pipe(pipe) = t.file(FileKey::V1(fid), tree, true, sink) else {
                return;
            };
            let r = data(t, msg, usize::from(at), usize::from(count), truncated, sink);
            emit(t, pipe, Dir::ToServer, r, sink);
            t.pend(
                h.key(TRANSACTION),
                Pending::Trans {
                    pipe,
                    req_total: u32::from(total),
                    req_seen: u32::from(count),
                    resp_seen: 0,
                },
                sink,
            );
        }
        TRANSACTION_SECONDARY => {
            let (Some(count), Some(at), Some(disp)) = (u16_at(p, 10), u16_at(p, 12), u16_at(p, 14))
            else {
                return;
            };
            let Some(Pending::Trans {
                pipe,
                req_total,
                req_seen,
                ..
            }) = t.pending_mut(&h.key(TRANSACTION))
            else {
                return;
            };
            let (pipe, in_order) = (*pipe, u32::from(disp) == *req_seen);
            *req_seen = (u32::from(disp) + u32::from(count)).min(*req_total);
            if !in_order {
                t.pipe_gap(pipe, Dir::ToServer, sink);
            }
            let r = data(t, msg, usize::from(at), usize::from(count), truncated, sink);
            emit(t, pipe, Dir::ToServer, r, sink);
        }
        CLOSE => {
            if let Some(fid) = u16_at(p, 0) {
                t.close_file(FileKey::V1(fid), sink);
            }
        }
        _ => {}
    }
}

/// A data length: the low word, with the high word (MS-SMB's large read/write extension)
/// when the whole length fits in the message.
fn length(msg: &[u8], at: usize, low: u16, high: Option<u16>) -> usize {
    let low = usize::from(low);
    match high {
        Some(hi) if hi != 0 => {
            let full = (usize::from(hi) << 16) | low;
            if at.saturating_add(full) <= msg.len() {
                full
            } else {
                low
            }
        }
        _ => low,
    }
}
