//! Proc-macro entry points for msrpc. All logic lives in `msrpc-codegen`; this crate only
//! converts token streams and reports errors.

use proc_macro::TokenStream;

/// Derives `msrpc_ndr::Ndr` for a struct, a union (enum with data) or an enum.
#[proc_macro_derive(Ndr, attributes(ndr))]
pub fn derive_ndr(input: TokenStream) -> TokenStream {
    msrpc_codegen::derive_ndr(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
