//! `[string]` arrays (C706 14.3.4): strings carried with their terminating NUL, as
//! conformant-varying arrays (`[string] wchar_t *`, `[string] char *`) or as varying arrays of
//! fixed size (`[string] char name[64]`). `wchar_t` strings are UTF-16; `char` strings are
//! read as Latin-1 (each byte one character) so every byte sequence round-trips.
//!
//! Decoding refuses a string whose last element is not NUL ([`DecodeErrorKind::UnterminatedString`]).
//! A string with a NUL before its terminator decodes to the text before that first NUL (what the
//! C code of Windows and Samba sees), so every decoded value re-encodes; encoding refuses an
//! embedded NUL ([`EncodeError::EmbeddedNul`]).

use crate::{DecodeErrorKind, DecodeResult, EncodeError, EncodeResult, Reader, Writer};

/// A string's `offset` and `actual_count` (returned): the offset must be 0 (a string starts at
/// its first character; Windows' and Samba's NDR engines refuse any other offset) and
/// actual_count within `max`.
fn read_string_variance(r: &mut Reader<'_>, max: u64) -> DecodeResult<u64> {
    let offset = r.count()?;
    let actual = r.count()?;
    if offset != 0 {
        return Err(r.error(DecodeErrorKind::Invalid("string offset must be 0")));
    }
    if actual > max {
        return Err(r.error(DecodeErrorKind::VarianceBeyondConformance {
            max,
            offset,
            actual,
        }));
    }
    Ok(actual)
}

fn wide_units(s: &str, field: &'static str) -> EncodeResult<Vec<u16>> {
    let mut units: Vec<u16> = s.encode_utf16().collect();
    if units.contains(&0) {
        return Err(EncodeError::EmbeddedNul(field));
    }
    units.push(0);
    Ok(units)
}

/// The `char` elements of `s` with its terminator, after checking that every character fits
/// in eight bits (ISO 8859-1) and none is NUL.
fn char_count(s: &str, field: &'static str) -> EncodeResult<usize> {
    if s.is_ascii() {
        if s.as_bytes().contains(&0) {
            return Err(EncodeError::EmbeddedNul(field));
        }
        return Ok(s.len() + 1);
    }
    let mut n = 1usize;
    for c in s.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(0) => return Err(EncodeError::EmbeddedNul(field)),
            Ok(_) => n += 1,
            Err(_) => return Err(EncodeError::NotEightBit(field)),
        }
    }
    Ok(n)
}

/// Writes the elements [`char_count`] counted (checked there): one byte per character, then
/// the terminator.
fn write_chars(w: &mut Writer, s: &str) {
    if s.is_ascii() {
        w.bytes(s.as_bytes());
    } else {
        for c in s.chars() {
            w.u8(u8::try_from(u32::from(c)).unwrap_or(b'?'));
        }
    }
    w.u8(0);
}

/// Writes max_count, offset 0 and actual_count (`u32`s in NDR20, `u64`s in NDR64).
fn write_cv(w: &mut Writer, max: u64, n: u64, field: &'static str) -> EncodeResult {
    w.count(max, field)?;
    w.count(0, field)?;
    w.count(n, field)
}

fn write_units(w: &mut Writer, units: &[u16]) {
    for u in units {
        w.u16(*u);
    }
}

fn read_wide(r: &mut Reader<'_>, actual: u64) -> DecodeResult<String> {
    let n = r.reserve(actual, 2, 2)?;
    let mut units = Vec::with_capacity(n);
    for _ in 0..n {
        units.push(r.u16()?);
    }
    match units.pop() {
        Some(0) => {}
        _ => return Err(r.error(DecodeErrorKind::UnterminatedString)),
    }
    // The string ends at its first NUL, as the C code on either side sees it.
    if let Some(nul) = units.iter().position(|&u| u == 0) {
        units.truncate(nul);
    }
    String::from_utf16(&units).map_err(|_| r.error(DecodeErrorKind::InvalidString))
}

fn read_char(r: &mut Reader<'_>, actual: u64) -> DecodeResult<String> {
    r.check_ascii()?;
    let n = r.reserve(actual, 1, 4)?;
    let bytes = r.take(n)?;
    match bytes.split_last() {
        Some((0, body)) => Ok(body
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| char::from(b))
            .collect()),
        _ => Err(r.error(DecodeErrorKind::UnterminatedString)),
    }
}

/// Writes a conformant-varying `wchar_t` string: max_count, offset 0, actual_count, UTF-16
/// units with the terminating NUL.
pub fn encode_wide(s: &str, field: &'static str, w: &mut Writer) -> EncodeResult {
    let units = wide_units(s, field)?;
    let n = units.len() as u64;
    write_cv(w, n, n, field)?;
    write_units(w, &units);
    Ok(())
}

/// Reads a conformant-varying `wchar_t` string.
pub fn decode_wide(r: &mut Reader<'_>) -> DecodeResult<String> {
    let max = r.count()?;
    let actual = read_string_variance(r, max)?;
    read_wide(r, actual)
}

/// Writes a conformant-varying `char` string.
pub fn encode_char(s: &str, field: &'static str, w: &mut Writer) -> EncodeResult {
    if !w.drep().is_ascii() {
        return Err(EncodeError::CharRepNotAscii(field));
    }
    let n = char_count(s, field)? as u64;
    write_cv(w, n, n, field)?;
    write_chars(w, s);
    Ok(())
}

