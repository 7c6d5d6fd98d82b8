//! Writers of the SMB messages this crate reads, for tests, fuzz seeds and the analyzer's
//! synthetic captures. Not a client: fields the reader ignores are zero, and nothing checks
//! that a message makes sense.

use crate::smb2::command as c2;

/// A session message frame (`00 LL LL LL`) around `msg`.
pub fn nbss(msg: &[u8]) -> Vec<u8> {
    let len = u32::try_from(msg.len())
        .unwrap_or(u32::MAX)
        .min(0x00FF_FFFF);
    let mut v = len.to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    v
}

/// An SMB2 message: the 64-byte header, then `body`.
pub fn smb2(
    cmd: u16,
    flags: u32,
    message_id: u64,
    tree_id: u32,
    status: u32,
    body: &[u8],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(64 + body.len());
    v.extend_from_slice(&[0xFE, b'S', b'M', b'B']);
    v.extend_from_slice(&64u16.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes()); // credit charge
    v.extend_from_slice(&status.to_le_bytes());
    v.extend_from_slice(&cmd.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes()); // credits
    v.extend_from_slice(&flags.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes()); // next command
    v.extend_from_slice(&message_id.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes()); // reserved / async id low
    v.extend_from_slice(&tree_id.to_le_bytes());
    v.extend_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes()); // session id
    v.extend_from_slice(&[0; 16]); // signature
    v.extend_from_slice(body);
    v
}

/// Compounds SMB2 messages: each padded to 8 bytes and its NextCommand set (the last 0).
pub fn compound(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let n = msgs.len();
    for (i, m) in msgs.iter().enumerate() {
        let mut m = m.clone();
        if i + 1 < n {
            while m.len() % 8 != 0 {
                m.push(0);
            }
            let next = u32::try_from(m.len()).unwrap_or(0).to_le_bytes();
            if let Some(d) = m.get_mut(20..24) {
                d.copy_from_slice(&next);
            }
        }
        out.extend_from_slice(&m);
    }
    out
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn le16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn le32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn len32(b: &[u8]) -> u32 {
    u32::try_from(b.len()).unwrap_or(u32::MAX)
}

/// NEGOTIATE response body: SecurityMode, DialectRevision.
pub fn negotiate_resp(dialect: u16, security_mode: u16) -> Vec<u8> {
    let mut v = Vec::new();
    le16(&mut v, 65);
    le16(&mut v, security_mode);
    le16(&mut v, dialect);
    v.resize(64, 0);
    v
}

/// TREE_CONNECT request body for `path`.
pub fn tree_connect_req(path: &str) -> Vec<u8> {
    let p = utf16(path);
    let mut v = Vec::new();
    le16(&mut v, 9);
    le16(&mut v, 0);
    le16(&mut v, 72);
    le16(&mut v, u16::try_from(p.len()).unwrap_or(u16::MAX));
    v.extend_from_slice(&p);
    v
}

/// TREE_CONNECT response body (share type 1 disk, 2 pipe, 3 print).
pub fn tree_connect_resp(share_type: u8) -> Vec<u8> {
    let mut v = vec![16, 0, share_type, 0];
    v.resize(16, 0);
    v
}

/// CREATE request body for `name`.
pub fn create_req(name: &str) -> Vec<u8> {
    let n = utf16(name);
    let mut v = vec![0u8; 56];
    if let Some(d) = v.get_mut(0..2) {
        d.copy_from_slice(&57u16.to_le_bytes());
    }
    if let Some(d) = v.get_mut(44..46) {
        d.copy_from_slice(&120u16.to_le_bytes());
    }
    if let Some(d) = v.get_mut(46..48) {
        d.copy_from_slice(&u16::try_from(n.len()).unwrap_or(u16::MAX).to_le_bytes());
    }
    v.extend_from_slice(&n);
    v
}

/// CREATE response body naming `file`.
pub fn create_resp(file: [u8; 16]) -> Vec<u8> {
    let mut v = vec![0u8; 88];
    if let Some(d) = v.get_mut(0..2) {
        d.copy_from_slice(&89u16.to_le_bytes());
    }
    if let Some(d) = v.get_mut(64..80) {
        d.copy_from_slice(&file);
    }
    v
}

/// CLOSE request body.
pub fn close_req(file: [u8; 16]) -> Vec<u8> {
    let mut v = Vec::new();
    le16(&mut v, 24);
    le16(&mut v, 0);
    le32(&mut v, 0);
    v.extend_from_slice(&file);
    v
}

/// WRITE request body carrying `data`.
pub fn write_req(file: [u8; 16], data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    le16(&mut v, 49);
    le16(&mut v, 112);
    le32(&mut v, len32(data));
    v.extend_from_slice(&[0; 8]); // offset
    v.extend_from_slice(&file);
    v.resize(48, 0);
    v.extend_from_slice(data);
    v
}

/// READ request body.
pub fn read_req(file: [u8; 16], len: u32) -> Vec<u8> {
    let mut v = Vec::new();
    le16(&mut v, 49);
    v.extend_from_slice(&[0, 0]);
    le32(&mut v, len);
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&file);
    v.resize(49, 0);
    v
}

