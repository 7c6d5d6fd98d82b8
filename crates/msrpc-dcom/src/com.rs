//! COM interfaces as Rust types: [`ComInterface`], what `#[interface(orpc)]` implements on an
//! interface's marker (`FooInterface`), so code that holds an interface pointer can build the
//! interface's generated client for it and check an IID against the type; and [`ComPtr`], an
//! interface pointer typed by its interface, which generated code marshals as the
//! `MInterfacePointer` of an `[in]` or `[out]` parameter.

use std::fmt;
use std::marker::PhantomData;

use msrpc_ndr::{DecodeError, DecodeErrorKind, DecodeResult, EncodeResult, Ndr, Reader, Writer};
use msrpc_proto::dispatch::{Interface, Invoke};

use crate::error::{DcomError, DcomResult};
use crate::ids::{Iid, Ipid};
use crate::objref::ObjRef;
use crate::orpc::{MInterfacePointer, StdObjRef};

/// A COM (ORPC) interface: its IID is the interface UUID, and its generated client calls one
/// object's interface, named by IPID in every request's object UUID (MS-DCOM 3.1.1.5.1).
/// `#[interface(orpc)]` implements it on the marker type `FooInterface`.
pub trait ComInterface: Interface {
    /// The interface's generated client over the invoker `C` (`FooClient<C>`).
    type Client<C: Invoke>;

    /// The interface's IID.
    const IID: Iid = Self::SYNTAX.uuid;

    /// The client calling the interface `ipid` through `invoke`.
    fn client<C: Invoke>(invoke: C, ipid: Ipid) -> Self::Client<C>;
}

/// An interface pointer to interface `I` (MS-DCOM 2.2.14 `MInterfacePointer` around an OBJREF
/// marshaled for `I`'s IID). Its NDR form is the `MInterfacePointer`'s, so an interface
/// declares an `[out] MInterfacePointer **p` as `p: Unique<ComPtr<FooInterface>>` (and an
/// `[in]` one likewise): decoding it decodes the OBJREF (bounded, as [`ObjRef::decode`]) and
/// refuses one marshaled for another IID (a bad stub, field path included); encoding writes
/// the bytes it was built from, unchanged.
pub struct ComPtr<I> {
    pointer: MInterfacePointer,
    objref: ObjRef,
    _interface: PhantomData<fn() -> I>,
}

impl<I> Clone for ComPtr<I> {
    fn clone(&self) -> Self {
        ComPtr {
            pointer: self.pointer.clone(),
            objref: self.objref.clone(),
            _interface: PhantomData,
        }
    }
}

impl<I> PartialEq for ComPtr<I> {
    fn eq(&self, other: &Self) -> bool {
        self.pointer == other.pointer
    }
}

impl<I> Eq for ComPtr<I> {}

impl<I> fmt::Debug for ComPtr<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComPtr")
            .field("objref", &self.objref)
            .finish()
    }
}

impl<I: ComInterface> ComPtr<I> {
    /// The pointer marshaling `objref`; refused when it was marshaled for another IID.
    pub fn from_objref(objref: ObjRef) -> DcomResult<Self> {
        if objref.iid != I::IID {
            return Err(DcomError::Invalid(
                "the OBJREF is marshaled for another interface",
            ));
        }
        let pointer = objref.to_interface_pointer()?;
        Ok(ComPtr {
            pointer,
            objref,
            _interface: PhantomData,
        })
    }

    /// The pointer `pointer` carries; refused when its OBJREF does not decode or was marshaled
    /// for another IID.
    pub fn from_pointer(pointer: MInterfacePointer) -> DcomResult<Self> {
        let objref = ObjRef::from_interface_pointer(&pointer)?;
        if objref.iid != I::IID {
            return Err(DcomError::Invalid(
                "the OBJREF is marshaled for another interface",
            ));
        }
        Ok(ComPtr {
            pointer,
            objref,
            _interface: PhantomData,
        })
    }
}

impl<I> ComPtr<I> {
    /// The decoded OBJREF.
    pub fn objref(&self) -> &ObjRef {
        &self.objref
    }

    /// Its STDOBJREF (standard, handler and extended OBJREFs).
    pub fn std(&self) -> Option<&StdObjRef> {
        self.objref.std()
    }

    /// The marshaled bytes.
    pub fn pointer(&self) -> &MInterfacePointer {
        &self.pointer
    }

    /// The marshaled bytes, consuming the pointer.
    pub fn into_pointer(self) -> MInterfacePointer {
        self.pointer
    }
}

impl<I: ComInterface> Ndr for ComPtr<I> {
    const ALIGN: usize = MInterfacePointer::ALIGN;
    const WIRE_MIN: usize = MInterfacePointer::WIRE_MIN;

    fn encode_scalars(&self, w: &mut Writer) -> EncodeResult {
        self.pointer.encode_scalars(w)
    }

