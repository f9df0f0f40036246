//! `#[autodiff_forward]` and `#[autodiff_reverse]` for stable Rust (re-exported as
//! `oxidase::autodiff::*`).
//!
//! Same grammar, generated signatures and diagnostics as nightly `std::autodiff`
//! (shared/docs/SEMANTICS.md §2–§7). The generated function does not call into the compiler: it
//! packs the arguments into two tuples (constant ones, differentiated ones), their shadows into
//! tuples of the same type, and calls a marker declaration with a monomorphic *shim* that unpacks
//! them and calls the primal. The link-time pass (`oxidase-cc`) differentiates the shim, whose
//! ABI is three pointers whatever the primal's signature, and replaces the marker call.
//! See [`lower`] for the exact contract.

mod attr;
mod item;
mod lower;

use proc_macro::TokenStream;

/// Forward mode: `#[autodiff_forward(NAME, [WIDTH,] ACTIVITIES…)]`.
#[proc_macro_attribute]
pub fn autodiff_forward(args: TokenStream, item: TokenStream) -> TokenStream {
    lower::expand(attr::Mode::Forward, args.into(), item.into()).into()
}

/// Reverse mode: `#[autodiff_reverse(NAME, [WIDTH,] ACTIVITIES…)]`.
#[proc_macro_attribute]
pub fn autodiff_reverse(args: TokenStream, item: TokenStream) -> TokenStream {
    lower::expand(attr::Mode::Reverse, args.into(), item.into()).into()
}
