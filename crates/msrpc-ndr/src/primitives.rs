//! [`Ndr`] for primitive types, GUIDs, fixed arrays and conformant arrays (`Vec<T>`).

use crate::{DecodeErrorKind, DecodeResult, EncodeError, EncodeResult, Ndr, Reader, Uuid, Writer};

macro_rules! int_impl {
    ($t:ty, $via:ty, $read:ident, $write:ident, $size:expr) => {
        impl Ndr for $t {
            const ALIGN: usize = $size;
            const WIRE_MIN: usize = $size;
            const SCALARS_ONLY: bool = true;
            fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
                w.$write(*self as $via);
                Ok(())
            }
            fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
                Ok(r.$read()? as $t)
            }
        }
    };
}

int_impl!(u16, u16, u16, u16, 2);
int_impl!(i16, u16, u16, u16, 2);
int_impl!(u32, u32, u32, u32, 4);
int_impl!(i32, u32, u32, u32, 4);
int_impl!(u64, u64, u64, u64, 8);
int_impl!(i64, u64, u64, u64, 8);
int_impl!(i8, u8, u8, u8, 1);

impl Ndr for u8 {
    const ALIGN: usize = 1;
    const WIRE_MIN: usize = 1;
    const SCALARS_ONLY: bool = true;
    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        w.u8(*self);
        Ok(())
    }
    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        r.u8()
    }
    fn encode_scalars_slice(items: &[Self], w: &mut Writer) -> EncodeResult {
        w.bytes(items);
        Ok(())
    }
    fn decode_scalars_vec(r: &mut Reader<'_>, count: usize) -> DecodeResult<Vec<Self>> {
        Ok(r.take(count)?.to_vec())
    }
}

/// NDR `boolean`: one byte, zero is false, anything else true.
impl Ndr for bool {
    const ALIGN: usize = 1;
    const WIRE_MIN: usize = 1;
    const SCALARS_ONLY: bool = true;
    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        w.u8(u8::from(*self));
        Ok(())
    }
    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        Ok(r.u8()? != 0)
    }
}

impl Ndr for f32 {
    const ALIGN: usize = 4;
    const WIRE_MIN: usize = 4;
    const SCALARS_ONLY: bool = true;
    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        w.u32(self.to_bits());
        Ok(())
    }
    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        r.check_ieee()?;
        Ok(f32::from_bits(r.u32()?))
    }
}

impl Ndr for f64 {
    const ALIGN: usize = 8;
    const WIRE_MIN: usize = 8;
    const SCALARS_ONLY: bool = true;
    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        w.u64(self.to_bits());
        Ok(())
    }
    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        r.check_ieee()?;
        Ok(f64::from_bits(r.u64()?))
    }
}

/// A GUID (`uuid_t`, C706 appendix A): `u32 time_low, u16 time_mid, u16 time_hi_and_version`
/// in the stream's byte order, then 8 bytes as they are.
impl Ndr for Uuid {
    const ALIGN: usize = 4;
    const WIRE_MIN: usize = 16;
    const SCALARS_ONLY: bool = true;
    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        let (a, b, c, d) = self.as_fields();
        w.u32(a);
        w.u16(b);
        w.u16(c);
        w.bytes(d);
        Ok(())
    }
    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        let a = r.u32()?;
        let b = r.u16()?;
        let c = r.u16()?;
        let d = r.take(8)?;
        let mut tail = [0u8; 8];
        tail.copy_from_slice(d);
        Ok(Uuid::from_fields(a, b, c, &tail))
    }
}

