//! Run-time activity: shadow pointers that may be the primal pointers themselves.
//!
//! Constant memory kept beside differentiated memory (a `Const` slice zipped with a
//! differentiated one, a struct of iterators over both, a `Const` argument passed where a callee
//! needs a shadow) is given *itself* as its shadow
//! ([`Activity::self_shadowed`](crate::activity::Activity::self_shadowed)). A derivative
//! generated with [`ForwardKey::runtime_activity`](crate::ForwardKey::runtime_activity) (or the
//! reverse key's) may therefore see `shadow == primal` at any access to shadow memory whose
//! pointer does not come from its own fresh shadow allocation ([`may_alias`]). There:
//!
//! * a tangent or adjoint read from it is zero (constant data has no derivative);
//! * nothing is written or accumulated into it (the primal memory must stay as it is, and may
//!   be read-only);
//! * a differentiated value, or a pointer with a shadow of its own, written into it would lose
//!   its derivative: the derivative stops with a message ([`check`]) instead of returning a
//!   wrong number.
//!
//! This module builds those guards; the transformations call them at each access.

use crate::tape::helper;
use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::{context_of, string_constant};
use oxidase_llvm::{Block, Builder, IntPredicate, Opcode, Type, Value};

/// Whether the shadow of the primal pointer `p` may be `p` itself: it is not derived (through
/// GEPs and casts) from a stack slot or a heap block allocated in this function, whose shadows
/// are always fresh memory.
pub fn may_alias(p: Value, subst: &std::collections::HashMap<Value, Value>) -> bool {
    let mut v = p;
    for _ in 0..64 {
        if !v.is_instruction() {
            return true;
        }
        match v.opcode() {
            Opcode::LLVMGetElementPtr | Opcode::LLVMBitCast | Opcode::LLVMAddrSpaceCast => v = v.operand(0),
            Opcode::LLVMAlloca => return false,
            Opcode::LLVMCall => {
                return !matches!(crate::calls::classify(v, subst), crate::calls::CallKind::Allocation(_));
            }
            _ => return true,
        }
    }
    true
}

/// `icmp eq shadow, primal`.
pub fn same(b: &Builder, shadow: Value, primal: Value) -> Value {
    b.icmp(IntPredicate::LLVMIntEQ, shadow, primal)
}

/// `icmp ne shadow, primal`.
pub fn differs(b: &Builder, shadow: Value, primal: Value) -> Value {
    b.icmp(IntPredicate::LLVMIntNE, shadow, primal)
}

/// `bad` for a copy of `len` bytes: only when it moves any (a copy of nothing loses nothing, and
/// an empty buffer's pointer and its shadow may both be null, equal without being constant).
pub fn when_copying(b: &Builder, bad: Value, len: Value) -> Value {
    let some = b.icmp(IntPredicate::LLVMIntNE, len, len.ty().zero());
    b.and(bad, some)
}

/// Stops the program with `text` (see `Engine::lost_derivative_text`) when `bad` (an
/// `i1`) is true: a derivative would otherwise be lost.
pub fn check(m: LLVMModuleRef, b: &Builder, bad: Value, text: &str) {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    let msg = string_constant(m, &format!("oxidase.ra.msg.{:016x}", h.finish()), text);
    let ctx = context_of(m);
    let len = Type::i64(ctx).const_int(text.len() as u64);
    let f = fail_function(m);
    b.call(f.function_type(), f, &[bad, msg, len]);
}

/// `void oxidase.ra.check(i1 bad, ptr msg, i64 len)`: if `bad`, writes the message to stderr
/// and aborts.
fn fail_function(m: LLVMModuleRef) -> Value {
    let ctx = context_of(m);
    let params = [Type::i1(ctx), Type::ptr(ctx), Type::i64(ctx)];
    conditional(m, "oxidase.ra.check", &params, |_, ps| ps[0], |b, ps| {
        let write = crate::tape::libc_function(m, "write");
        b.call(write.function_type(), write, &[Type::i32(ctx).const_int(2), ps[1], ps[2]]);
        let abort = crate::tape::libc_function(m, "abort");
        b.call(abort.function_type(), abort, &[]);
        b.unreachable();
    })
}

