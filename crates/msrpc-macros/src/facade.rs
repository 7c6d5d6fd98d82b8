//! Re-rooting generated paths for the `msrpc` facade: `::msrpc_ndr::X` becomes
//! `::msrpc::__private::msrpc_ndr::X` (likewise `msrpc_proto` and `msrpc_dcom`), the crates
//! the facade re-exports under its hidden `__private` module. Only absolute paths are
//! touched: a `::` that follows an identifier other than a keyword continues a path
//! (`a::msrpc_ndr`) and is left alone. Intra-doc links in generated doc strings
//! (`[`Dispatch`](::msrpc_proto::dispatch::Dispatch)`) point at the facade's public modules
//! instead (`::msrpc::proto::...`), which a user's crate can resolve.

use proc_macro2::{Group, Ident, Literal, Punct, Spacing, TokenStream, TokenTree};

/// The crates generated code names by absolute path.
const CRATES: &[&str] = &["msrpc_ndr", "msrpc_proto", "msrpc_dcom"];

/// Link targets in doc strings, and the facade's public module for each.
const DOC_LINKS: &[(&str, &str)] = &[
    ("](::msrpc_ndr::", "](::msrpc::ndr::"),
    ("](::msrpc_proto::", "](::msrpc::proto::"),
    ("](::msrpc_dcom::", "](::msrpc::dcom::"),
];

/// Keywords after which `::` starts an absolute path (`as ::x`, `for ::x`, `dyn ::x`, ...).
/// Path roots (`crate`, `self`, `super`, `Self`) are not among them.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "fn",
    "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "static", "struct", "trait", "type", "unsafe", "use", "where", "while", "yield",
];

/// `tokens` with every absolute path into [`CRATES`] re-rooted under `::msrpc::__private`.
pub fn reroot(tokens: TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), reroot(g.stream()));
                ng.set_span(g.span());
                out.push(TokenTree::Group(ng));
            }
            TokenTree::Ident(id) if absolute(&trees, i) => {
                let span = id.span();
                for name in ["msrpc", "__private"] {
                    out.push(TokenTree::Ident(Ident::new(name, span)));
                    let mut joint = Punct::new(':', Spacing::Joint);
                    joint.set_span(span);
                    let mut alone = Punct::new(':', Spacing::Alone);
                    alone.set_span(span);
                    out.push(TokenTree::Punct(joint));
                    out.push(TokenTree::Punct(alone));
                }
                out.push(tree.clone());
            }
            TokenTree::Literal(lit) => out.push(TokenTree::Literal(doc_links(lit))),
            other => out.push(other.clone()),
        }
    }
    out.into_iter().collect()
}

/// `lit` with the link targets of [`DOC_LINKS`] replaced, when it is a string holding one.
fn doc_links(lit: &Literal) -> Literal {
    let text = lit.to_string();
    if !DOC_LINKS.iter().any(|(from, _)| text.contains(from)) {
        return lit.clone();
    }
    let Ok(s) = syn::parse2::<syn::LitStr>(TokenTree::Literal(lit.clone()).into()) else {
        return lit.clone();
    };
    let value = DOC_LINKS
        .iter()
        .fold(s.value(), |v, (from, to)| v.replace(from, to));
    let mut new = Literal::string(&value);
    new.set_span(lit.span());
    new
}

