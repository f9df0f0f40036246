//! The annotated function, whatever item kind carries it (free or nested function, inherent or
//! trait-impl method, trait method declaration).

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, Generics, Ident, Pat, ReturnType, Signature, Type, Visibility};

pub struct Function {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub sig: Signature,
    /// `true` for a trait method declaration or default method: the primal is reached as `Self::f`.
    pub in_trait: bool,
    /// The item as written (emitted unchanged).
    pub tokens: TokenStream,
}

/// One parameter of the primal.
pub struct Param {
    /// The name used in the generated function (the pattern's identifier, or `arg{i}`).
    pub name: Ident,
    /// `Some(receiver)` for `self`, `&self`, `&mut self`.
    pub receiver: Option<syn::Receiver>,
    pub ty: Type,
    pub span: Span,
}

pub fn parse(item: TokenStream) -> Result<Function, syn::Error> {
    if let Ok(f) = syn::parse2::<syn::ItemFn>(item.clone()) {
        return Ok(Function { attrs: f.attrs, vis: f.vis, sig: f.sig, in_trait: false, tokens: item });
    }
    if let Ok(f) = syn::parse2::<syn::ImplItemFn>(item.clone()) {
        return Ok(Function { attrs: f.attrs, vis: f.vis, sig: f.sig, in_trait: false, tokens: item });
    }
    if let Ok(f) = syn::parse2::<syn::TraitItemFn>(item.clone()) {
        return Ok(Function { attrs: f.attrs, vis: Visibility::Inherited, sig: f.sig, in_trait: true, tokens: item });
    }
    Err(syn::Error::new(item.span(), "autodiff must be applied to function"))
}

impl Function {
    pub fn params(&self) -> Vec<Param> {
        self.sig
            .inputs
            .iter()
            .enumerate()
            .map(|(i, arg)| match arg {
                FnArg::Receiver(r) => Param {
                    name: Ident::new("self", r.self_token.span),
                    receiver: Some(r.clone()),
                    ty: (*r.ty).clone(),
                    span: r.span(),
                },
                FnArg::Typed(t) => {
                    let name = match &*t.pat {
                        Pat::Ident(p) if p.subpat.is_none() => Ident::new(&p.ident.to_string(), p.ident.span()),
                        _ => Ident::new(&format!("arg{i}"), t.pat.span()),
                    };
                    Param { name, receiver: None, ty: (*t.ty).clone(), span: t.ty.span() }
                }
            })
            .collect()
    }

    /// The return type, `None` for unit (omitted or `-> ()`).
    pub fn ret(&self) -> Option<Type> {
        match &self.sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => match &**ty {
                Type::Tuple(t) if t.elems.is_empty() => None,
                ty => Some(ty.clone()),
            },
        }
    }

    pub fn has_inline_never(&self) -> bool {
        self.attrs.iter().any(|a| a.path().is_ident("inline") && a.to_token_stream().to_string().contains("never"))
    }

    /// `#[cfg]` attributes, which the generated function shares.
    pub fn cfg_attrs(&self) -> Vec<&Attribute> {
        self.attrs.iter().filter(|a| a.path().is_ident("cfg")).collect()
    }

    pub fn generics(&self) -> &Generics {
        &self.sig.generics
    }
}

/// `&T`, `&mut T`, `*const T`, `*mut T`: the types `Duplicated` accepts (checked syntactically, as
/// upstream does).
pub fn is_indirection(ty: &Type) -> bool {
    match ty {
        Type::Reference(_) | Type::Ptr(_) => true,
        Type::Paren(p) => is_indirection(&p.elem),
        Type::Group(g) => is_indirection(&g.elem),
        _ => false,
    }
}

