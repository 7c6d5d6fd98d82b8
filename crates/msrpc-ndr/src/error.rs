//! Decode and encode errors, with the path of the field where decoding failed.

use std::fmt;

/// What went wrong while decoding peer data. Every variant is the peer's fault: the bytes do
/// not form a valid NDR stream for the expected type, or exceed the [`DecodeLimits`](crate::DecodeLimits).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The stream ended before a value was complete.
    #[error("truncated: needed {needed} bytes, {available} left")]
    Truncated {
        /// Bytes the value needed.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// An array or string count exceeds [`DecodeLimits::max_elements`](crate::DecodeLimits::max_elements).
    #[error("count {count} exceeds the limit of {limit} elements")]
    CountLimit {
        /// The count the peer sent.
        count: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A count promises more elements than bytes remain in the stream.
    #[error("count {count} needs at least {needed} bytes, only {available} left")]
    CountBeyondData {
        /// The count the peer sent.
        count: u64,
        /// Minimum bytes the elements occupy.
        needed: u64,
        /// Bytes left in the stream.
        available: usize,
    },
    /// Decoding would allocate more than [`DecodeLimits::max_alloc_bytes`](crate::DecodeLimits::max_alloc_bytes).
    #[error("allocation budget of {limit} bytes exhausted")]
    AllocLimit {
        /// The configured budget.
        limit: usize,
    },
    /// Pointer or union nesting deeper than [`DecodeLimits::max_depth`](crate::DecodeLimits::max_depth).
    #[error("nesting deeper than {limit}")]
    DepthLimit {
        /// The configured limit.
        limit: u32,
    },
    /// A union's discriminant matches no arm and the union has no default arm.
    #[error("unknown union discriminant {0:#x}")]
    UnknownDiscriminant(u64),
    /// A discriminant differs from the value of its `switch_is` expression.
    #[error("union discriminant {found:#x} differs from switch_is value {expected:#x}")]
    DiscriminantMismatch {
        /// The `switch_is` value.
        expected: u64,
        /// The discriminant on the wire.
        found: u64,
    },
    /// A conformance or variance value differs from the field that `size_is`/`length_is` names.
    #[error("array count {found} differs from the expected {expected}")]
    CountMismatch {
        /// Value of the sizing expression.
        expected: u64,
        /// Count on the wire.
        found: u64,
    },
    /// `actual_count + offset` exceeds `max_count` in a varying array.
    #[error("varying array: offset {offset} + actual_count {actual} exceeds max_count {max}")]
    VarianceBeyondConformance {
        /// The array's max_count (or fixed size).
        max: u64,
        /// The offset on the wire.
        offset: u64,
        /// The actual_count on the wire.
        actual: u64,
    },
    /// A `[string]` without its terminating NUL.
    #[error("string without terminator")]
    UnterminatedString,
    /// A wide string that is not valid UTF-16 or a char string that is not ASCII/Latin-1 text.
    #[error("invalid string data")]
    InvalidString,
    /// A value outside its `[range(lo, hi)]`.
    #[error("value {value} outside range {min}..={max}")]
    OutOfRange {
        /// The value on the wire.
        value: i128,
        /// Lower bound.
        min: i128,
        /// Upper bound.
        max: i128,
    },
    /// A full pointer's referent id refers to a value of another type.
    #[error("full pointer {0:#x} aliases a value of another type")]
    FullPointerTypeMismatch(u64),
    /// EBCDIC characters or non-IEEE floats, which this implementation does not decode.
    #[error("unsupported data representation {0:02x?}")]
    UnsupportedDataRep([u8; 4]),
    /// Bytes left over after a complete value where none are allowed.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// Anything else a type's own validation rejects.
    #[error("invalid value: {0}")]
    Invalid(&'static str),
}

/// One step of the path from the outermost type to the failing field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    /// A type name (only the outermost is displayed).
    Type(&'static str),
    /// A structure field, parameter or union arm.
    Field(&'static str),
    /// An array index.
    Index(u64),
}

/// A decode failure: what went wrong, where in the stream, and in which field.
///
/// Displayed as `EptEntry.tower.tower_octet_string: truncated: ... at offset 52`.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// What went wrong.
    pub kind: DecodeErrorKind,
    /// Byte offset in the NDR stream where it was noticed.
    pub offset: usize,
    /// Path segments, innermost first (they are added while the error travels outwards).
    segments: Vec<PathSegment>,
}

impl DecodeError {
    /// A new error at `offset` with an empty path.
    pub fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        DecodeError {
            kind,
            offset,
            segments: Vec::new(),
        }
    }

    /// Adds a field name to the path (called while unwinding, so innermost first).
    #[must_use]
    pub fn in_field(mut self, name: &'static str) -> Self {
        self.segments.push(PathSegment::Field(name));
        self
    }

    /// Adds an array index to the path.
    #[must_use]
    pub fn at_index(mut self, index: u64) -> Self {
        self.segments.push(PathSegment::Index(index));
        self
    }

    /// Adds a type name to the path.
    #[must_use]
    pub fn in_type(mut self, name: &'static str) -> Self {
        self.segments.push(PathSegment::Type(name));
        self
    }

    /// The path segments from the outermost to the innermost.
    pub fn segments(&self) -> impl Iterator<Item = &PathSegment> {
        self.segments.iter().rev()
    }

    /// The field path as text, e.g. `EptEntry.tower.tower_octet_string`: the outermost type
    /// name followed by field names and indices (inner type names are omitted).
    pub fn path(&self) -> String {
        let mut out = String::new();
        let mut seen_type = false;
        for seg in self.segments() {
            match seg {
                PathSegment::Type(t) => {
                    if !seen_type && out.is_empty() {
                        out.push_str(t);
                    }
                    seen_type = true;
                }
                PathSegment::Field(f) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(f);
                    seen_type = true;
                }
                PathSegment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path();
        if path.is_empty() {
            write!(f, "{} at offset {}", self.kind, self.offset)
        } else {
            write!(f, "{path}: {} at offset {}", self.kind, self.offset)
        }
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DecodeError({self})")
    }
}

impl std::error::Error for DecodeError {}

/// An encode failure: the caller's value cannot be represented (the caller's fault).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A count does not fit the 32-bit wire field.
    #[error("{0}: count does not fit in 32 bits")]
    CountOverflow(&'static str),
    /// An array's length differs from the value of its sizing expression.
    #[error("{field}: length {actual} differs from size_is/length_is value {expected}")]
    CountMismatch {
        /// The field.
        field: &'static str,
        /// Value of the sizing expression.
        expected: u64,
        /// The array's length.
        actual: u64,
    },
    /// A union's arm differs from its `switch_is` value.
    #[error("{field}: union arm {found:#x} differs from switch_is value {expected:#x}")]
    DiscriminantMismatch {
        /// The field.
        field: &'static str,
        /// Value of the `switch_is` expression.
        expected: u64,
        /// The arm's discriminant.
        found: u64,
    },
    /// A value outside its `[range]`.
    #[error("{0}: value outside its range")]
    OutOfRange(&'static str),
    /// A varying array longer than its fixed maximum.
    #[error("{0}: longer than its declared maximum")]
    TooLong(&'static str),
    /// A string containing a NUL before its end.
    #[error("{0}: string contains an embedded NUL")]
    EmbeddedNul(&'static str),
    /// A `char` string with characters that are not 8-bit.
    #[error("{0}: character outside 8-bit range")]
    NotEightBit(&'static str),
    /// A `char` string to write in a data representation whose characters are not ASCII
    /// (EBCDIC): this implementation does not convert characters.
    #[error("{0}: char strings in a non-ASCII (EBCDIC) data representation")]
    CharRepNotAscii(&'static str),
    /// A `[ref]` pointer given no value.
    #[error("{0}: null [ref] pointer")]
    NullRefPointer(&'static str),
    /// A union's default arm holds a discriminant one of its cases names: the peer would read
    /// that case's arm from the bytes (build the case's variant instead).
    #[error("{ty}: the default arm holds discriminant {discriminant:#x}, which names a case")]
    DefaultArmNamesACase {
        /// The union type.
        ty: &'static str,
        /// The discriminant held.
        discriminant: u64,
    },
    /// An NDR enum's catch-all holds a value wider than the enum's wire type (16 bits, or 32
    /// with `v1_enum`); the fault for it is `RPC_X_ENUM_VALUE_OUT_OF_RANGE`, as Windows raises
    /// when it cannot marshal an enum value.
    #[error("{ty}: enum value {value:#x} does not fit its wire type (at most {max:#x})")]
    EnumValueOutOfRange {
        /// The enum type.
        ty: &'static str,
        /// The value held.
        value: u64,
        /// The largest value the wire type carries.
        max: u64,
    },
}

/// Result of a decode.
pub type DecodeResult<T> = Result<T, DecodeError>;
/// Result of an encode.
pub type EncodeResult<T = ()> = Result<T, EncodeError>;
