//! Activity analysis: which values of a function carry a derivative.
//!
//! A value is *active* when it carries a tangent: a float derived from an active input, or a
//! pointer whose memory has a shadow. The analysis is a monotone fixpoint over two rules:
//!
//! * **forward**: results of float arithmetic, casts, aggregates, phis and loads through active
//!   pointers are active when an operand is;
//! * **requirement**: when an active value is stored into memory (or copied there), the object
//!   behind the destination pointer must get a shadow. Walking the pointer back to its root
//!   decides how: a stack slot or fresh heap allocation gets a shadow allocation; a pointer loaded
//!   from memory requires a shadow for that memory in turn; memory the caller declared constant
//!   (a `Const` argument, a mutable global) cannot get one, which is an error.
//!
//! Integers never become active through arithmetic; an integer loaded from shadowed memory gets a
//! shadow of the same bits so that memory copied as integers keeps its tangent.

use crate::calls::{classify, indirect_candidates, CallKind};
use crate::bits::FloatBits;
use crate::error::{describe, AdError};
use oxidase_llvm::{Block, Opcode, Value};
use std::collections::{HashMap, HashSet};

/// The result of the analysis for one function and one activity of its parameters.
#[derive(Debug, Default)]
pub struct Activity {
    /// Instructions, arguments and allocation sites that carry a tangent or a shadow.
    pub active: HashSet<Value>,
    /// Constant globals whose address flows into shadowed memory: they get zero shadows.
    pub shadow_globals: HashSet<Value>,
    /// Inactive parameters whose memory must nevertheless have a shadow (derivative data or
    /// shadowed pointers are written into it). A caller must pass them as Dual, or let the
    /// parameter be its own shadow (run-time activity, see [`Activity::self_shadowed`]).
    pub required_params: Vec<usize>,
    /// The subset of `required_params` into whose memory a differentiated value is written
    /// directly: such a parameter can never be its own shadow.
    pub written_params: Vec<usize>,
    /// The first instruction writing into each of `written_params` (for messages).
    pub write_sites: HashMap<usize, Value>,
    /// Integers that carry float bits ([`crate::bits`]).
    pub bits: std::rc::Rc<FloatBits>,
    /// Active integers that carry a pointer (`ptrtoint` of a shadowed pointer, and the phis,
    /// selects and freezes joining such integers, as `Vec`'s dangling pointer and allocations
    /// meet in release builds): their shadow is the shadow pointer as an integer. Other
    /// integers joined with them (constants, parameters) are their own shadows.
    pub pointer_ints: HashSet<Value>,
    /// Blocks from which a `ret` can be reached ([`crate::cfg::Cfg::returning_blocks`]): the
    /// analysis ignores the others (panic paths) and both modes copy them as primal code only.
    pub returning: HashSet<Block>,
}

impl Activity {
    /// An atomic read-modify-write or compare-exchange of integers that are numbers (a reference
    /// count in an `Arc`, a `Mutex` state): it carries no derivative, so on differentiated
    /// memory it is copied as primal code (the shadow's integers are never read back as data).
    pub fn atomic_on_numbers(&self, inst: Value) -> bool {
        let v = if inst.opcode() == Opcode::LLVMAtomicCmpXchg { inst.operand(2) } else { inst.operand(1) };
        v.ty().is_int() && !self.bits.may_be_float(v) && !self.bits.may_be_float(inst)
    }

    /// `-Z autodiff=PrintAA`: the activity of every argument and instruction of `f`, then the
    /// integers that carry float bits.
    pub fn report(&self, f: Value) -> String {
        let mut s = format!("activity of {}:\n", crate::error::demangle(&f.name()));
        for p in f.params() {
            let tag = if self.is_active(p) { "active  " } else { "constant" };
            s.push_str(&format!("  {tag} argument {}\n", describe(p)));
        }
        for b in f.blocks() {
            for i in b.instructions() {
                if i.ty().is_void() && i.opcode() != Opcode::LLVMStore && i.opcode() != Opcode::LLVMCall {
                    continue;
                }
                let tag = if self.is_active(i) { "active  " } else { "constant" };
                s.push_str(&format!("  {tag} {}\n", describe(i)));
            }
        }
        for line in self.bits.report(f).lines() {
            s.push_str(&format!("  {line}\n"));
        }
        s
    }

    pub fn is_active(&self, v: Value) -> bool {
        self.active.contains(&v) || self.shadow_globals.contains(&v)
    }

