//! Streaming reader for pcap (all four magic numbers: micro/nanosecond, both byte orders) and
//! pcapng (section header, interface description, enhanced, simple and obsolete packet blocks;
//! per-section byte order, per-interface link type and timestamp resolution).
//!
//! The file is read record by record through a `BufRead`; one record buffer is reused, and a
//! record longer than [`MAX_RECORD`] is refused, so memory does not grow with the file.

use std::io::{self, Read};

/// Largest block or record accepted (pcapng blocks and pcap records alike).
pub const MAX_RECORD: usize = 16 * 1024 * 1024;
/// Interfaces per pcapng section kept (more is refused as corrupt).
const MAX_INTERFACES: usize = 4096;

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Reading failed.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    /// The first bytes are neither a pcap nor a pcapng magic number.
    #[error("not a pcap or pcapng file (magic {0:#010x})")]
    BadMagic(u32),
    /// A record or block is malformed.
    #[error("corrupt capture at byte {offset}: {what}")]
    Corrupt {
        /// File offset of the record.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
}

/// One captured packet, borrowed from the reader's buffer.
#[derive(Debug)]
pub struct Packet<'a> {
    /// Seconds since the Unix epoch.
    pub ts: f64,
    /// Link type (LINKTYPE_* number).
    pub linktype: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

#[derive(Clone, Copy, Debug)]
enum Format {
    Pcap {
        big: bool,
        nanos: bool,
        linktype: u32,
    },
    PcapNg {
        big: bool,
    },
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    /// Timestamp units per second.
    units: f64,
}

/// A streaming capture reader.
pub struct CaptureReader<R> {
    inner: R,
    format: Format,
    buf: Vec<u8>,
    offset: u64,
    interfaces: Vec<Interface>,
}

fn rd_u32(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(s)
    } else {
        u32::from_le_bytes(s)
    })
}

fn rd_u16(b: &[u8], at: usize, big: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if big {
        u16::from_be_bytes(s)
    } else {
        u16::from_le_bytes(s)
    })
}

/// Reads exactly `buf.len()` bytes; `Ok(false)` on a clean end of file before the first byte,
/// an error on an end of file inside.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        let rest = buf.get_mut(got..).unwrap_or_default();
        match r.read(rest) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

impl<R: Read> CaptureReader<R> {
    /// Opens a capture: reads and checks the file header.
    pub fn new(mut inner: R) -> Result<Self, CaptureError> {
        let mut magic = [0u8; 4];
        if !read_full(&mut inner, &mut magic)? {
            return Err(CaptureError::BadMagic(0));
        }
        let m = u32::from_le_bytes(magic);
        let mut reader = CaptureReader {
            inner,
            format: Format::PcapNg { big: false },
            buf: Vec::new(),
            offset: 4,
            interfaces: Vec::new(),
        };
        let pcap = |big, nanos| Format::Pcap {
            big,
            nanos,
            linktype: 0,
        };
        reader.format = match m {
            0xa1b2_c3d4 => pcap(false, false),
            0xd4c3_b2a1 => pcap(true, false),
            0xa1b2_3c4d => pcap(false, true),
            0x4d3c_b2a1 => pcap(true, true),
            0x0a0d_0d0a => {
                reader.read_section_header()?;
                return Ok(reader);
            }
            other => return Err(CaptureError::BadMagic(other)),
        };
        let mut rest = [0u8; 20];
        if !read_full(&mut reader.inner, &mut rest)? {
            return Err(reader.corrupt("truncated pcap header"));
        }
        reader.offset += 20;
        if let Format::Pcap { big, nanos, .. } = reader.format {
            let linktype = rd_u32(&rest, 16, big).unwrap_or(0) & 0x0fff_ffff;
            reader.format = Format::Pcap {
                big,
                nanos,
                linktype,
            };
        }
        Ok(reader)
    }

    fn corrupt(&self, what: &'static str) -> CaptureError {
        CaptureError::Corrupt {
            offset: self.offset,
            what,
        }
    }

    /// Bytes consumed so far (for progress).
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Reads a section header block whose type (4 bytes) was already consumed.
    fn read_section_header(&mut self) -> Result<(), CaptureError> {
        let mut head = [0u8; 8];
        if !read_full(&mut self.inner, &mut head)? {
            return Err(self.corrupt("truncated section header"));
        }
        let bom = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let big = match bom {
            0x1a2b_3c4d => false,
            0x4d3c_2b1a => true,
            _ => return Err(self.corrupt("bad byte-order magic")),
        };
        let total = rd_u32(&head, 0, big).unwrap_or(0) as usize;
        if !(28..=MAX_RECORD).contains(&total) || total % 4 != 0 {
            return Err(self.corrupt("bad section header length"));
        }
        // Skip the rest (version, section length, options, trailing length).
        self.skip(total - 12)?;
        self.offset += total as u64 - 4;
        self.format = Format::PcapNg { big };
        self.interfaces.clear();
        Ok(())
    }

    fn skip(&mut self, n: usize) -> Result<(), CaptureError> {
        let copied = io::copy(&mut (&mut self.inner).take(n as u64), &mut io::sink())?;
        if copied != n as u64 {
            return Err(self.corrupt("truncated block"));
        }
        Ok(())
    }