/// An always-inlined helper `void name(params…)` whose body runs only when `cond(params)`
/// holds; `body` may end its block itself (`unreachable`). Built once per module.
fn conditional(
    m: LLVMModuleRef,
    name: &str,
    params: &[Type],
    cond: impl FnOnce(&Builder, &[Value]) -> Value,
    body: impl FnOnce(&Builder, &[Value]),
) -> Value {
    let ctx = context_of(m);
    let f = match helper(m, name, Type::function(Type::void(ctx), params, false)) {
        Ok(f) => return f,
        Err(f) => f,
    };
    f.add_fn_attribute("alwaysinline");
    let ps = f.params();
    let b = Builder::new(ctx);
    let entry = Block::append(ctx, f, "entry");
    let run = Block::append(ctx, f, "run");
    let done = Block::append(ctx, f, "done");
    b.position_at_end(entry);
    let c = cond(&b, &ps);
    b.cond_br(c, run, done);
    b.position_at_end(run);
    body(&b, &ps);
    if b.insert_block().terminator().is_none() {
        b.br(done);
    }
    b.position_at_end(done);
    b.ret_void();
    f
}

/// `store v, shadow` unless `shadow == primal`.
pub fn store(m: LLVMModuleRef, b: &Builder, v: Value, shadow: Value, primal: Value) {
    let f = guarded(m, "store", v.ty(), |b, v, s| {
        b.store(v, s);
    });
    b.call(f.function_type(), f, &[shadow, primal, v]);
}

/// `*shadow += d` (float leaves) unless `shadow == primal`.
pub fn accumulate(m: LLVMModuleRef, b: &Builder, d: Value, shadow: Value, primal: Value) {
    let ty = d.ty();
    let f = guarded(m, "add", ty, |b, d, s| {
        let old = b.load(ty, s);
        let new = crate::reverse::add_adjoints(b, old, d);
        b.store(new, s);
    });
    b.call(f.function_type(), f, &[shadow, primal, d]);
}

/// `load ty, shadow` with its float leaves zero when `shadow == primal` (reading the primal
/// memory is always allowed; its other leaves are the primal's, which are their own shadows).
pub fn load(b: &Builder, ty: Type, shadow: Value, primal: Value) -> Value {
    let v = b.load(ty, shadow);
    let eq = same(b, shadow, primal);
    let z = crate::reverse::zero_floats(b, v);
    b.select(eq, z, v)
}

/// `void oxidase.ra.<what>.<ty>(ptr shadow, ptr primal, ty v)`: runs `body(v, shadow)` when the
/// pointers differ; always inlined.
fn guarded(m: LLVMModuleRef, what: &str, ty: Type, body: impl FnOnce(&Builder, Value, Value)) -> Value {
    let p = Type::ptr(context_of(m));
    let name = format!("oxidase.ra.{what}.{}", ty.print());
    conditional(m, &name, &[p, p, ty], |b, ps| differs(b, ps[0], ps[1]), |b, ps| body(b, ps[2], ps[0]))
}

/// Whether the pointer leaves of `mirrored` (what goes into shadow memory) differ from those of
/// `primal` (what the primal stored): `i1`, or `None` when the type holds no pointers.
pub fn pointers_differ(b: &Builder, mirrored: Value, primal: Value) -> Option<Value> {
    let ty = primal.ty();
    if ty.is_pointer() {
        return Some(differs(b, mirrored, primal));
    }
    if ty.is_aggregate() {
        let mut acc: Option<Value> = None;
        for i in 0..ty.aggregate_len() {
            let (a, p) = (b.extract_value(mirrored, i), b.extract_value(primal, i));
            if let Some(d) = pointers_differ(b, a, p) {
                acc = Some(match acc {
                    None => d,
                    Some(x) => {
                        let i1 = Type::i1(b.context());
                        let or = b.select(x, i1.const_int(1), d);
                        or
                    }
                });
            }
        }
        return acc;
    }
    if ty.is_vector() && ty.element().is_pointer() {
        let i1 = Type::i1(b.context());
        let mut acc = i1.zero();
        for j in 0..ty.vector_len() {
            let idx = Type::i32(b.context()).const_int(j as u64);
            let d = differs(b, b.extract_element(mirrored, idx), b.extract_element(primal, idx));
            acc = b.select(acc, i1.const_int(1), d);
        }
        return Some(acc);
    }
    None
}

/// `void oxidase.ra.call_if.<f>(i1 c, <f's parameters>)`: calls `f` with the other arguments
/// when `c`; always inlined. For a shadow's `free` that must not run on the primal's block.
pub fn call_if(m: LLVMModuleRef, f: Value) -> Value {
    let fty = f.function_type();
    let mut params = vec![Type::i1(context_of(m))];
    params.extend(fty.param_types());
    let name = format!("oxidase.ra.call_if.{}", f.name());
    conditional(m, &name, &params, |_, ps| ps[0], |b, ps| {
        b.call(fty, f, &ps[1..]);
    })
}
