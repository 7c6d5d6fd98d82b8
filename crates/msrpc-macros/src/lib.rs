//! Proc-macro entry points for msrpc. All logic lives in `msrpc-codegen`; this crate only
//! converts token streams and reports errors.

use proc_macro::TokenStream;

mod facade;

/// Derives `msrpc_ndr::Ndr` for a struct, a union (enum with data) or an enum.
/// See the `msrpc-codegen` crate documentation for the `#[ndr(...)]` attributes.
#[proc_macro_derive(Ndr, attributes(ndr))]
pub fn derive_ndr(input: TokenStream) -> TokenStream {
    msrpc_codegen::derive_ndr(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns an interface definition trait into request/response types, a service trait, a
/// server dispatcher and a client:
///
/// ```ignore
/// #[interface(uuid = "60a15ec5-4de8-11d7-a637-005056a20182", version = "1.0")]
/// pub trait Rpcecho {
///     #[opnum(0)]
///     fn add_one(#[ndr(in)] in_data: u32, #[ndr(out)] out_data: u32);
/// }
/// ```
///
/// Generates `AddOneRequest`/`AddOneResponse`, the service trait `Rpcecho`, `RpcechoServer<S>`
/// (a `Dispatch`), `RpcechoClient<C>` and the marker `RpcechoInterface` (an `Interface`).
#[proc_macro_attribute]
pub fn interface(args: TokenStream, item: TokenStream) -> TokenStream {
    msrpc_codegen::interface(args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// `#[derive(Ndr)]` as the `msrpc` facade re-exports it: the same code, with the paths the
/// generated code names (`::msrpc_ndr`, `::msrpc_proto`, `::msrpc_dcom`) re-rooted under
/// `::msrpc::__private`, so a crate that depends on `msrpc` alone compiles it.
#[doc(hidden)]
#[proc_macro_derive(NdrViaFacade, attributes(ndr))]
pub fn derive_ndr_via_facade(input: TokenStream) -> TokenStream {
    msrpc_codegen::derive_ndr(input.into())
        .map(facade::reroot)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// `#[interface]` as the `msrpc` facade re-exports it (paths re-rooted as for
/// [`macro@NdrViaFacade`]).
#[doc(hidden)]
#[proc_macro_attribute]
pub fn interface_via_facade(args: TokenStream, item: TokenStream) -> TokenStream {
    msrpc_codegen::interface(args.into(), item.into())
        .map(facade::reroot)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
