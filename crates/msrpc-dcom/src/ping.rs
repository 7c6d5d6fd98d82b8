//! The client side of DCOM garbage collection (MS-DCOM 3.2.6.1), sans-IO: one ping set on one
//! OXID resolver, the OIDs it should hold, and what the next ping sends.
//!
//! A client keeps the objects it holds references to alive by pinging the resolver of the
//! machine exporting them: a `ComplexPing` creates the set (set id 0, sequence number 1, every
//! OID added) and sends later changes (the sequence number one more each time); a
//! `SimplePing` keeps an unchanged set alive. [`PingSet`] decides which, remembers what a
//! ping in flight carried, and merges its outcome: changes acknowledged are forgotten, changes
//! of a failed ping are sent again, and a set the server no longer knows (`OR_INVALID_SET`) is
//! created again with every OID. Whoever calls (`client::Pinger` once, `client::PingTask` on a
//! timer) owns the IO.

use std::collections::BTreeSet;

use crate::hresult::status;
use crate::ids::{Oid, SetId};

/// Most OIDs added or deleted by one ComplexPing (its counts are 16-bit; the rest waits for
/// the next ping).
pub const MAX_CHANGES: usize = 4096;

/// What the next ping is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PingRequest {
    /// `SimplePing` of an unchanged set.
    Simple {
        /// The set.
        set_id: SetId,
    },
    /// `ComplexPing`: creates the set (set id 0) or changes it, and pings it.
    Complex {
        /// The set (0: create one).
        set_id: SetId,
        /// The sequence number (1 for a new set, then one more per ComplexPing).
        sequence: u16,
        /// OIDs to add.
        add: Vec<Oid>,
        /// OIDs to delete.
        del: Vec<Oid>,
    },
}

/// How a ping ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PingOutcome {
    /// The resolver answered.
    Answered {
        /// Its `error_status_t` (0: done).
        status: u32,
        /// ComplexPing's `pSetId` out (ignored for SimplePing).
        set_id: SetId,
        /// ComplexPing's `pPingBackoffFactor` (ignored for SimplePing).
        backoff: u16,
    },
    /// No answer (transport, fault, timeout): the server may or may not have applied it.
    Failed,
}

/// One ping set as the client keeps it (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct PingSet {
    set_id: SetId,
    sequence: u16,
    backoff: u16,
    /// The OIDs the set should hold.
    oids: BTreeSet<Oid>,
    /// Additions and deletions not sent yet.
    added: Vec<Oid>,
    deleted: Vec<Oid>,
    /// What the ping in flight carries (its additions and deletions), if one is.
    in_flight: Option<(Vec<Oid>, Vec<Oid>)>,
}

impl PingSet {
    /// An empty set, not created on the server yet.
    pub fn new() -> PingSet {
        PingSet::default()
    }

    /// The set id the server gave (0 before the first ComplexPing is answered, and after the
    /// server forgot the set).
    pub fn set_id(&self) -> SetId {
        self.set_id
    }

    /// The sequence number of the last ComplexPing sent (0 before the first).
    pub fn sequence(&self) -> u16 {
        self.sequence
    }

    /// The server's ping backoff factor from the last ComplexPing answered.
    pub fn backoff_factor(&self) -> u16 {
        self.backoff
    }

    /// How many OIDs the set should hold.
    pub fn len(&self) -> usize {
        self.oids.len()
    }

    /// True when the set should hold no OID.
    pub fn is_empty(&self) -> bool {
        self.oids.is_empty()
    }

    /// True when `oid` is (or is about to be) in the set.
    pub fn contains(&self, oid: Oid) -> bool {
        self.oids.contains(&oid)
    }

    /// True when additions or deletions wait for the next ping.
    pub fn has_changes(&self) -> bool {
        !self.added.is_empty() || !self.deleted.is_empty()
    }

    /// True while a ping is in flight.
    pub fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Keeps `oid` alive from the next ping on.
    pub fn add(&mut self, oid: Oid) {
        if !self.oids.insert(oid) {
            return;
        }
        // A deletion not sent yet is cancelled; otherwise (also when a deletion of it is in
        // flight) the addition is sent.
        let before = self.deleted.len();
        self.deleted.retain(|o| *o != oid);
        if self.deleted.len() == before {
            self.added.push(oid);
        }
    }

