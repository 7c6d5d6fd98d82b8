//! The endpoint mapper's wire types.

use msrpc_ndr::{Ndr, Unique, Uuid};

/// `twr_t`: a protocol tower as an opaque octet string (a conformant structure: the
/// octets' max_count is hoisted in front of `tower_length`).
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Twr {
    /// `unsigned32 tower_length`: the number of octets.
    pub tower_length: u32,
    /// `[size_is(tower_length)] byte tower_octet_string[]`: the encoded floors.
    #[ndr(size_is = "tower_length")]
    pub tower_octet_string: Vec<u8>,
}

impl Twr {
    /// A tower holding `octets` (`tower_length` set to their number; more than `u32::MAX`
    /// octets saturate it, and encoding then fails with a count mismatch).
    pub fn new(octets: Vec<u8>) -> Self {
        Twr {
            tower_length: u32::try_from(octets.len()).unwrap_or(u32::MAX),
            tower_octet_string: octets,
        }
    }
}

/// `twr_p_t`: a pointer to a tower.
pub type TwrP = Unique<Twr>;

/// `ept_entry_t`: one registered element.
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct EptEntry {
    /// `uuid_t object`.
    pub object: Uuid,
    /// `twr_p_t tower`.
    pub tower: Unique<Twr>,
    /// `[string] char annotation[ept_max_annotation_size]` (64, terminator included).
    #[ndr(string = "char", max = 64)]
    pub annotation: String,
}

/// `rpc_if_id_t`: an interface UUID and version.
#[derive(Ndr, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RpcIfId {
    /// `uuid_t uuid`.
    pub uuid: Uuid,
    /// `unsigned16 vers_major`.
    pub vers_major: u16,
    /// `unsigned16 vers_minor`.
    pub vers_minor: u16,
}

impl From<RpcIfId> for msrpc_proto::SyntaxId {
    fn from(i: RpcIfId) -> Self {
        msrpc_proto::SyntaxId::new(i.uuid, i.vers_major, i.vers_minor)
    }
}

impl From<msrpc_proto::SyntaxId> for RpcIfId {
    fn from(s: msrpc_proto::SyntaxId) -> Self {
        RpcIfId {
            uuid: s.uuid,
            vers_major: s.major,
            vers_minor: s.minor,
        }
    }
}

/// `rpc_if_id_vector_t`: a conformant structure of interface id pointers.
#[derive(Ndr, Clone, Debug, Default, PartialEq, Eq)]
pub struct RpcIfIdVector {
    /// `unsigned32 count`.
    pub count: u32,
    /// `[size_is(count)] rpc_if_id_p_t if_id[*]`.
    #[ndr(size_is = "count")]
    pub if_id: Vec<Unique<RpcIfId>>,
}

impl RpcIfIdVector {
    /// The interfaces listed, as syntax identifiers (null entries skipped).
    pub fn syntaxes(&self) -> Vec<msrpc_proto::SyntaxId> {
        self.if_id
            .iter()
            .filter_map(|p| p.get().copied().map(Into::into))
            .collect()
    }
}