/// The shadow type of a `Duplicated` argument: the outermost indirection made mutable.
pub fn mutable_indirection(ty: &Type) -> Type {
    match ty {
        Type::Reference(r) => {
            let mut r = r.clone();
            r.mutability = Some(Default::default());
            Type::Reference(r)
        }
        Type::Ptr(p) => {
            let mut p = p.clone();
            p.const_token = None;
            p.mutability = Some(Default::default());
            Type::Ptr(p)
        }
        Type::Paren(p) => mutable_indirection(&p.elem),
        Type::Group(g) => mutable_indirection(&g.elem),
        other => other.clone(),
    }
}

/// Whether the type behind a reference has a length the shadow must match: `[T]` or `Vec<T>`.
pub fn has_len(ty: &Type) -> bool {
    let inner = match ty {
        Type::Reference(r) => &*r.elem,
        _ => return false,
    };
    match inner {
        Type::Slice(_) => true,
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Vec"),
        _ => false,
    }
}

/// `&[T]` or `&mut [T]`.
pub fn is_slice_ref(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if matches!(&*r.elem, Type::Slice(_)))
}

/// The type with `impl Trait` replaced by `_` (it cannot be named in a body).
pub fn nameable(ty: &Type) -> TokenStream {
    if contains_impl_trait(ty) {
        quote::quote!(_)
    } else {
        ty.to_token_stream()
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    ty.to_token_stream().into_iter().any(|t| matches!(t, proc_macro2::TokenTree::Ident(i) if i == "impl"))
}

/// The item with every sibling attribute spelled `std::autodiff::autodiff_*` or
/// `core::autodiff::autodiff_*` renamed to `::oxidase::autodiff::autodiff_*`.
///
/// On stable those paths name rustc's unstable builtins, which fail with E0658 and leave behind a
/// token-less `#[rustc_autodiff]` that makes rustc panic when it hands the item to the next
/// attribute macro. `oxidase::autodiff` mirrors `std::autodiff` (and `core::autodiff`, the same
/// module), so the attributes mean the same thing when ours expand them.
pub fn redirect_builtin_attrs(item: TokenStream) -> TokenStream {
    let mut out = Vec::new();
    let mut after_pound = false;
    for tree in item {
        let tree = match tree {
            TokenTree::Group(g) if after_pound && g.delimiter() == Delimiter::Bracket => match redirected(g.stream()) {
                Some(stream) => {
                    let mut group = Group::new(Delimiter::Bracket, stream);
                    group.set_span(g.span());
                    TokenTree::Group(group)
                }
                None => TokenTree::Group(g),
            },
            other => other,
        };
        after_pound = matches!(&tree, TokenTree::Punct(p) if p.as_char() == '#');
        out.push(tree);
    }
    out.into_iter().collect()
}

/// `[::]std|core::autodiff::autodiff_forward|autodiff_reverse REST` → `::oxidase::autodiff::NAME REST`.
fn redirected(attr: TokenStream) -> Option<TokenStream> {
    let tokens: Vec<TokenTree> = attr.into_iter().collect();
    let is_sep = |i: usize| {
        matches!((tokens.get(i), tokens.get(i + 1)), (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
            if a.as_char() == ':' && b.as_char() == ':' && a.spacing() == proc_macro2::Spacing::Joint)
    };
    let ident = |i: usize, names: &[&str]| matches!(tokens.get(i), Some(TokenTree::Ident(id)) if names.iter().any(|n| id == n));
    let start = if is_sep(0) { 2 } else { 0 };
    let matches = ident(start, &["std", "core"])
        && is_sep(start + 1)
        && ident(start + 3, &["autodiff"])
        && is_sep(start + 4)
        && ident(start + 6, &["autodiff_forward", "autodiff_reverse"]);
    if !matches {
        return None;
    }
    let TokenTree::Ident(name) = &tokens[start + 6] else { unreachable!() };
    let rest: TokenStream = tokens[start + 7..].iter().cloned().collect();
    Some(quote::quote_spanned!(name.span()=> ::oxidase::autodiff::#name #rest))
}
