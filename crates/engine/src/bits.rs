//! Float bits carried by integers: which integer SSA values of a function hold the bit pattern
//! of a floating-point value, and as which float type.
//!
//! rustc and LLVM move floats through integers where types meet: a `Result<f64, E>` whose
//! payload shares a register with an integer becomes an `i64` phi fed by `bitcast double to i64`
//! and read back by `bitcast i64 to double`; SROA turns unions and byte copies into integer
//! values. Forward mode carries tangents of such integers as bits and needs nothing more;
//! reverse mode must keep an *adjoint* for them, which needs the float type the bits stand for.
//!
//! The analysis groups integer-typed values into *webs* connected by data movement that keeps the
//! bits (`phi`, `select`, `freeze`, `bitcast` between integer types of one shape, `shufflevector` of
//! vectors of one type) and records, per
//! web, the float types its bits are converted from or to by `bitcast`. A web seen as exactly one
//! float type has that *view*; one seen as several (an `i64` that is a `double` here and a
//! `<2 x float>` there) is [`View::Conflict`]. A view given by a `bitcast` also flows through a
//! stack slot that is only stored and loaded whole (a dev build's temporaries), from the values
//! stored to the values loaded.

use oxidase_llvm::{Opcode, Type, Value};
use std::collections::HashMap;
use std::fmt::Write;

/// What the bits of an integer web stand for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Nothing known: never converted to or from a float.
    Integer,
    /// The bits of this float (or float vector) type, of the same size.
    Float(Type),
    /// Converted to or from float types of different shapes.
    Conflict,
}

impl View {
    /// This view once the bits are also seen as the float type `t`.
    fn seen_as(self, t: Type) -> View {
        match self {
            View::Integer => View::Float(t),
            View::Float(u) if u == t => View::Float(u),
            _ => View::Conflict,
        }
    }
}

/// The webs of one function (see the module docs).
#[derive(Debug, Default)]
pub struct FloatBits {
    web: HashMap<Value, usize>,
    views: Vec<View>,
}

/// Integer scalars and integer vectors (the values a web is made of).
pub(crate) fn int_like(ty: Type) -> bool {
    ty.is_int() || (ty.is_vector() && ty.element().is_int())
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra] = rb;
        }
    }
}

