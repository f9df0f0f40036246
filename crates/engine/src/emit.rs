//! Code emission shared by forward and reverse mode: cloning primal instructions and evaluating
//! rule expressions of the [`rules`](crate::rules) table.

use crate::rules::{Cmp, E};
use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::context_of;
use oxidase_llvm::{intrinsic_declaration, Block, Builder, IntPredicate, RealPredicate, Type, Value};

/// The derivative to call through the function pointer `callee` (a `dyn` method, a `Fn`
/// pointer) whose possible targets are known (`calls::indirect_candidates`): `cases` pairs each
/// target with its derivative (the derivatives of one call site share one type), and a chain of
/// `select`s picks the one `callee` points to; any other pointer gets `fallback`. One call site
/// remains, so `invoke`s keep their single unwind edge.
pub fn choose_derivative(b: &Builder, callee: Value, cases: &[(Value, Value)], fallback: Value) -> Value {
    let mut chosen = fallback;
    for &(target, derivative) in cases.iter().rev() {
        let is = b.icmp(IntPredicate::LLVMIntEQ, callee, target);
        chosen = b.select(is, derivative, chosen);
    }
    chosen
}

/// A function of type `fty` that writes `text` (and a newline) to stderr and aborts: what a
/// derivative calls through a function pointer whose target has no derivative. One per type
/// and text.
pub fn stop_with_message(m: LLVMModuleRef, fty: Type, text: &str) -> Value {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    fty.print().hash(&mut h);
    text.hash(&mut h);
    let name = format!("oxidase.indirect.stop.{:016x}", h.finish());
    let f = match crate::tape::helper(m, &name, fty) {
        Ok(f) => return f,
        Err(f) => f,
    };
    let ctx = context_of(m);
    let text = format!("{text}\n");
    let msg = oxidase_llvm::module::string_constant(m, &format!("{name}.msg"), &text);
    let b = Builder::new(ctx);
    b.position_at_end(Block::append(ctx, f, "entry"));
    let write = crate::tape::libc_function(m, "write");
    b.call(write.function_type(), write, &[Type::i32(ctx).const_int(2), msg, Type::i64(ctx).const_int(text.len() as u64)]);
    let abort = crate::tape::libc_function(m, "abort");
    b.call(abort.function_type(), abort, &[]);
    b.unreachable();
    f
}

/// The message of the stub called through a function pointer: which call could not be
/// differentiated, and why (`reason`: the target's refusal; `None`: an unknown target).
pub fn indirect_stop_text(caller: Value, target: Option<(Value, &crate::error::AdError)>) -> String {
    let caller = crate::error::demangle(&caller.name());
    match target {
        Some((t, e)) => format!(
            "oxidase: the derivative of `{caller}` called `{}` through a `dyn` method or function pointer, and that function could not be differentiated: {e}",
            crate::error::demangle(&t.name())
        ),
        None => format!(
            "oxidase: the derivative of `{caller}` called, through a `dyn` method or function pointer, a function the derivative was not generated for"
        ),
    }
}

/// Metadata that promises facts about primal values; a shadow copy must not inherit them.
pub const PRIMAL_ONLY_METADATA: &[&str] =
    &["range", "nonnull", "noundef", "align", "dereferenceable", "dereferenceable_or_null", "invariant.load"];

/// Clones `inst` at the builder with every operand passed through `map`, then `overrides`
/// (operand index, value) applied.
pub fn clone_at(b: &Builder, inst: Value, map: impl Fn(Value) -> Value, overrides: &[(u32, Value)]) -> Value {
    let c = inst.clone_instruction();
    b.insert(c);
    for i in 0..inst.num_operands() {
        let op = inst.operand(i);
        if op.is_null() {
            continue;
        }
        c.set_operand(i, map(op));
    }
    for &(i, v) in overrides {
        c.set_operand(i, v);
    }
    c.set_debug_loc_none();
    c
}

/// Drops the metadata of a clone that computes a shadow instead of a primal value.
pub fn strip_primal_facts(c: Value) {
    for kind in PRIMAL_ONLY_METADATA {
        c.clear_metadata(kind);
    }
}