    /// The inactive parameters that must be their own shadows: their pointers are kept beside
    /// shadowed ones (a `Const` slice in a `zip` with a differentiated one, a struct of
    /// iterators), so the derivative reads "shadow" memory through them. Such a parameter's
    /// shadow is the parameter itself, and every access to shadow memory that may be one of
    /// them checks at run time whether it is (run-time activity): reads of it give zero
    /// derivatives, nothing is accumulated into it. Refuses a parameter into whose memory a
    /// differentiated value is written (`written_params`); `activity` names what the user
    /// should mark it instead (`Dual`, `Duplicated`).
    pub fn self_shadowed(&self, function: Value, active_params: &[bool], activity: &str) -> Result<Vec<usize>, Vec<AdError>> {
        if let Some(&k) = self.written_params.iter().find(|&&k| !active_params[k]) {
            let p = function.param(k as u32);
            let mut e = AdError::new(
                function,
                format!(
                    "a differentiated value is written into the memory of {}, which is Const (not differentiated)",
                    crate::error::describe_param(p)
                ),
                format!("mark that argument {activity} (with a zero shadow) instead of Const"),
            );
            if let Some(&site) = self.write_sites.get(&k) {
                e = e.at(site);
            }
            return Err(vec![e]);
        }
        Ok(self.required_params.iter().copied().filter(|&k| !active_params[k]).collect())
    }
}

/// Answers, for a call of `callee` whose parameter `i` is active iff `active[i]` and whose
/// pointer result needs a shadow iff the flag is set, which inactive parameters the callee needs
/// shadows for (interprocedural requirement, see [`Activity`]), each with whether
/// differentiated values are written into its memory directly.
pub type CalleeRequirements<'a> = dyn FnMut(Value, &[bool], bool) -> Vec<(usize, Need)> + 'a;

/// Why an object needs a shadow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Need {
    /// A differentiated value is written into it.
    Data,
    /// Shadow pointers are kept beside it, or it is read through a shadow: constant memory can
    /// be its own shadow there (run-time activity).
    Mirror,
}

struct Analyzer<'s> {
    function: Value,
    /// The caller needs a shadow for the returned pointer.
    ret_shadow: bool,
    subst: &'s HashMap<Value, Value>,
    callees: &'s mut CalleeRequirements<'s>,
    result: Activity,
    errors: Vec<AdError>,
    changed: bool,
    /// What each copy moves ([`crate::types::copy_contents`]), asked once per analysis (the
    /// fixpoint visits every copy again on each round).
    copies: HashMap<Value, crate::types::Contents>,
}

/// Analyzes `function` whose parameter `i` is active iff `active_params[i]`; `ret_shadow`: the
/// returned pointer must have a shadow; `subst` maps parameters to constants the derivative is
/// specialized on.
pub fn analyze<'s>(
    function: Value,
    active_params: &[bool],
    ret_shadow: bool,
    bits: std::rc::Rc<FloatBits>,
    subst: &'s HashMap<Value, Value>,
    callees: &'s mut CalleeRequirements<'s>,
) -> Result<Activity, Vec<AdError>> {
    // Code that cannot reach a return (panic paths) computes nothing the derivative uses.
    let cfg = crate::cfg::Cfg::new(crate::forward::reverse_post_order(function));
    let returning = cfg.returning_blocks();
    let insts: Vec<Value> =
        cfg.order.iter().filter(|b| returning.contains(b)).flat_map(|b| b.instructions()).collect();
    let result = Activity { bits, returning, ..Activity::default() };
    let mut a = Analyzer { function, ret_shadow, subst, callees, result, errors: Vec::new(), changed: true, copies: HashMap::new() };
    for (p, &act) in function.params().into_iter().zip(active_params) {
        if act {
            a.result.active.insert(p);
        }
    }
    while a.changed && a.errors.is_empty() {
        a.changed = false;
        for &inst in &insts {
            a.visit(inst);
        }
    }
    a.result.pointer_ints = pointer_ints(&a.result, &insts, ret_shadow);
    if a.errors.is_empty() {
        Ok(a.result)
    } else {
        a.errors.dedup();
        Err(a.errors)
    }
}

