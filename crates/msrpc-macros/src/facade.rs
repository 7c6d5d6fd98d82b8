//! Re-rooting generated paths for the `msrpc` facade: `::msrpc_ndr::X` becomes
//! `::msrpc::__private::msrpc_ndr::X` (likewise `msrpc_proto` and `msrpc_dcom`), the crates
//! the facade re-exports under its hidden `__private` module. Only absolute paths are
//! touched: a `::` that follows an identifier other than a keyword continues a path
//! (`a::msrpc_ndr`) and is left alone.

use proc_macro2::{Group, Ident, Punct, Spacing, TokenStream, TokenTree};

/// The crates generated code names by absolute path.
const CRATES: &[&str] = &["msrpc_ndr", "msrpc_proto", "msrpc_dcom"];

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
            other => out.push(other.clone()),
        }
    }
    out.into_iter().collect()
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
        // `<::x`, `(::x`, `= ::x`, `&::x`, `-> ::x`, `=> ::x`, but not `<T as U>::x` (a `>`
        // closing generics continues a path).
        Some(TokenTree::Punct(p)) if p.as_char() == '>' => matches!(
            k.checked_sub(2).and_then(|q| trees.get(q)),
            Some(TokenTree::Punct(q)) if matches!(q.as_char(), '-' | '=') && q.spacing() == Spacing::Joint
        ),
        Some(TokenTree::Punct(_)) => true,
        Some(_) => true,
    }
}

#[cfg(test)]
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
        assert_eq!(text(quote!(<T as U>::msrpc_ndr)), "<TasU>::msrpc_ndr");
        assert_eq!(text(quote!(::other::X)), "::other::X");
        assert_eq!(
            text(quote!(match x {
                _ => ::msrpc_ndr::f(),
            })),
            "matchx{_=>::msrpc::__private::msrpc_ndr::f()}"
        );
    }
}
