//! [`Reader`]: a bounds-checked cursor over an NDR stream.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use crate::{
    DataRep, DecodeError, DecodeErrorKind, DecodeLimits, DecodeResult, Endian, TransferSyntax,
};

/// A cursor over received NDR bytes. All reads are bounds-checked; nothing indexes past the
/// end. Alignment is relative to the start of the stream (the start of the stub data).
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    drep: DataRep,
    syntax: TransferSyntax,
    limits: DecodeLimits,
    depth: u32,
    alloc_left: usize,
    full_pointers: HashMap<u64, Arc<dyn Any + Send + Sync>>,
}

impl<'a> Reader<'a> {
    /// An NDR20 reader over `buf` in the data representation `drep`, bounded by `limits`.
    pub fn new(buf: &'a [u8], drep: DataRep, limits: DecodeLimits) -> Self {
        Self::with_syntax(buf, drep, TransferSyntax::Ndr20, limits)
    }

    /// A reader over `buf` in transfer syntax `syntax` and data representation `drep`.
    pub fn with_syntax(
        buf: &'a [u8],
        drep: DataRep,
        syntax: TransferSyntax,
        limits: DecodeLimits,
    ) -> Self {
        Reader {
            buf,
            pos: 0,
            drep,
            syntax,
            alloc_left: limits.max_alloc_bytes,
            limits,
            depth: 0,
            full_pointers: HashMap::new(),
        }
    }

    /// The data representation being read.
    pub fn drep(&self) -> DataRep {
        self.drep
    }

    /// The transfer syntax being read.
    pub fn syntax(&self) -> TransferSyntax {
        self.syntax
    }

    /// True when the stream is NDR64.
    pub fn is_ndr64(&self) -> bool {
        self.syntax.is_ndr64()
    }

    /// The limits in force.
    pub fn limits(&self) -> &DecodeLimits {
        &self.limits
    }