/// The active integers carrying pointers (see [`Activity::pointer_ints`]).
fn pointer_ints(result: &Activity, insts: &[Value], ret_shadow: bool) -> HashSet<Value> {
    use Opcode::*;
    let mut set = HashSet::new();
    let mut changed = true;
    while changed {
        changed = false;
        for &i in insts {
            if !i.ty().is_int() || !result.is_active(i) || set.contains(&i) {
                continue;
            }
            let carries = match i.opcode() {
                LLVMPtrToInt => true,
                // An address read from memory or returned by a call as an integer (a struct
                // of one pointer moved as an `i64` in a dev build).
                LLVMLoad | LLVMCall | LLVMInvoke => {
                    !result.bits.may_be_float(i)
                        && carries_address(
                            i.parent_block().parent().global_parent(),
                            i,
                            ret_shadow,
                            0,
                        )
                }
                LLVMPHI | LLVMSelect | LLVMFreeze => {
                    data_operands(i).iter().any(|o| set.contains(o))
                }
                _ => false,
            };
            if carries {
                set.insert(i);
                changed = true;
            }
        }
    }
    set
}

/// Whether the integer `v` may be an address in disguise that reaches a place where its shadow
/// is needed: stored into memory not declared as integers of its width (a struct holding one
/// pointer, which a dev build moves and returns as an `i64`), turned back into a pointer, or
/// returned where the caller wants the result's shadow (`ret_shadow`). The shadow of an integer
/// that is only data is the integer itself, so following one that is not an address costs
/// nothing but the copy.
pub fn carries_address(
    m: oxidase_llvm::llvm_sys::prelude::LLVMModuleRef,
    v: Value,
    ret_shadow: bool,
    depth: u32,
) -> bool {
    use Opcode::*;
    // Addresses are 64 bits wide on every target the engine supports.
    if !(v.ty().is_int() && v.ty().int_width() == 64) || depth > 4 {
        return false;
    }
    if depth == 0 && crate::types::punned_address(m, v) {
        return true;
    }
    // A call declared to return floats (a one-element matrix returned as an `i64`) returns
    // float bits, not an address.
    if v.is_instruction()
        && matches!(v.opcode(), LLVMCall | LLVMInvoke)
        && v.called_function()
            .is_some_and(|f| crate::declared::returns_floats(m, f))
    {
        return false;
    }
    v.users().into_iter().any(|u| {
        u.is_instruction()
            && match u.opcode() {
                LLVMStore => {
                    u.operand(0) == v
                        && !declared_integer(m, u.operand(1))
                        && !crate::types::declared_float_at(m, u.operand(1))
                }
                LLVMIntToPtr => true,
                LLVMRet => ret_shadow,
                LLVMPHI | LLVMSelect | LLVMFreeze => carries_address(m, u, ret_shadow, depth + 1),
                _ => false,
            }
    })
}

/// Whether the 8 bytes at `p` are declared as an integer (a `usize`, an `i64`).
fn declared_integer(m: oxidase_llvm::llvm_sys::prelude::LLVMModuleRef, p: Value) -> bool {
    crate::declared::pointee_leaves(m, p, Some(8))
        .is_some_and(|l| l.iter().all(|t| t.is_int() && t.int_width() == 64))
}

/// Whether `v` is an aggregate holding pointers (beside floats, or beside other pointers):
/// active for one field, it may still lack the shadows of its other pointers (a `{ ptr, ptr }`
/// of constant `println!` pieces and differentiated arguments; `Option<(&mut f64, f64)>` as
/// `{ ptr, double }`).
fn is_mixed(v: Value) -> bool {
    v.ty().is_aggregate() && v.ty().contains_pointer()
}

/// Whether a value of this type can carry a tangent across a call boundary.
pub fn differentiable_type(ty: oxidase_llvm::Type) -> bool {
    ty.contains_float() || ty.contains_pointer()
}