    /// Stops keeping `oid` alive from the next ping on.
    pub fn remove(&mut self, oid: Oid) {
        if !self.oids.remove(&oid) {
            return;
        }
        // An addition not sent yet is cancelled; otherwise (sent, or in flight) the server
        // holds it or is about to, so it is deleted.
        let before = self.added.len();
        self.added.retain(|o| *o != oid);
        if self.added.len() == before {
            self.deleted.push(oid);
        }
    }

    /// The next ping, marked in flight; `None` while one is in flight, and when there is
    /// nothing to ping (no set and nothing to add). Each ComplexPing carries at most
    /// [`MAX_CHANGES`] additions and as many deletions.
    pub fn next_request(&mut self) -> Option<PingRequest> {
        if self.in_flight.is_some() {
            return None;
        }
        if self.set_id.0 == 0 {
            // Nothing the server holds: deletions are moot, additions create the set.
            self.deleted.clear();
            if self.added.is_empty() {
                return None;
            }
            let add: Vec<Oid> = self
                .added
                .drain(..self.added.len().min(MAX_CHANGES))
                .collect();
            self.in_flight = Some((add.clone(), Vec::new()));
            return Some(PingRequest::Complex {
                set_id: SetId(0),
                sequence: 1,
                add,
                del: Vec::new(),
            });
        }
        if !self.has_changes() {
            self.in_flight = Some((Vec::new(), Vec::new()));
            return Some(PingRequest::Simple {
                set_id: self.set_id,
            });
        }
        let add: Vec<Oid> = self
            .added
            .drain(..self.added.len().min(MAX_CHANGES))
            .collect();
        let del: Vec<Oid> = self
            .deleted
            .drain(..self.deleted.len().min(MAX_CHANGES))
            .collect();
        let sequence = self.sequence.wrapping_add(1).max(1);
        self.in_flight = Some((add.clone(), del.clone()));
        Some(PingRequest::Complex {
            set_id: self.set_id,
            sequence,
            add,
            del,
        })
    }

    /// Applies the outcome of `request` (the last [`PingSet::next_request`]).
    pub fn complete(&mut self, request: &PingRequest, outcome: PingOutcome) {
        let Some((sent_add, sent_del)) = self.in_flight.take() else {
            return;
        };
        if let PingRequest::Complex { sequence, .. } = request {
            // Sent, so used, whatever the answer.
            self.sequence = *sequence;
        }
        match outcome {
            PingOutcome::Answered {
                status: 0,
                set_id,
                backoff,
            } => {
                if let PingRequest::Complex { set_id: asked, .. } = request {
                    if asked.0 == 0 {
                        self.set_id = set_id;
                    }
                    self.backoff = backoff;
                }
            }
            PingOutcome::Answered {
                status: status::OR_INVALID_SET,
                ..
            } => {
                // The server forgot the set: a new one, with every OID, sequence from 1.
                self.set_id = SetId(0);
                self.sequence = 0;
                self.added = self.oids.iter().copied().collect();
                self.deleted.clear();
            }
            _ => self.restore(sent_add, sent_del),
        }
    }