/// Computes the webs of `function`.
pub fn analyze(function: Value) -> FloatBits {
    use Opcode::*;
    let mut ids: HashMap<Value, usize> = HashMap::new();
    let mut uf = UnionFind { parent: Vec::new() };
    let mut id = |v: Value, uf: &mut UnionFind| -> usize {
        *ids.entry(v).or_insert_with(|| {
            uf.parent.push(uf.parent.len());
            uf.parent.len() - 1
        })
    };
    // (web member, float type, strong): strong when a `bitcast` converts the bits, weak when
    // only the memory the integer moves through suggests floats.
    let mut seen_as: Vec<(usize, Type, bool)> = Vec::new();
    // Integers loaded from memory that holds a pointer there: addresses, not float bits.
    let mut addresses: Vec<usize> = Vec::new();
    let m = function.global_parent();
    for p in function.params() {
        if int_like(p.ty()) {
            id(p, &mut uf);
        }
    }
    for b in function.blocks() {
        for inst in b.instructions() {
            let ty = inst.ty();
            match inst.opcode() {
                LLVMPHI | LLVMSelect | LLVMFreeze if int_like(ty) => {
                    let me = id(inst, &mut uf);
                    for op in crate::activity::data_operands(inst) {
                        if !op.is_constant() {
                            let o = id(op, &mut uf);
                            uf.union(me, o);
                        }
                    }
                }
                // Lanes moved, bits kept: one web when the operands are vectors of the same type.
                LLVMShuffleVector if int_like(ty) => {
                    let me = id(inst, &mut uf);
                    for op in [inst.operand(0), inst.operand(1)] {
                        if !op.is_constant() && op.ty() == ty {
                            let o = id(op, &mut uf);
                            uf.union(me, o);
                        }
                    }
                }
                LLVMBitCast => {
                    let src = inst.operand(0);
                    match (int_like(src.ty()), int_like(ty)) {
                        (true, true) if src.ty() == ty => {
                            let (a, c) = (id(src, &mut uf), id(inst, &mut uf));
                            uf.union(a, c);
                        }
                        (true, false) if ty.is_float_or_float_vector() => {
                            let a = id(src, &mut uf);
                            seen_as.push((a, ty, true));
                        }
                        (false, true) if src.ty().is_float_or_float_vector() => {
                            let a = id(inst, &mut uf);
                            seen_as.push((a, src.ty(), true));
                        }
                        _ => {
                            if int_like(ty) {
                                id(inst, &mut uf);
                            }
                        }
                    }
                }
                // Floats moved through memory as integers of their size (a sort or a copy
                // that LLVM turned into `load i64`/`store i64` of `f64` elements): the
                // integer is seen as the float type the memory holds.
                LLVMLoad if int_like(ty) => {
                    let me = id(inst, &mut uf);
                    if let Some(t) = crate::types::float_bits_in_memory(
                        m,
                        inst.operand(0),
                        ty,
                        crate::types::only_moved(inst),
                    ) {
                        seen_as.push((me, t, false));
                    } else if crate::types::holds_pointer(m, inst.operand(0), ty) {
                        addresses.push(me);
                    }
                }
                LLVMStore if int_like(inst.operand(0).ty()) && !inst.operand(0).is_constant() => {
                    let v = inst.operand(0);
                    if let Some(t) = crate::types::float_bits_in_memory(m, inst.operand(1), v.ty(), crate::types::only_moved(v)) {
                        let me = id(v, &mut uf);
                        seen_as.push((me, t, false));
                    }
                }
                // A call declared to return one float, as an integer of its size (a dev build's
                // `Matrix1<f64>` as an `i64`): the integer is that float's bits.
                LLVMCall | LLVMInvoke if int_like(ty) => {
                    let me = id(inst, &mut uf);
                    let size = oxidase_llvm::module::abi_size(m, ty);
                    if let Some(t) = inst.called_function().and_then(|f| crate::declared::returned_float(m, f, size)) {
                        seen_as.push((me, t, true));
                    }
                }
                // ... and so is what such a function returns.
                LLVMRet if inst.num_operands() == 1 && int_like(inst.operand(0).ty()) && !inst.operand(0).is_constant() => {
                    let v = inst.operand(0);
                    let me = id(v, &mut uf);
                    if let Some(t) = crate::declared::returned_float(m, function, oxidase_llvm::module::abi_size(m, v.ty())) {
                        seen_as.push((me, t, true));
                    }
                }
                _ if int_like(ty) => {
                    id(inst, &mut uf);
                }
                _ => {}
            }
        }
    }
    // Stack slots only ever stored and loaded whole as one integer type (a dev build's
    // temporaries): what is loaded is what was stored.
    let mut slots = Vec::new();
    for b in function.blocks() {
        for slot in b.instructions() {
            if slot.opcode() != Opcode::LLVMAlloca {
                continue;
            }
            if let Some((loads, stored)) = whole_slot(m, slot) {
                if !loads.is_empty() && !stored.is_empty() {
                    let loads: Vec<usize> = loads.into_iter().map(|l| id(l, &mut uf)).collect();
                    let stored: Vec<usize> = stored.into_iter().map(|v| id(v, &mut uf)).collect();
                    slots.push((loads, stored));
                }
            }
        }
    }
    let n = uf.parent.len();
    let mut views = vec![View::Integer; n];
    // Webs whose view a `bitcast` gives (not only the memory they move through).
    let mut converted = vec![false; n];
    let address_webs: std::collections::HashSet<usize> =
        addresses.into_iter().map(|a| uf.find(a)).collect();
    for (a, t, strong) in seen_as {
        let r = uf.find(a);
        if address_webs.contains(&r) {
            // An address moved through memory as an integer (a dev build's struct of one
            // pointer): not float bits unless converted to a float.
            if strong {
                views[r] = View::Conflict;
            }
            continue;
        }
        converted[r] |= strong;
        views[r] = views[r].seen_as(t);
    }
    // The view flows from what a slot stores to what it loads, never back: a load whose
    // memory only suggests floats must not make the values stored there float bits (a fold's
    // accumulator, an integer returned by a closure). Only views a `bitcast` gives flow.
    loop {
        let mut changed = false;
        for (loads, stored) in &slots {
            let mut from = stored.iter().map(|&s| uf.find(s));
            let first = from.next().expect("slots kept have stores");
            let t = match views[first] {
                View::Float(t) if converted[first] => t,
                _ => continue,
            };
            if !from.all(|w| converted[w] && views[w] == View::Float(t)) {
                continue;
            }
            for &l in loads {
                let w = uf.find(l);
                if address_webs.contains(&w) {
                    continue;
                }
                let new = views[w].seen_as(t);
                if new != views[w] || !converted[w] {
                    views[w] = new;
                    converted[w] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut web = HashMap::new();
    for (v, i) in ids {
        web.insert(v, uf.find(i));
    }
    FloatBits { web, views }
}

/// The loads of the stack slot `slot` and the values stored into it, when every use of it is
/// a load or a store of the whole slot as one integer (or integer vector) type.
fn whole_slot(m: oxidase_llvm::llvm_sys::prelude::LLVMModuleRef, slot: Value) -> Option<(Vec<Value>, Vec<Value>)> {
    let (mut loads, mut stored) = (Vec::new(), Vec::new());
    let mut ty = None;
    for u in slot.users() {
        if !u.is_instruction() {
            return None;
        }
        let t = match u.opcode() {
            Opcode::LLVMLoad if !u.is_volatile() => {
                loads.push(u);
                u.ty()
            }
            Opcode::LLVMStore if u.operand(1) == slot && u.operand(0) != slot && !u.is_volatile() => {
                let v = u.operand(0);
                if !v.is_constant() {
                    stored.push(v);
                }
                v.ty()
            }
            _ => return None,
        };
        if !int_like(t) || ty.is_some_and(|x| x != t) {
            return None;
        }
        ty = Some(t);
    }
    let single = slot.operand(0).const_int_value() == Some(1);
    let whole = single && ty.is_some_and(|t| {
        oxidase_llvm::module::abi_size(m, t) == oxidase_llvm::module::abi_size(m, slot.allocated_type())
    });
    whole.then_some((loads, stored))
}

impl FloatBits {
    /// What the bits of the integer `v` stand for ([`View::Integer`] for anything else).
    pub fn view(&self, v: Value) -> View {
        match self.web.get(&v) {
            Some(&w) => self.views[w],
            None => View::Integer,
        }
    }

    /// The float type the bits of `v` stand for, if exactly one.
    pub fn float_view(&self, v: Value) -> Option<Type> {
        match self.view(v) {
            View::Float(t) => Some(t),
            _ => None,
        }
    }

    /// Whether the bits of `v` may be float data (a float view or a conflict).
    pub fn may_be_float(&self, v: Value) -> bool {
        self.view(v) != View::Integer
    }

    /// A printable report: each integer value with a view other than [`View::Integer`].
    pub fn report(&self, function: Value) -> String {
        let mut out = String::new();
        for b in function.blocks() {
            for inst in b.instructions() {
                match self.view(inst) {
                    View::Integer => {}
                    View::Float(t) => {
                        let _ = writeln!(
                            out,
                            "float bits {}: {}",
                            t.print(),
                            crate::error::describe(inst)
                        );
                    }
                    View::Conflict => {
                        let _ = writeln!(
                            out,
                            "float bits (conflicting): {}",
                            crate::error::describe(inst)
                        );
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxidase_llvm::module::{self, Context};

    /// An integer from a call, kept in a stack slot and read back: `moved` says whether the
    /// read is stored on (to `%out`) or dropped.
    fn slot_ir(moved: bool) -> String {
        let keep = if moved { "  store i64 %len, ptr %out\n" } else { "" };
        format!(
            r#"
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
declare {{ ptr, i64 }} @next(ptr)
define void @f(ptr %it, ptr %out) {{
  %slot = alloca [16 x i8], align 8
  %r = call {{ ptr, i64 }} @next(ptr %it)
  %p = extractvalue {{ ptr, i64 }} %r, 0
  %n = extractvalue {{ ptr, i64 }} %r, 1
  store ptr %p, ptr %slot
  %s1 = getelementptr inbounds i8, ptr %slot, i64 8
  store i64 %n, ptr %s1
  %len = load i64, ptr %s1
{keep}  ret void
}}
"#
        )
    }

    /// Integers only moved through memory may be floats moved as integers; a load nothing uses
    /// moves nothing (a dev build reads the length of an `Option<&[f64]>` and drops it), so it
    /// says nothing of the bytes.
    #[test]
    fn a_dead_load_moves_nothing() {
        let view = |moved: bool| {
            let ctx = Context::new();
            let owned = ctx.parse_ir(&slot_ir(moved), "t").unwrap();
            let f = module::get_function(owned.raw(), "f").unwrap();
            let len = f.blocks()[0].instructions().into_iter().find(|i| i.name() == "len").unwrap();
            analyze(f).float_view(len)
        };
        assert_eq!(view(false), None, "a dead load");
        assert!(view(true).is_some(), "the same bytes moved on may be float bits");
    }
}