/// Reads a conformant-varying `char` string.
pub fn decode_char(r: &mut Reader<'_>) -> DecodeResult<String> {
    let max = r.count()?;
    let actual = read_string_variance(r, max)?;
    read_char(r, actual)
}

/// Writes a varying `wchar_t` string of fixed maximum `max` elements (terminator included).
pub fn encode_wide_varying(s: &str, max: u64, field: &'static str, w: &mut Writer) -> EncodeResult {
    let units = wide_units(s, field)?;
    if units.len() as u64 > max {
        return Err(EncodeError::TooLong(field));
    }
    w.count(0, field)?;
    w.count(units.len() as u64, field)?;
    write_units(w, &units);
    Ok(())
}

/// Reads a varying `wchar_t` string of fixed maximum `max` elements.
pub fn decode_wide_varying(r: &mut Reader<'_>, max: u64) -> DecodeResult<String> {
    let actual = read_string_variance(r, max)?;
    read_wide(r, actual)
}

/// Writes a varying `char` string of fixed maximum `max` elements (terminator included).
pub fn encode_char_varying(s: &str, max: u64, field: &'static str, w: &mut Writer) -> EncodeResult {
    if !w.drep().is_ascii() {
        return Err(EncodeError::CharRepNotAscii(field));
    }
    let n = char_count(s, field)?;
    if n as u64 > max {
        return Err(EncodeError::TooLong(field));
    }
    w.count(0, field)?;
    w.count(n as u64, field)?;
    write_chars(w, s);
    Ok(())
}

/// Reads a varying `char` string of fixed maximum `max` elements. An actual_count of zero (no
/// terminator at all) is read as the empty string, as Windows sends for empty annotations.
pub fn decode_char_varying(r: &mut Reader<'_>, max: u64) -> DecodeResult<String> {
    let actual = read_string_variance(r, max)?;
    if actual == 0 {
        return Ok(String::new());
    }
    read_char(r, actual)
}

fn write_conformance(
    w: &mut Writer,
    len: usize,
    size_is: Option<u64>,
    field: &'static str,
) -> EncodeResult {
    let n = len as u64;
    let max = size_is.unwrap_or(n);
    if n > max {
        return Err(EncodeError::TooLong(field));
    }
    write_cv(w, max, n, field)
}

fn read_conformance(r: &mut Reader<'_>, size_is: Option<u64>) -> DecodeResult<u64> {
    let max = r.count()?;
    if let Some(n) = size_is {
        crate::array::check_count(r, n, max)?;
    }
    read_string_variance(r, max)
}

/// Writes a conformant-varying `wchar_t` string whose max_count is `size_is` (a
/// `[string, size_is(n)]` buffer) rather than the string's length; `None` is [`encode_wide`].
pub fn encode_wide_sized(
    s: &str,
    size_is: Option<u64>,
    field: &'static str,
    w: &mut Writer,
) -> EncodeResult {
    let units = wide_units(s, field)?;
    write_conformance(w, units.len(), size_is, field)?;
    write_units(w, &units);
    Ok(())
}

/// Reads a conformant-varying `wchar_t` string, checking max_count against `size_is` when given.
pub fn decode_wide_sized(r: &mut Reader<'_>, size_is: Option<u64>) -> DecodeResult<String> {
    let actual = read_conformance(r, size_is)?;
    read_wide(r, actual)
}

/// Reads a conformant-varying `wchar_t` string and returns its max_count beside it, unchecked:
/// for a `[string, size_is(n)]` whose `n` is decoded after it (a later parameter), which the
/// caller compares with max_count once `n` is known. Reads what [`decode_wide_sized`] reads.
pub fn decode_wide_counted(r: &mut Reader<'_>) -> DecodeResult<(String, u64)> {
    let max = r.count()?;
    let actual = read_string_variance(r, max)?;
    Ok((read_wide(r, actual)?, max))
}

/// Reads a conformant-varying `char` string and returns its max_count beside it, unchecked
/// (see [`decode_wide_counted`]). Reads what [`decode_char_sized`] reads.
pub fn decode_char_counted(r: &mut Reader<'_>) -> DecodeResult<(String, u64)> {
    let max = r.count()?;
    let actual = read_string_variance(r, max)?;
    Ok((read_char(r, actual)?, max))
}

/// Writes a conformant-varying `char` string whose max_count is `size_is`; `None` is
/// [`encode_char`].
pub fn encode_char_sized(
    s: &str,
    size_is: Option<u64>,
    field: &'static str,
    w: &mut Writer,
) -> EncodeResult {
    if !w.drep().is_ascii() {
        return Err(EncodeError::CharRepNotAscii(field));
    }
    write_conformance(w, char_count(s, field)?, size_is, field)?;
    write_chars(w, s);
    Ok(())
}

/// Reads a conformant-varying `char` string, checking max_count against `size_is` when given.
pub fn decode_char_sized(r: &mut Reader<'_>, size_is: Option<u64>) -> DecodeResult<String> {
    let actual = read_conformance(r, size_is)?;
    read_char(r, actual)
}
