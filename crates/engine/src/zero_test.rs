//! Zero tests of adjoints: how a reverse derivative skips work that would only add zeros, and
//! how a derivative of that derivative keeps the skip exact.
//!
//! The reversal of a loop whose only inputs are the adjoints of the values it hands out (no
//! stores into differentiated memory, no calls: [`crate::reverse`]'s `skip` module) adds
//! multiples of those adjoints and nothing else, so when they are all zero it can be skipped;
//! kmeans' distance loop is reversed for every centroid, and only the nearest one's adjoint is
//! not zero. The test is a call of `oxidase.nonzero.<type>(x)`, a function of the module that
//! is true when a lane of `x` is not zero (NaN counts as not zero), not a bare `fcmp`, because
//! a derivative of the derivative must treat it differently from ordinary code:
//!
//! * **forward mode** tests the tangents as well: at a zero adjoint whose tangent is not zero,
//!   the skipped work has a non-zero derivative (`x̄ = y·s` at `y = 0`, with `ẏ ≠ 0`). Its copy
//!   of the test is `nonzero(x) | nonzero(ẋ₀) | …`, again calls, for a derivative of that;
//! * **reverse mode** never skips: the derivative with respect to the adjoint itself is what
//!   the skipped work computes. Its copy of the test is `true`.
//!
//! The call is an ordinary function with a body, so a module in which nothing differentiates
//! the derivative again just runs (and inlines) it.

use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::{add_function, context_of, get_function};
use oxidase_llvm::{Block, Builder, Linkage, RealPredicate, Type, Value};

const PREFIX: &str = "oxidase.nonzero.";

/// Whether `call` is a zero test (a call of [`test`]'s function).
pub fn is_zero_test(call: Value) -> bool {
    call.called_function().is_some_and(|f| f.name().starts_with(PREFIX))
}

/// `x` is not zero in some lane: an `i1`, from a call of the module's test for `x`'s type (a
/// float or a vector of floats).
pub fn test(m: LLVMModuleRef, b: &Builder, x: Value) -> Value {
    let f = function(m, x.ty());
    b.call(f.function_type(), f, &[x])
}

/// [`test`] of `x` or of any of `more`, as one `i1`.
pub fn test_any(m: LLVMModuleRef, b: &Builder, x: Value, more: &[Value]) -> Value {
    let ctx = context_of(m);
    let i1 = Type::i1(ctx);
    let mut c = test(m, b, x);
    for &y in more {
        let t = test(m, b, y);
        c = b.select(c, i1.const_int(1), t);
    }
    c
}

/// Forward mode's copy of a zero test of `x`: the test of its copy `x` or of any of its
/// `tangents` (skipping is exact only where they are zero too).
pub fn forward_copy(m: LLVMModuleRef, b: &Builder, x: Value, tangents: &[Value]) -> Value {
    test_any(m, b, x, tangents)
}

/// Reverse mode's copy of a zero test: `true`, never skip (what the skipped work computes is
/// what a derivative with respect to the adjoint needs).
pub fn reverse_copy(m: LLVMModuleRef) -> Value {
    Type::i1(context_of(m)).const_int(1)
}

/// The test for values of type `ty`, defined on first use.
fn function(m: LLVMModuleRef, ty: Type) -> Value {
    let name: String = ty.print().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let name = format!("{PREFIX}{name}");
    if let Some(f) = get_function(m, &name) {
        return f;
    }
    let ctx = context_of(m);
    let i1 = Type::i1(ctx);
    let f = add_function(m, &name, Type::function(i1, &[ty], false));
    f.set_linkage(Linkage::LLVMInternalLinkage);
    f.add_fn_attribute("alwaysinline");
    f.add_fn_attribute("nounwind");
    f.add_fn_attribute("willreturn");
    let b = Builder::new(ctx);
    b.position_at_end(Block::append(ctx, f, "entry"));
    let ne = b.fcmp(RealPredicate::LLVMRealUNE, f.param(0), ty.zero());
    let r = if ty.is_vector() {
        crate::emit::intrinsic(m, &b, "vector.reduce.or", ne.ty(), &[ne])
    } else {
        ne
    };
    b.ret(r);
    f
}
