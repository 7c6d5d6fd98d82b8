//! Context handles: the 20-byte `ndr_context_handle` of C706 and MS-RPCE.

use crate::{DecodeResult, EncodeResult, Ndr, Reader, Uuid, Writer};

/// The 20-byte wire form of a context handle: `u32 attributes`, then a GUID. All zeros is the
/// null handle. The runtime maps it to server state and checks its type and owner; this type
/// only carries the bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ContextHandle {
    /// `context_handle_attributes` (0 in practice).
    pub attributes: u32,
    /// `context_handle_uuid`.
    pub uuid: Uuid,
}

impl ContextHandle {
    /// The null handle (all zeros).
    pub const NULL: ContextHandle = ContextHandle {
        attributes: 0,
        uuid: Uuid::nil(),
    };

    /// True for the null handle.
    pub fn is_null(&self) -> bool {
        self.attributes == 0 && self.uuid.is_nil()
    }
}

impl Ndr for ContextHandle {
    const ALIGN: usize = 4;
    const WIRE_MIN: usize = 20;
    const SCALARS_ONLY: bool = true;
    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        w.u32(self.attributes);
        self.uuid.encode_scalars(w)
    }
    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        Ok(ContextHandle {
            attributes: r.u32()?,
            uuid: Uuid::decode_scalars(r)?,
        })
    }
}
