//! Bounded reassembly of fragmented request and response stubs (C706 12.6.3.? "fragmentation"),
//! and stream framing.
//!
//! # DoS warning
//! A peer controls every length. The reassembler never allocates from `alloc_hint`; it grows
//! only with bytes actually received, with overflow-checked arithmetic, and refuses a call
//! whose stub would exceed `max_stub` (4 MiB by default, MS-RPCE's cap on requests).

use crate::pdu::{self, PduError};

/// Why a request fragment's `alloc_hint` is suspicious, or `None`: `alloc_hint_overflow` when
/// the stub bytes already received plus the hint pass 2^32 (a server adding them would wrap:
/// the CVE-2022-26809 class), `alloc_hint_over_cap` when the hint alone is beyond `cap` (the
/// per-connection reassembly cap). Neither is refused (`alloc_hint` is never used to allocate);
/// both are worth an audit record.
pub fn alloc_hint_anomaly(received: usize, alloc_hint: u32, cap: usize) -> Option<&'static str> {
    let received = u64::try_from(received).unwrap_or(u64::MAX);
    if received.saturating_add(u64::from(alloc_hint)) > u64::from(u32::MAX) {
        return Some("alloc_hint_overflow");
    }
    if u64::from(alloc_hint) > u64::try_from(cap).unwrap_or(u64::MAX) {
        return Some("alloc_hint_over_cap");
    }
    None
}

/// Default cap on a reassembled stub (MS-RPCE 3.3.3.5.? : 4 MiB).
pub const DEFAULT_MAX_STUB: usize = 4 * 1024 * 1024;

/// Why reassembly refused a fragment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    /// The stub would exceed the cap.
    #[error("reassembled stub would exceed {cap} bytes")]
    OverCap {
        /// The configured cap.
        cap: usize,
    },
    /// A fragment without `PFC_FIRST_FRAG` for a call that has not started.
    #[error("fragment for call {0} without a first fragment")]
    MissingFirst(u32),
    /// A `PFC_FIRST_FRAG` fragment for a call already being reassembled.
    #[error("second first fragment for call {0}")]
    DuplicateFirst(u32),
    /// A later fragment changed opnum or presentation context.
    #[error("fragment of call {0} changes opnum or context")]
    Inconsistent(u32),
}

impl ReassemblyError {
    /// Stable code for audit records.
    pub fn reason_code(&self) -> &'static str {
        match self {
            ReassemblyError::OverCap { .. } => "reassembly_over_cap",
            ReassemblyError::MissingFirst(_) => "fragment_out_of_order",
            ReassemblyError::DuplicateFirst(_) => "fragment_out_of_order",
            ReassemblyError::Inconsistent(_) => "fragment_inconsistent",
        }
    }
}

/// Stub bytes one outgoing request or response fragment carries: what `max_frag` leaves after
/// the `header_len`-byte PDU header and, when the PDU is signed (`signature_len` given), the
/// sec_trailer, the signature and the worst-case auth padding. Signed fragments carry a multiple
/// of 16 bytes (so only the last needs auth padding), others a multiple of 8; never less than
/// one such unit.
pub fn stub_capacity(max_frag: usize, header_len: usize, signature_len: Option<usize>) -> usize {
    let overhead =
        header_len + signature_len.map_or(0, |s| pdu::SEC_TRAILER_LEN + s + pdu::AUTH_PAD_ALIGN);
    let unit = if signature_len.is_some() {
        pdu::AUTH_PAD_ALIGN
    } else {
        8
    };
    (max_frag.saturating_sub(overhead) / unit).max(1) * unit
}

/// One call's stub being reassembled.
#[derive(Debug)]
pub struct Reassembly {
    stub: Vec<u8>,
    cap: usize,
    fragments: u32,
}

impl Reassembly {
    /// Starts a call's reassembly with its first fragment's stub. `alloc_hint` is ignored for
    /// allocation on purpose.
    pub fn start(first: &[u8], cap: usize) -> Result<Self, ReassemblyError> {
        Self::start_owned(first.to_vec(), cap)
    }

