//! What the parser extracts from well-formed SMB1 and SMB2 pipe traffic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::*;
use msrpc_smb::smb1::command as c1;
use msrpc_smb::smb2::{command as c2, flags, STATUS_PENDING};
use msrpc_smb::synth::*;
use msrpc_smb::{Dir, Limits, SmbConnection};

const RESP: u32 = flags::RESPONSE;

/// An SMB2 session: negotiate, IPC$, create, two transceives, a write and a read, close.
fn smb2_session() -> Vec<(Dir, Vec<u8>)> {
    let c = |m: Vec<u8>| (Dir::ToServer, nbss(&m));
    let s = |m: Vec<u8>| (Dir::ToClient, nbss(&m));
    vec![
        c(smb2(c2::NEGOTIATE, 0, 0, 0, 0, &[36, 0])),
        s(smb2(
            c2::NEGOTIATE,
            RESP,
            0,
            0,
            0,
            &negotiate_resp(0x0302, 3),
        )),
        c(smb2(
            c2::TREE_CONNECT,
            0,
            1,
            0,
            0,
            &tree_connect_req("\\\\10.0.0.1\\IPC$"),
        )),
        s(smb2(c2::TREE_CONNECT, RESP, 1, 5, 0, &tree_connect_resp(2))),
        c(smb2(c2::CREATE, 0, 2, 5, 0, &create_req("srvsvc"))),
        s(smb2(c2::CREATE, RESP, 2, 5, 0, &create_resp(FILE))),
        c(smb2(
            c2::IOCTL,
            0,
            3,
            5,
            0,
            &transceive_req(FILE, b"bind-1"),
        )),
        s(smb2(
            c2::IOCTL,
            RESP,
            3,
            5,
            0,
            &transceive_resp(FILE, b"ack-1"),
        )),
        c(smb2(c2::WRITE, 0, 4, 5, 0, &write_req(FILE, b"req-2"))),
        s(smb2(c2::WRITE, RESP, 4, 5, 0, &[17, 0])),
        c(smb2(c2::READ, 0, 5, 5, 0, &read_req(FILE, 4280))),
        s(smb2(c2::READ, RESP, 5, 5, 0, &read_resp(b"resp-2"))),
        c(smb2(c2::CLOSE, 0, 6, 5, 0, &close_req(FILE))),
        s(smb2(c2::CLOSE, RESP, 6, 5, 0, &[60, 0])),
    ]
}

#[test]
fn smb2_pipe_open_transceive_write_read_close() {
    let mut c = conn();
    let ev = feed(&mut c, &smb2_session());
    let name = Some("\\pipe\\srvsvc".to_string());
    assert_eq!(
        ev,
        vec![
            Ev::Negotiated("3.0.2".into(), true),
            Ev::Tree("IPC$".into(), true),
            Ev::Opened(1, "\\pipe\\srvsvc".into()),
            Ev::Data(1, name.clone(), true, Dir::ToServer, b"bind-1".to_vec()),
            Ev::Data(1, name.clone(), true, Dir::ToClient, b"ack-1".to_vec()),
            Ev::Data(1, name.clone(), true, Dir::ToServer, b"req-2".to_vec()),
            Ev::Data(1, name, true, Dir::ToClient, b"resp-2".to_vec()),
            Ev::Closed(1),
        ]
    );
    assert_eq!(c.stats().smb2_messages, 14);
    assert_eq!(c.stats().pipes_opened, 1);
    assert_eq!(c.stats().pipe_bytes, [11, 11]);
    assert_eq!(c.dialect(), Some("3.0.2"));
    assert!(c.signing_required());
    assert_eq!(c.pipes(), 0);
    assert!(c.stats().anomalies.is_empty());
}

#[test]
fn byte_at_a_time_gives_the_same_streams() {
    let parts = smb2_session();
    let whole = feed(&mut conn(), &parts);
    let bytewise = feed_bytewise(&mut conn(), &parts);
    assert_eq!(stream(&whole, 1, Dir::ToServer), b"bind-1req-2");
    assert_eq!(stream(&bytewise, 1, Dir::ToServer), b"bind-1req-2");
    assert_eq!(stream(&bytewise, 1, Dir::ToClient), b"ack-1resp-2");
    assert!(anomalies(&bytewise).is_empty());
}