impl Analyzer<'_> {
    fn active(&self, v: Value) -> bool {
        self.result.is_active(v)
    }

    fn mark(&mut self, v: Value) {
        if self.result.active.insert(v) {
            self.changed = true;
        }
    }

    fn any_active(&self, vals: &[Value]) -> bool {
        vals.iter().any(|&v| self.active(v))
    }

    fn visit(&mut self, inst: Value) {
        use Opcode::*;
        // Phis, selects and calls are visited again: an operand that becomes active later
        // changes what they require (a callee is asked again with the new pattern).
        if self.active(inst) && !matches!(inst.opcode(), LLVMPHI | LLVMSelect | LLVMCall | LLVMInvoke) {
            return;
        }
        match inst.opcode() {
            LLVMFAdd | LLVMFSub | LLVMFMul | LLVMFDiv | LLVMFRem | LLVMFNeg | LLVMFPExt | LLVMFPTrunc
            | LLVMBitCast | LLVMAddrSpaceCast | LLVMFreeze | LLVMExtractValue | LLVMInsertValue
            | LLVMExtractElement | LLVMInsertElement | LLVMShuffleVector | LLVMIntToPtr | LLVMPtrToInt => {
                let ops = data_operands(inst);
                if self.any_active(&ops) {
                    self.mark(inst);
                    // A pointer taken out of an aggregate that is active for another field (a
                    // `{ ptr, double }` result): its shadow must exist where it comes from.
                    if inst.opcode() == LLVMExtractValue && inst.ty().contains_pointer() && is_mixed(inst.operand(0)) {
                        self.require(inst.operand(0), true, Need::Mirror, inst);
                    }
                }
            }
            LLVMGetElementPtr => {
                if self.active(inst.operand(0)) {
                    self.mark(inst);
                }
            }
            // `!invariant.load` memory never changes (rustc: vtables): it holds no derivative.
            LLVMLoad => {
                if self.active(inst.operand(0)) && !inst.has_metadata("invariant.load") {
                    self.mark(inst);
                }
            }
            LLVMStore => {
                let (v, p) = (inst.operand(0), inst.operand(1));
                if self.active(v) && !self.active(p) {
                    // Integers may be float bits in disguise: give local memory a shadow, but do
                    // not insist where that is impossible.
                    let strict = !v.ty().is_int();
                    let need = if v.ty().contains_pointer() { Need::Mirror } else { Need::Data };
                    self.require(p, strict, need, inst);
                } else if !self.active(v)
                    && self.active(p)
                    && (v.ty().contains_pointer()
                        || crate::types::punned_address(self.function.global_parent(), v))
                {
                    // A pointer stored into shadow memory will be read back as a shadow pointer
                    // and dereferenced: what it points to needs a shadow too. So does an address
                    // moved as an integer (a view's pointer returned as an `i64`).
                    self.require(v, true, Need::Mirror, inst);
                }
            }
            LLVMPHI | LLVMSelect => {
                let ops = data_operands(inst);
                if self.any_active(&ops) {
                    self.mark(inst);
                    if inst.ty().is_pointer() {
                        // Every pointer that can flow here is dereferenced through its shadow.
                        for op in ops {
                            if !self.active(op) {
                                self.require(op, true, Need::Mirror, inst);
                            }
                        }
                    }
                }
            }
            LLVMTrunc | LLVMZExt | LLVMSExt | LLVMShl | LLVMLShr | LLVMAShr | LLVMAnd | LLVMOr | LLVMXor | LLVMAdd
            | LLVMSub | LLVMMul => {
                // Integer arithmetic never carries a derivative; where its result is float bits
                // (read back as a float), dropping the derivative of an active operand would be
                // a silently wrong number.
                if self.any_active(&inst.operands()) && self.result.bits.may_be_float(inst) {
                    self.float_bits_error(inst, "are changed by integer arithmetic");
                }
            }
            LLVMCall | LLVMInvoke => self.visit_call(inst),
            LLVMRet if self.ret_shadow && inst.num_operands() == 1 && inst.operand(0).ty().contains_pointer() => {
                let v = inst.operand(0);
                if !self.active(v) || is_mixed(v) {
                    self.require(v, true, Need::Mirror, inst);
                }
            }
            _ => {}
        }
    }

    fn copy_contents(&mut self, call: Value) -> crate::types::Contents {
        let m = self.function.global_parent();
        *self.copies.entry(call).or_insert_with(|| crate::types::copy_contents(m, call))
    }

    fn visit_call(&mut self, call: Value) {
        let args = call.call_args();
        match classify(call, self.subst) {
            CallKind::Ignored | CallKind::IntegerOnly | CallKind::Deallocation | CallKind::Allocation(_) => {}
            CallKind::MemSet => {}
            CallKind::ThreadLocal => {
                if self.active(args[0]) {
                    self.mark(call);
                }
            }
            CallKind::MemTransfer => {
                if self.active(args[1]) && !self.active(args[0]) && is_write_only(args[0]) {
                    // Copied into a local nothing reads (the old value `mem::replace` returns
                    // and the caller drops without reading): no derivative flows on.
                } else if self.active(args[1]) && !self.active(args[0]) {
                    let floats = self.copy_contents(call).holds_floats();
                    self.require(args[0], true, if floats { Need::Data } else { Need::Mirror }, call);
                } else if self.active(args[0]) && !self.active(args[1]) && self.copy_contents(call).float_type().is_none() {
                    // Pointers copied into shadowed memory are read back as shadow pointers:
                    // the source needs a shadow to copy them from (a null one would be
                    // dereferenced with an offset).
                    self.require(args[1], true, Need::Mirror, call);
                }
            }
            CallKind::Rule(_) => {
                if args.iter().any(|&a| a.ty().is_float_or_float_vector() && self.active(a)) {
                    self.mark(call);
                }
            }
            CallKind::Defined(_) => self.visit_defined_call(call, &args),
            CallKind::External(f) => {
                if args.iter().any(|&a| differentiable_type(a.ty()) && self.active(a)) {
                    let name = crate::error::demangle(&f.name());
                    let (what, hint) = match crate::error::external_in_rust_terms(&name) {
                        Some(known) => known,
                        None => (
                            format!("call to `{name}`, which has no body in this program and no derivative rule"),
                            "mark the argument Const if it should not be differentiated, or call a Rust function instead".to_string(),
                        ),
                    };
                    self.errors.push(AdError::new(self.function, what, hint).at(call));
                }
            }
            CallKind::Indirect if !indirect_candidates(call).is_empty() => {
                // Differentiated like a defined function, dispatching on the pointer at run time.
                self.visit_defined_call(call, &args);
            }
            CallKind::Indirect | CallKind::InlineAsm => {
                if args.iter().any(|&a| differentiable_type(a.ty()) && self.active(a)) {
                    let what = if matches!(classify(call, self.subst), CallKind::InlineAsm) {
                        "inline assembly"
                    } else {
                        "a call through a function pointer that points to no known function"
                    };
                    self.errors.push(
                        AdError::new(self.function, format!("{what} with differentiated arguments: `{}`", describe(call)), "call the function directly, or pass the function pointer as a Const argument of the differentiated function").at(call),
                    );
                }
            }
        }
    }

    fn visit_defined_call(&mut self, call: Value, args: &[Value]) {
        let live = args.iter().any(|&a| differentiable_type(a.ty()) && self.active(a));
        // Float bits passed or returned as integers cross the call without a derivative.
        if let Some(&a) = args.iter().find(|&&a| self.active(a) && self.result.bits.may_be_float(a)) {
            self.float_bits_error(a, "are passed to a function as an integer");
            return;
        }
        let declared_float_bits = || {
            call.ty().is_int()
                && match classify(call, self.subst) {
                    CallKind::Defined(f) => {
                        crate::declared::returns_floats(self.function.global_parent(), f)
                    }
                    _ => false,
                }
        };
        // Float bits of one type returned as an integer (a dev build's `Matrix1<f64>` as an
        // `i64`) carry their tangent as bits, and their adjoint as that float
        // (`RevRet::FloatBits`); bits of several types, or bits this function never reads as a
        // float, have no adjoint to carry.
        if live && self.result.bits.float_view(call).is_none() && (self.result.bits.may_be_float(call) || declared_float_bits()) {
            self.float_bits_error(call, "are returned from a function as an integer");
            return;
        }
        if live {
            // Through a function pointer, any possible target may be called.
            let callees = match classify(call, self.subst) {
                CallKind::Defined(callee) => vec![callee],
                CallKind::Indirect => indirect_candidates(call),
                _ => Vec::new(),
            };
            for callee in callees {
                let pattern: Vec<bool> = args
                    .iter()
                    .map(|&a| differentiable_type(a.ty()) && self.active(a))
                    .collect();
                let ret_needed = self.active(call)
                    && (call.ty().contains_pointer()
                        || carries_address(
                            self.function.global_parent(),
                            call,
                            self.ret_shadow,
                            0,
                        ));
                for (k, need) in (self.callees)(callee, &pattern, ret_needed) {
                    if let Some(&a) = args.get(k) {
                        if !self.active(a) {
                            self.require(a, true, need, call);
                        }
                    }
                }
            }
            if differentiable_type(call.ty())
                || carries_address(self.function.global_parent(), call, self.ret_shadow, 0)
                || self.result.bits.float_view(call).is_some()
            {
                self.mark(call);
            }
            // Nothing more for the other pointers passed: what the callee writes or keeps
            // through them it requires above (strictly), under exactly this pattern. Giving
            // every local object passed along a shadow "in case" made a `Const` argument stored
            // into one (the stable route's tuple of `Const` arguments handed to a derivative)
            // its own shadow, and the whole derivative guarded at run time.
        }
    }

    fn float_bits_error(&mut self, at: Value, what: &str) {
        let e = AdError::new(
            self.function,
            format!("floating-point values carried in the integer `{}` {what}", describe(at)),
            "its derivative would be lost: keep differentiated values floats (no `to_bits`/`from_bits` or transmutes of them); if the code has none, the compiler moved a float through an integer here: please report the program",
        )
        .at(at);
        if !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    /// The object behind `ptr` must have a shadow. `strict`: it is an error if it cannot;
    /// `need`: why (a differentiated value written directly into a `Const` argument's memory is
    /// an error; memory that only keeps shadow pointers or is read may be its own shadow).
    fn require(&mut self, ptr: Value, strict: bool, need: Need, at: Value) {
        let mut seen = HashSet::new();
        self.require_rec(ptr, strict, need, at, &mut seen);
    }

    fn require_rec(&mut self, p: Value, strict: bool, need: Need, at: Value, seen: &mut HashSet<Value>) {
        // An aggregate holding pointers (`Option<(&mut f64, f64)>` returned as `{ ptr, double }`)
        // may be active for one field alone, and so may a pointer taken out of it: its pointers
        // still need their shadows, from where they come.
        let from_mixed = is_mixed(p) || p.is_instruction() && p.opcode() == Opcode::LLVMExtractValue && is_mixed(p.operand(0));
        if self.active(p) && !from_mixed || !seen.insert(p) {
            return;
        }
        if p.is_instruction() {
            use Opcode::*;
            // A non-strict requirement (memory merely passed to a callee that might write
            // derivative data) only gives *local* memory a shadow: it does not reach through
            // pointers loaded or returned from elsewhere, which would demand shadows of data the
            // caller declared constant. What a callee really writes it requires strictly.
            if !strict && matches!(p.opcode(), LLVMLoad | LLVMExtractValue | LLVMInsertValue | LLVMCall | LLVMInvoke) {
                return;
            }
            match p.opcode() {
                LLVMAlloca => self.mark(p),
                LLVMGetElementPtr | LLVMBitCast | LLVMAddrSpaceCast | LLVMFreeze => {
                    self.require_rec(p.operand(0), strict, need, at, seen)
                }
                // A pointer made from a constant or a parameter is a sentinel (Rust's dangling
                // pointer of an empty buffer, never dereferenced): it is its own shadow. One made
                // from pointer arithmetic on integers points into real memory: refused.
                LLVMIntToPtr if is_sentinel(p) => {}
                // A pointer carried as an integer (`ptrtoint`, joined with constants such as
                // `Vec`'s dangling pointer): its shadow travels alongside as an integer.
                LLVMIntToPtr => {
                    self.require_int(p.operand(0), strict, need, at, seen);
                    if self.active(p.operand(0)) {
                        self.mark(p);
                    }
                }
                LLVMExtractValue => {
                    self.require_rec(p.operand(0), strict, need, at, seen);
                    if self.active(p.operand(0)) {
                        self.mark(p);
                    }
                }
                LLVMInsertValue => {
                    // An aggregate holding pointers: each pointer it holds needs a shadow.
                    for op in [p.operand(0), p.operand(1)] {
                        if op.ty().contains_pointer() {
                            self.require_rec(op, strict, need, at, seen);
                        }
                    }
                    self.mark(p);
                }
                LLVMPHI | LLVMSelect => {
                    for op in data_operands(p) {
                        self.require_rec(op, strict, need, at, seen);
                    }
                }
                LLVMLoad => {
                    // The pointer's shadow is read from the shadow of the memory it came from.
                    let src = p.operand(0);
                    self.require_rec(src, strict, Need::Mirror, at, seen);
                    if self.active(src) {
                        self.mark(p);
                    }
                }
                LLVMCall | LLVMInvoke => match classify(p, self.subst) {
                    CallKind::ThreadLocal => {
                        let g = p.call_args()[0];
                        self.require_rec(g, strict, need, at, seen);
                        if self.active(g) {
                            self.mark(p);
                        }
                    }
                    CallKind::Allocation(alloc) => {
                        self.mark(p);
                        if alloc == crate::calls::Alloc::Realloc {
                            // The grown block's shadow starts as a copy of the old one's.
                            if let Some(&old) = p.call_args().first() {
                                self.require_rec(old, strict, need, at, seen);
                            }
                        }
                    }
                    CallKind::Defined(_)
                        if differentiable_type(p.ty())
                            || crate::types::punned_address(self.function.global_parent(), p) =>
                    {
                        // A pointer returned by a helper (e.g. `slice.iter()`): differentiate
                        // the helper so that it returns the shadow too, which needs shadows for
                        // the pointers it was given.
                        for a in p.call_args() {
                            if a.ty().contains_pointer() && !self.active(a) {
                                self.require_rec(a, strict, Need::Mirror, at, seen);
                            }
                        }
                        self.mark(p);
                    }
                    _ => self.cannot_shadow(p, strict, at),
                },
                _ => self.cannot_shadow(p, strict, at),
            }
        } else if p.is_global_variable() {
            // A sink (reverse over reverse) stands for the constant global it shadows.
            let constant = p.is_global_constant() || crate::is_sink(p);
            if constant && !strict {
                // Constant memory merely passed along (e.g. a panic `Location`): no callee can
                // write derivative data there.
            } else if constant
                || (p.is_thread_local()
                    && strict
                    && crate::declared::global_holds_no_pointers(self.function.global_parent(), p))
            {
                // A thread-local of numbers written with derivative data (a scratch buffer such
                // as `matrixmultiply`'s mask buffer): its shadow is a thread-local too, zeroed
                // when a requested derivative starts ([`crate::Engine::shadow_global`]). One
                // holding pointers (a `RefCell<Vec<f64>>` workspace) keeps shadow pointers
                // across calls, which zeroing would lose: refused below.
                if self.result.shadow_globals.insert(p) {
                    self.changed = true;
                }
            } else if p.is_thread_local() && !strict {
            } else {
                self.cannot_shadow(p, strict, at);
            }
        } else if p.is_argument() {
            if !strict {
                return;
            }
            let idx = self.function.params().iter().position(|&q| q == p);
            if let Some(i) = idx {
                if !self.result.required_params.contains(&i) {
                    self.result.required_params.push(i);
                    self.changed = true;
                }
                if need == Need::Data && !self.result.written_params.contains(&i) {
                    self.result.written_params.push(i);
                    self.result.write_sites.insert(i, at);
                    self.changed = true;
                }
            }
        } else if is_sentinel(p) {
            // A constant sentinel address, its own shadow (see `LLVMIntToPtr` above).
        } else if p.is_function() || p.is_undef() || p.ty().is_aggregate() && p.is_constant() || (p.is_constant() && p.const_int_value().is_none() && is_null(p)) {
            // Functions are their own shadow; null/undef never get dereferenced.
        } else {
            self.cannot_shadow(p, strict, at);
        }
    }

    /// The integer `v` read back as a pointer needs a shadow: follow it through phis, selects
    /// and freezes to the `ptrtoint`s it comes from. Constants and parameters are their own
    /// shadows (sentinel addresses).
    fn require_int(&mut self, v: Value, strict: bool, need: Need, at: Value, seen: &mut HashSet<Value>) {
        use Opcode::*;
        if v.is_constant() || v.is_argument() || self.active(v) || !seen.insert(v) {
            return;
        }
        if !v.is_instruction() {
            return self.cannot_shadow(v, strict, at);
        }
        match v.opcode() {
            LLVMPtrToInt => {
                self.require_rec(v.operand(0), strict, need, at, seen);
                if self.active(v.operand(0)) {
                    self.mark(v);
                }
            }
            LLVMPHI | LLVMSelect | LLVMFreeze => {
                let ops = data_operands(v);
                for &o in &ops {
                    self.require_int(o, strict, need, at, seen);
                }
                if self.any_active(&ops) {
                    self.mark(v);
                }
            }
            // Integer arithmetic on constants and parameters only (a size where `Result<*mut T,
            // Layout>` keeps its error): a sentinel, its own shadow on the paths that read it
            // as a pointer.
            _ if !derived_from_memory(v, 16) => {}
            _ => self.cannot_shadow(v, strict, at),
        }
    }

    fn cannot_shadow(&mut self, p: Value, strict: bool, at: Value) {
        if !strict {
            return;
        }
        let what = if p.is_argument() {
            format!(
                "derivative data is written into memory of {}, which is not differentiated",
                crate::error::describe_param(p)
            )
        } else if p.is_global_variable() && p.is_thread_local() {
            format!(
                "derivative data is written into the thread-local `{}`, which holds pointers (or whose type is not known); only thread-locals of plain numbers (scratch buffers) get a shadow",
                crate::error::demangle(&p.name())
            )
        } else if p.is_global_variable() {
            format!("derivative data is written into the mutable global `{}`", crate::error::demangle(&p.name()))
        } else {
            format!("derivative data is written through a pointer whose origin cannot be shadowed: `{}`", describe(p))
        };
        self.errors.push(
            AdError::new(self.function, format!("{what} (in `{}`)", describe(at)), "mark that argument Dual/Duplicated (with a zero shadow) instead of Const, or keep differentiated values out of it").at(at),
        );
    }
}

