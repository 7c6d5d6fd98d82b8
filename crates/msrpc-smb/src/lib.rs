//! Passive SMB parsing for DCE/RPC over named pipes (`ncacn_np`): a sans-IO, bounded,
//! zero-trust reader of captured SMB traffic that hands each named pipe's two byte streams to
//! a DCE/RPC layer.
//!
//! [`SmbConnection`] takes one TCP connection's reassembled bytes per direction
//! ([`SmbConnection::data`], [`SmbConnection::gap`]) and reports [`Event`]s: pipes opened with
//! their names, pipe bytes in each direction keyed by a [`PipeId`] (one per open, so a FileId
//! the server reuses starts a new pipe), gaps, closes, the negotiated dialect and signing, and
//! anomalies. It reads:
//!
//! - transport framing ([`frame`]): the NetBIOS session service on port 139 (session request,
//!   positive/negative response, retarget, keep-alive, messages) and direct TCP on port 445;
//! - SMB1 (MS-CIFS, MS-SMB) in [`smb1`]: NEGOTIATE, SESSION_SETUP_ANDX, TREE_CONNECT_ANDX,
//!   NT_CREATE_ANDX (the pipe name), READ_ANDX, WRITE_ANDX (with the 2-byte message length of
//!   a raw-mode message start), TRANSACTION and TRANSACTION_SECONDARY carrying
//!   TransactNmPipe (subcommand 0x26) and their responses, CLOSE, AndX chains;
//! - SMB2/3 (MS-SMB2) in [`smb2`]: NEGOTIATE (dialect, signing), SESSION_SETUP, TREE_CONNECT
//!   (the share, so opens on `IPC$` are known to be pipes), CREATE (the name; its response's
//!   FileId mapped to the pipe), READ, WRITE, IOCTL `FSCTL_PIPE_TRANSCEIVE` both ways, CLOSE,
//!   compounded messages (NextCommand, related operations using the previous FileId), async
//!   interim `STATUS_PENDING` responses (the final answer is still awaited), multi-credit
//!   requests (answers paired by MessageId); the transform headers `0xFD 'S' 'M' 'B'`
//!   (encrypted) and `0xFC 'S' 'M' 'B'` (compressed) are counted and skipped as opaque.
//!
//! # What it does not do
//! No decryption of SMB3 encrypted sessions and no decompression (pipes inside them are not
//! seen; [`Stats::encrypted`] and [`Stats::compressed`] count the messages), no signature
//! checks (a passive observer has no session key; signed messages are read as they are), no
//! file contents (writes and reads of files on disk shares are skipped without being held),
//! no SMB1 RAW/MPX reads and writes, no user names from SESSION_SETUP (the DCE/RPC layer
//! still sees NTLM inside its own binds), no SMB over QUIC or RDMA.
//!
//! # Why not an existing crate
//! The SMB crates on crates.io are client libraries or message codecs for them (`smb-msg` of
//! smb-rs, `smb2`, `red_smb`) or metadata-only parsers (`flowscope`'s SMB module). `smb-msg`,
//! the most complete, reads SMB2 only (no SMB1, which the shared captures and old clients
//! carry), decodes whole messages strictly with binrw (a passive observer must keep going
//! on what a server would refuse), sizes vectors from counts in the message, and needs Rust
//! 1.89 (this workspace builds with 1.85). A pipe extractor needs a few fields of a few
//! commands read leniently under explicit limits, so this crate reads them itself, with a
//! bounds-checked reader (`wire`) and the same standard as `msrpc-proto`'s PDU codec
//! (hostile tests, a fuzz target).
//!
//! # Memory bounds ([`Limits`])
//! Per direction at most one message is held, and at most [`Limits::max_message`] bytes of it
//! (beyond, its first bytes are read and the rest skipped; pipe data in it becomes a gap).
//! Messages that carry no pipe data (file reads and writes, directory listings) are skipped
//! after their first 128 bytes. Per connection at most [`Limits::max_pipes`] pipes,
//! [`Limits::max_pending`] requests awaiting an answer and [`Limits::max_trees`] tree
//! connects are tracked; names are cut at [`Limits::max_name`] characters; a compound holds
//! at most [`Limits::max_compound`] messages and an AndX chain at most
//! [`Limits::max_andx`] commands. Exceeding a limit is an anomaly, never a panic or an
//! allocation sized by the peer.
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod frame;
pub mod smb1;
pub mod smb2;
pub mod synth;
mod wire;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use crate::frame::{Framer, Unit, Verdict};