    /// [`Reassembly::start`] taking the first fragment's stub as it is (no copy: a
    /// single-fragment call's stub goes to the service as decoded).
    pub fn start_owned(first: Vec<u8>, cap: usize) -> Result<Self, ReassemblyError> {
        if first.len() > cap {
            return Err(ReassemblyError::OverCap { cap });
        }
        Ok(Reassembly {
            stub: first,
            cap,
            fragments: 1,
        })
    }

    /// Appends a later fragment's stub.
    pub fn push(&mut self, more: &[u8]) -> Result<(), ReassemblyError> {
        match self.stub.len().checked_add(more.len()) {
            Some(n) if n <= self.cap => {
                self.stub.extend_from_slice(more);
                self.fragments = self.fragments.saturating_add(1);
                Ok(())
            }
            _ => Err(ReassemblyError::OverCap { cap: self.cap }),
        }
    }

    /// Bytes gathered so far.
    pub fn len(&self) -> usize {
        self.stub.len()
    }

    /// True when nothing was gathered.
    pub fn is_empty(&self) -> bool {
        self.stub.is_empty()
    }

    /// Fragments gathered so far.
    pub fn fragments(&self) -> u32 {
        self.fragments
    }

    /// The whole stub.
    pub fn finish(self) -> Vec<u8> {
        self.stub
    }
}

/// Splits a byte stream into whole fragments, refusing any longer than `max_frag`.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    max_frag: usize,
}

impl Framer {
    /// A framer that accepts fragments of at most `max_frag` bytes.
    pub fn new(max_frag: usize) -> Self {
        Framer {
            buf: Vec::new(),
            max_frag,
        }
    }

    /// Changes the largest fragment accepted (after negotiation).
    pub fn set_max_frag(&mut self, max_frag: usize) {
        self.max_frag = max_frag;
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered and not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete fragment, if one is buffered. An error means the stream is corrupt
    /// and the connection must be closed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let len = match pdu::frame_length(&self.buf).map_err(FrameError::Pdu)? {
            None => return Ok(None),
            Some(len) => len,
        };
        if len > self.max_frag {
            return Err(FrameError::TooLong {
                frag_length: len,
                max: self.max_frag,
            });
        }
        if self.buf.len() < len {
            return Ok(None);
        }
        let rest = self.buf.split_off(len);
        Ok(Some(std::mem::replace(&mut self.buf, rest)))
    }
}

/// Why a stream could not be framed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header is invalid.
    #[error(transparent)]
    Pdu(PduError),
    /// A fragment longer than negotiated.
    #[error("frag_length {frag_length} exceeds the negotiated {max}")]
    TooLong {
        /// The fragment's length.
        frag_length: usize,
        /// The largest accepted.
        max: usize,
    },
}

impl FrameError {
    /// Stable code for audit records.
    pub fn reason_code(&self) -> &'static str {
        match self {
            FrameError::Pdu(e) => e.reason_code(),
            FrameError::TooLong { .. } => "frag_length_over_max",
        }
    }
}

#[cfg(test)]
mod alloc_hint_tests {
    use super::alloc_hint_anomaly;

    #[test]
    fn alloc_hint_anomalies() {
        let cap: usize = 4 << 20;
        let c32 = u32::try_from(cap).unwrap_or(u32::MAX);
        assert_eq!(alloc_hint_anomaly(0, 4096, cap), None);
        assert_eq!(alloc_hint_anomaly(0, c32, cap), None);
        assert_eq!(
            alloc_hint_anomaly(0, c32 + 1, cap),
            Some("alloc_hint_over_cap")
        );
        assert_eq!(
            alloc_hint_anomaly(16, u32::MAX - 16, cap),
            Some("alloc_hint_over_cap")
        );
        assert_eq!(
            alloc_hint_anomaly(17, u32::MAX - 16, cap),
            Some("alloc_hint_overflow")
        );
        assert_eq!(
            alloc_hint_anomaly(usize::MAX, 1, cap),
            Some("alloc_hint_overflow")
        );
    }
}
