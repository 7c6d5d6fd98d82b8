//! Pointers (C706 14.3.10-14.3.12): [`Ref`], [`Unique`] and [`Full`].
//!
//! An embedded pointer is a referent id among its construct's scalars (4 bytes in NDR20, 8
//! bytes aligned to 8 in NDR64, MS-RPCE 2.2.5.2.3); its referent is
//! written later, in the construct's buffers phase. Between the two phases of a decode a
//! pointer is *pending*: it knows the referent is coming but does not hold it yet. A value
//! returned by [`Ndr::decode`] never has a pending pointer.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::{DecodeErrorKind, DecodeResult, EncodeResult, Ndr, Reader, Writer};

fn charge_box<T>(r: &mut Reader<'_>) -> DecodeResult<()> {
    r.reserve(1, 0, std::mem::size_of::<T>()).map(|_| ())
}

/// A `[unique]` pointer: null or a referent of its own (no aliasing).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Unique<T> {
    value: Option<Box<T>>,
    pending: bool,
}

impl<T> Unique<T> {
    /// A pointer to `value`.
    pub fn new(value: T) -> Self {
        Unique {
            value: Some(Box::new(value)),
            pending: false,
        }
    }

    /// The null pointer.
    pub const fn null() -> Self {
        Unique {
            value: None,
            pending: false,
        }
    }

    /// The referent, or `None` for null.
    pub fn get(&self) -> Option<&T> {
        self.value.as_deref()
    }

    /// The referent, mutably.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.value.as_deref_mut()
    }

    /// True for the null pointer.
    pub fn is_null(&self) -> bool {
        self.value.is_none() && !self.pending
    }

    /// The referent, consuming the pointer.
    pub fn into_inner(self) -> Option<T> {
        self.value.map(|b| *b)
    }

    /// Writes the referent id (0 for null).
    pub fn encode_pointer(&self, w: &mut Writer) -> EncodeResult {
        let id = if self.value.is_some() {
            w.next_ref_id()
        } else {
            0
        };
        w.ref_id(id);
        Ok(())
    }

    /// Writes the referent with `f`, if any.
    pub fn encode_referent_with(
        &self,
        w: &mut Writer,
        f: impl FnOnce(&T, &mut Writer) -> EncodeResult,
    ) -> EncodeResult {
        match &self.value {
            Some(v) => f(v, w),
            None => Ok(()),
        }
    }

    /// Reads the referent id; a non-zero id leaves the pointer pending.
    pub fn decode_pointer(r: &mut Reader<'_>) -> DecodeResult<Self> {
        let id = r.ref_id()?;
        Ok(Unique {
            value: None,
            pending: id != 0,
        })
    }

    /// Reads the pending referent with `f` (which reads it in full), if any.
    pub fn decode_referent_with(
        &mut self,
        r: &mut Reader<'_>,
        f: impl FnOnce(&mut Reader<'_>) -> DecodeResult<T>,
    ) -> DecodeResult<()> {
        if self.pending {
            charge_box::<T>(r)?;
            r.enter()?;
            let v = f(r);
            r.leave();
            self.value = Some(Box::new(v?));
            self.pending = false;
        }
        Ok(())
    }
}

impl<T> Default for Unique<T> {
    fn default() -> Self {
        Self::null()
    }
}

impl<T> From<Option<T>> for Unique<T> {
    fn from(v: Option<T>) -> Self {
        match v {
            Some(v) => Unique::new(v),
            None => Unique::null(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Unique<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.value, self.pending) {
            (Some(v), _) => f.debug_tuple("Unique").field(v).finish(),
            (None, true) => f.write_str("Unique(<pending>)"),
            (None, false) => f.write_str("Unique(null)"),
        }
    }
}

impl<T: Ndr> Ndr for Unique<T> {
    const ALIGN: usize = 4;
    const ALIGN64: usize = 8;
    const WIRE_MIN: usize = 4;
    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        self.encode_pointer(w)
    }
    fn encode_buffers(&self, w: &mut Writer) -> EncodeResult {
        self.encode_referent_with(w, |v, w| v.encode(w))
    }
    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        Self::decode_pointer(r)
    }
    fn decode_buffers(&mut self, r: &mut Reader<'_>) -> DecodeResult<()> {
        self.decode_referent_with(r, T::decode)
    }
}

/// An embedded `[ref]` pointer: never null; a referent id on the wire, the referent deferred.
/// (A top-level `[ref]` parameter has no wire form of its own; generated stubs write its
/// referent in place and do not use this type.)
///
/// The referent always follows, whatever the id says: decoding ignores the id's value (zero
/// included), as Windows' (`NdrpPointerUnmarshall`: no check for `FC_RP`), Samba's
/// (`ndr_pull_ref_ptr`) and Wine's NDR engines do; encoding writes a fresh non-zero id.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Ref<T>(pub Box<T>);

impl<T> Ref<T> {
    /// A pointer to `value`.
    pub fn new(value: T) -> Self {
        Ref(Box::new(value))
    }

    /// The referent, consuming the pointer.
    pub fn into_inner(self) -> T {
        *self.0
    }

    /// Writes a referent id.
    pub fn encode_pointer(&self, w: &mut Writer) -> EncodeResult {
        let id = w.next_ref_id();
        w.ref_id(id);
        Ok(())
    }