/// READ response body carrying `data`.
pub fn read_resp(data: &[u8]) -> Vec<u8> {
    let mut v = vec![17, 0, 80, 0];
    le32(&mut v, len32(data));
    v.resize(16, 0);
    v.extend_from_slice(data);
    v
}

/// IOCTL request body: FSCTL_PIPE_TRANSCEIVE writing `data`.
pub fn transceive_req(file: [u8; 16], data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    le16(&mut v, 57);
    le16(&mut v, 0);
    le32(&mut v, crate::smb2::FSCTL_PIPE_TRANSCEIVE);
    v.extend_from_slice(&file);
    le32(&mut v, 120); // input offset
    le32(&mut v, len32(data));
    le32(&mut v, 0);
    le32(&mut v, 0);
    le32(&mut v, 0);
    le32(&mut v, 4280); // max output
    le32(&mut v, 1); // flags: FSCTL
    le32(&mut v, 0);
    v.extend_from_slice(data);
    v
}

/// IOCTL response body: FSCTL_PIPE_TRANSCEIVE reading `data`.
pub fn transceive_resp(file: [u8; 16], data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    le16(&mut v, 49);
    le16(&mut v, 0);
    le32(&mut v, crate::smb2::FSCTL_PIPE_TRANSCEIVE);
    v.extend_from_slice(&file);
    le32(&mut v, 112);
    le32(&mut v, 0);
    le32(&mut v, 112); // output offset
    le32(&mut v, len32(data));
    le32(&mut v, 0);
    le32(&mut v, 0);
    v.extend_from_slice(data);
    v
}

/// A whole SMB2 pipe session as (client bytes, server bytes), framed: negotiate, tree connect
/// to `\\srv\IPC$`, create `pipe`, then per exchange a transceive (request bytes, response
/// bytes), then close. FileId `file`, TreeId 1.
pub fn smb2_pipe_session(
    pipe: &str,
    file: [u8; 16],
    exchanges: &[(&[u8], &[u8])],
) -> (Vec<u8>, Vec<u8>) {
    let resp = crate::smb2::flags::RESPONSE;
    let mut c = Vec::new();
    let mut s = Vec::new();
    c.extend(nbss(&smb2(
        c2::NEGOTIATE,
        0,
        0,
        0,
        0,
        &[36, 0, 1, 0, 1, 0, 0, 0],
    )));
    s.extend(nbss(&smb2(
        c2::NEGOTIATE,
        resp,
        0,
        0,
        0,
        &negotiate_resp(0x0311, 1),
    )));
    c.extend(nbss(&smb2(
        c2::TREE_CONNECT,
        0,
        1,
        0,
        0,
        &tree_connect_req("\\\\srv\\IPC$"),
    )));
    s.extend(nbss(&smb2(
        c2::TREE_CONNECT,
        resp,
        1,
        1,
        0,
        &tree_connect_resp(2),
    )));
    c.extend(nbss(&smb2(c2::CREATE, 0, 2, 1, 0, &create_req(pipe))));
    s.extend(nbss(&smb2(c2::CREATE, resp, 2, 1, 0, &create_resp(file))));
    let mut id = 3;
    for (q, a) in exchanges {
        c.extend(nbss(&smb2(
            c2::IOCTL,
            0,
            id,
            1,
            0,
            &transceive_req(file, q),
        )));
        s.extend(nbss(&smb2(
            c2::IOCTL,
            resp,
            id,
            1,
            0,
            &transceive_resp(file, a),
        )));
        id += 1;
    }
    c.extend(nbss(&smb2(c2::CLOSE, 0, id, 1, 0, &close_req(file))));
    s.extend(nbss(&smb2(c2::CLOSE, resp, id, 1, 0, &[60, 0])));
    (c, s)
}