/// Which way bytes flow on the TCP connection (or, for [`Event::Data`], on the pipe).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Client to server (requests; pipe writes).
    ToServer,
    /// Server to client (responses; pipe reads).
    ToClient,
}

/// One open of a named pipe on one connection: unique for the connection's life (a FileId
/// reused by the server after a close, or seen again without a close, is a new pipe).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipeId(pub u64);

/// Bounds on what one connection may hold.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of one SMB message held (a larger one is read up to here).
    pub max_message: usize,
    /// Pipes tracked at once.
    pub max_pipes: usize,
    /// Requests awaiting their answer (tree connects, creates, pipe reads and transceives).
    pub max_pending: usize,
    /// Tree connects remembered.
    pub max_trees: usize,
    /// Characters kept of a pipe or share name.
    pub max_name: usize,
    /// Messages in one SMB2 compound.
    pub max_compound: usize,
    /// Commands in one SMB1 AndX chain.
    pub max_andx: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 1024 * 1024,
            max_pipes: 256,
            max_pending: 1024,
            max_trees: 64,
            max_name: 256,
            max_compound: 64,
            max_andx: 16,
        }
    }
}

/// Counters over a connection's life.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// SMB1 messages read.
    pub smb1_messages: u64,
    /// SMB2/3 messages read (each message of a compound counts).
    pub smb2_messages: u64,
    /// SMB2/3 messages and SMB1 messages that carried a signature.
    pub signed: u64,
    /// Encrypted SMB3 messages (transform header `0xFD 'S' 'M' 'B'`), skipped as opaque.
    pub encrypted: u64,
    /// Compressed SMB3 messages (`0xFC 'S' 'M' 'B'`), skipped as opaque.
    pub compressed: u64,
    /// NetBIOS session service control packets (session request, responses, keep-alives).
    pub netbios_control: u64,
    /// Successful session setups.
    pub sessions: u64,
    /// Pipes opened (creates answered with success, and pipes first seen by their data).
    pub pipes_opened: u64,
    /// Pipe bytes handed out, client to server and server to client.
    pub pipe_bytes: [u64; 2],
    /// Messages longer than [`Limits::max_message`].
    pub oversized: u64,
    /// Bytes of messages not held (file data, messages over the limit, opaque messages).
    pub skipped_bytes: u64,
    /// Resynchronisations on a frame start after a gap or a framing error.
    pub resyncs: u64,
    /// Anomalies by reason code (a small fixed set: the codes of [`Event::Anomaly`]).
    pub anomalies: BTreeMap<&'static str, u64>,
}

/// What the parser reports.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A pipe was opened (the create was answered with success).
    Opened {
        /// The pipe.
        pipe: PipeId,
        /// Its name, normalised to `\pipe\NAME` (see [`pipe_name`]).
        name: &'a str,
    },
    /// Bytes written to (`ToServer`) or read from (`ToClient`) a pipe, in order per direction.
    Data {
        /// The pipe.
        pipe: PipeId,
        /// Its name when the open was seen.
        name: Option<&'a str>,
        /// True when the file is known to be a pipe (opened on `IPC$`, or used with
        /// `FSCTL_PIPE_TRANSCEIVE` or TransactNmPipe); false for a FileId whose open or tree
        /// the capture missed (the caller may check the bytes look like DCE/RPC).
        confirmed: bool,
        /// Direction on the pipe.
        dir: Dir,
        /// The bytes.
        data: &'a [u8],
    },
    /// Bytes of this pipe's stream in this direction were lost (capture gap, a message over
    /// the limit, a transaction part out of order).
    Gap {
        /// The pipe.
        pipe: PipeId,
        /// Direction on the pipe.
        dir: Dir,
    },
    /// The pipe was closed (or the connection ended).
    Closed {
        /// The pipe.
        pipe: PipeId,
    },
    /// A dialect was negotiated.
    Negotiated {
        /// `NT LM 0.12` (SMB1, the dialect string chosen), `2.0.2`, `2.1`, `3.0`, `3.0.2`,
        /// `3.1.1`, `2.???` (the multi-protocol answer) or the revision in hex.
        dialect: String,
        /// The server requires signing.
        signing_required: bool,
    },
    /// A tree connect was answered with success.
    TreeConnected {
        /// The share name (`IPC$`, `C$`, ...).
        share: &'a str,
        /// It is the inter-process share (its pipes carry DCE/RPC).
        ipc: bool,
    },
    /// Input the parser refused or a limit it hit; the parser goes on.
    Anomaly {
        /// A stable reason code (`netbios_bad_type`, `smb2_bad_next_command`,
        /// `smb1_andx_loop`, `smb_pipe_table_full`, ...).
        reason: &'static str,
    },
}