    /// Reads (and ignores) a referent id: the referent follows in any case.
    pub fn decode_pointer(r: &mut Reader<'_>) -> DecodeResult<Self>
    where
        T: Default,
    {
        r.ref_id()?;
        Ok(Ref(Box::default()))
    }

    /// Reads the referent with `f`.
    pub fn decode_referent_with(
        &mut self,
        r: &mut Reader<'_>,
        f: impl FnOnce(&mut Reader<'_>) -> DecodeResult<T>,
    ) -> DecodeResult<()> {
        r.enter()?;
        let v = f(r);
        r.leave();
        *self.0 = v?;
        Ok(())
    }
}

impl<T> std::ops::Deref for Ref<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Ref<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ref").field(&self.0).finish()
    }
}

impl<T: Ndr + Default> Ndr for Ref<T> {
    const ALIGN: usize = 4;
    const ALIGN64: usize = 8;
    const WIRE_MIN: usize = 4;
    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        self.encode_pointer(w)
    }
    fn encode_buffers(&self, w: &mut Writer) -> EncodeResult {
        self.0.encode(w)
    }
    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        charge_box::<T>(r)?;
        Self::decode_pointer(r)
    }
    fn decode_buffers(&mut self, r: &mut Reader<'_>) -> DecodeResult<()> {
        self.decode_referent_with(r, T::decode)
    }
}

/// A full (`[ptr]`) pointer: may be null and may alias. Two `Full` pointers to the same `Arc`
/// in one stream share a referent id and the referent is written once; a decode gives aliases
/// the same `Arc`.
#[derive(Clone)]
pub struct Full<T> {
    value: Option<Arc<T>>,
    pending: u64,
}

impl<T> Full<T> {
    /// A pointer to a new referent.
    pub fn new(value: T) -> Self {
        Self::from_arc(Arc::new(value))
    }

    /// A pointer to a shared referent (clone the `Arc` to alias it).
    pub fn from_arc(value: Arc<T>) -> Self {
        Full {
            value: Some(value),
            pending: 0,
        }
    }

    /// The null pointer.
    pub const fn null() -> Self {
        Full {
            value: None,
            pending: 0,
        }
    }

    /// The referent, or `None` for null.
    pub fn get(&self) -> Option<&Arc<T>> {
        self.value.as_ref()
    }

    /// True for the null pointer.
    pub fn is_null(&self) -> bool {
        self.value.is_none() && self.pending == 0
    }
}

impl<T: Any + Send + Sync> Full<T> {
    /// Writes the referent id (0 for null; an alias of a referent already in the stream
    /// writes that referent's id).
    pub fn encode_pointer(&self, w: &mut Writer) -> EncodeResult {
        let id = match &self.value {
            Some(v) => w.full_pointer_id(Arc::as_ptr(v) as usize),
            None => 0,
        };
        w.ref_id(id);
        Ok(())
    }

    /// Writes the referent with `f` the first time the stream meets it (generated code uses
    /// this for a referent with attributes of its own, `[ptr, size_is(n)] BYTE *p`).
    pub fn encode_referent_with(
        &self,
        w: &mut Writer,
        f: impl FnOnce(&T, &mut Writer) -> EncodeResult,
    ) -> EncodeResult {
        match &self.value {
            Some(v) if w.full_pointer_first_write(Arc::as_ptr(v) as usize) => f(v, w),
            _ => Ok(()),
        }
    }

    /// Reads the referent id; a non-zero id leaves the pointer pending.
    pub fn decode_pointer(r: &mut Reader<'_>) -> DecodeResult<Self> {
        Ok(Full {
            value: None,
            pending: r.ref_id()?,
        })
    }

    /// Resolves a pending pointer: an id the stream already gave a referent aliases it (of
    /// the same type), otherwise `f` reads the referent in full.
    pub fn decode_referent_with(
        &mut self,
        r: &mut Reader<'_>,
        f: impl FnOnce(&mut Reader<'_>) -> DecodeResult<T>,
    ) -> DecodeResult<()> {
        let id = self.pending;
        if id == 0 {
            return Ok(());
        }
        if let Some(any) = r.full_pointer(id) {
            let v = any
                .downcast::<T>()
                .map_err(|_| r.error(DecodeErrorKind::FullPointerTypeMismatch(id)))?;
            self.value = Some(v);
        } else {
            charge_box::<T>(r)?;
            r.enter()?;
            let v = f(r);
            r.leave();
            let v = Arc::new(v?);
            r.set_full_pointer(id, v.clone());
            self.value = Some(v);
        }
        self.pending = 0;
        Ok(())
    }
}

impl<T> Default for Full<T> {
    fn default() -> Self {
        Self::null()
    }
}

impl<T: PartialEq> PartialEq for Full<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value && self.pending == other.pending
    }
}

impl<T: fmt::Debug> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => f.debug_tuple("Full").field(v).finish(),
            None if self.pending != 0 => f.write_str("Full(<pending>)"),
            None => f.write_str("Full(null)"),
        }
    }
}

impl<T: Ndr + Any + Send + Sync> Ndr for Full<T> {
    const ALIGN: usize = 4;
    const ALIGN64: usize = 8;
    const WIRE_MIN: usize = 4;
    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        self.encode_pointer(w)
    }
    fn encode_buffers(&self, w: &mut Writer) -> EncodeResult {
        self.encode_referent_with(w, |v, w| v.encode(w))
    }
    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        Self::decode_pointer(r)
    }
    fn decode_buffers(&mut self, r: &mut Reader<'_>) -> DecodeResult<()> {
        self.decode_referent_with(r, T::decode)
    }
}
