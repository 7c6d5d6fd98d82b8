//! Little-endian byte cursor and writer for the structures MS-DCOM defines as byte layouts
//! rather than NDR (OBJREF 2.2.18, the packet version of DUALSTRINGARRAY 2.2.19.1).

use msrpc_ndr::Uuid;

use crate::error::{DcomError, DcomResult};

/// A bounds-checked reader; nothing indexes past the end.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Cursor { buf, pos: 0, what }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn take(&mut self, n: usize) -> DcomResult<&'a [u8]> {
        let end = self.pos.checked_add(n);
        match end.and_then(|e| self.buf.get(self.pos..e).map(|s| (e, s))) {
            Some((e, s)) => {
                self.pos = e;
                Ok(s)
            }
            None => Err(DcomError::Truncated {
                what: self.what,
                needed: n,
                available: self.remaining(),
            }),
        }
    }

    fn array<const N: usize>(&mut self) -> DcomResult<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u16(&mut self) -> DcomResult<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> DcomResult<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> DcomResult<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A GUID in its little-endian byte layout (MS-DTYP 2.3.4.2).
    pub(crate) fn uuid(&mut self) -> DcomResult<Uuid> {
        Ok(Uuid::from_bytes_le(self.array()?))
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        s
    }

    pub(crate) fn finish(&self) -> DcomResult<()> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DcomError::TrailingBytes {
                what: self.what,
                count,
            }),
        }
    }
}

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_uuid(out: &mut Vec<u8>, v: &Uuid) {
    out.extend_from_slice(&v.to_bytes_le());
}
