//! Helpers of the SMB tests: events collected as owned values.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use msrpc_smb::{Dir, Event, Limits, SmbConnection};

/// An [`Event`] owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Opened(u64, String),
    Data(u64, Option<String>, bool, Dir, Vec<u8>),
    Gap(u64, Dir),
    Closed(u64),
    Negotiated(String, bool),
    Tree(String, bool),
    Anomaly(&'static str),
}

pub fn own(e: Event<'_>) -> Ev {
    match e {
        Event::Opened { pipe, name } => Ev::Opened(pipe.0, name.to_string()),
        Event::Data {
            pipe,
            name,
            confirmed,
            dir,
            data,
        } => Ev::Data(
            pipe.0,
            name.map(str::to_string),
            confirmed,
            dir,
            data.to_vec(),
        ),
        Event::Gap { pipe, dir } => Ev::Gap(pipe.0, dir),
        Event::Closed { pipe } => Ev::Closed(pipe.0),
        Event::Negotiated {
            dialect,
            signing_required,
        } => Ev::Negotiated(dialect, signing_required),
        Event::TreeConnected { share, ipc } => Ev::Tree(share.to_string(), ipc),
        Event::Anomaly { reason } => Ev::Anomaly(reason),
        e => panic!("an event the tests do not know: {e:?}"),
    }
}

/// Feeds `(direction, bytes)` in order; returns every event.
pub fn feed(c: &mut SmbConnection, parts: &[(Dir, Vec<u8>)]) -> Vec<Ev> {
    let mut out = Vec::new();
    for (d, b) in parts {
        c.data(*d, b, &mut |e| out.push(own(e)));
    }
    out
}

/// Feeds the parts one byte at a time.
pub fn feed_bytewise(c: &mut SmbConnection, parts: &[(Dir, Vec<u8>)]) -> Vec<Ev> {
    let mut out = Vec::new();
    for (d, b) in parts {
        for x in b {
            c.data(*d, std::slice::from_ref(x), &mut |e| out.push(own(e)));
        }
    }
    out
}

/// The bytes handed out for `pipe` in direction `dir`, concatenated.
pub fn stream(events: &[Ev], pipe: u64, dir: Dir) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            Ev::Data(p, _, _, d, b) if *p == pipe && *d == dir => Some(b.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

pub fn anomalies(events: &[Ev]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            Ev::Anomaly(r) => Some(*r),
            _ => None,
        })
        .collect()
}

pub fn conn() -> SmbConnection {
    SmbConnection::new(Limits::default(), false)
}

pub const FILE: [u8; 16] = [7, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0];