#[test]
fn async_interim_answer_keeps_the_read_pending() {
    let mut c = conn();
    let mut parts = smb2_session();
    parts.truncate(6);
    let async_resp = RESP | flags::ASYNC;
    parts.extend([
        (
            Dir::ToServer,
            nbss(&smb2(c2::READ, 0, 9, 5, 0, &read_req(FILE, 1024))),
        ),
        // STATUS_PENDING interim answer, then the final one.
        (
            Dir::ToClient,
            nbss(&smb2(
                c2::READ,
                async_resp,
                9,
                0,
                STATUS_PENDING,
                &[9, 0, 0, 0, 0, 0, 0, 0, 0],
            )),
        ),
        (
            Dir::ToClient,
            nbss(&smb2(c2::READ, async_resp, 9, 0, 0, &read_resp(b"late"))),
        ),
    ]);
    let ev = feed(&mut c, &parts);
    assert_eq!(stream(&ev, 1, Dir::ToClient), b"late");
    assert!(anomalies(&ev).is_empty());
}

#[test]
fn related_compound_uses_the_create_s_file() {
    let mut c = conn();
    let mut parts = smb2_session();
    parts.truncate(4);
    let related = flags::RELATED;
    let req = compound(&[
        smb2(c2::CREATE, 0, 2, 5, 0, &create_req("lsarpc")),
        smb2(c2::WRITE, related, 3, 5, 0, &write_req([0xFF; 16], b"w")),
        smb2(c2::READ, related, 4, 5, 0, &read_req([0xFF; 16], 100)),
    ]);
    let resp = compound(&[
        smb2(c2::CREATE, RESP | related, 2, 5, 0, &create_resp(FILE)),
        smb2(
            c2::WRITE,
            RESP | related,
            3,
            5,
            0,
            &[17, 0, 0, 0, 1, 0, 0, 0],
        ),
        smb2(c2::READ, RESP | related, 4, 5, 0, &read_resp(b"r")),
    ]);
    parts.push((Dir::ToServer, nbss(&req)));
    parts.push((Dir::ToClient, nbss(&resp)));
    // Later, by its FileId.
    parts.push((
        Dir::ToServer,
        nbss(&smb2(c2::WRITE, 0, 5, 5, 0, &write_req(FILE, b"2"))),
    ));
    let ev = feed(&mut c, &parts);
    assert_eq!(stream(&ev, 1, Dir::ToServer), b"w2");
    assert_eq!(stream(&ev, 1, Dir::ToClient), b"r");
    assert!(ev.contains(&Ev::Opened(1, "\\pipe\\lsarpc".into())));
    assert_eq!(c.stats().smb2_messages, 4 + 6 + 1);
}

#[test]
fn files_on_disk_shares_are_not_pipes_and_are_not_held() {
    let mut c = conn();
    let cl = |m: Vec<u8>| (Dir::ToServer, nbss(&m));
    let sv = |m: Vec<u8>| (Dir::ToClient, nbss(&m));
    let big = vec![0x41u8; 300_000];
    let parts = vec![
        cl(smb2(
            c2::TREE_CONNECT,
            0,
            1,
            0,
            0,
            &tree_connect_req("\\\\srv\\ADMIN$"),
        )),
        sv(smb2(c2::TREE_CONNECT, RESP, 1, 9, 0, &tree_connect_resp(1))),
        cl(smb2(c2::CREATE, 0, 2, 9, 0, &create_req("evil.exe"))),
        sv(smb2(c2::CREATE, RESP, 2, 9, 0, &create_resp(FILE))),
        cl(smb2(c2::WRITE, 0, 3, 9, 0, &write_req(FILE, &big))),
    ];
    let mut held = 0;
    let mut ev = Vec::new();
    for (d, b) in &parts {
        for chunk in b.chunks(1460) {
            c.data(*d, chunk, &mut |e| ev.push(own(e)));
            held = held.max(c.held());
        }
    }
    assert_eq!(ev, vec![Ev::Tree("ADMIN$".into(), false)]);
    assert!(held < 4096, "held {held}");
    assert!(c.stats().skipped_bytes >= 300_000);
}