    /// Current offset from the start of the stream.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// An error of `kind` at the current offset.
    pub fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(kind, self.pos)
    }

    /// Fails with [`DecodeErrorKind::TrailingBytes`] unless the stream is exhausted.
    pub fn finish(&self) -> DecodeResult<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(self.error(DecodeErrorKind::TrailingBytes(n))),
        }
    }

    /// Skips padding up to a multiple of `n` (a power of two) from the stream start. Padding
    /// content is not checked: real peers send non-zero padding.
    pub fn align(&mut self, n: usize) -> DecodeResult<()> {
        if n <= 1 {
            return Ok(());
        }
        let pad = (n - (self.pos % n)) % n;
        self.take(pad).map(|_| ())
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> DecodeResult<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end.and_then(|e| self.buf.get(self.pos..e).map(|s| (e, s))) {
            Some((e, s)) => {
                self.pos = e;
                Ok(s)
            }
            None => Err(self.error(DecodeErrorKind::Truncated {
                needed: n,
                available: self.remaining(),
            })),
        }
    }

    fn array<const N: usize>(&mut self) -> DecodeResult<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads a `u8` (no alignment).
    pub fn u8(&mut self) -> DecodeResult<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// Aligns to 2 and reads a `u16` in the stream's byte order.
    pub fn u16(&mut self) -> DecodeResult<u16> {
        self.align(2)?;
        let b = self.array::<2>()?;
        Ok(match self.drep.endian() {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        })
    }

    /// Aligns to 4 and reads a `u32`.
    pub fn u32(&mut self) -> DecodeResult<u32> {
        self.align(4)?;
        let b = self.array::<4>()?;
        Ok(match self.drep.endian() {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        })
    }

    /// Aligns to 8 and reads a `u64` (NDR `hyper`).
    pub fn u64(&mut self) -> DecodeResult<u64> {
        self.align(8)?;
        let b = self.array::<8>()?;
        Ok(match self.drep.endian() {
            Endian::Little => u64::from_le_bytes(b),
            Endian::Big => u64::from_be_bytes(b),
        })
    }

    /// Reads a conformance or variance count: a `u32` in NDR20, a `u64` aligned to 8 in
    /// NDR64 (MS-RPCE 2.2.5.3.1). The value is a peer's claim: pass it to
    /// [`Reader::reserve`] before allocating.
    pub fn count(&mut self) -> DecodeResult<u64> {
        match self.syntax {
            TransferSyntax::Ndr20 => self.u32().map(u64::from),
            TransferSyntax::Ndr64 => self.u64(),
        }
    }

    /// Reads a pointer's referent id: 4 bytes in NDR20, 8 bytes aligned to 8 in NDR64
    /// (MS-RPCE 2.2.5.2.3).
    pub fn ref_id(&mut self) -> DecodeResult<u64> {
        self.count()
    }

    /// Aligns to the larger of `ndr20` and `ndr64` as the stream's syntax picks.
    pub fn align_syntax(&mut self, ndr20: usize, ndr64: usize) -> DecodeResult<()> {
        self.align(if self.is_ndr64() { ndr64 } else { ndr20 })
    }

    /// Aligns to `T`'s alignment in the stream's syntax.
    pub fn align_for<T: crate::Ndr>(&mut self) -> DecodeResult<()> {
        self.align(T::align_in(self.syntax))
    }

    /// Skips the trailing padding of a structure of alignment `align` in NDR64, where a
    /// structure's size is a multiple of its alignment (MS-RPCE 2.2.5.3.4.1); nothing in NDR20.
    pub fn trailer_align(&mut self, align: usize) -> DecodeResult<()> {
        if self.is_ndr64() {
            self.align(align)
        } else {
            Ok(())
        }
    }

    /// Fails unless the stream's floats are IEEE.
    pub fn check_ieee(&self) -> DecodeResult<()> {
        if self.drep.is_ieee_float() {
            Ok(())
        } else {
            Err(self.error(DecodeErrorKind::UnsupportedDataRep(self.drep.0)))
        }
    }

    /// Fails unless the stream's characters are ASCII.
    pub fn check_ascii(&self) -> DecodeResult<()> {
        if self.drep.is_ascii() {
            Ok(())
        } else {
            Err(self.error(DecodeErrorKind::UnsupportedDataRep(self.drep.0)))
        }
    }

    /// Checks an array count from the wire before anything is allocated for it: against
    /// `max_elements`, against the bytes left (`wire_min` bytes per element at least) and
    /// against the allocation budget (`mem_size` bytes per element, which is charged).
    pub fn reserve(&mut self, count: u64, wire_min: usize, mem_size: usize) -> DecodeResult<usize> {
        if count > u64::from(self.limits.max_elements) {
            return Err(self.error(DecodeErrorKind::CountLimit {
                count,
                limit: u64::from(self.limits.max_elements),
            }));
        }
        let needed = count.saturating_mul(wire_min as u64);
        if needed > self.remaining() as u64 {
            return Err(self.error(DecodeErrorKind::CountBeyondData {
                count,
                needed,
                available: self.remaining(),
            }));
        }
        let bytes = count.saturating_mul(mem_size as u64);
        if bytes > self.alloc_left as u64 {
            return Err(self.error(DecodeErrorKind::AllocLimit {
                limit: self.limits.max_alloc_bytes,
            }));
        }
        self.alloc_left -= bytes as usize;
        usize::try_from(count).map_err(|_| {
            self.error(DecodeErrorKind::CountLimit {
                count,
                limit: u64::from(self.limits.max_elements),
            })
        })
    }

    /// Runs `f` and adds `ty.field` to the path of any error it returns (generated code wraps
    /// each member's decode in this).
    pub fn field<T>(
        &mut self,
        ty: &'static str,
        field: &'static str,
        f: impl FnOnce(&mut Self) -> DecodeResult<T>,
    ) -> DecodeResult<T> {
        f(self).map_err(|e| e.in_field(field).in_type(ty))
    }

    /// Runs `f` one nesting level deeper ([`Reader::enter`] before, [`Reader::leave`] after);
    /// generated unions decode their arms in this.
    pub fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> DecodeResult<T>) -> DecodeResult<T> {
        self.enter()?;
        let v = f(self);
        self.leave();
        v
    }

    /// Enters one level of pointer or union nesting; pair with [`Reader::leave`].
    pub fn enter(&mut self) -> DecodeResult<()> {
        if self.depth >= self.limits.max_depth {
            return Err(self.error(DecodeErrorKind::DepthLimit {
                limit: self.limits.max_depth,
            }));
        }
        self.depth += 1;
        Ok(())
    }

    /// Leaves a level entered with [`Reader::enter`].
    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Looks up a full pointer's referent already decoded under `ref_id`.
    pub fn full_pointer(&self, ref_id: u64) -> Option<Arc<dyn Any + Send + Sync>> {
        self.full_pointers.get(&ref_id).cloned()
    }

    /// Records a full pointer's referent under `ref_id`.
    pub fn set_full_pointer(&mut self, ref_id: u64, value: Arc<dyn Any + Send + Sync>) {
        self.full_pointers.insert(ref_id, value);
    }
}
