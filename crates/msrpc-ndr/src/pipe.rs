//! Pipes (`typedef pipe T NAME;`, C706 chapter 14 "Pipes"; MS-RPCE 2.2.5.3.4.5 for NDR64),
//! carried whole: a [`Pipe<T>`] holds every element of the pipe and is written and read as
//! one parameter of a buffered request or response.
//!
//! # Wire form
//! A pipe is a sequence of chunks ended by an empty one:
//! - NDR20: each chunk is its element count, a `u32` aligned to 4, then the elements (aligned
//!   to the element type, as a conformant array's). The last chunk is the count 0 alone.
//! - NDR64: each chunk is its element count, a `u64` aligned to 8, the elements, then the
//!   count's arithmetic negation as a 64-bit integer (aligned to 8). The last chunk is two
//!   zero `u64`s. A chunk holds at most 2^31 - 1 elements.
//!
//! Where pipes go in a message is the stubs' business (`msrpc-codegen` with `#[ndr(pipe)]`):
//! `[in]` pipes after every other `[in]` parameter, `[out]` pipes before every other `[out]`
//! parameter and the return value.
//!
//! # What it does not do
//! Streaming: the elements of a [`Pipe`] are all in memory, a request or response with a pipe
//! is encoded and decoded whole, and an application cannot push or pull chunks while the call
//! runs (MIDL's `push`/`pull`/`alloc` procedures). Elements containing pointers or conformant
//! or varying arrays, which neither syntax allows in a pipe, are not refused by the type:
//! the IDL front end refuses them.
//!
//! # DoS warning
//! Every chunk count is a peer's claim: it goes through [`Reader::reserve`] (against
//! `max_elements`, the bytes left and the allocation budget) before anything is allocated, and
//! the pipe's total is held to `max_elements` as one array's would be. Each chunk costs at
//! least its count's bytes, so the number of chunks is bounded by the message's length.

use crate::{DecodeErrorKind, DecodeResult, EncodeResult, Ndr, Reader, Writer};

/// The elements of a pipe of `T`, written as chunks of at most [`Pipe::CHUNK_ELEMENTS`]
/// elements and an empty final chunk; decoding joins the chunks it reads, of any size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipe<T> {
    /// Every element the pipe carries, in order.
    pub elements: Vec<T>,
}

/// The largest chunk NDR64 allows (MS-RPCE 2.2.5.3.4.5: at most 2^31 - 1 elements).
const NDR64_MAX_CHUNK: u64 = 0x7fff_ffff;

impl<T> Pipe<T> {
    /// Elements per chunk when encoding (the last data chunk may hold fewer).
    pub const CHUNK_ELEMENTS: usize = 4096;

    /// A pipe carrying `elements`.
    pub fn new(elements: Vec<T>) -> Self {
        Self { elements }
    }

    /// The elements, consuming the pipe.
    pub fn into_inner(self) -> Vec<T> {
        self.elements
    }
}

impl<T> Default for Pipe<T> {
    /// The empty pipe (its final chunk alone).
    fn default() -> Self {
        Self {
            elements: Vec::new(),
        }
    }
}

impl<T> From<Vec<T>> for Pipe<T> {
    fn from(elements: Vec<T>) -> Self {
        Self { elements }
    }
}

impl<T: Ndr> Pipe<T> {
    /// Writes the pipe in chunks of at most `chunk` elements (`chunk` 0 counts as 1), then the
    /// empty final chunk. [`Ndr::encode`] uses [`Pipe::CHUNK_ELEMENTS`].
    pub fn encode_chunked(&self, w: &mut Writer, chunk: usize) -> EncodeResult {
        for run in self
            .elements
            .chunks(chunk.clamp(1, NDR64_MAX_CHUNK as usize))
        {
            let n = run.len() as u64;
            w.count(n, "pipe chunk")?;
            crate::array::encode_elements_scalars(run, w)?;
            crate::array::encode_elements_buffers(run, w)?;
            if w.is_ndr64() {
                w.u64(n.wrapping_neg());
            }
        }
        w.count(0, "pipe chunk")?;
        if w.is_ndr64() {
            w.u64(0);
        }
        Ok(())
    }
}

