//! Code generation behind msrpc's `#[derive(Ndr)]` and `#[interface]` (the `msrpc-macros`
//! proc-macro crate is a thin wrapper around this library, so all logic is unit-testable).
//!
//! # `#[derive(Ndr)]`
//! - **Structures** (named or tuple fields): members in order, aligned to the largest member
//!   alignment; the scalars of all members first, then their deferred referents.
//! - **Unions**: enums whose variants carry `#[ndr(case = EXPR)]` (tuple variant with one field,
//!   or a unit variant for an empty arm) and optionally one `#[ndr(default)]` arm for any
//!   discriminant no case names: `Other(u16)` holds the discriminant (an empty `[default]`),
//!   `Data(u16, T)` the discriminant and the arm's member (`[default] T x;`), written and read
//!   as a case arm's member. Encoding refuses a default arm holding a case's discriminant
//!   (`EncodeError::DefaultArmNamesACase`: the peer would read that case's arm).
//!   `#[ndr(switch_type = "u8" | "u16" | "u32" | "enum16")]` on the enum (default `u32`;
//!   `enum16`, a discriminant that is a 16-bit NDR enum, is 2 bytes in NDR20 and 4 in NDR64,
//!   where every enum is 4 octets, MS-RPCE 2.2.5.2), `#[ndr(encapsulated)]` to align the arm
//!   to the largest arm alignment after the discriminant. Implements `msrpc_ndr::NdrUnion` too.
//! - **Enums**: `Name = value` variants and one `#[ndr(unknown)] Unknown(u32)` catch-all that
//!   holds any other value (open, as Windows' and Samba's stubs are: decoding never refuses a
//!   value, encoding writes the held one back; one that does not fit the wire type fails with
//!   `EncodeError::EnumValueOutOfRange`). 16-bit on the wire, 32-bit with `#[ndr(v1_enum)]`.
//!   Rust wants a `#[repr(..)]` for explicit values beside a tuple variant (its tag, not the
//!   wire type): `#[repr(u32)]` with the catch-all last never collides or overflows for 16-bit
//!   values. Also implements `From<u32>` (the named variant for a declared value) and
//!   `From<Enum> for u32` (for the catch-all's field type, `u32` here).
//!
//! Field (and parameter) attributes, `#[ndr(...)]`:
//!
//! | attribute | on | meaning |
//! |---|---|---|
//! | `size_is = "expr"` | `Vec<T>` last field | conformant array; max_count hoisted to the structure's front |
//! | `size_is = "expr", length_is = "expr"` | `Vec<T>` last field | conformant-varying array |
//! | `length_is = "expr", max = N` / `max = N` | `Vec<T>` | varying array of fixed maximum N |
//! | `size_is`/`length_is` | `Unique<Vec<T>>`, `Ref<Vec<T>>`, `Full<Vec<T>>`, parameter `Vec<T>` | pointer to / top-level conformant(-varying) array |
//! | `string` / `string = "char"` | `Unique<String>`, `Ref<String>`, parameter `String` | conformant-varying wide / 8-bit string |
//! | `string, max = N` | embedded `String` | fixed-size varying string (`[string] char x[N]`) |
//! | `string, size_is = "expr"` | parameter `String` | conformant-varying string with max_count `expr` |
//! | `switch_is = "expr"` | union field, `Unique<U>` | the discriminant must equal `expr` |
//! | `range(lo, hi)` | integer field | value checked on encode and decode (bounds are literals) |
//! | `pipe` | parameter `msrpc_ndr::Pipe<T>` (or an alias) | a pipe: written after the other `[in]` parameters, before the other `[out]` ones |
//!
//! Sizing expressions are Rust expressions over sibling fields (bound as references, so
//! `len`, `*len` and `len * 2` all work; enums derived with `Ndr` count as their wire value;
//! a pointer, `Option` included, counts as its referent and as 0 when null), evaluated as
//! `u64`. Decoding checks every count against its expression; encoding refuses a
//! value whose lengths disagree with them (`EncodeError::CountMismatch`).
//!
//! `Full<T>` takes attributes on its referent as `Unique<T>` does (`[ptr, size_is(n)] BYTE *p`);
//! an alias's referent is written once and sized by the first pointer that writes it.
//!
//! Not supported: generic types; a
//! conformant structure embedded in another structure (its max_count is written where the
//! member starts instead of being hoisted to the outer structure's front).
//!
//! # `#[interface(uuid = "...", version = "M.m")]`
//! On a trait whose items are operations:
//!
//! ```text
//! #[interface(uuid = "60a15ec5-4de8-11d7-a637-005056a20182", version = "1.0")]
//! pub trait Rpcecho {
//!     #[opnum(1)]
//!     fn echo_data(
//!         #[ndr(in)] len: u32,
//!         #[ndr(in, size_is = "len")] in_data: Vec<u8>,
//!         #[ndr(out, size_is = "len")] out_data: Vec<u8>,
//!     );
//!     #[opnum(5)]
//!     fn test_call2(#[ndr(in)] level: u16, #[ndr(out, switch_is = "level")] info: EchoInfo) -> NtStatus;
//! }
//! ```
//!
//! Every parameter needs a direction: `#[ndr(in)]`, `#[ndr(out)]` or `#[ndr(in, out)]`
//! (`r#in`, `input`, `output` and `in_out` are accepted spellings). Parameters are top-level:
//! a `[ref]` pointer parameter is written as its referent (the default: `[out] uint32 *x` is
//! `x: u32`); `Option<T>` (optionally marked `unique`) is a `[unique]` pointer; `Unique<T>`,
//! `Ref<T>` keep their referent id; `Vec<T>` with `size_is`/`length_is` is a conformant
//! (-varying) array; `String` is a conformant-varying `[string]` (`string = "char"` for 8-bit,
//! `size_is` for an explicit max_count). Each parameter is written in full before the next;
//! the return value comes last in the response. A `#[ndr(pipe)]` parameter (`Pipe<T>`) moves:
//! `[in]` pipes follow every other `[in]` parameter in the request and `[out]` pipes precede
//! every other `[out]` parameter in the response (C706 chapter 14's pipes; the request and
//! response types list their fields in that wire order); the pipe is buffered whole, not
//! streamed. Sizing expressions of `[out]` parameters
//! resolve names to `[out]` parameters first (an `[in, out]` one is its `[out]` value, what
//! the server holds when it marshals), then to `[in]`-only parameters, which the response's
//! `encode`/`decode` then take as arguments. Opnums may have gaps.
//!
//! A sizing expression (`size_is`, `length_is`, `switch_is`) may name a parameter the same
//! message carries *after* the value (`[in, size_is(cb)] BYTE *p, [in] DWORD cb`): NDR puts
//! the conformance with the array, in parameter order (C706 14.3.3.2, MS-RPCE 4.6), so
//! encoding evaluates it from the later value as usual, and decoding reads the array with the
//! wire's counts, keeps them, and compares them with the expression once the whole message is
//! read — MIDL's `/robust` correlation check, and what Samba's pidl generates
//! (`ndr_pull_array_size`, then `ndr_check_array_size` after the last parameter). A null
//! pointer to such an array is not checked. A parameter naming itself is refused.
//!
//! Generated for trait `Foo` with operation `do_it`:
//! - `DoItRequest` (`[in]` parameters as pub fields; `OPNUM`, `encode`, `decode`, `to_stub`,
//!   `from_stub`) and `DoItResponse` (`[out]` parameters, then `result`; `encode(w, in-values)`,
//!   `decode(r, in-values)`, `to_stub(&req, drep)`, `from_stub(stub, drep, limits, &req)`).
//!   Both derive `Clone, Debug, PartialEq`, so parameter types need those too. `from_stub`
//!   ignores trailing bytes.
//! - trait `Foo: Send + Sync + 'static` with `fn do_it(&self, ctx: &CallContext, req:
//!   DoItRequest) -> impl Future<Output = Result<DoItResponse, RpcFault>> + Send`
//!   (implement it with `async fn`).
//! - `FooServer<S: Foo>`: `Dispatch` (unknown opnum: `OpnumOutOfRange`; undecodable request:
//!   `BadStub` with the field path; the response is encoded in the request's `drep`).
//! - `FooClient<C: Invoke>`: `async fn do_it(&self, req) -> Result<DoItResponse, CallError>`,
//!   `with_object(uuid)`, `invoker()`, `object()`, `syntax()`.
//! - `FooInterface`: `Interface` (`SYNTAX`, `NAME`, `OPERATIONS`); also implemented by the
//!   server and client types.
//!
//! `#[interface(uuid = "...", version = "0.0", orpc)]` defines a DCOM object interface: each
//! operation (opnum 3 and up) gets `orpcthis: ::msrpc_dcom::OrpcThis` as its first `[in]`
//! parameter and `orpcthat: ::msrpc_dcom::OrpcThat` as its first `[out]` one, and returns
//! `::msrpc_dcom::HResult` (write no return type), so the stubs carry ORPCTHIS in and ORPCTHAT
//! and the HRESULT out (MS-DCOM 3.1.1.5.1); the caller's crate depends on `msrpc-dcom`. The
//! marker then implements `::msrpc_dcom::ComInterface` (the IID, and the client for an IPID).
//!
//! ## Inheritance
//! An interface inherits another by naming its trait as the one supertrait (a path without
//! generics), as IDL's `interface IRemUnknown2 : IRemUnknown`:
//!
//! ```text
//! #[interface(uuid = "00000143-0000-0000-c000-000000000046", version = "0.0", orpc)]
//! pub trait RemUnknown2: crate::remunknown::RemUnknown {
//!     #[opnum(6)]
//!     fn rem_query_interface2(/* ... */);
//! }
//! ```
//!
//! Only the new operations are written; the inherited ones keep the base's request and response
//! types. The base's generated items are found by name next to its trait (`RemUnknownInterface`,
//! `RemUnknownClient`), so the base must be an `#[interface]` too. Generated:
//! - the service trait `RemUnknown2: RemUnknown + Send + Sync + 'static`, with no run-down
//!   hook of its own (the root's `rundown` serves the whole chain). A service implements both
//!   traits.
//! - `RemUnknown2Server<S: RemUnknown2>` dispatches its own opnums and hands any other to the
//!   base's dispatcher (which answers `OpnumOutOfRange` past the root).
//! - `RemUnknown2Interface::OPERATIONS` is the base's table with the new operations filled in;
//!   an opnum the base already defines fails to compile (a `const` assertion).
//! - `RemUnknown2Client<C>` holds a `RemUnknownClient<C>` built to call with `RemUnknown2`'s
//!   syntax and reaches it through `Deref`, so `client.rem_release(..)` is the inherited
//!   operation called on IRemUnknown2. `FooClient::syntax()` tells which interface a client's
//!   calls name.
//!
//! Each interface's marker carries two hidden helpers the derived code calls,
//! `FooInterface::__dispatch` and `FooInterface::__rundown`.

mod attrs;
mod derive;
mod interface;
mod shape;

#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;

pub use interface::{parse_uuid, InterfaceArgs};

/// Generates the `Ndr` impl for a derive input.
pub fn derive_ndr(input: TokenStream) -> syn::Result<TokenStream> {
    let input: syn::DeriveInput = syn::parse2(input)?;
    derive::derive(input)
}

/// Expands `#[interface(args)]` on the trait `item`.
pub fn interface(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    interface::expand(args, item)
}