/// Calls `llvm.<name>` overloaded on `ty`.
pub fn intrinsic(m: LLVMModuleRef, b: &Builder, name: &str, ty: Type, args: &[Value]) -> Value {
    let decl = intrinsic_declaration(m, &format!("llvm.{name}"), &[ty])
        .unwrap_or_else(|| panic!("intrinsic llvm.{name} not found"));
    b.call(decl.function_type(), decl, args)
}

/// Which operands (`X(i)`, `IntX(i)`, the exponent of `PowiMinus1`) and whether the result (`Y`)
/// an expression reads: reverse mode carries only those to its reverse sweep.
pub fn uses(e: &E, operands: &mut Vec<u8>, result: &mut bool) {
    match e {
        E::X(i) | E::IntX(i) => operands.push(*i),
        E::Y => *result = true,
        E::C(_) => {}
        E::Neg(a) | E::Un(_, a) => uses(a, operands, result),
        E::Add(a, b) | E::Sub(a, b) | E::Mul(a, b) | E::Div(a, b) | E::Bin(_, a, b) => {
            uses(a, operands, result);
            uses(b, operands, result);
        }
        E::PowiMinus1(a, n) => {
            uses(a, operands, result);
            operands.push(*n);
        }
        E::Select(_, a, b, t, f) => {
            for x in [a, b, t, f] {
                uses(x, operands, result);
            }
        }
    }
}

/// Evaluates a rule expression at the builder. `xs[i]` is operand `i` (needed only where
/// [`uses`] says so), `y` the primal result, `ty` the float type of the rule's result.
pub fn eval(m: LLVMModuleRef, b: &Builder, e: &E, xs: &[Option<Value>], y: Option<Value>, ty: Type) -> Value {
    let x = |i: &u8| xs[*i as usize].expect("operand used by the rule");
    let go = |e: &E| eval(m, b, e, xs, y, ty);
    match e {
        E::X(i) => x(i),
        E::IntX(i) => {
            // powi's exponent is one integer even for a vector base: convert, then splat.
            if ty.is_vector() {
                let s = b.sitofp(x(i), ty.element());
                let mut v = ty.undef();
                for k in 0..ty.vector_len() {
                    v = b.insert_element(v, s, Type::i32(ty.context()).const_int(k as u64));
                }
                v
            } else {
                b.sitofp(x(i), ty)
            }
        }
        E::Y => y.expect("result used by the rule"),
        E::C(c) => ty.const_float(*c),
        E::Neg(a) => {
            let a = go(a);
            b.fneg(a)
        }
        E::Add(l, r) | E::Sub(l, r) | E::Mul(l, r) | E::Div(l, r) => {
            let (l2, r2) = (go(l), go(r));
            match e {
                E::Add(..) => b.fadd(l2, r2),
                E::Sub(..) => b.fsub(l2, r2),
                E::Mul(..) => b.fmul(l2, r2),
                _ => b.fdiv(l2, r2),
            }
        }
        E::Un(name, a) => {
            let a = go(a);
            intrinsic(m, b, name, ty, &[a])
        }
        E::Bin(name, l, r) => {
            let (l, r) = (go(l), go(r));
            intrinsic(m, b, name, ty, &[l, r])
        }
        E::PowiMinus1(base, n) => {
            let base = go(base);
            let n = x(n);
            let nm1 = b.sub(n, n.ty().const_int(1));
            let decl = intrinsic_declaration(m, "llvm.powi", &[ty, n.ty()]).expect("llvm.powi");
            b.call(decl.function_type(), decl, &[base, nm1])
        }
        E::Select(cmp, l, r, t, f) => {
            let (l, r) = (go(l), go(r));
            let pred = match cmp {
                Cmp::Lt => RealPredicate::LLVMRealOLT,
                Cmp::Le => RealPredicate::LLVMRealOLE,
                Cmp::Gt => RealPredicate::LLVMRealOGT,
                Cmp::Ge => RealPredicate::LLVMRealOGE,
                Cmp::Eq => RealPredicate::LLVMRealOEQ,
            };
            let c = b.fcmp(pred, l, r);
            let (t, f) = (go(t), go(f));
            b.select(c, t, f)
        }
    }
}