/// Normalises a pipe name as Zeek's `named_pipe` shows it: `\pipe\` followed by the name
/// without leading backslashes or a `PIPE\` prefix of its own (`srvsvc`, `\srvsvc` and
/// `\PIPE\srvsvc` all become `\pipe\srvsvc`).
pub fn pipe_name(raw: &str) -> String {
    let s = raw.trim_end_matches('\0').trim_start_matches(['\\', '/']);
    let s = match s.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("pipe\\") => s.get(5..).unwrap_or_default(),
        _ => s,
    };
    format!("\\pipe\\{s}")
}

/// The share of a tree connect path (`\\server\IPC$` -> `IPC$`).
pub(crate) fn share_of(path: &str) -> &str {
    path.trim_end_matches('\0')
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or_default()
}

/// A file as the server named it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum FileKey {
    V1(u16),
    V2([u8; 16]),
}

/// A tree as the server named it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TreeKey {
    V1(u16),
    V2(u32),
}

/// A request awaiting its answer, by the ids the answer repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ReqKey {
    /// SMB1: PID (high and low), MID, command.
    V1 { pid: u32, mid: u16, cmd: u8 },
    /// SMB2: MessageId.
    V2(u64),
}

#[derive(Debug)]
pub(crate) enum Pending {
    Negotiate {
        dialects: Vec<String>,
    },
    TreeConnect {
        share: String,
    },
    Create {
        pipe: PipeId,
    },
    Read {
        pipe: PipeId,
    },
    Transceive {
        pipe: PipeId,
    },
    /// SMB1 TransactNmPipe: request data expected and seen, response data seen.
    Trans {
        pipe: PipeId,
        req_total: u32,
        req_seen: u32,
        resp_seen: u32,
    },
}

#[derive(Debug)]
pub(crate) struct Pipe {
    name: Option<String>,
    file: Option<FileKey>,
    confirmed: bool,
}

#[derive(Debug)]
pub(crate) struct Tree {
    ipc: bool,
}

/// What a request's file reference resolved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileRef {
    /// A tracked pipe.
    Pipe(PipeId),
    /// Known not to be a pipe (or untracked: table full).
    NotPipe,
}

/// The state the SMB1 and SMB2 readers share: pipes, files, trees and pending requests.
#[derive(Debug)]
pub(crate) struct Tables {
    pub(crate) limits: Limits,
    pipes: HashMap<PipeId, Pipe>,
    files: HashMap<FileKey, PipeId>,
    trees: HashMap<TreeKey, Tree>,
    pending: HashMap<ReqKey, Pending>,
    next_pipe: u64,
    /// Bytes of the tracked pipes' names.
    name_bytes: usize,
    pub(crate) stats: Stats,
    pub(crate) dialect: Option<String>,
    pub(crate) signing_required: bool,
}

/// Where events go.
pub(crate) type Sink<'s> = dyn FnMut(Event<'_>) + 's;

impl Tables {
    fn new(limits: Limits) -> Self {
        Tables {
            limits,
            pipes: HashMap::default(),
            files: HashMap::default(),
            trees: HashMap::default(),
            pending: HashMap::default(),
            next_pipe: 1,
            name_bytes: 0,
            stats: Stats::default(),
            dialect: None,
            signing_required: false,
        }
    }

    pub(crate) fn anomaly(&mut self, reason: &'static str, sink: &mut Sink<'_>) {
        *self.stats.anomalies.entry(reason).or_default() += 1;
        sink(Event::Anomaly { reason });
    }

    pub(crate) fn pend(&mut self, key: ReqKey, p: Pending, sink: &mut Sink<'_>) {
        if self.pending.len() >= self.limits.max_pending && !self.pending.contains_key(&key) {
            // Answers the capture never showed pile up: forget them all (their pipes stay).
            self.pending.clear();
            self.anomaly("smb_pending_table_full", sink);
        }
        self.pending.insert(key, p);
    }

    pub(crate) fn take_pending(&mut self, key: &ReqKey) -> Option<Pending> {
        self.pending.remove(key)
    }

