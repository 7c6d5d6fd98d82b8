//! Hostile input: truncation, lying lengths and offsets, huge counts, compound and AndX loops,
//! FileId reuse, tables over their limits, arbitrary bytes. Nothing may panic, allocate by a
//! peer's count, or hold more than the limits allow; bad input is a counted anomaly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::*;
use msrpc_smb::smb1::command as c1;
use msrpc_smb::smb2::{command as c2, flags};
use msrpc_smb::synth::*;
use msrpc_smb::{Dir, Limits, SmbConnection};

const RESP: u32 = flags::RESPONSE;
/// SMB2 ECHO (a command the parser ignores).
const ECHO: u16 = 0x000D;

fn ipc_prelude() -> Vec<(Dir, Vec<u8>)> {
    vec![
        (
            Dir::ToServer,
            nbss(&smb2(
                c2::TREE_CONNECT,
                0,
                1,
                0,
                0,
                &tree_connect_req("\\\\s\\IPC$"),
            )),
        ),
        (
            Dir::ToClient,
            nbss(&smb2(
                c2::TREE_CONNECT,
                RESP,
                1,
                5,
                0,
                &tree_connect_resp(2),
            )),
        ),
    ]
}

fn open(mid: u64, name: &str, file: [u8; 16]) -> Vec<(Dir, Vec<u8>)> {
    vec![
        (
            Dir::ToServer,
            nbss(&smb2(c2::CREATE, 0, mid, 5, 0, &create_req(name))),
        ),
        (
            Dir::ToClient,
            nbss(&smb2(c2::CREATE, RESP, mid, 5, 0, &create_resp(file))),
        ),
    ]
}

#[test]
fn every_truncation_of_every_message_is_survived() {
    let (client, server) = smb2_pipe_session("spoolss", FILE, &[(b"abcdef", b"ghij")]);
    for (dir, stream) in [(Dir::ToServer, &client), (Dir::ToClient, &server)] {
        // Cut the framed stream's messages short, frame length kept honest: the message
        // itself is truncated.
        let mut at = 0;
        while at + 4 <= stream.len() {
            let len =
                u32::from_be_bytes([0, stream[at + 1], stream[at + 2], stream[at + 3]]) as usize;
            let msg = &stream[at + 4..at + 4 + len];
            for cut in 0..msg.len() {
                let mut c = conn();
                let ev = feed(&mut c, &[(dir, nbss(&msg[..cut]))]);
                // Cut inside the header: refused with the reason; after it, whatever the
                // fixed fields still say is read leniently, never past the end.
                let expect: &[&str] = match cut {
                    0 => &[],
                    1..=3 => &["netbios_not_smb"],
                    4..=63 => &["smb2_bad_header"],
                    _ => &[],
                };
                if cut < 64 {
                    assert_eq!(anomalies(&ev), expect, "cut {cut}");
                    assert_eq!(ev.len(), expect.len());
                }
                for e in &ev {
                    if let Ev::Data(_, _, _, _, d) = e {
                        assert!(d.len() < cut);
                    }
                }
            }
            at += 4 + len;
        }
    }
}