    /// The next packet, `Ok(None)` at the end of the file.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        match self.format {
            Format::Pcap {
                big,
                nanos,
                linktype,
            } => self.next_pcap(big, nanos, linktype),
            Format::PcapNg { .. } => self.next_pcapng(),
        }
    }

    fn next_pcap(
        &mut self,
        big: bool,
        nanos: bool,
        linktype: u32,
    ) -> Result<Option<Packet<'_>>, CaptureError> {
        let mut head = [0u8; 16];
        if !read_full(&mut self.inner, &mut head)? {
            return Ok(None);
        }
        let sec = rd_u32(&head, 0, big).unwrap_or(0);
        let frac = rd_u32(&head, 4, big).unwrap_or(0);
        let incl = rd_u32(&head, 8, big).unwrap_or(0) as usize;
        if incl > MAX_RECORD {
            return Err(self.corrupt("record longer than the limit"));
        }
        self.buf.resize(incl, 0);
        if !read_full(&mut self.inner, &mut self.buf)? && incl > 0 {
            return Err(self.corrupt("truncated record"));
        }
        self.offset += 16 + incl as u64;
        let div = if nanos { 1e9 } else { 1e6 };
        Ok(Some(Packet {
            ts: f64::from(sec) + f64::from(frac) / div,
            linktype,
            data: &self.buf,
        }))
    }

    fn next_pcapng(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        // Bounded: every iteration consumes at least 12 bytes of the file.
        loop {
            let mut head = [0u8; 8];
            if !read_full(&mut self.inner, &mut head)? {
                return Ok(None);
            }
            let btype_le = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            if btype_le == 0x0a0d_0d0a {
                // A new section: the byte-order magic follows the length.
                self.offset += 4;
                let mut rest = [0u8; 4];
                rest.copy_from_slice(&head[4..8]);
                // Re-read the section header with its length already in hand.
                let mut bom = [0u8; 4];
                if !read_full(&mut self.inner, &mut bom)? {
                    return Err(self.corrupt("truncated section header"));
                }
                let big = match u32::from_le_bytes(bom) {
                    0x1a2b_3c4d => false,
                    0x4d3c_2b1a => true,
                    _ => return Err(self.corrupt("bad byte-order magic")),
                };
                let total = rd_u32(&rest, 0, big).unwrap_or(0) as usize;
                if !(28..=MAX_RECORD).contains(&total) || total % 4 != 0 {
                    return Err(self.corrupt("bad section header length"));
                }
                self.skip(total - 12)?;
                self.offset += total as u64 - 4;
                self.format = Format::PcapNg { big };
                self.interfaces.clear();
                continue;
            }
            let big = matches!(self.format, Format::PcapNg { big: true });
            let btype = rd_u32(&head, 0, big).unwrap_or(0);
            let total = rd_u32(&head, 4, big).unwrap_or(0) as usize;
            if !(12..=MAX_RECORD).contains(&total) {
                return Err(self.corrupt("bad block length"));
            }
            let body_len = total - 8;
            self.buf.resize(body_len, 0);
            if !read_full(&mut self.inner, &mut self.buf)? && body_len > 0 {
                return Err(self.corrupt("truncated block"));
            }
            self.offset += total as u64;
            let body_end = body_len - 4; // trailing total length
            match btype {
                // Interface description block.
                1 => {
                    let linktype = u32::from(rd_u16(&self.buf, 0, big).unwrap_or(0));
                    let units = self.tsresol(8, body_end, big);
                    if self.interfaces.len() >= MAX_INTERFACES {
                        return Err(self.corrupt("too many interfaces"));
                    }
                    self.interfaces.push(Interface { linktype, units });
                }
                // Enhanced packet block / obsolete packet block.
                6 | 2 => {
                    let (ifid, ts_hi, ts_lo, caplen) = if btype == 6 {
                        (
                            rd_u32(&self.buf, 0, big),
                            rd_u32(&self.buf, 4, big),
                            rd_u32(&self.buf, 8, big),
                            rd_u32(&self.buf, 12, big),
                        )
                    } else {
                        (
                            rd_u16(&self.buf, 0, big).map(u32::from),
                            rd_u32(&self.buf, 4, big),
                            rd_u32(&self.buf, 8, big),
                            rd_u32(&self.buf, 12, big),
                        )
                    };
                    let (Some(ifid), Some(hi), Some(lo), Some(caplen)) =
                        (ifid, ts_hi, ts_lo, caplen)
                    else {
                        return Err(self.corrupt("truncated packet block"));
                    };
                    let Some(iface) = self.interfaces.get(ifid as usize).copied() else {
                        return Err(self.corrupt("packet for an undeclared interface"));
                    };
                    let start = 20usize;
                    let end = start.saturating_add(caplen as usize);
                    if end > body_end {
                        return Err(self.corrupt("packet data beyond its block"));
                    }
                    let raw = (u64::from(hi) << 32) | u64::from(lo);
                    let ts = raw as f64 / iface.units;
                    let data = self.buf.get(start..end).unwrap_or_default();
                    return Ok(Some(Packet {
                        ts,
                        linktype: iface.linktype,
                        data,
                    }));
                }
                // Simple packet block: no timestamp, interface 0.
                3 => {
                    let Some(iface) = self.interfaces.first().copied() else {
                        return Err(self.corrupt("packet for an undeclared interface"));
                    };
                    let orig = rd_u32(&self.buf, 0, big).unwrap_or(0) as usize;
                    let end = 4usize.saturating_add(orig).min(body_end);
                    let data = self.buf.get(4..end).unwrap_or_default();
                    return Ok(Some(Packet {
                        ts: 0.0,
                        linktype: iface.linktype,
                        data,
                    }));
                }
                _ => {}
            }
        }
    }

    /// `if_tsresol` from an interface block's options (starting at `at`), as units per second.
    fn tsresol(&self, mut at: usize, end: usize, big: bool) -> f64 {
        let mut units = 1e6;
        // Bounded: each option advances `at` by at least 4.
        while at + 4 <= end {
            let code = rd_u16(&self.buf, at, big).unwrap_or(0);
            let len = usize::from(rd_u16(&self.buf, at + 2, big).unwrap_or(0));
            if code == 0 {
                break;
            }
            if code == 9 && len >= 1 {
                if let Some(&v) = self.buf.get(at + 4) {
                    let exp = i32::from(v & 0x7f);
                    units = if v & 0x80 != 0 {
                        2f64.powi(exp)
                    } else {
                        10f64.powi(exp)
                    };
                }
            }
            at += 4 + len.div_ceil(4) * 4;
        }
        units
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_file(big: bool, nanos: bool, packets: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let w16 = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut f = Vec::new();
        f.extend(w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
        f.extend(w16(2));
        f.extend(w16(4));
        f.extend(w32(0));
        f.extend(w32(0));
        f.extend(w32(65535));
        f.extend(w32(1));
        for (s, frac, d) in packets {
            f.extend(w32(*s));
            f.extend(w32(*frac));
            f.extend(w32(d.len() as u32));
            f.extend(w32(d.len() as u32));
            f.extend_from_slice(d);
        }
        f
    }

    #[test]
    fn pcap_all_magics() {
        for big in [false, true] {
            for nanos in [false, true] {
                let f = pcap_file(big, nanos, &[(10, 500, b"abc"), (11, 0, b"")]);
                let mut r = CaptureReader::new(&f[..]).unwrap();
                let p = r.next_packet().unwrap().unwrap();
                assert_eq!(p.data, b"abc");
                assert_eq!(p.linktype, 1);
                let want = 10.0 + 500.0 / if nanos { 1e9 } else { 1e6 };
                assert!((p.ts - want).abs() < 1e-9);
                assert_eq!(r.next_packet().unwrap().unwrap().data, b"");
                assert!(r.next_packet().unwrap().is_none());
            }
        }
    }

    #[test]
    fn truncated_and_bad_magic() {
        assert!(matches!(
            CaptureReader::new(&b"hello world, not a capture"[..]),
            Err(CaptureError::BadMagic(_))
        ));
        let f = pcap_file(false, false, &[(1, 0, b"abcdef")]);
        let mut r = CaptureReader::new(&f[..f.len() - 2]).unwrap();
        assert!(r.next_packet().is_err());
    }

    #[test]
    fn pcapng_blocks() {
        let mut f = Vec::new();
        // SHB
        f.extend(0x0a0d_0d0au32.to_le_bytes());
        f.extend(28u32.to_le_bytes());
        f.extend(0x1a2b_3c4du32.to_le_bytes());
        f.extend([1, 0, 0, 0]);
        f.extend(u64::MAX.to_le_bytes());
        f.extend(28u32.to_le_bytes());
        // IDB, linktype 113 (SLL), tsresol 9 (ns)
        f.extend(1u32.to_le_bytes());
        f.extend(28u32.to_le_bytes());
        f.extend(113u16.to_le_bytes());
        f.extend([0, 0]);
        f.extend(0u32.to_le_bytes());
        f.extend(9u16.to_le_bytes());
        f.extend(1u16.to_le_bytes());
        f.extend([9, 0, 0, 0]);
        f.extend(28u32.to_le_bytes());
        // EPB with 3 bytes
        let ts: u64 = 2_500_000_000;
        f.extend(6u32.to_le_bytes());
        f.extend(36u32.to_le_bytes());
        f.extend(0u32.to_le_bytes());
        f.extend(((ts >> 32) as u32).to_le_bytes());
        f.extend((ts as u32).to_le_bytes());
        f.extend(3u32.to_le_bytes());
        f.extend(3u32.to_le_bytes());
        f.extend([7, 8, 9, 0]);
        f.extend(36u32.to_le_bytes());
        let mut r = CaptureReader::new(&f[..]).unwrap();
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(p.data, [7, 8, 9]);
        assert_eq!(p.linktype, 113);
        assert!((p.ts - 2.5).abs() < 1e-9);
        assert!(r.next_packet().unwrap().is_none());
    }
}