/// A fixed array `T[N]`: N elements inline, no counts.
impl<T: Ndr, const N: usize> Ndr for [T; N] {
    const ALIGN: usize = T::ALIGN;
    const ALIGN64: usize = T::ALIGN64;
    const WIRE_MIN: usize = T::WIRE_MIN * N;
    const SCALARS_ONLY: bool = T::SCALARS_ONLY;
    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        w.align_for::<T>();
        T::encode_scalars_slice(self, w)
    }
    fn encode_buffers(&self, w: &mut Writer) -> EncodeResult {
        if !T::SCALARS_ONLY {
            for it in self {
                it.encode_buffers(w)?;
            }
        }
        Ok(())
    }
    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        r.align_for::<T>()?;
        let n = r.reserve(N as u64, T::WIRE_MIN, std::mem::size_of::<T>())?;
        let v = T::decode_scalars_vec(r, n)?;
        v.try_into()
            .map_err(|_| r.error(DecodeErrorKind::Invalid("fixed array length")))
    }
    fn decode_buffers(&mut self, r: &mut Reader<'_>) -> DecodeResult<()> {
        if !T::SCALARS_ONLY {
            for (i, it) in self.iter_mut().enumerate() {
                it.decode_buffers(r).map_err(|e| e.at_index(i as u64))?;
            }
        }
        Ok(())
    }
}

/// A conformant array `T[]` (`[size_is]` taken from the vector's length): `max_count` (a
/// `u32`; a `u64` in NDR64), then the elements. This is the form of a pointer's referent or a top-level array; a
/// conformant array at the end of a structure is hoisted by the derive instead.
impl<T: Ndr> Ndr for Vec<T> {
    const ALIGN: usize = crate::max_align(4, T::ALIGN);
    const ALIGN64: usize = crate::max_align(8, T::ALIGN64);
    const WIRE_MIN: usize = 4;
    const SCALARS_ONLY: bool = T::SCALARS_ONLY;
    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        w.count(self.len() as u64, "array")?;
        crate::array::encode_elements_scalars(self, w)
    }
    fn encode_buffers(&self, w: &mut Writer) -> EncodeResult {
        crate::array::encode_elements_buffers(self, w)
    }
    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        let n = r.count()?;
        crate::array::decode_elements_scalars(r, n)
    }
    fn decode_buffers(&mut self, r: &mut Reader<'_>) -> DecodeResult<()> {
        crate::array::decode_elements_buffers(self, r)
    }
}

/// A structure with no members (for operations without parameters).
impl Ndr for () {
    const ALIGN: usize = 1;
    const WIRE_MIN: usize = 0;
    const SCALARS_ONLY: bool = true;
    fn encode_scalars(&self, _w: &mut Writer) -> EncodeResult {
        Ok(())
    }
    fn decode_scalars(_r: &mut Reader<'_>) -> DecodeResult<Self> {
        Ok(())
    }
}

/// `__int3264` (MS-RPCE 2.2.5.2.1, signed): 4 bytes in NDR20, 8 bytes in NDR64. Encoding a
/// value beyond 32 bits in NDR20 fails with [`EncodeError::OutOfRange`]; a 4-byte value is
/// sign-extended when decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Int3264(pub i64);

/// `unsigned __int3264`: 4 bytes in NDR20, 8 bytes in NDR64 (MS-RPCE 2.2.5.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UInt3264(pub u64);

impl Ndr for Int3264 {
    const ALIGN: usize = 4;
    const ALIGN64: usize = 8;
    const WIRE_MIN: usize = 4;
    const SCALARS_ONLY: bool = true;
    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        if w.is_ndr64() {
            w.u64(self.0 as u64);
        } else {
            let v = i32::try_from(self.0).map_err(|_| EncodeError::OutOfRange("__int3264"))?;
            w.u32(v as u32);
        }
        Ok(())
    }
    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        if r.is_ndr64() {
            Ok(Int3264(r.u64()? as i64))
        } else {
            Ok(Int3264(i64::from(r.u32()? as i32)))
        }
    }
}

impl Ndr for UInt3264 {
    const ALIGN: usize = 4;
    const ALIGN64: usize = 8;
    const WIRE_MIN: usize = 4;
    const SCALARS_ONLY: bool = true;
    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        w.count(self.0, "unsigned __int3264")
            .map_err(|_| EncodeError::OutOfRange("unsigned __int3264"))
    }
    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        r.count().map(UInt3264)
    }
}