#[test]
fn lying_offsets_and_lengths_are_anomalies_not_reads() {
    let mut c = conn();
    let mut parts = ipc_prelude();
    parts.extend(open(2, "srvsvc", FILE));
    // WRITE whose Length runs past the message.
    let mut w = write_req(FILE, b"0123");
    w[4..8].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    parts.push((Dir::ToServer, nbss(&smb2(c2::WRITE, 0, 3, 5, 0, &w))));
    // WRITE whose DataOffset points inside the header.
    let mut w = write_req(FILE, b"0123");
    w[2..4].copy_from_slice(&8u16.to_le_bytes());
    parts.push((Dir::ToServer, nbss(&smb2(c2::WRITE, 0, 4, 5, 0, &w))));
    // Transceive with an input offset past the end.
    let mut t = transceive_req(FILE, b"xy");
    t[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
    parts.push((Dir::ToServer, nbss(&smb2(c2::IOCTL, 0, 5, 5, 0, &t))));
    // CREATE whose name runs past the end (the name is cut, the create still counted).
    let mut cr = create_req("x");
    cr[46..48].copy_from_slice(&0xFFFFu16.to_le_bytes());
    parts.push((Dir::ToServer, nbss(&smb2(c2::CREATE, 0, 6, 5, 0, &cr))));
    let ev = feed(&mut c, &parts);
    assert_eq!(
        anomalies(&ev),
        vec![
            "smb2_buffer_out_of_range",
            "smb2_buffer_out_of_range",
            "smb2_buffer_out_of_range"
        ]
    );
    assert!(stream(&ev, 1, Dir::ToServer).is_empty());
    assert_eq!(c.stats().anomalies["smb2_buffer_out_of_range"], 3);
}

#[test]
fn huge_frame_lengths_hold_at_most_max_message() {
    let limits = Limits {
        max_message: 4096,
        ..Limits::default()
    };
    let mut c = SmbConnection::new(limits, false);
    let mut parts = ipc_prelude();
    parts.extend(open(2, "srvsvc", FILE));
    let mut ev = feed(&mut c, &parts);
    // A 16 MiB frame announced for a pipe write of 16 MiB: the write's head is read, the rest
    // skipped, the pipe gets a gap.
    let mut w = smb2(c2::WRITE, 0, 3, 5, 0, &write_req(FILE, &[]));
    w[64 + 4..64 + 8].copy_from_slice(&(0x00FF_FF00u32).to_le_bytes());
    let mut frame = vec![0x00, 0xFF, 0xFF, 0xFF];
    frame.extend_from_slice(&w);
    c.data(Dir::ToServer, &frame, &mut |e| ev.push(own(e)));
    let mut left = 0x00FF_FFFF - w.len();
    let mut max_held = 0;
    while left > 0 {
        let n = left.min(65536);
        c.data(Dir::ToServer, &vec![0x5Au8; n], &mut |e| ev.push(own(e)));
        max_held = max_held.max(c.held());
        left -= n;
    }
    assert!(max_held <= 4096 + 1024, "held {max_held}");
    assert!(ev.contains(&Ev::Gap(1, Dir::ToServer)));
    assert_eq!(c.stats().oversized, 1);
    // The stream is still in step: the next message is read.
    let after = feed(
        &mut c,
        &[(
            Dir::ToServer,
            nbss(&smb2(c2::WRITE, 0, 4, 5, 0, &write_req(FILE, b"ok"))),
        )],
    );
    assert_eq!(stream(&after, 1, Dir::ToServer), b"ok");
}

#[test]
fn compound_chains_that_loop_or_lie_stop() {
    let mut c = conn();
    // NextCommand smaller than a header, not 8-aligned, or past the end.
    for next in [8u32, 65, 4096] {
        let mut m = smb2(ECHO, 0, 1, 0, 0, &[4, 0, 0, 0]);
        m[20..24].copy_from_slice(&next.to_le_bytes());
        let ev = feed(&mut c, &[(Dir::ToServer, nbss(&m))]);
        assert_eq!(anomalies(&ev), vec!["smb2_bad_next_command"], "next {next}");
    }
    // A compound of 1000 minimal messages: cut at max_compound.
    let one = smb2(ECHO, 0, 1, 0, 0, &[4, 0, 0, 0, 0, 0, 0, 0]);
    let msgs: Vec<Vec<u8>> = (0..1000).map(|_| one.clone()).collect();
    let ev = feed(&mut c, &[(Dir::ToServer, nbss(&compound(&msgs)))]);
    assert_eq!(anomalies(&ev), vec!["smb2_compound_too_long"]);
    assert_eq!(c.stats().smb2_messages, 3 + 64);
}

#[test]
fn andx_chains_that_loop_stop() {
    let mut c = conn();
    // An AndX block whose AndXOffset points back at itself (offset 32).
    let words = vec![
        c1::READ_ANDX,
        0,
        32,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ];
    let m = smb1(c1::READ_ANDX, false, 0, 1, 1, true, &[(words, vec![])]);
    let ev = feed(&mut c, &[(Dir::ToServer, nbss(&m))]);
    assert_eq!(anomalies(&ev), vec!["smb1_andx_loop"]);
    // A chain that moves forward by one byte each time: cut at max_andx.
    let mut m = smb1(c1::LOCKING_ANDX, false, 0, 1, 2, true, &[]);
    for i in 0..40usize {
        let next = u16::try_from(32 + (i + 1) * 7).unwrap();
        m.push(2); // word count
        m.extend([c1::LOCKING_ANDX, 0]);
        m.extend(next.to_le_bytes());
        m.extend([0, 0]); // byte count
    }
    let ev = feed(&mut c, &[(Dir::ToServer, nbss(&m))]);
    assert_eq!(anomalies(&ev), vec!["smb1_andx_chain_too_long"]);
}

#[test]
fn a_reused_file_id_starts_a_new_pipe() {
    let mut c = conn();
    let mut parts = ipc_prelude();
    parts.extend(open(2, "srvsvc", FILE));
    parts.push((
        Dir::ToServer,
        nbss(&smb2(c2::WRITE, 0, 3, 5, 0, &write_req(FILE, b"old"))),
    ));
    // The close was lost; the server hands the same FileId to another open.
    parts.extend(open(4, "lsarpc", FILE));
    parts.push((
        Dir::ToServer,
        nbss(&smb2(c2::WRITE, 0, 5, 5, 0, &write_req(FILE, b"new"))),
    ));
    let ev = feed(&mut c, &parts);
    assert_eq!(stream(&ev, 1, Dir::ToServer), b"old");
    assert_eq!(stream(&ev, 2, Dir::ToServer), b"new");
    let closed_before_reopen = ev.iter().position(|e| *e == Ev::Closed(1)).unwrap();
    let reopened = ev
        .iter()
        .position(|e| *e == Ev::Opened(2, "\\pipe\\lsarpc".into()))
        .unwrap();
    assert!(closed_before_reopen < reopened);
    assert_eq!(c.pipes(), 1);
}

#[test]
fn pipe_table_over_its_limit() {
    let limits = Limits {
        max_pipes: 4,
        ..Limits::default()
    };
    let mut c = SmbConnection::new(limits, false);
    let mut parts = ipc_prelude();
    for i in 0..10u8 {
        let mut f = FILE;
        f[0] = i;
        parts.extend(open(10 + u64::from(i), "samr", f));
    }
    let ev = feed(&mut c, &parts);
    assert_eq!(c.pipes(), 4);
    assert_eq!(c.stats().anomalies["smb_pipe_table_full"], 6);
    assert_eq!(ev.iter().filter(|e| matches!(e, Ev::Opened(..))).count(), 4);
    // Unknown FileIds do not get past the limit either.
    let mut w = FILE;
    w[0] = 200;
    let ev = feed(
        &mut c,
        &[(
            Dir::ToServer,
            nbss(&smb2(c2::WRITE, 0, 99, 5, 0, &write_req(w, b"x"))),
        )],
    );
    assert_eq!(anomalies(&ev), vec!["smb_pipe_table_full"]);
}

#[test]
fn unanswered_requests_are_bounded() {
    let limits = Limits {
        max_pending: 100,
        ..Limits::default()
    };
    let mut c = SmbConnection::new(limits, false);
    let mut parts = ipc_prelude();
    parts.extend(open(2, "srvsvc", FILE));
    for i in 0..1000u64 {
        parts.push((
            Dir::ToServer,
            nbss(&smb2(c2::READ, 0, 100 + i, 5, 0, &read_req(FILE, 10))),
        ));
    }
    let ev = feed(&mut c, &parts);
    assert_eq!(anomalies(&ev).len(), 9);
    assert!(c.held() < 100 * 64 + 2048, "held {}", c.held());
}

#[test]
fn netbios_garbage_resynchronises() {
    let mut c = conn();
    let mut parts = ipc_prelude();
    parts.extend(open(2, "srvsvc", FILE));
    // A bad packet type, then noise, then a good write.
    let mut bad = vec![0x42, 0, 0, 4, 1, 2, 3, 4];
    bad.extend(vec![0xEE; 100]);
    bad.extend(nbss(&smb2(
        c2::WRITE,
        0,
        3,
        5,
        0,
        &write_req(FILE, b"after"),
    )));
    parts.push((Dir::ToServer, bad));
    let ev = feed(&mut c, &parts);
    assert_eq!(anomalies(&ev), vec!["netbios_bad_type"]);
    assert_eq!(stream(&ev, 1, Dir::ToServer), b"after");
    assert_eq!(c.stats().resyncs, 1);
    // Not SMB inside a good frame: an anomaly, the stream stays in step.
    let ev = feed(&mut c, &[(Dir::ToServer, nbss(b"HTTP/1.1 200 OK"))]);
    assert_eq!(anomalies(&ev), vec!["netbios_not_smb"]);
}

#[test]
fn a_gap_resets_every_pipe() {
    let mut c = conn();
    let mut parts = ipc_prelude();
    parts.extend(open(2, "srvsvc", FILE));
    let mut ev = feed(&mut c, &parts);
    let w = nbss(&smb2(c2::WRITE, 0, 3, 5, 0, &write_req(FILE, b"lost")));
    c.data(Dir::ToServer, &w[..50], &mut |e| ev.push(own(e)));
    c.gap(Dir::ToServer, &mut |e| ev.push(own(e)));
    let w2 = nbss(&smb2(c2::WRITE, 0, 4, 5, 0, &write_req(FILE, b"kept")));
    let mut tail = w[60..].to_vec();
    tail.extend(&w2);
    c.data(Dir::ToServer, &tail, &mut |e| ev.push(own(e)));
    assert!(ev.contains(&Ev::Gap(1, Dir::ToServer)));
    assert!(ev.contains(&Ev::Gap(1, Dir::ToClient)));
    assert_eq!(stream(&ev, 1, Dir::ToServer), b"kept");
}

proptest::proptest! {
    /// Arbitrary bytes after a valid prelude, in arbitrary chunks and both directions, with
    /// gaps: no panic, and memory stays within the limits.
    #[test]
    fn arbitrary_streams_never_panic(
        chunks in proptest::collection::vec(
            (proptest::prelude::any::<bool>(), proptest::prelude::any::<bool>(),
             proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)),
            0..40),
        framed in proptest::prelude::any::<bool>(),
    ) {
        let limits = Limits { max_message: 8192, max_pipes: 8, max_pending: 16, ..Limits::default() };
        let mut c = SmbConnection::new(limits, false);
        let mut parts = ipc_prelude();
        parts.extend(open(2, "srvsvc", FILE));
        feed(&mut c, &parts);
        for (to_server, gap, bytes) in chunks {
            let d = if to_server { Dir::ToServer } else { Dir::ToClient };
            if gap {
                c.gap(d, &mut |_| {});
            }
            // Framed noise behind a real SMB2 header reaches the command readers.
            let b = if framed && bytes.len() >= 16 {
                let cmd = u16::from(bytes[0] % 12);
                let fl = u32::from(bytes[1] & 7);
                nbss(&smb2(cmd, fl, u64::from(bytes[2] % 4), 5, 0, &bytes[3..]))
            } else {
                bytes
            };
            c.data(d, &b, &mut |_| {});
            proptest::prop_assert!(c.held() <= 2 * 8192 + 64 * 40 + 8 * 512);
        }
        c.finish(&mut |_| {});
        proptest::prop_assert_eq!(c.pipes(), 0);
    }
}
