//! The data representation label (`drep`, C706 section 14.1) that every PDU carries.

/// Integer byte order chosen by the sender (C706 14.2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Endian {
    /// Least significant byte first (drep\[0\] high nibble = 1). What Windows sends.
    #[default]
    Little,
    /// Most significant byte first (drep\[0\] high nibble = 0).
    Big,
}

/// The four-byte data representation label of C706 section 14.1, kept as the peer sent it.
///
/// Only ASCII characters and IEEE floating point are decodable; other encodings are kept
/// (so a PDU round-trips) but a decode of a `char` string or a float reports
/// [`DecodeErrorKind::UnsupportedDataRep`](crate::DecodeErrorKind::UnsupportedDataRep).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataRep(pub [u8; 4]);

impl DataRep {
    /// Little-endian, ASCII, IEEE: `10 00 00 00`, what Windows and Samba send.
    pub const LITTLE_ENDIAN: DataRep = DataRep([0x10, 0, 0, 0]);
    /// Big-endian, ASCII, IEEE: `00 00 00 00`.
    pub const BIG_ENDIAN: DataRep = DataRep([0x00, 0, 0, 0]);

    /// The label for `endian` with ASCII characters and IEEE floats.
    pub const fn new(endian: Endian) -> Self {
        match endian {
            Endian::Little => Self::LITTLE_ENDIAN,
            Endian::Big => Self::BIG_ENDIAN,
        }
    }

    /// Integer byte order (high nibble of byte 0: 0 big, 1 little; any other value is read as
    /// little, like Windows does).
    pub const fn endian(self) -> Endian {
        if self.0[0] >> 4 == 0 {
            Endian::Big
        } else {
            Endian::Little
        }
    }

    /// True when characters are ASCII (low nibble of byte 0 is 0; 1 is EBCDIC).
    pub const fn is_ascii(self) -> bool {
        self.0[0] & 0x0f == 0
    }

    /// True when floating point is IEEE (byte 1 is 0; 1 VAX, 2 Cray, 3 IBM).
    pub const fn is_ieee_float(self) -> bool {
        self.0[1] == 0
    }
}

impl Default for DataRep {
    fn default() -> Self {
        Self::LITTLE_ENDIAN
    }
}

impl std::fmt::Debug for DataRep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DataRep({:02x}{:02x}{:02x}{:02x} {:?})",
            self.0[0],
            self.0[1],
            self.0[2],
            self.0[3],
            self.endian()
        )
    }
}

impl From<Endian> for DataRep {
    fn from(e: Endian) -> Self {
        Self::new(e)
    }
}