    pub(crate) fn pending_mut(&mut self, key: &ReqKey) -> Option<&mut Pending> {
        self.pending.get_mut(key)
    }

    pub(crate) fn has_pending(&self, key: &ReqKey) -> bool {
        self.pending.contains_key(key)
    }

    /// A tree connect answered: remember whether it is `IPC$`.
    pub(crate) fn tree(&mut self, key: TreeKey, share: &str, ipc: bool, sink: &mut Sink<'_>) {
        if self.trees.len() >= self.limits.max_trees && !self.trees.contains_key(&key) {
            self.trees.clear();
            self.anomaly("smb_tree_table_full", sink);
        }
        self.trees.insert(key, Tree { ipc });
        sink(Event::TreeConnected { share, ipc });
    }

    pub(crate) fn untree(&mut self, key: TreeKey) {
        self.trees.remove(&key);
    }

    /// Whether a tree is `IPC$`: `None` when its connect was not seen.
    pub(crate) fn tree_is_ipc(&self, key: TreeKey) -> Option<bool> {
        self.trees.get(&key).map(|t| t.ipc)
    }

    /// A new pipe for an open on `tree` (none when the tree is known not to be `IPC$`, or the
    /// table is full).
    pub(crate) fn new_pipe(
        &mut self,
        tree: Option<bool>,
        name: Option<String>,
        confirmed: bool,
        sink: &mut Sink<'_>,
    ) -> Option<PipeId> {
        if tree == Some(false) {
            return None;
        }
        if self.pipes.len() >= self.limits.max_pipes {
            self.anomaly("smb_pipe_table_full", sink);
            return None;
        }
        let id = PipeId(self.next_pipe);
        self.next_pipe += 1;
        self.name_bytes += name.as_ref().map_or(0, String::len);
        self.pipes.insert(
            id,
            Pipe {
                name,
                file: None,
                confirmed: confirmed || tree == Some(true),
            },
        );
        Some(id)
    }

    /// A create (or its equivalent) succeeded: `file` now names `pipe`.
    pub(crate) fn opened(&mut self, pipe: PipeId, file: FileKey, sink: &mut Sink<'_>) {
        if let Some(old) = self.files.insert(file, pipe) {
            if old != pipe {
                // The server handed out a FileId still open as far as the capture knows (a
                // close it missed): the old pipe ends here.
                self.close_pipe(old, sink);
            }
        }
        let Some(p) = self.pipes.get_mut(&pipe) else {
            return;
        };
        p.file = Some(file);
        self.stats.pipes_opened += 1;
        if let Some(name) = &p.name {
            sink(Event::Opened { pipe, name });
        }
    }

    /// A create failed: forget its pipe.
    pub(crate) fn failed(&mut self, pipe: PipeId, sink: &mut Sink<'_>) {
        if let Some(p) = self.pipes.remove(&pipe) {
            self.name_bytes = self
                .name_bytes
                .saturating_sub(p.name.as_ref().map_or(0, String::len));
            sink(Event::Closed { pipe });
        }
    }

    /// The pipe `file` names, if any; a FileId never opened in the capture becomes a pipe of
    /// its own (unconfirmed unless `confirmed` or its tree is `IPC$`) when its tree may be
    /// `IPC$`.
    pub(crate) fn file(
        &mut self,
        file: FileKey,
        tree: Option<bool>,
        confirmed: bool,
        sink: &mut Sink<'_>,
    ) -> FileRef {
        if let Some(id) = self.files.get(&file) {
            if confirmed {
                if let Some(p) = self.pipes.get_mut(id) {
                    p.confirmed = true;
                }
            }
            return FileRef::Pipe(*id);
        }
        match self.new_pipe(tree, None, confirmed, sink) {
            Some(id) => {
                self.files.insert(file, id);
                if let Some(p) = self.pipes.get_mut(&id) {
                    p.file = Some(file);
                }
                self.stats.pipes_opened += 1;
                FileRef::Pipe(id)
            }
            None => FileRef::NotPipe,
        }
    }

    /// The pipe `file` names, without creating one.
    pub(crate) fn lookup(&self, file: FileKey) -> Option<PipeId> {
        self.files.get(&file).copied()
    }

    pub(crate) fn close_file(&mut self, file: FileKey, sink: &mut Sink<'_>) {
        if let Some(id) = self.files.get(&file).copied() {
            self.close_pipe(id, sink);
        }
    }