/// An SMB1 message: the 32-byte header, then the command blocks `blocks` (word count,
/// words, byte count, bytes each); AndX offsets inside the words are the caller's.
pub fn smb1(
    cmd: u8,
    reply: bool,
    status: u32,
    tid: u16,
    mid: u16,
    unicode: bool,
    blocks: &[(Vec<u8>, Vec<u8>)],
) -> Vec<u8> {
    let mut v = vec![0xFF, b'S', b'M', b'B', cmd];
    le32(&mut v, status);
    v.push(if reply { 0x98 } else { 0x18 });
    le16(&mut v, if unicode { 0xC807 } else { 0x4807 } & !0x0004);
    v.extend_from_slice(&[0; 12]); // pid high, security features, reserved
    le16(&mut v, tid);
    le16(&mut v, 0xFEFF); // pid
    le16(&mut v, 0x0800); // uid
    le16(&mut v, mid);
    for (words, bytes) in blocks {
        v.push(u8::try_from(words.len() / 2).unwrap_or(u8::MAX));
        v.extend_from_slice(words);
        le16(&mut v, u16::try_from(bytes.len()).unwrap_or(u16::MAX));
        v.extend_from_slice(bytes);
    }
    v
}

/// Words of an SMB1 NT_CREATE_ANDX request for a name of `name_len` bytes (no chain).
pub fn smb1_nt_create_words(name_len: u16) -> Vec<u8> {
    let mut w = vec![0xFF, 0, 0, 0, 0];
    le16(&mut w, name_len);
    w.resize(48, 0);
    w
}

/// Bytes of an SMB1 NT_CREATE_ANDX request naming `name` in UTF-16 (after a pad byte: the
/// data starts at an odd offset with a word count of 24).
pub fn smb1_nt_create_bytes(name: &str) -> Vec<u8> {
    let mut b = vec![0];
    b.extend(utf16(name));
    b.extend_from_slice(&[0, 0]);
    b
}

/// Words of an SMB1 NT_CREATE_ANDX response giving `fid` (34 words).
pub fn smb1_nt_create_resp_words(fid: u16) -> Vec<u8> {
    let mut w = vec![0xFF, 0, 0, 0, 0];
    le16(&mut w, fid);
    w.resize(68, 0);
    w
}

/// An SMB1 TRANSACTION request (TransactNmPipe on `fid`) carrying `data`, as a whole message.
pub fn smb1_transact(tid: u16, mid: u16, fid: u16, data: &[u8]) -> Vec<u8> {
    // Header 32 + wc 1 + 16 words (32) + bc 2 = 67; name "\PIPE\" in UTF-16 after a pad.
    let name = {
        let mut n = vec![0];
        n.extend(utf16("\\PIPE\\"));
        n.extend_from_slice(&[0, 0]);
        n
    };
    let data_at = 67 + name.len();
    let mut w = Vec::new();
    le16(&mut w, 0); // total parameter count
    le16(&mut w, u16::try_from(data.len()).unwrap_or(u16::MAX)); // total data count
    le16(&mut w, 0);
    le16(&mut w, 1024);
    w.extend_from_slice(&[0, 0]);
    le16(&mut w, 0); // flags
    le32(&mut w, 0); // timeout
    le16(&mut w, 0);
    le16(&mut w, 0); // parameter count
    le16(&mut w, u16::try_from(data_at).unwrap_or(0)); // parameter offset
    le16(&mut w, u16::try_from(data.len()).unwrap_or(u16::MAX)); // data count
    le16(&mut w, u16::try_from(data_at).unwrap_or(0)); // data offset
    w.extend_from_slice(&[2, 0]); // setup count
    le16(&mut w, crate::smb1::TRANS_TRANSACT_NMPIPE);
    le16(&mut w, fid);
    let mut bytes = name;
    bytes.extend_from_slice(data);
    smb1(
        crate::smb1::command::TRANSACTION,
        false,
        0,
        tid,
        mid,
        true,
        &[(w, bytes)],
    )
}

/// An SMB1 TRANSACTION response carrying `data` (displacement `disp`, total `total`).
pub fn smb1_transact_resp(tid: u16, mid: u16, data: &[u8], disp: u16, total: u16) -> Vec<u8> {
    // Header 32 + wc 1 + 10 words (20) + bc 2 = 55, one pad byte: data at 56.
    let mut w = Vec::new();
    le16(&mut w, 0);
    le16(&mut w, total);
    le16(&mut w, 0);
    le16(&mut w, 0);
    le16(&mut w, 56);
    le16(&mut w, 0);
    le16(&mut w, u16::try_from(data.len()).unwrap_or(u16::MAX));
    le16(&mut w, 56);
    le16(&mut w, disp);
    w.extend_from_slice(&[0, 0]);
    let mut bytes = vec![0];
    bytes.extend_from_slice(data);
    smb1(
        crate::smb1::command::TRANSACTION,
        true,
        0,
        tid,
        mid,
        true,
        &[(w, bytes)],
    )
}
