//! Array forms of C706 14.3.3: conformant, varying and conformant-varying arrays, and the
//! element runs that conformant structures embed. Counts (max_count, offset, actual_count)
//! are `u32`s in NDR20 and `u64`s aligned to 8 in NDR64 (MS-RPCE 2.2.5.3.1, 2.2.5.3.3). Generated code calls these for fields with
//! `size_is` / `length_is`.

use crate::{DecodeErrorKind, DecodeResult, EncodeError, EncodeResult, Ndr, Reader, Writer};

/// Writes the elements' scalars (aligned to the element type), no counts.
pub fn encode_elements_scalars<T: Ndr>(items: &[T], w: &mut Writer) -> EncodeResult {
    w.align_for::<T>();
    T::encode_scalars_slice(items, w)
}

/// Writes the elements' buffers, in order.
pub fn encode_elements_buffers<T: Ndr>(items: &[T], w: &mut Writer) -> EncodeResult {
    if !T::SCALARS_ONLY {
        for it in items {
            it.encode_buffers(w)?;
        }
    }
    Ok(())
}

/// Reads `count` elements' scalars after checking `count` against the limits.
pub fn decode_elements_scalars<T: Ndr>(r: &mut Reader<'_>, count: u64) -> DecodeResult<Vec<T>> {
    let n = r.reserve(count, T::WIRE_MIN, std::mem::size_of::<T>())?;
    r.align_for::<T>()?;
    T::decode_scalars_vec(r, n)
}

/// Reads the elements' buffers, in order.
pub fn decode_elements_buffers<T: Ndr>(items: &mut [T], r: &mut Reader<'_>) -> DecodeResult<()> {
    if !T::SCALARS_ONLY {
        for (i, it) in items.iter_mut().enumerate() {
            it.decode_buffers(r).map_err(|e| e.at_index(i as u64))?;
        }
    }
    Ok(())
}

/// Checks that a count on the wire equals the value of a sizing expression.
pub fn check_count(r: &Reader<'_>, expected: u64, found: u64) -> DecodeResult<()> {
    if expected == found {
        Ok(())
    } else {
        Err(r.error(DecodeErrorKind::CountMismatch { expected, found }))
    }
}

/// Checks, before encoding, that an array's length equals its sizing expression's value.
pub fn check_len(field: &'static str, expected: u64, actual: usize) -> EncodeResult {
    if expected == actual as u64 {
        Ok(())
    } else {
        Err(EncodeError::CountMismatch {
            field,
            expected,
            actual: actual as u64,
        })
    }
}

/// Conformant array scalars: `max_count`, elements. `size_is`, when given, must equal the length.
pub fn encode_conformant<T: Ndr>(
    items: &[T],
    size_is: Option<u64>,
    field: &'static str,
    w: &mut Writer,
) -> EncodeResult {
    if let Some(n) = size_is {
        check_len(field, n, items.len())?;
    }
    w.count(items.len() as u64, field)?;
    encode_elements_scalars(items, w)
}

/// Reads a conformant array's scalars; `size_is`, when given, must equal the wire's max_count.
pub fn decode_conformant<T: Ndr>(r: &mut Reader<'_>, size_is: Option<u64>) -> DecodeResult<Vec<T>> {
    let max = r.count()?;
    if let Some(n) = size_is {
        check_count(r, n, max)?;
    }
    decode_elements_scalars(r, max)
}

/// Varying array scalars (fixed maximum `max`): `offset` (0), `actual_count`, elements.
pub fn encode_varying<T: Ndr>(
    items: &[T],
    max: u64,
    length_is: Option<u64>,
    field: &'static str,
    w: &mut Writer,
) -> EncodeResult {
    if let Some(n) = length_is {
        check_len(field, n, items.len())?;
    }
    if items.len() as u64 > max {
        return Err(EncodeError::TooLong(field));
    }
    w.count(0, field)?;
    w.count(items.len() as u64, field)?;
    encode_elements_scalars(items, w)
}

/// Reads a varying array's `offset` and `actual_count`, refusing them beyond `max`; returns
/// actual_count.
pub(crate) fn read_variance(r: &mut Reader<'_>, max: u64) -> DecodeResult<u64> {
    let offset = r.count()?;
    let actual = r.count()?;
    if offset.saturating_add(actual) > max {
        return Err(r.error(DecodeErrorKind::VarianceBeyondConformance {
            max,
            offset,
            actual,
        }));
    }
    Ok(actual)
}

/// Reads a varying array's scalars with fixed maximum `max`; `length_is`, when given, must
/// equal the wire's actual_count. The offset's elements are not transmitted and not returned.
pub fn decode_varying<T: Ndr>(
    r: &mut Reader<'_>,
    max: u64,
    length_is: Option<u64>,
) -> DecodeResult<Vec<T>> {
    let actual = read_variance(r, max)?;
    if let Some(n) = length_is {
        check_count(r, n, actual)?;
    }
    decode_elements_scalars(r, actual)
}

/// Conformant-varying array scalars: `max_count` (`size_is`, or the length), `offset` (0),
/// `actual_count` (the length, which `length_is` must equal), elements.
pub fn encode_conformant_varying<T: Ndr>(
    items: &[T],
    size_is: Option<u64>,
    length_is: Option<u64>,
    field: &'static str,
    w: &mut Writer,
) -> EncodeResult {
    if let Some(n) = length_is {
        check_len(field, n, items.len())?;
    }
    let max = size_is.unwrap_or(items.len() as u64);
    if (items.len() as u64) > max {
        return Err(EncodeError::TooLong(field));
    }
    w.count(max, field)?;
    w.count(0, field)?;
    w.count(items.len() as u64, field)?;
    encode_elements_scalars(items, w)
}

/// Reads a conformant-varying array's scalars, checking `size_is` against max_count and
/// `length_is` against actual_count when given.
pub fn decode_conformant_varying<T: Ndr>(
    r: &mut Reader<'_>,
    size_is: Option<u64>,
    length_is: Option<u64>,
) -> DecodeResult<Vec<T>> {
    let max = r.count()?;
    if let Some(n) = size_is {
        check_count(r, n, max)?;
    }
    let actual = read_variance(r, max)?;
    if let Some(n) = length_is {
        check_count(r, n, actual)?;
    }
    decode_elements_scalars(r, actual)
}