    pub(crate) fn close_pipe(&mut self, pipe: PipeId, sink: &mut Sink<'_>) {
        if let Some(p) = self.pipes.remove(&pipe) {
            self.name_bytes = self
                .name_bytes
                .saturating_sub(p.name.as_ref().map_or(0, String::len));
            if let Some(f) = p.file {
                if self.files.get(&f) == Some(&pipe) {
                    self.files.remove(&f);
                }
            }
            sink(Event::Closed { pipe });
        }
    }

    /// Hands pipe bytes out.
    pub(crate) fn data(&mut self, pipe: PipeId, dir: Dir, data: &[u8], sink: &mut Sink<'_>) {
        if data.is_empty() {
            return;
        }
        let Some(p) = self.pipes.get(&pipe) else {
            return;
        };
        let i = usize::from(dir == Dir::ToClient);
        if let Some(n) = self.stats.pipe_bytes.get_mut(i) {
            *n += data.len() as u64;
        }
        sink(Event::Data {
            pipe,
            name: p.name.as_deref(),
            confirmed: p.confirmed,
            dir,
            data,
        });
    }

    pub(crate) fn pipe_gap(&mut self, pipe: PipeId, dir: Dir, sink: &mut Sink<'_>) {
        if self.pipes.contains_key(&pipe) {
            sink(Event::Gap { pipe, dir });
        }
    }

    pub(crate) fn negotiated(
        &mut self,
        dialect: String,
        signing_required: bool,
        sink: &mut Sink<'_>,
    ) {
        self.dialect = Some(dialect.clone());
        self.signing_required = signing_required;
        sink(Event::Negotiated {
            dialect,
            signing_required,
        });
    }

    fn held(&self) -> usize {
        // An estimate of the tables' heap use.
        (self.pipes.len() + self.files.len() + self.trees.len() + self.pending.len()) * 64
            + self.name_bytes
    }
}

/// One TCP connection carrying SMB, seen passively.
#[derive(Debug)]
pub struct SmbConnection {
    framers: [Framer; 2],
    tables: Tables,
}

