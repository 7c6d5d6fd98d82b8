//! Code generation for msrpc (placeholder; being written).
use proc_macro2::TokenStream;

/// Generates the `Ndr` impl for a derive input.
pub fn derive_ndr(_input: TokenStream) -> syn::Result<TokenStream> {
    Ok(TokenStream::new())
}
