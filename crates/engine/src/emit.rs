//! Code emission shared by forward and reverse mode: cloning primal instructions and evaluating
//! rule expressions of the [`rules`](crate::rules) table.

use crate::rules::{Cmp, Partial, E};
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
        E::If(i, t, f) => {
            operands.push(*i);
            uses(t, operands, result);
            uses(f, operands, result);
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
        E::If(i, t, f) => {
            let (t, f) = (go(t), go(f));
            b.select(x(i), t, f)
        }
    }
}

/// One row of the rules table applied at the builder: the tangent `Σ ∂y/∂xᵢ·ẋᵢ` (forward
/// mode) or the adjoints `∂y/∂xᵢ·ȳ` (reverse mode). The products are simplified as they are
/// built, so an instruction costs what its hand-written derivative does: a partial of `±1`
/// multiplies nothing, `-p` subtracts, `if c {p} else {q}` selects, and partials that are
/// quotients over one denominator divide once (`fdiv`: `(ȧ - y·ḃ)/b` and `q = ȳ/b; ā += q;
/// b̄ -= y·q`).
pub struct Apply<'a> {
    pub m: LLVMModuleRef,
    pub b: &'a Builder,
    /// Operand `i`, where [`uses`] says a partial reads it.
    pub xs: &'a [Option<Value>],
    /// The primal result, where a partial reads it.
    pub y: Option<Value>,
    /// The result's type (partials are evaluated in it).
    pub ty: Type,
}

/// The zero a `select` chooses where a tangent (`+0.0`) or an adjoint (`-0.0`, the identity of
/// the `fadd` it flows into) is zero.
fn zero_of(ty: Type, forward: bool) -> Value {
    if forward {
        ty.zero()
    } else {
        ty.fadd_identity()
    }
}

/// A term of a sum with its sign (`true`: subtract it).
type Signed = (Value, bool);