impl SmbConnection {
    /// A connection whose capture starts at its beginning (`mid_stream` false) or somewhere
    /// inside it (the framers then resynchronise on the first frame start).
    pub fn new(limits: Limits, mid_stream: bool) -> Self {
        SmbConnection {
            framers: [Framer::new(mid_stream), Framer::new(mid_stream)],
            tables: Tables::new(limits),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.tables.stats
    }

    /// The dialect negotiated, when the negotiation was seen.
    pub fn dialect(&self) -> Option<&str> {
        self.tables.dialect.as_deref()
    }

    /// The server required signing (as the negotiation said).
    pub fn signing_required(&self) -> bool {
        self.tables.signing_required
    }

    /// Pipes tracked now.
    pub fn pipes(&self) -> usize {
        self.tables.pipes.len()
    }

    /// Bytes held (partial messages and the tables).
    pub fn held(&self) -> usize {
        self.framers.iter().map(Framer::held).sum::<usize>() + self.tables.held()
    }

    /// Stream bytes in one direction of the TCP connection, in order.
    pub fn data(&mut self, dir: Dir, bytes: &[u8], sink: &mut dyn FnMut(Event<'_>)) {
        let (framer, tables) = match dir {
            Dir::ToServer => (&mut self.framers[0], &mut self.tables),
            Dir::ToClient => (&mut self.framers[1], &mut self.tables),
        };
        let max = tables.limits.max_message;
        let before = framer.skipped;
        framer.feed(bytes, max, &mut |u| match u {
            Unit::Head { head, total } => {
                let v = tables.verdict(head);
                if v == Verdict::Keep && total > tables.limits.max_message {
                    tables.stats.oversized += 1;
                }
                v
            }
            Unit::Message { bytes, truncated } => {
                tables.message(bytes, truncated, sink);
                Verdict::Keep
            }
            Unit::Control => {
                tables.stats.netbios_control += 1;
                Verdict::Keep
            }
            Unit::Anomaly(reason) => {
                tables.anomaly(reason, sink);
                Verdict::Keep
            }
            Unit::Resynced => {
                tables.stats.resyncs += 1;
                Verdict::Keep
            }
        });
        self.tables.stats.skipped_bytes += framer_skipped(&self.framers, dir) - before;
    }

    /// The capture lost bytes in one direction: the partial message is dropped, the framer
    /// resynchronises, and every pipe gets a gap in both directions (the lost bytes may have
    /// held any pipe's writes, or the requests its reads answer).
    pub fn gap(&mut self, dir: Dir, sink: &mut dyn FnMut(Event<'_>)) {
        match dir {
            Dir::ToServer => self.framers[0].gap(),
            Dir::ToClient => self.framers[1].gap(),
        }
        let mut ids: Vec<PipeId> = self.tables.pipes.keys().copied().collect();
        ids.sort();
        for pipe in ids {
            sink(Event::Gap {
                pipe,
                dir: Dir::ToServer,
            });
            sink(Event::Gap {
                pipe,
                dir: Dir::ToClient,
            });
        }
    }

    /// The connection ended: every pipe still open is closed.
    pub fn finish(&mut self, sink: &mut dyn FnMut(Event<'_>)) {
        let mut ids: Vec<PipeId> = self.tables.pipes.keys().copied().collect();
        ids.sort();
        for pipe in ids {
            self.tables.close_pipe(pipe, sink);
        }
        self.tables.pending.clear();
        self.framers = [Framer::new(false), Framer::new(false)];
    }
}

fn framer_skipped(f: &[Framer; 2], dir: Dir) -> u64 {
    match dir {
        Dir::ToServer => f[0].skipped,
        Dir::ToClient => f[1].skipped,
    }
}

/// Whether `b`, the first bytes of a TCP stream, look like SMB over direct TCP or a NetBIOS
/// session (a session message holding an SMB header, or a session request on port 139).
pub fn looks_like_smb(b: &[u8]) -> bool {
    if frame::frame_start(b) {
        return true;
    }
    // A session request: type 0x81, flags 0, length 68 (two encoded names).
    matches!(b.get(..4), Some([0x81, 0, 0, 68]))
}

impl Tables {
    /// Whether the rest of a long message is worth holding, from its head.
    fn verdict(&mut self, head: &[u8]) -> Verdict {
        match head.get(..4) {
            Some([0xFE, b'S', b'M', b'B']) => smb2::verdict(self, head),
            Some([0xFF, b'S', b'M', b'B']) => smb1::verdict(self, head),
            Some([0xFD, b'S', b'M', b'B']) => {
                self.stats.encrypted += 1;
                Verdict::Skip
            }
            Some([0xFC, b'S', b'M', b'B']) => {
                self.stats.compressed += 1;
                Verdict::Skip
            }
            _ => Verdict::Keep,
        }
    }

    /// One SMB message (or its head when `truncated`).
    fn message(&mut self, msg: &[u8], truncated: bool, sink: &mut Sink<'_>) {
        match msg.get(..4) {
            Some([0xFE, b'S', b'M', b'B']) => smb2::message(self, msg, truncated, sink),
            Some([0xFF, b'S', b'M', b'B']) => smb1::message(self, msg, truncated, sink),
            Some([0xFD, b'S', b'M', b'B']) => {
                if !truncated {
                    self.stats.encrypted += 1;
                }
            }
            Some([0xFC, b'S', b'M', b'B']) => {
                if !truncated {
                    self.stats.compressed += 1;
                }
            }
            _ => self.anomaly("netbios_not_smb", sink),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_names_are_normalised() {
        assert_eq!(pipe_name("srvsvc"), "\\pipe\\srvsvc");
        assert_eq!(pipe_name("\\srvsvc\0"), "\\pipe\\srvsvc");
        assert_eq!(pipe_name("\\PIPE\\lsarpc"), "\\pipe\\lsarpc");
        assert_eq!(pipe_name("pipe\\spoolss"), "\\pipe\\spoolss");
        assert_eq!(pipe_name(""), "\\pipe\\");
        assert_eq!(share_of("\\\\10.0.0.1\\IPC$"), "IPC$");
        assert_eq!(share_of("\\\\srv\\c$\0"), "c$");
    }

    #[test]
    fn smb_is_recognised_from_its_first_bytes() {
        assert!(looks_like_smb(b"\x00\x00\x00\x45\xffSMBr"));
        assert!(looks_like_smb(b"\x00\x00\x00\x45\xfeSMB@"));
        assert!(looks_like_smb(&[0x81, 0, 0, 68, 0x20]));
        assert!(!looks_like_smb(b"\x05\x00\x0b\x03\x10\x00\x00\x00"));
        assert!(!looks_like_smb(b"\x00\x00\x00\x45\xfeSM"));
    }
}