#[test]
fn transform_headers_are_counted_as_opaque() {
    let mut c = conn();
    let mut enc = vec![0xFD, b'S', b'M', b'B'];
    enc.extend(vec![0x33; 400]);
    let mut comp = vec![0xFC, b'S', b'M', b'B'];
    comp.extend(vec![0x44; 40]);
    let ev = feed(
        &mut c,
        &[(Dir::ToServer, nbss(&enc)), (Dir::ToClient, nbss(&comp))],
    );
    assert!(ev.is_empty());
    assert_eq!((c.stats().encrypted, c.stats().compressed), (1, 1));
}

#[test]
fn netbios_session_request_and_keepalive_on_139() {
    let mut c = conn();
    let mut req = vec![0x81, 0, 0, 68];
    req.extend([0x20; 68]);
    let ev = feed(
        &mut c,
        &[
            (Dir::ToServer, req),
            (Dir::ToClient, vec![0x82, 0, 0, 0]),
            (Dir::ToServer, vec![0x85, 0, 0, 0]),
            (
                Dir::ToServer,
                nbss(&smb2(c2::NEGOTIATE, 0, 0, 0, 0, &[36, 0])),
            ),
        ],
    );
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(c.stats().netbios_control, 3);
    assert_eq!(c.stats().smb2_messages, 1);
}

fn smb1_session() -> Vec<(Dir, Vec<u8>)> {
    let name = "\\samr";
    let create = smb1(
        c1::NT_CREATE_ANDX,
        false,
        0,
        2048,
        10,
        true,
        &[(
            smb1_nt_create_words(u16::try_from(2 * name.len() + 2).unwrap()),
            smb1_nt_create_bytes(name),
        )],
    );
    let created = smb1(
        c1::NT_CREATE_ANDX,
        true,
        0,
        2048,
        10,
        true,
        &[(smb1_nt_create_resp_words(0x4000), vec![])],
    );
    let close = smb1(
        c1::CLOSE,
        false,
        0,
        2048,
        13,
        true,
        &[(vec![0x00, 0x40, 0xFF, 0xFF, 0xFF, 0xFF], vec![])],
    );
    // TREE_CONNECT_ANDX: password length 1, path \\SRV\IPC$ in UTF-16, service "?????".
    let mut tc_bytes = vec![0u8];
    tc_bytes.extend("\\\\SRV\\IPC$".encode_utf16().flat_map(u16::to_le_bytes));
    tc_bytes.extend_from_slice(&[0, 0]);
    tc_bytes.extend_from_slice(b"?????\0");
    let tc = smb1(
        c1::TREE_CONNECT_ANDX,
        false,
        0,
        0,
        9,
        true,
        &[(vec![0xFF, 0, 0, 0, 0, 0, 1, 0], tc_bytes)],
    );
    let tc_resp = smb1(
        c1::TREE_CONNECT_ANDX,
        true,
        0,
        2048,
        9,
        true,
        &[(vec![0xFF, 0, 0, 0, 1, 0], b"IPC\0".to_vec())],
    );
    vec![
        (Dir::ToServer, nbss(&tc)),
        (Dir::ToClient, nbss(&tc_resp)),
        (Dir::ToServer, nbss(&create)),
        (Dir::ToClient, nbss(&created)),
        (
            Dir::ToServer,
            nbss(&smb1_transact(2048, 11, 0x4000, b"bind")),
        ),
        (
            Dir::ToClient,
            nbss(&smb1_transact_resp(2048, 11, b"ack", 0, 3)),
        ),
        (Dir::ToServer, nbss(&close)),
    ]
}

#[test]
fn smb1_nt_create_transaction_and_close() {
    let mut c = conn();
    let ev = feed(&mut c, &smb1_session());
    let name = Some("\\pipe\\samr".to_string());
    assert_eq!(
        ev,
        vec![
            Ev::Tree("IPC$".into(), true),
            Ev::Opened(1, "\\pipe\\samr".into()),
            Ev::Data(1, name.clone(), true, Dir::ToServer, b"bind".to_vec()),
            Ev::Data(1, name, true, Dir::ToClient, b"ack".to_vec()),
            Ev::Closed(1),
        ]
    );
    assert_eq!(c.stats().smb1_messages, 7);
}

