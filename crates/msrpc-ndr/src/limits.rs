//! Bounds on what a decode may consume; see [`DecodeLimits`].

/// Bounds applied while decoding untrusted NDR, checked *before* anything is allocated from a
/// count the peer sent.
///
/// # DoS warning
/// Every count on the wire is peer-controlled. A decode refuses a count when it exceeds
/// `max_elements`, when the elements could not fit in the bytes that remain (each element
/// occupies at least its `WIRE_MIN` bytes), or when the memory it would allocate would exceed
/// what is left of `max_alloc_bytes`. Pointer and union nesting is bounded by `max_depth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Maximum nesting of pointers and unions (recursion bound). Default 64.
    pub max_depth: u32,
    /// Maximum element count of any one array or string. Default 4 Mi.
    pub max_elements: u32,
    /// Maximum bytes a whole decode may allocate (the sum over arrays, strings and boxes).
    /// Default 16 MiB (four times the 4 MiB request cap of MS-RPCE).
    pub max_alloc_bytes: usize,
}

impl DecodeLimits {
    /// The defaults described on each field.
    pub const DEFAULT: DecodeLimits = DecodeLimits {
        max_depth: 64,
        max_elements: 4 * 1024 * 1024,
        max_alloc_bytes: 16 * 1024 * 1024,
    };
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