impl Apply<'_> {
    fn expr(&self, e: &E) -> Value {
        eval(self.m, self.b, e, self.xs, self.y, self.ty)
    }

    /// `e·s`, or `None` when it is zero.
    fn times(&self, e: &E, s: Value, fwd: bool) -> Option<Signed> {
        match e {
            E::C(c) if *c == 1.0 => Some((s, false)),
            E::C(c) if *c == -1.0 => Some((s, true)),
            E::C(c) if *c == 0.0 => None,
            E::Neg(a) => self.times(a, s, fwd).map(|(v, neg)| (v, !neg)),
            E::If(i, t, f) => {
                let c = self.xs[*i as usize].expect("operand used by the rule");
                let (t, f) = (self.times(t, s, fwd), self.times(f, s, fwd));
                if t.is_none() && f.is_none() {
                    return None;
                }
                let zero = zero_of(s.ty(), fwd);
                let (t, f) = (t.map_or(zero, |t| self.value(t)), f.map_or(zero, |f| self.value(f)));
                Some((self.b.select(c, t, f), false))
            }
            _ => match quotient(e) {
                Some((neg, num, den)) => {
                    let (n, n_neg) = self.times(num, s, fwd)?;
                    let d = self.expr(den);
                    Some((self.b.fdiv(n, d), n_neg != neg))
                }
                None => {
                    let p = self.expr(e);
                    Some((self.b.fmul(p, s), false))
                }
            },
        }
    }

    fn value(&self, (v, neg): Signed) -> Value {
        if neg {
            self.b.fneg(v)
        } else {
            v
        }
    }

    /// `Σ tᵢ` with subtraction for negative terms.
    fn sum(&self, terms: impl IntoIterator<Item = Signed>) -> Option<Signed> {
        terms.into_iter().fold(None, |acc, (v, neg)| {
            Some(match acc {
                None => (v, neg),
                Some((a, false)) if neg => (self.b.fsub(a, v), false),
                Some((a, true)) if !neg => (self.b.fsub(v, a), false),
                Some((a, a_neg)) => (self.b.fadd(a, v), a_neg),
            })
        })
    }

    /// Forward mode: the tangent `Σ ∂y/∂xᵢ·ẋᵢ` over `terms` (partial, tangent of its operand),
    /// in the result's type; `None` when it is zero.
    pub fn tangent(&self, terms: &[(&Partial, Value)]) -> Option<Value> {
        let mut sums = Vec::new();
        let mut linear: Vec<(&E, Value)> = Vec::new();
        for &(p, s) in terms {
            match p {
                Partial::D(e) => linear.push((e, fit(self.b, s, self.ty))),
                Partial::LaneSum => sums.push(s),
                Partial::Zero | Partial::Inactive => {}
            }
        }
        let mut acc = self.combine(&linear).map(|t| self.value(t));
        for v in sums {
            let start = acc.unwrap_or_else(|| self.ty.fadd_identity());
            acc = Some(intrinsic(self.m, self.b, "vector.reduce.fadd", v.ty(), &[start, v]));
        }
        acc
    }

    /// `Σ eᵢ·sᵢ`: a shared condition selects once between the sums of both sides, a shared
    /// denominator divides once.
    fn combine(&self, terms: &[(&E, Value)]) -> Option<Signed> {
        if terms.len() > 1 {
            if let E::If(i, ..) = terms[0].0 {
                if terms.iter().all(|(e, _)| matches!(e, E::If(j, ..) if j == i)) {
                    let side = |first: bool| -> Vec<(&E, Value)> {
                        terms
                            .iter()
                            .map(|&(e, s)| match e {
                                E::If(_, t, f) => (if first { *t } else { *f }, s),
                                _ => unreachable!(),
                            })
                            .collect()
                    };
                    let (t, f) = (self.combine(&side(true)), self.combine(&side(false)));
                    if t.is_none() && f.is_none() {
                        return None;
                    }
                    let zero = self.ty.zero();
                    let c = self.xs[*i as usize].expect("operand used by the rule");
                    let (t, f) = (t.map_or(zero, |t| self.value(t)), f.map_or(zero, |f| self.value(f)));
                    return Some((self.b.select(c, t, f), false));
                }
            }
            let quotients: Option<Vec<_>> = terms.iter().map(|(e, s)| quotient(e).map(|q| (q, *s))).collect();
            if let Some(qs) = quotients {
                let den = qs[0].0 .2;
                if qs.iter().all(|((_, _, d), _)| *d == den) {
                    let nums: Vec<Signed> = qs
                        .iter()
                        .filter_map(|&((neg, num, _), s)| self.times(num, s, true).map(|(v, n)| (v, n != neg)))
                        .collect();
                    let (n, neg) = self.sum(nums)?;
                    let d = self.expr(den);
                    return Some((self.b.fdiv(n, d), neg));
                }
            }
        }
        let products: Vec<Signed> = terms.iter().filter_map(|&(e, s)| self.times(e, s, true)).collect();
        self.sum(products)
    }

    /// Reverse mode: the adjoint `∂y/∂xᵢ·ȳ` of each operand whose partial is given, in that
    /// operand's type (`types[i]`); `None` where it is zero or not asked for.
    pub fn adjoints(&self, partials: &[Option<&Partial>], seed: Value, types: &[Type]) -> Vec<Option<Value>> {
        // Quotients over one denominator share `ȳ/den`.
        let mut shared: Option<(&E, Value)> = None;
        let quotients: Vec<_> = partials.iter().flatten().filter_map(|p| if let Partial::D(e) = p { Some(quotient(e)) } else { None }).collect();
        if quotients.len() > 1 && quotients.iter().all(|q| q.is_some_and(|(_, _, d)| Some(d) == quotients[0].map(|q| q.2))) {
            let den = quotients[0].unwrap().2;
            let d = self.expr(den);
            shared = Some((den, self.b.fdiv(seed, d)));
        }
        partials
            .iter()
            .zip(types)
            .map(|(p, &ty)| {
                let v = match (*p)? {
                    Partial::Zero | Partial::Inactive => return None,
                    Partial::LaneSum => {
                        let mut splat = ty.undef();
                        for j in 0..ty.vector_len() {
                            splat = self.b.insert_element(splat, seed, Type::i32(ty.context()).const_int(j as u64));
                        }
                        return Some(splat);
                    }
                    Partial::D(e) => match (shared, quotient(e)) {
                        (Some((den, q)), Some((neg, num, d))) if d == den => self.times(num, q, false).map(|(v, n)| (v, n != neg)),
                        _ => self.times(e, seed, false),
                    },
                };
                v.map(|v| fit(self.b, self.value(v), ty))
            })
            .collect()
    }
}

/// `e` as `±num/den`.
fn quotient(e: &E) -> Option<(bool, &E, &E)> {
    match e {
        E::Div(n, d) => Some((false, n, d)),
        E::Neg(E::Div(n, d)) => Some((true, n, d)),
        _ => None,
    }
}

/// `v` converted to the float type `ty` of another precision (`fpext`/`fptrunc` rows); `v`
/// itself when the types agree.
fn fit(b: &Builder, v: Value, ty: Type) -> Value {
    let shape = |t: Type| t.is_vector().then(|| t.vector_len());
    if v.ty() == ty || !ty.is_float_or_float_vector() || !v.ty().is_float_or_float_vector() || shape(v.ty()) != shape(ty) {
        return v;
    }
    let rank = |t: Type| {
        use oxidase_llvm::llvm_sys::LLVMTypeKind::*;
        let t = if t.is_vector() { t.element() } else { t };
        match t.kind() {
            LLVMHalfTypeKind | LLVMBFloatTypeKind => 0,
            LLVMFloatTypeKind => 1,
            LLVMDoubleTypeKind => 2,
            _ => 3,
        }
    };
    let op = if rank(v.ty()) < rank(ty) { oxidase_llvm::Opcode::LLVMFPExt } else { oxidase_llvm::Opcode::LLVMFPTrunc };
    b.cast(op, v, ty)
}
