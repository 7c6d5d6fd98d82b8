//! The transfer syntax a stream is written in: NDR20 (C706 chapter 14) or NDR64 (MS-RPCE
//! 2.2.5). The presentation context a call arrives on decides it; see the crate docs for the
//! rules that differ.

/// Which NDR transfer syntax a [`Reader`](crate::Reader) or [`Writer`](crate::Writer) uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TransferSyntax {
    /// NDR 2.0, `8a885d04-1ceb-11c9-9fe8-08002b104860` v2.0 (C706 chapter 14).
    #[default]
    Ndr20,
    /// NDR64, `71710533-beba-4937-8319-b5dbef9ccc36` v1.0 (MS-RPCE 2.2.5).
    Ndr64,
}

impl TransferSyntax {
    /// True for NDR64.
    pub const fn is_ndr64(self) -> bool {
        matches!(self, TransferSyntax::Ndr64)
    }

    /// Wire size of a pointer (referent id) and of a conformance or variance count: 4 in
    /// NDR20, 8 in NDR64 (MS-RPCE 2.2.5.2.3, 2.2.5.3.1).
    pub const fn count_size(self) -> usize {
        match self {
            TransferSyntax::Ndr20 => 4,
            TransferSyntax::Ndr64 => 8,
        }
    }
}