    /// Puts back the changes of a ping that failed, as they stand now.
    fn restore(&mut self, sent_add: Vec<Oid>, sent_del: Vec<Oid>) {
        for oid in sent_add {
            // Still wanted: add it again. Removed meanwhile: `remove` queued its deletion.
            if self.oids.contains(&oid) && !self.added.contains(&oid) {
                self.added.push(oid);
            }
        }
        for oid in sent_del {
            // Still unwanted: delete it again. Added back meanwhile: `add` queued it.
            if !self.oids.contains(&oid) && !self.deleted.contains(&oid) {
                self.deleted.push(oid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: PingOutcome = PingOutcome::Answered {
        status: 0,
        set_id: SetId(0x77),
        backoff: 0,
    };

    fn complex(set: u64, seq: u16, add: &[u64], del: &[u64]) -> PingRequest {
        PingRequest::Complex {
            set_id: SetId(set),
            sequence: seq,
            add: add.iter().copied().map(Oid).collect(),
            del: del.iter().copied().map(Oid).collect(),
        }
    }

    /// Runs one ping with `outcome` and returns what it sent.
    fn ping(s: &mut PingSet, outcome: PingOutcome) -> Option<PingRequest> {
        let r = s.next_request()?;
        s.complete(&r, outcome);
        Some(r)
    }

    #[test]
    fn creates_then_simple_then_changes() {
        let mut s = PingSet::new();
        assert_eq!(s.next_request(), None, "nothing to create");
        s.add(Oid(1));
        s.add(Oid(2));
        s.add(Oid(2));
        assert_eq!(ping(&mut s, OK), Some(complex(0, 1, &[1, 2], &[])));
        assert_eq!(s.set_id(), SetId(0x77));
        assert_eq!(
            ping(&mut s, OK),
            Some(PingRequest::Simple {
                set_id: SetId(0x77)
            })
        );
        s.remove(Oid(1));
        s.add(Oid(3));
        assert_eq!(ping(&mut s, OK), Some(complex(0x77, 2, &[3], &[1])));
        // An addition removed before it was sent is never sent, nor deleted.
        s.add(Oid(4));
        s.remove(Oid(4));
        assert!(!s.has_changes());
        // A deletion cancelled by adding the OID back.
        s.remove(Oid(2));
        s.add(Oid(2));
        assert!(!s.has_changes());
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn expired_sets_are_created_again_from_sequence_one() {
        let mut s = PingSet::new();
        s.add(Oid(1));
        ping(&mut s, OK);
        s.add(Oid(2));
        ping(&mut s, OK);
        assert_eq!(s.sequence(), 2);
        let gone = PingOutcome::Answered {
            status: status::OR_INVALID_SET,
            set_id: SetId(0x77),
            backoff: 0,
        };
        assert!(matches!(
            ping(&mut s, gone),
            Some(PingRequest::Simple { .. })
        ));
        assert_eq!(s.set_id(), SetId(0));
        assert_eq!(ping(&mut s, OK), Some(complex(0, 1, &[1, 2], &[])));
    }

    #[test]
    fn failed_pings_send_their_changes_again_as_they_stand() {
        let mut s = PingSet::new();
        s.add(Oid(1));
        ping(&mut s, OK);
        s.add(Oid(2));
        s.remove(Oid(1));
        let r = s.next_request().unwrap();
        assert_eq!(r, complex(0x77, 2, &[2], &[1]));
        assert_eq!(s.next_request(), None, "one ping in flight at a time");
        // While in flight: 2 removed again (the in-flight addition must be undone), 1 added
        // back (the in-flight deletion must be undone), 3 added.
        s.remove(Oid(2));
        s.add(Oid(1));
        s.add(Oid(3));
        s.complete(&r, PingOutcome::Failed);
        assert_eq!(s.sequence(), 2, "a sent sequence number is used");
        let r = s.next_request().unwrap();
        let PingRequest::Complex {
            sequence, add, del, ..
        } = &r
        else {
            panic!("{r:?}")
        };
        assert_eq!(*sequence, 3);
        let mut add = add.clone();
        add.sort();
        let mut del = del.clone();
        del.sort();
        assert_eq!(add, [Oid(1), Oid(3)]);
        assert_eq!(del, [Oid(2)]);
        // Answered with another error: the same as a failure.
        s.complete(
            &r,
            PingOutcome::Answered {
                status: status::ACCESS_DENIED,
                set_id: SetId(0),
                backoff: 0,
            },
        );
        assert_eq!(s.set_id(), SetId(0x77));
        assert!(s.has_changes());
    }

    #[test]
    fn changes_in_flight_survive_an_answer() {
        let mut s = PingSet::new();
        s.add(Oid(1));
        let r = s.next_request().unwrap();
        // Removed while its addition is in flight: after the answer it must be deleted.
        s.remove(Oid(1));
        s.complete(&r, OK);
        assert_eq!(ping(&mut s, OK), Some(complex(0x77, 2, &[], &[1])));
        assert!(s.is_empty());
        assert!(!s.has_changes());
        // Only deletions pending and no set (never created): nothing to send.
        let mut t = PingSet::new();
        t.add(Oid(5));
        let r = t.next_request().unwrap();
        t.complete(&r, PingOutcome::Failed);
        t.remove(Oid(5));
        assert_eq!(t.next_request(), None);
    }

    #[test]
    fn changes_are_sent_in_bounded_batches() {
        let mut s = PingSet::new();
        for i in 1..=(MAX_CHANGES as u64 + 10) {
            s.add(Oid(i));
        }
        let Some(PingRequest::Complex { add, .. }) = ping(&mut s, OK) else {
            panic!()
        };
        assert_eq!(add.len(), MAX_CHANGES);
        let Some(PingRequest::Complex { add, sequence, .. }) = ping(&mut s, OK) else {
            panic!()
        };
        assert_eq!((add.len(), sequence), (10, 2));
    }
}
