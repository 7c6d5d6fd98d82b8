//! Bounds-checked little-endian reads: every accessor answers `None` past the end of the
//! slice, so no parser in this crate indexes peer data.

/// The byte at `at`.
pub(crate) fn u8_at(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).copied()
}

/// The little-endian `u16` at `at`.
pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes(s.try_into().ok()?))
}

/// The little-endian `u32` at `at`.
pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

/// The little-endian `u64` at `at`.
pub(crate) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(s.try_into().ok()?))
}

/// The 16 bytes at `at`.
pub(crate) fn id16_at(b: &[u8], at: usize) -> Option<[u8; 16]> {
    b.get(at..at.checked_add(16)?)?.try_into().ok()
}

/// `len` bytes at `at`, when they are all inside `b`.
pub(crate) fn range(b: &[u8], at: usize, len: usize) -> Option<&[u8]> {
    b.get(at..at.checked_add(len)?)
}

/// UTF-16LE text from `b` (an odd last byte ignored), cut at the first NUL, at most `max`
/// characters; invalid code units become U+FFFD.
pub(crate) fn utf16(b: &[u8], max: usize) -> String {
    let units = b
        .chunks_exact(2)
        .map(|c| {
            u16::from_le_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .take_while(|u| *u != 0);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .take(max)
        .collect()
}

/// 8-bit (OEM) text from `b`, cut at the first NUL, at most `max` characters; bytes past
/// ASCII are shown as Latin-1.
pub(crate) fn oem(b: &[u8], max: usize) -> String {
    b.iter()
        .take_while(|c| **c != 0)
        .take(max)
        .map(|c| char::from(*c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(u16_at(&b, 3), Some(0x0504));
        assert_eq!(u16_at(&b, 4), None);
        assert_eq!(u32_at(&b, 2), None);
        assert_eq!(u64_at(&b, 0), None);
        assert_eq!(u16_at(&b, usize::MAX), None);
        assert_eq!(range(&b, usize::MAX, 2), None);
        assert_eq!(range(&b, 1, 4), Some(&b[1..]));
    }

    #[test]
    fn text_stops_at_nul_and_max() {
        assert_eq!(utf16(b"s\0r\0v\0\0\0x\0", 64), "srv");
        assert_eq!(utf16(b"s\0r\0v\0", 2), "sr");
        // An unpaired surrogate is replaced, an odd trailing byte ignored.
        assert_eq!(utf16(&[0x00, 0xd8, b'a', 0, 7], 8), "\u{fffd}a");
        assert_eq!(oem(b"IPC\0A:", 16), "IPC");
    }
}