impl<T: Ndr> Ndr for Pipe<T> {
    /// A chunk starts with its count: 4 in NDR20.
    const ALIGN: usize = 4;
    /// 8 in NDR64 (64-bit counts).
    const ALIGN64: usize = 8;
    /// The empty final chunk of NDR20.
    const WIRE_MIN: usize = 4;

    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        self.encode_chunked(w, Self::CHUNK_ELEMENTS)
    }

    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        let max_total = u64::from(r.limits().max_elements);
        let mut elements: Vec<T> = Vec::new();
        loop {
            let count = r.count()?;
            if r.is_ndr64() {
                if count > NDR64_MAX_CHUNK {
                    return Err(r.error(DecodeErrorKind::Invalid(
                        "NDR64 pipe chunk of more than 2^31 - 1 elements",
                    )));
                }
                if count == 0 {
                    let neg = r.u64()?;
                    if neg != 0 {
                        return Err(r.error(DecodeErrorKind::Invalid(
                            "NDR64 pipe's final chunk: the second count is not 0",
                        )));
                    }
                    break;
                }
            } else if count == 0 {
                break;
            }
            let total = (elements.len() as u64).saturating_add(count);
            if total > max_total {
                return Err(r.error(DecodeErrorKind::CountLimit {
                    count: total,
                    limit: max_total,
                }));
            }
            let start = elements.len();
            let mut chunk: Vec<T> = crate::array::decode_elements_scalars(r, count)
                .map_err(|e| e.in_field("pipe chunk"))?;
            crate::array::decode_elements_buffers(&mut chunk, r)?;
            if r.is_ndr64() {
                let neg = r.u64()?;
                if neg != count.wrapping_neg() {
                    return Err(r.error(DecodeErrorKind::Invalid(
                        "NDR64 pipe chunk: the trailing count is not the negated element count",
                    )));
                }
            }
            if start == 0 {
                elements = chunk;
            } else {
                elements.append(&mut chunk);
            }
        }
        Ok(Self { elements })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DataRep, DecodeLimits, TransferSyntax};

    fn enc<T: Ndr>(p: &Pipe<T>, chunk: usize, drep: DataRep, syntax: TransferSyntax) -> Vec<u8> {
        let mut w = Writer::with_syntax(drep, syntax);
        p.encode_chunked(&mut w, chunk).unwrap();
        w.into_bytes()
    }

    fn dec<T: Ndr>(
        b: &[u8],
        syntax: TransferSyntax,
        limits: DecodeLimits,
    ) -> DecodeResult<Pipe<T>> {
        let mut r = Reader::with_syntax(b, DataRep::LITTLE_ENDIAN, syntax, limits);
        let p = Pipe::<T>::decode(&mut r)?;
        r.finish()?;
        Ok(p)
    }

    #[rustfmt::skip]
    const NDR20_BYTES: [u8; 20] = [
        3, 0, 0, 0,   1, 2, 3,   0,   // chunk of 3, its elements, padding to 4
        2, 0, 0, 0,   4, 5,   0, 0,   // chunk of 2, its elements, padding to 4
        0, 0, 0, 0,                   // the empty final chunk
    ];

    #[rustfmt::skip]
    const NDR64_BYTES: [u8; 64] = [
        3, 0, 0, 0, 0, 0, 0, 0,   1, 2, 3,   0, 0, 0, 0, 0,         // count 3, elements, pad to 8
        0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,            // -3
        2, 0, 0, 0, 0, 0, 0, 0,   4, 5,   0, 0, 0, 0, 0, 0,         // count 2, elements, pad to 8
        0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,            // -2
        0, 0, 0, 0, 0, 0, 0, 0,   0, 0, 0, 0, 0, 0, 0, 0,           // final chunk: 0 and -0
    ];

    #[test]
    fn ndr20_chunks_by_hand() {
        let p = Pipe::new(vec![1u8, 2, 3, 4, 5]);
        assert_eq!(
            enc(&p, 3, DataRep::LITTLE_ENDIAN, TransferSyntax::Ndr20),
            NDR20_BYTES
        );
        assert_eq!(
            dec::<u8>(&NDR20_BYTES, TransferSyntax::Ndr20, DecodeLimits::DEFAULT).unwrap(),
            p
        );
    }

    #[test]
    fn ndr64_chunks_by_hand() {
        let p = Pipe::new(vec![1u8, 2, 3, 4, 5]);
        assert_eq!(
            enc(&p, 3, DataRep::LITTLE_ENDIAN, TransferSyntax::Ndr64),
            NDR64_BYTES
        );
        assert_eq!(
            dec::<u8>(&NDR64_BYTES, TransferSyntax::Ndr64, DecodeLimits::DEFAULT).unwrap(),
            p
        );
    }

    #[test]
    fn empty_pipe_is_the_final_chunk_alone() {
        let p = Pipe::<u16>::default();
        assert_eq!(
            enc(&p, 3, DataRep::LITTLE_ENDIAN, TransferSyntax::Ndr20),
            [0, 0, 0, 0]
        );
        assert_eq!(
            enc(&p, 3, DataRep::LITTLE_ENDIAN, TransferSyntax::Ndr64),
            [0; 16]
        );
        assert_eq!(
            dec::<u16>(&[0; 16], TransferSyntax::Ndr64, DecodeLimits::DEFAULT).unwrap(),
            p
        );
    }

    #[test]
    fn big_endian_default_chunking() {
        let p = Pipe::new(vec![0x0102_0304u32]);
        let mut w = Writer::new(DataRep::BIG_ENDIAN);
        p.encode(&mut w).unwrap();
        assert_eq!(w.into_bytes(), [0, 0, 0, 1, 1, 2, 3, 4, 0, 0, 0, 0]);
        // one chunk per CHUNK_ELEMENTS elements, the count of each in front
        let long = Pipe::new(vec![7u8; Pipe::<u8>::CHUNK_ELEMENTS + 1]);
        let b = crate::to_bytes(&long, DataRep::LITTLE_ENDIAN).unwrap();
        assert_eq!(b.len(), 4 + 4096 + 4 + 1 + 3 + 4);
        assert_eq!(b[..4], 4096u32.to_le_bytes());
        assert_eq!(b[4100..4104], 1u32.to_le_bytes());
    }

    #[test]
    fn hostile_counts_are_refused_before_allocating() {
        // a chunk promising 2^32 - 1 bytes in a short message
        let b = [0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4];
        let e = dec::<u8>(&b, TransferSyntax::Ndr20, DecodeLimits::DEFAULT).unwrap_err();
        assert!(matches!(e.kind, DecodeErrorKind::CountLimit { .. }), "{e}");
        // many small chunks adding up past max_elements
        let limits = DecodeLimits {
            max_elements: 4,
            ..DecodeLimits::DEFAULT
        };
        let e = dec::<u8>(&NDR20_BYTES, TransferSyntax::Ndr20, limits).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::CountLimit { count: 5, limit: 4 });
        // no final chunk
        let e = dec::<u8>(
            &NDR20_BYTES[..16],
            TransferSyntax::Ndr20,
            DecodeLimits::DEFAULT,
        )
        .unwrap_err();
        assert!(matches!(e.kind, DecodeErrorKind::Truncated { .. }), "{e}");
    }

    #[test]
    fn ndr64_chunk_rules_are_checked() {
        let mut b = NDR64_BYTES;
        b[16] = 0xfc; // -4 after a chunk of 3
        let e = dec::<u8>(&b, TransferSyntax::Ndr64, DecodeLimits::DEFAULT).unwrap_err();
        assert!(matches!(e.kind, DecodeErrorKind::Invalid(_)), "{e}");
        let mut b = NDR64_BYTES;
        b[63] = 1; // the final chunk's second count is not 0
        let e = dec::<u8>(&b, TransferSyntax::Ndr64, DecodeLimits::DEFAULT).unwrap_err();
        assert!(matches!(e.kind, DecodeErrorKind::Invalid(_)), "{e}");
        let mut big = [0u8; 24];
        big[..8].copy_from_slice(&0x8000_0000u64.to_le_bytes());
        let e = dec::<u8>(&big, TransferSyntax::Ndr64, DecodeLimits::DEFAULT).unwrap_err();
        assert!(matches!(e.kind, DecodeErrorKind::Invalid(_)), "{e}");
    }
}
