//! The demo COM class msrpcd hosts with `--demo` (`docs/dcom.md`): a calculator whose
//! `ICalculator` interface is an ORPC interface written with `#[interface(orpc)]` (which adds
//! ORPCTHIS first in every request, ORPCTHAT first in every response and the HRESULT last:
//! the generated request and response types have `orpcthis`, `orpcthat` and `result`), so any
//! DCOM client can activate it and call it. Its identities are fixed here and documented in
//! `docs/dcom.md`.
//!
//! IDL equivalent:
//! ```text
//! [object, uuid(bf30c0af-df87-42e5-ab32-930938b49417)]
//! interface ICalculator : IUnknown {
//!     HRESULT Add([in] long a, [in] long b, [out] long *sum);                  // opnum 3
//!     HRESULT Echo([in, string] wchar_t *text, [out, string] wchar_t **reply); // opnum 4
//!     HRESULT Spawn([in] long offset, [out] MInterfacePointer **child);        // opnum 5
//! }
//! ```
//! `Spawn` returns a new calculator object (an `ICalculator` OBJREF) whose `Add` adds
//! `offset` to every sum; its `[out]` interface pointer is a typed
//! [`ComPtr`]`<`[`CalculatorInterface`]`>`, so the generated stubs refuse a pointer marshaled
//! for another interface.

use msrpc_macros::interface;
use msrpc_ndr::{Unique, Uuid};

use crate::com::ComPtr;

/// The calculator class: `CLSID_MsrpcCalculator` e316f1a9-1aa2-4272-a77c-3b9abdceaf56.
pub const CLSID_CALCULATOR: Uuid = Uuid::from_u128(0xe316f1a9_1aa2_4272_a77c_3b9abdceaf56);

/// `IID_ICalculator` bf30c0af-df87-42e5-ab32-930938b49417.
pub const IID_ICALCULATOR: Uuid = Uuid::from_u128(0xbf30c0af_df87_42e5_ab32_930938b49417);

/// `ICalculator` (bf30c0af-df87-42e5-ab32-930938b49417 v0.0), an ORPC interface: opnums 0-2
/// are IUnknown's, never sent on the wire (IRemUnknown stands for them).
#[interface(uuid = "bf30c0af-df87-42e5-ab32-930938b49417", version = "0.0", orpc)]
pub trait Calculator {
    /// `Add`: `a + b` (plus the object's offset), wrapping.
    #[opnum(3)]
    fn add(#[ndr(in)] a: i32, #[ndr(in)] b: i32, #[ndr(out)] sum: i32);

    /// `Echo`: `text` back.
    #[opnum(4)]
    fn echo(#[ndr(in, string)] text: String, #[ndr(out, string)] reply: Unique<String>);

    /// `Spawn`: a new calculator adding `offset` to its sums, as an `ICalculator` pointer.
    #[opnum(5)]
    fn spawn(#[ndr(in)] offset: i32, #[ndr(out)] child: Unique<ComPtr<CalculatorInterface>>);
}