/// Whether the integer `v` may hold an address: computed (through integer arithmetic, casts,
/// phis and selects, up to `depth` steps) from a `ptrtoint`, a load or a call.
fn derived_from_memory(v: Value, depth: u32) -> bool {
    use Opcode::*;
    if v.is_constant() || v.is_argument() {
        return false;
    }
    if !v.is_instruction() || depth == 0 {
        return true;
    }
    match v.opcode() {
        LLVMAdd | LLVMSub | LLVMMul | LLVMShl | LLVMLShr | LLVMAShr | LLVMAnd | LLVMOr | LLVMXor | LLVMUDiv | LLVMSDiv
        | LLVMURem | LLVMSRem | LLVMZExt | LLVMSExt | LLVMTrunc | LLVMSelect | LLVMFreeze | LLVMICmp => {
            data_operands(v).into_iter().any(|o| derived_from_memory(o, depth - 1))
        }
        _ => true,
    }
}

/// A pointer made from an integer that does not come from a pointer: a constant address or an
/// integer parameter (an alignment used as a dangling pointer).
pub fn is_sentinel(p: Value) -> bool {
    sentinel_rec(p, &mut HashSet::new())
}

/// [`is_sentinel`], also through phis and selects that choose only among sentinels (and null):
/// `phi ptr [ inttoptr (i64 8 to ptr), %bb ]`, a loop-closed copy of an empty `Vec`'s pointer.
fn sentinel_rec(p: Value, seen: &mut HashSet<Value>) -> bool {
    if p.is_int_to_ptr() {
        let i = p.operand(0);
        return i.is_constant() || i.is_argument();
    }
    if p.is_instruction() && matches!(p.opcode(), Opcode::LLVMPHI | Opcode::LLVMSelect) && p.ty().is_pointer() {
        if !seen.insert(p) || seen.len() > 16 {
            return seen.len() <= 16;
        }
        return data_operands(p).into_iter().all(|v| is_null(v) || v == p || sentinel_rec(v, seen));
    }
    false
}

