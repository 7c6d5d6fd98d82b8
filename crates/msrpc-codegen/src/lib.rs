//! Code generation behind msrpc's `#[derive(Ndr)]` and `#[interface]` (the `msrpc-macros`
//! proc-macro crate is a thin wrapper around this library, so all logic is unit-testable).
//!
//! # `#[derive(Ndr)]`
//! - **Structures** (named or tuple fields): members in order, aligned to the largest member
//!   alignment; the scalars of all members first, then their deferred referents.
//! - **Unions**: enums whose variants carry `#[ndr(case = EXPR)]` (tuple variant with one field,
//!   or a unit variant for an empty arm) and optionally one `#[ndr(default)] Other(u16)` arm
//!   carrying an unknown discriminant. `#[ndr(switch_type = "u8" | "u16" | "u32")]` on the
//!   enum (default `u32`), `#[ndr(encapsulated)]` to align the arm to the largest arm
//!   alignment after the discriminant. Implements `msrpc_ndr::NdrUnion` too.
//! - **Enums**: fieldless enums with explicit values; 16-bit on the wire, 32-bit with
//!   `#[ndr(v1_enum)]`.
//!
//! Field (and parameter) attributes, `#[ndr(...)]`:
//!
//! | attribute | on | meaning |
//! |---|---|---|
//! | `size_is = "expr"` | `Vec<T>` last field | conformant array; max_count hoisted to the structure's front |
//! | `size_is = "expr", length_is = "expr"` | `Vec<T>` last field | conformant-varying array |
//! | `length_is = "expr", max = N` / `max = N` | `Vec<T>` | varying array of fixed maximum N |
//! | `size_is`/`length_is` | `Unique<Vec<T>>`, `Ref<Vec<T>>`, parameter `Vec<T>` | pointer to / top-level conformant(-varying) array |
//! | `string` / `string = "char"` | `Unique<String>`, `Ref<String>`, parameter `String` | conformant-varying wide / 8-bit string |
//! | `string, max = N` | embedded `String` | fixed-size varying string (`[string] char x[N]`) |
//! | `string, size_is = "expr"` | parameter `String` | conformant-varying string with max_count `expr` |
//! | `switch_is = "expr"` | union field, `Unique<U>` | the discriminant must equal `expr` |
//! | `range(lo, hi)` | integer field | value checked on encode and decode (bounds are literals) |
//!
//! Sizing expressions are Rust expressions over earlier sibling fields (bound as references,
//! so `len`, `*len` and `len * 2` all work), evaluated as `u64`.

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
