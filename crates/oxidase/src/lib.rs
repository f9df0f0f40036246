//! oxidase: compiler-level automatic differentiation for Rust.
//!
//! [`autodiff`] mirrors `std::autodiff`: the same `#[autodiff_forward]` and
//! `#[autodiff_reverse]` attributes, generated signatures and semantics, on stable Rust. Build
//! with `cargo autodiff build|run|test|bench`, which runs the oxidase engine at link time.
//! Moving code between nightly and stable means changing `std::autodiff` to `oxidase::autodiff`.

/// The `std::autodiff` attributes for stable Rust.
pub mod autodiff {
    pub use oxidase_macros::{autodiff_forward, autodiff_reverse};
}

/// Run-time support of generated functions. Not a public API.
#[doc(hidden)]
pub mod __rt;
