//! The derivative functions' signatures (combined, augmented forward, split reverse), and how the primal's parameters map onto them.

use super::*;

/// Types of the Active parameters, in order.
pub(super) fn active_param_types(key: &ReverseKey) -> Vec<Type> {
    let fty = key.function.function_type();
    fty.param_types().into_iter().zip(&key.args).filter(|(_, a)| **a == RevArg::Active).map(|(t, _)| t).collect()
}

/// Primal parameters as the derivative takes them (Constant dropped, shadows after Duplicated).
pub(super) fn forward_param_types(key: &ReverseKey) -> Vec<Type> {
    let fty = key.function.function_type();
    let mut params = Vec::new();
    for (ty, act) in fty.param_types().into_iter().zip(&key.args) {
        match act {
            RevArg::Constant(_) => {}
            RevArg::Const | RevArg::Active => params.push(ty),
            RevArg::Duplicated => {
                params.push(ty);
                params.extend(std::iter::repeat_n(ty, key.width as usize));
            }
        }
    }
    params
}

/// The user-facing combined derivative's type (see [`crate::ReverseKey`]).
pub fn combined_type(key: &ReverseKey, arena: bool) -> Type {
    let fty = key.function.function_type();
    let ctx = fty.context();
    let mut params = forward_param_types(key);
    let ret = fty.return_type();
    if key.ret == RevRet::Active && !ret.is_void() {
        params.push(ret);
    }
    if arena {
        params.push(Type::ptr(ctx));
    }
    let mut fields = Vec::new();
    if !ret.is_void() {
        fields.push(ret);
    }
    fields.extend(active_param_types(key));
    let r = if fields.is_empty() { Type::void(ctx) } else { Type::struct_of(ctx, &fields) };
    Type::function(r, &params, false)
}

/// Whether the split forward function returns shadows of its (pointer) result.
pub(super) fn returns_shadow(key: &ReverseKey) -> bool {
    let r = key.function.function_type().return_type();
    // An Active integer result is an address in disguise (`activity::carries_address`).
    key.ret == RevRet::Active && (r.contains_pointer() || r.is_int())
}

/// Whether the split reverse function takes the result's adjoint.
pub(super) fn takes_seed(key: &ReverseKey) -> bool {
    let r = key.function.function_type().return_type();
    key.ret == RevRet::Active && r.contains_float() || matches!(key.ret, RevRet::FloatBits(_))
}

/// The type of the result's adjoint a split reverse function takes (see [`takes_seed`]).
pub(super) fn seed_type(key: &ReverseKey) -> Type {
    match key.ret {
        RevRet::FloatBits(t) => t,
        _ => key.function.function_type().return_type(),
    }
}

/// Whether a parameter of the augmented forward function of this type is passed again to the
/// split reverse function ([`split_reverse_type`]). Not an aggregate: its caller would keep it
/// whole, where the callee keeps only the fields its reversal reads.
pub(super) fn passed_again(t: Type) -> bool {
    !t.is_aggregate()
}

pub fn augmented_type(key: &ReverseKey) -> Type {
    let fty = key.function.function_type();
    let ctx = fty.context();
    let mut params = forward_param_types(key);
    params.push(Type::ptr(ctx));
    let ret = fty.return_type();
    let r = if ret.is_void() {
        ret
    } else if returns_shadow(key) {
        Type::struct_of(ctx, &vec![ret; 1 + key.width as usize])
    } else {
        Type::struct_of(ctx, &[ret])
    };
    Type::function(r, &params, false)
}

pub fn split_reverse_type(key: &ReverseKey) -> Type {
    let fty = key.function.function_type();
    let ctx = fty.context();
    let w = key.width as usize;
    // The tape, then the primal arguments as the augmented forward function took them (the
    // caller has them, or recomputes them, where it calls this), then the seeds.
    let mut params = vec![Type::ptr(ctx)];
    params.extend(forward_param_types(key).into_iter().filter(|&t| passed_again(t)));
    if takes_seed(key) {
        params.extend(std::iter::repeat_n(seed_type(key), w));
    }
    let fields: Vec<Type> = active_param_types(key).into_iter().flat_map(|t| std::iter::repeat_n(t, w)).collect();
    let r = if fields.is_empty() { Type::void(ctx) } else { Type::struct_of(ctx, &fields) };
    Type::function(r, &params, false)
}

impl Gen<'_> {
    pub(super) fn map_params(&mut self) {
        let params: Vec<Param> = self
            .key
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| match a {
                RevArg::Constant(c) => Param::Specialized(*c),
                RevArg::Const | RevArg::Active => Param::Plain { own_shadow: self.self_shadowed.contains(&i) },
                RevArg::Duplicated => Param::Shadowed,
            })
            .collect();
        self.map.map_params(self.engine, self.primal, self.fwd_fn.params(), &params, self.width);
        self.map.copy_param_facts(self.primal, self.fwd_fn, self.runtime);
    }

    /// Split reverse function: its entry pops which return the forward sweep took (if several)
    /// and enters that block's reversal.
    pub(super) fn enter_reverse_split(&mut self) {
        let rets: Vec<Block> = self.returns.iter().copied().filter(|r| self.activity.returning.contains(r)).collect();
        if rets.len() == 1 {
            self.b.br(self.rhead[&rets[0]]);
            return;
        }
        let ctx = context_of(self.module());
        let i32t = Type::i32(ctx);
        let which = self.tape_tag(tape::pop(self.module(), &self.b, self.rev_local, i32t));
        let cases: Vec<(Value, Block)> =
            rets.iter().enumerate().map(|(i, &r)| (i32t.const_int(i as u64), self.rhead[&r])).collect();
        if cases.is_empty() {
            self.b.unreachable();
            return;
        }
        self.b.switch(which, cases[0].1, &cases[1..]);
        // The forward sweep pushes the index as the very last entry of each returning block.
        for (i, &r) in rets.iter().enumerate() {
            let t = self.save_point[&r];
            self.b.position_before(t);
            self.tape_tags(tape::push(self.module(), &self.b, self.fwd_local, &[i32t.const_int(i as u64)]));
        }
    }
}
