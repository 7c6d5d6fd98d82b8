//! [`Writer`]: an NDR output stream.

use crate::{DataRep, EncodeError, EncodeResult, Endian, TransferSyntax};

/// Accumulates NDR bytes in one byte order. Alignment is relative to the start of the stream.
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
    drep: DataRep,
    syntax: TransferSyntax,
    next_ref_id: u32,
    full_pointers: Vec<(usize, u32, bool)>,
}

/// First referent id handed out (what Windows and Impacket use); later ones step by 4.
pub const FIRST_REF_ID: u32 = 0x0002_0000;

impl Writer {
    /// An empty NDR20 stream in the representation `drep`.
    pub fn new(drep: DataRep) -> Self {
        Self::with_syntax(drep, TransferSyntax::Ndr20)
    }

    /// An empty stream in transfer syntax `syntax` and representation `drep`.
    pub fn with_syntax(drep: DataRep, syntax: TransferSyntax) -> Self {
        Writer {
            syntax,
            // Most stubs are small: one allocation instead of growing 8, 16, 32, 64.
            buf: Vec::with_capacity(64),
            drep,
            next_ref_id: FIRST_REF_ID,
            full_pointers: Vec::new(),
        }
    }

    /// The data representation being written.
    pub fn drep(&self) -> DataRep {
        self.drep
    }

    /// The transfer syntax being written.
    pub fn syntax(&self) -> TransferSyntax {
        self.syntax
    }

    /// True when the stream is NDR64.
    pub fn is_ndr64(&self) -> bool {
        self.syntax.is_ndr64()
    }

    /// Writes a conformance or variance count: a `u32` in NDR20 (a larger count fails with
    /// [`EncodeError::CountOverflow`] naming `field`), a `u64` aligned to 8 in NDR64
    /// (MS-RPCE 2.2.5.3.1).
    pub fn count(&mut self, n: u64, field: &'static str) -> EncodeResult {
        match self.syntax {
            TransferSyntax::Ndr20 => {
                let n = u32::try_from(n).map_err(|_| EncodeError::CountOverflow(field))?;
                self.u32(n);
            }
            TransferSyntax::Ndr64 => self.u64(n),
        }
        Ok(())
    }

    /// Writes a pointer's referent id (0 for null): 4 bytes in NDR20, 8 bytes aligned to 8
    /// in NDR64 (MS-RPCE 2.2.5.2.3).
    pub fn ref_id(&mut self, id: u32) {
        match self.syntax {
            TransferSyntax::Ndr20 => self.u32(id),
            TransferSyntax::Ndr64 => self.u64(u64::from(id)),
        }
    }

    /// Aligns to `ndr20` or `ndr64` as the stream's syntax picks.
    pub fn align_syntax(&mut self, ndr20: usize, ndr64: usize) {
        self.align(if self.is_ndr64() { ndr64 } else { ndr20 });
    }

    /// Aligns to `T`'s alignment in the stream's syntax.
    pub fn align_for<T: crate::Ndr>(&mut self) {
        self.align(T::align_in(self.syntax));
    }

    /// Pads a structure of alignment `align` to a multiple of it in NDR64 (MS-RPCE
    /// 2.2.5.3.4.1); nothing in NDR20.
    pub fn trailer_align(&mut self, align: usize) {
        if self.is_ndr64() {
            self.align(align);
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The finished stream.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Pads with zeros to a multiple of `n` from the stream start.
    pub fn align(&mut self, n: usize) {
        if n > 1 {
            let pad = (n - (self.buf.len() % n)) % n;
            self.buf.resize(self.buf.len() + pad, 0);
        }
    }

    /// Appends raw bytes (no alignment).
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Appends a `u8`.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Aligns to 2 and appends a `u16`.
    pub fn u16(&mut self, v: u16) {
        self.align(2);
        match self.drep.endian() {
            Endian::Little => self.bytes(&v.to_le_bytes()),
            Endian::Big => self.bytes(&v.to_be_bytes()),
        }
    }

    /// Aligns to 4 and appends a `u32`.
    pub fn u32(&mut self, v: u32) {
        self.align(4);
        match self.drep.endian() {
            Endian::Little => self.bytes(&v.to_le_bytes()),
            Endian::Big => self.bytes(&v.to_be_bytes()),
        }
    }

    /// Aligns to 8 and appends a `u64`.
    pub fn u64(&mut self, v: u64) {
        self.align(8);
        match self.drep.endian() {
            Endian::Little => self.bytes(&v.to_le_bytes()),
            Endian::Big => self.bytes(&v.to_be_bytes()),
        }
    }

    /// A fresh non-zero referent id for an embedded or unique pointer.
    pub fn next_ref_id(&mut self) -> u32 {
        let id = self.next_ref_id;
        self.next_ref_id = self.next_ref_id.wrapping_add(4).max(FIRST_REF_ID);
        id
    }

    /// The referent id of a full pointer to the object at `addr` (the same id for the same
    /// object within one stream).
    pub fn full_pointer_id(&mut self, addr: usize) -> u32 {
        if let Some(&(_, id, _)) = self.full_pointers.iter().find(|(a, _, _)| *a == addr) {
            return id;
        }
        let id = self.next_ref_id();
        self.full_pointers.push((addr, id, false));
        id
    }

    /// Marks the referent of the full pointer to `addr` as written; true the first time
    /// (only then is the referent written).
    pub fn full_pointer_first_write(&mut self, addr: usize) -> bool {
        match self.full_pointers.iter_mut().find(|(a, _, _)| *a == addr) {
            Some((_, _, written)) if !*written => {
                *written = true;
                true
            }
            Some(_) => false,
            None => true,
        }
    }
}
