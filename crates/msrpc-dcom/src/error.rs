//! Errors of the hand-written codecs (OBJREF, the packet form of DUALSTRINGARRAY, the
//! activation property blob) and of binding parsing.

use msrpc_ndr::{DecodeError, EncodeError};

/// A DCOM structure that does not decode (the peer's fault) or a value that cannot be encoded
/// (the caller's fault: [`DcomError::Encode`] and [`DcomError::Unencodable`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DcomError {
    /// The bytes end before a structure is complete.
    #[error("{what}: truncated (needed {needed} bytes, {available} left)")]
    Truncated {
        /// The structure being read.
        what: &'static str,
        /// Bytes it needed.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// An OBJREF whose signature is not `MEOW` (MS-DCOM 2.2.18).
    #[error("OBJREF signature {0:#010x} is not MEOW (0x574f454d)")]
    BadSignature(u32),
    /// OBJREF flags that are not exactly one of the four flavours (MS-DCOM 2.2.18).
    #[error("OBJREF flags {0:#x} are not exactly one of STANDARD, HANDLER, CUSTOM, EXTENDED")]
    BadObjRefFlags(u32),
    /// A value the specification forbids.
    #[error("{0}")]
    Invalid(&'static str),
    /// A count, size or length above a configured limit.
    #[error("{what}: {value} exceeds the limit of {limit}")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// The value the peer sent.
        value: u64,
        /// The configured limit.
        limit: u64,
    },
    /// Bytes left after a complete structure where the format has none.
    #[error("{what}: {count} trailing bytes")]
    TrailingBytes {
        /// The structure.
        what: &'static str,
        /// How many bytes were left.
        count: usize,
    },
    /// Nested blobs (an OBJREF inside an activation property inside an OBJREF ...) deeper than
    /// the configured limit.
    #[error("nesting deeper than {0}")]
    Depth(u32),
    /// A UTF-16 string that does not decode.
    #[error("{0}: invalid UTF-16")]
    InvalidString(&'static str),
    /// An NDR-encoded part did not decode.
    #[error("{what}: {source}")]
    Ndr {
        /// The part.
        what: &'static str,
        /// The NDR error (with its field path).
        source: DecodeError,
    },
    /// An NDR-encoded part could not be encoded (the caller's value).
    #[error("encoding: {0}")]
    Encode(#[from] EncodeError),
    /// A value that has no wire form (the caller's fault), e.g. more than 65535 entries.
    #[error("cannot encode: {0}")]
    Unencodable(&'static str),
}

impl DcomError {
    pub(crate) fn ndr(what: &'static str) -> impl FnOnce(DecodeError) -> DcomError {
        move |source| DcomError::Ndr { what, source }
    }
}

/// Result of the DCOM codecs.
pub type DcomResult<T> = Result<T, DcomError>;