/// True when `trees[i]` is one of [`CRATES`] right after a `::` that starts a path.
fn absolute(trees: &[TokenTree], i: usize) -> bool {
    let Some(TokenTree::Ident(id)) = trees.get(i) else {
        return false;
    };
    if !CRATES.iter().any(|c| id == c) {
        return false;
    }
    let colon = |t: Option<&TokenTree>, spacing: Spacing| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == ':' && p.spacing() == spacing);
    let (Some(j), Some(k)) = (i.checked_sub(1), i.checked_sub(2)) else {
        return false;
    };
    if !colon(trees.get(j), Spacing::Alone) || !colon(trees.get(k), Spacing::Joint) {
        return false;
    }
    match k.checked_sub(1).and_then(|p| trees.get(p)) {
        None => true,
        Some(TokenTree::Ident(prev)) => KEYWORDS.iter().any(|kw| prev == kw),
        // `<::x`, `(::x`, `= ::x`, `&::x`, `-> ::x`, `impl<S> ::x`: after punctuation a `::`
        // starts a path (a path segment named like one of CRATES never follows a `>`).
        Some(TokenTree::Punct(_)) => true,
        Some(_) => true,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::reroot;
    use quote::quote;

    fn text(t: proc_macro2::TokenStream) -> String {
        reroot(t).to_string().replace(' ', "")
    }

    #[test]
    fn absolute_paths_are_rerooted_and_relative_ones_kept() {
        assert_eq!(
            text(quote!(impl ::msrpc_ndr::Ndr for X {})),
            "impl::msrpc::__private::msrpc_ndr::NdrforX{}"
        );
        assert_eq!(
            text(quote!(<Self as ::msrpc_ndr::Ndr>::ALIGN)),
            "<Selfas::msrpc::__private::msrpc_ndr::Ndr>::ALIGN"
        );
        assert_eq!(
            text(quote!(
                fn f(w: &mut ::msrpc_proto::X) -> ::msrpc_dcom::Y {}
            )),
            "fnf(w:&mut::msrpc::__private::msrpc_proto::X)->::msrpc::__private::msrpc_dcom::Y{}"
        );
        assert_eq!(text(quote!(a::msrpc_ndr::X)), "a::msrpc_ndr::X");
        assert_eq!(text(quote!(crate::msrpc_ndr::X)), "crate::msrpc_ndr::X");
        assert_eq!(
            text(quote!(
                impl<S> ::msrpc_proto::I for X<S> {}
            )),
            "impl<S>::msrpc::__private::msrpc_proto::IforX<S>{}"
        );
        assert_eq!(
            reroot(quote!(#[doc = "a [`D`](::msrpc_proto::dispatch::D)."])).to_string(),
            "# [doc = \"a [`D`](::msrpc::proto::dispatch::D).\"]"
        );
        assert_eq!(text(quote!(::other::X)), "::other::X");
        assert_eq!(
            text(quote!(match x {
                _ => ::msrpc_ndr::f(),
            })),
            "matchx{_=>::msrpc::__private::msrpc_ndr::f(),}"
        );
    }
    /// The names of `CRATES` in `text` not reached through `__private` (a generated path the
    /// rewrite missed).
    fn missed(text: &str) -> Vec<usize> {
        super::CRATES
            .iter()
            .flat_map(|c| text.match_indices(c).map(|(i, _)| i))
            .filter(|&i| !text.get(..i).unwrap_or_default().ends_with("__private :: "))
            .collect()
    }

    #[test]
    fn no_generated_path_escapes_the_rewrite() {
        let derives = [
            quote! { struct S { a: u16, #[ndr(string)] n: Unique<String>, len: u32, #[ndr(size_is = "len")] v: Vec<u8> } },
            quote! { #[ndr(switch_type = "u16")] enum U { #[ndr(case = 1)] A(u32), #[ndr(case = 2)] B, #[ndr(default)] Other(u16) } },
            quote! { #[ndr(v1_enum)] #[repr(u32)] enum E { A = 1, #[ndr(unknown)] Unknown(u32) } },
        ];
        for d in derives {
            let text = reroot(msrpc_codegen::derive_ndr(d).unwrap()).to_string();
            assert_eq!(missed(&text), Vec::<usize>::new(), "{text}");
        }
        let interfaces = [
            (
                quote!(
                    uuid = "60a15ec5-4de8-11d7-a637-005056a20182",
                    version = "1.0"
                ),
                quote! { pub trait T {
                    #[opnum(0)] fn a(#[ndr(in)] len: u32, #[ndr(in, size_is = "len")] d: Vec<u8>, #[ndr(out, string)] s: Unique<String>) -> u32;
                    #[opnum(2)] fn b(#[ndr(in, out)] h: ContextHandle);
                } },
            ),
            (
                quote!(
                    uuid = "bf30c0af-df87-42e5-ab32-930938b49417",
                    version = "0.0",
                    orpc
                ),
                quote! { pub trait C { #[opnum(3)] fn add(#[ndr(in)] a: i32, #[ndr(out)] s: i32); } },
            ),
            (
                quote!(
                    uuid = "00000143-0000-0000-c000-000000000046",
                    version = "0.0",
                    orpc
                ),
                quote! { pub trait D: crate::C { #[opnum(4)] fn more(#[ndr(in)] a: i32); } },
            ),
        ];
        for (args, item) in interfaces {
            let out = msrpc_codegen::interface(args, item).unwrap();
            let text = reroot(out).to_string();
            assert_eq!(missed(&text), Vec::<usize>::new(), "{text}");
        }
    }
}