/// Whether the memory at `p` is a local variable that is only ever written (stores into it,
/// copies and fills of it; never read, never passed on): its contents cannot reach anything.
pub fn is_write_only(p: Value) -> bool {
    use Opcode::*;
    let mut base = p;
    while base.is_instruction() && matches!(base.opcode(), LLVMGetElementPtr | LLVMBitCast) {
        base = base.operand(0);
    }
    if !(base.is_instruction() && base.opcode() == LLVMAlloca) {
        return false;
    }
    fn uses_only_write(v: Value, depth: u32) -> bool {
        depth < 8
            && v.users().into_iter().all(|u| {
                if !u.is_instruction() {
                    return false;
                }
                match u.opcode() {
                    LLVMStore => u.operand(1) == v && u.operand(0) != v,
                    LLVMGetElementPtr | LLVMBitCast => {
                        u.operand(0) == v && uses_only_write(u, depth + 1)
                    }
                    LLVMCall => {
                        let args = u.call_args();
                        match classify(u, &HashMap::new()) {
                            CallKind::Ignored => true,
                            CallKind::MemSet => args[0] == v,
                            CallKind::MemTransfer => args[0] == v && args[1] != v,
                            _ => false,
                        }
                    }
                    _ => false,
                }
            })
    }
    uses_only_write(base, 0)
}

fn is_null(v: Value) -> bool {
    v.ty().is_pointer() && v.is_null_constant()
}

/// The operands that carry data (not a select's condition, not a phi's blocks).
pub fn data_operands(inst: Value) -> Vec<Value> {
    use Opcode::*;
    match inst.opcode() {
        LLVMSelect => vec![inst.operand(1), inst.operand(2)],
        LLVMPHI => inst.incoming().into_iter().map(|(v, _)| v).collect(),
        LLVMExtractElement => vec![inst.operand(0)],
        LLVMInsertElement => vec![inst.operand(0), inst.operand(1)],
        LLVMShuffleVector => vec![inst.operand(0), inst.operand(1)],
        _ => inst.operands(),
    }
}