/// WRITE_ANDX words: FID, WriteMode, data length and offset (header-relative).
fn write_andx_words(fid: u16, mode: u16, len: u16, at: u16) -> Vec<u8> {
    let mut w = vec![0xFF, 0, 0, 0];
    w.extend(fid.to_le_bytes());
    w.extend([0; 8]); // offset, timeout
    w.extend(mode.to_le_bytes());
    w.extend([0; 4]); // remaining, data length high
    w.extend(len.to_le_bytes());
    w.extend(at.to_le_bytes());
    w.extend([0; 4]); // offset high
    w
}

#[test]
fn smb1_write_andx_raw_message_start_skips_the_length_word() {
    let mut c = conn();
    let mut parts = smb1_session();
    parts.truncate(4);
    // Header 32 + wc 1 + 14 words + bc 2 = 63, pad 1: data at 64.
    let mut data = vec![0u8];
    data.extend_from_slice(&[6, 0]);
    data.extend_from_slice(b"PDU-01");
    let w = smb1(
        c1::WRITE_ANDX,
        false,
        0,
        2048,
        20,
        true,
        &[(write_andx_words(0x4000, 0x000C, 8, 64), data)],
    );
    let mut plain = vec![0u8];
    plain.extend_from_slice(b"PDU-02");
    let w2 = smb1(
        c1::WRITE_ANDX,
        false,
        0,
        2048,
        21,
        true,
        &[(write_andx_words(0x4000, 0x0008, 6, 64), plain)],
    );
    // READ_ANDX request (FID) and its response (data length 4 at offset 60).
    let mut rw = vec![0xFF, 0, 0, 0];
    rw.extend(0x4000u16.to_le_bytes());
    rw.resize(24, 0);
    let r = smb1(c1::READ_ANDX, false, 0, 2048, 22, true, &[(rw, vec![])]);
    let mut rr = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    rr.extend(4u16.to_le_bytes());
    rr.extend(60u16.to_le_bytes());
    rr.resize(24, 0);
    // Header 32 + wc 1 + 24 + bc 2 = 59, pad 1: data at 60.
    let mut rb = vec![0u8];
    rb.extend_from_slice(b"ANSW");
    let resp = smb1(c1::READ_ANDX, true, 0, 2048, 22, true, &[(rr, rb)]);
    parts.extend([
        (Dir::ToServer, nbss(&w)),
        (Dir::ToServer, nbss(&w2)),
        (Dir::ToServer, nbss(&r)),
        (Dir::ToClient, nbss(&resp)),
    ]);
    let ev = feed(&mut c, &parts);
    assert_eq!(stream(&ev, 1, Dir::ToServer), b"PDU-01PDU-02");
    assert_eq!(stream(&ev, 1, Dir::ToClient), b"ANSW");
    assert!(anomalies(&ev).is_empty(), "{ev:?}");
}

#[test]
fn a_capture_starting_mid_session_finds_pipes_by_their_file_ids() {
    // No negotiate, tree connect or create: a transceive names a pipe by itself.
    let mut c = SmbConnection::new(Limits::default(), true);
    let mut garbage = vec![0x17u8; 37];
    garbage.extend(nbss(&smb2(
        c2::IOCTL,
        0,
        50,
        3,
        0,
        &transceive_req(FILE, b"q"),
    )));
    let ev = feed(
        &mut c,
        &[
            (Dir::ToServer, garbage),
            (
                Dir::ToClient,
                nbss(&smb2(
                    c2::IOCTL,
                    RESP,
                    50,
                    3,
                    0,
                    &transceive_resp(FILE, b"a"),
                )),
            ),
        ],
    );
    assert_eq!(
        ev,
        vec![
            Ev::Data(1, None, true, Dir::ToServer, b"q".to_vec()),
            Ev::Data(1, None, true, Dir::ToClient, b"a".to_vec()),
        ]
    );
    assert_eq!(c.stats().resyncs, 2);
}