    fn encode_buffers(&self, w: &mut Writer) -> EncodeResult {
        self.pointer.encode_buffers(w)
    }

    fn decode_scalars(r: &mut Reader<'_>) -> DecodeResult<Self> {
        let mut pointer = MInterfacePointer::decode_scalars(r)?;
        // No pointers inside: its buffers are empty, and its bytes are complete here.
        pointer.decode_buffers(r)?;
        let offset = r.position();
        let invalid = |why| DecodeError::new(DecodeErrorKind::Invalid(why), offset);
        let objref = ObjRef::from_interface_pointer(&pointer)
            .map_err(|_| invalid("an interface pointer whose OBJREF does not decode"))?;
        if objref.iid != I::IID {
            return Err(invalid(
                "an interface pointer marshaled for another interface",
            ));
        }
        Ok(ComPtr {
            pointer,
            objref,
            _interface: PhantomData,
        })
    }

    const SCALARS_ONLY: bool = MInterfacePointer::SCALARS_ONLY;
}

#[cfg(test)]
mod tests {
    use msrpc_ndr::{DataRep, DecodeLimits, Unique, Uuid};

    use super::*;
    use crate::demo::{CalculatorInterface, SpawnRequest, SpawnResponse, IID_ICALCULATOR};
    use crate::dualstring::DualStringArray;
    use crate::ids::{Oid, Oxid};
    use crate::{HResult, OrpcThat, OrpcThis};

    const LE: DataRep = DataRep::LITTLE_ENDIAN;

    fn objref(iid: Iid) -> ObjRef {
        ObjRef::standard(
            iid,
            StdObjRef {
                flags: 0,
                public_refs: 1,
                oxid: Oxid(0x1122),
                oid: Oid(0x3344),
                ipid: Ipid(Uuid::from_u128(0x55)),
            },
            DualStringArray::empty(),
        )
    }

    #[test]
    fn a_com_ptr_is_its_interface_pointer_on_the_wire() {
        let p = ComPtr::<CalculatorInterface>::from_objref(objref(IID_ICALCULATOR)).unwrap();
        let plain = objref(IID_ICALCULATOR).to_interface_pointer().unwrap();
        let bytes = msrpc_ndr::to_bytes(&Unique::new(p.clone()), LE).unwrap();
        assert_eq!(
            bytes,
            msrpc_ndr::to_bytes(&Unique::new(plain.clone()), LE).unwrap()
        );
        let back: Unique<ComPtr<CalculatorInterface>> =
            msrpc_ndr::from_bytes(&bytes, LE, DecodeLimits::DEFAULT).unwrap();
        assert_eq!(back.get(), Some(&p));
        assert_eq!(p.std().map(|s| s.oid), Some(Oid(0x3344)));
        assert_eq!(p.pointer(), &plain);
        assert_eq!(
            ComPtr::<CalculatorInterface>::from_pointer(plain).unwrap(),
            p
        );
    }

    #[test]
    fn pointers_of_another_interface_are_refused() {
        let other = objref(crate::ids::guids::IID_IUNKNOWN);
        assert!(ComPtr::<CalculatorInterface>::from_objref(other.clone()).is_err());
        let ip = other.to_interface_pointer().unwrap();
        assert!(ComPtr::<CalculatorInterface>::from_pointer(ip.clone()).is_err());
        assert!(ComPtr::<CalculatorInterface>::from_pointer(
            MInterfacePointer::new(vec![1, 2, 3]).unwrap()
        )
        .is_err());
        // In a generated stub: Spawn's [out] pointer marshaled for IUnknown is a bad stub,
        // named by its field.
        let mut w = msrpc_ndr::Writer::new(LE);
        OrpcThat::default().encode(&mut w).unwrap();
        Unique::new(ip).encode(&mut w).unwrap();
        HResult::S_OK.encode(&mut w).unwrap();
        let stub = w.into_bytes();
        let req = SpawnRequest {
            orpcthis: OrpcThis::new(Uuid::from_u128(1)),
            offset: 0,
        };
        let e = SpawnResponse::from_stub(&stub, LE, DecodeLimits::DEFAULT, &req).unwrap_err();
        assert!(matches!(e.kind, DecodeErrorKind::Invalid(_)), "{e}");
        assert!(e.to_string().contains("child"), "{e}");
        // The same response with an ICalculator pointer decodes.
        let mut w = msrpc_ndr::Writer::new(LE);
        OrpcThat::default().encode(&mut w).unwrap();
        Unique::new(objref(IID_ICALCULATOR).to_interface_pointer().unwrap())
            .encode(&mut w)
            .unwrap();
        HResult::S_OK.encode(&mut w).unwrap();
        let r = SpawnResponse::from_stub(&w.into_bytes(), LE, DecodeLimits::DEFAULT, &req).unwrap();
        assert_eq!(r.child.get().unwrap().objref(), &objref(IID_ICALCULATOR));
    }
}
