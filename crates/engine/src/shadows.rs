//! The layer forward and reverse mode share (the role Enzyme's `GradientUtils` plays): the map
//! from primal values and blocks to their copies in the derivative, the shadows of primal values
//! (one per lane), clones of primal instructions, the parameters' copies and shadows, and shadow
//! memory for what the primal allocates (stack slots, heap blocks, `realloc`), fills (`memset`)
//! or copies (`memcpy`).
//!
//! Both transformations hold one [`Mapping`] and ask it, so a value has the same shadow in a
//! forward derivative and in a reverse one. What differs between the modes stays with them:
//! forward mode frees a moved shadow at once ([`MovedShadow`]), reverse mode defers the free to
//! the tape's release because its reversal still reads the old block; a split reverse
//! derivative's stack slots get their shadows from the heap.

use crate::activity::{self, Activity};
use crate::calls::{Alloc, CallKind};
use crate::error::describe;
use crate::{emit, heap, runtime_activity, Engine};
use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::{abi_size, context_of};
use oxidase_llvm::{Block, Builder, IntPredicate, Opcode, Type, Value};
use std::collections::HashMap;

/// How a primal parameter appears among a derivative's parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Param {
    /// Dropped: the derivative is specialized on this constant.
    Specialized(Value),
    /// One parameter, the primal value; `own_shadow`: it is its own shadow (run-time activity).
    Plain { own_shadow: bool },
    /// The primal value followed by one shadow per lane.
    Shadowed,
}

/// Primal values and blocks → their copies and shadows in the derivative being generated.
pub(crate) struct Mapping {
    /// Primal value → its copy in the derivative.
    pub(crate) vmap: HashMap<Value, Value>,
    /// Primal value → its shadows, one per lane: shadow pointers (both modes) and, in forward
    /// mode, the tangents of numbers.
    pub(crate) smap: HashMap<Value, Vec<Value>>,
    /// Primal block → the derivative's block where its copy starts.
    pub(crate) bmap: HashMap<Block, Block>,
    /// Whether shadows of constant globals are writable sinks (reverse mode: the reversal of a
    /// load adds an adjoint there) rather than zero constants (forward mode).
    sink: bool,
}

impl Mapping {
    pub(crate) fn new(sink: bool) -> Self {
        Mapping { vmap: HashMap::new(), smap: HashMap::new(), bmap: HashMap::new(), sink }
    }

    /// The derivative's copy of `v`: mapped values and blocks; constants, globals, functions and
    /// metadata are themselves.
    pub(crate) fn val(&self, v: Value) -> Value {
        if v.is_basic_block() {
            return self.bmap[&v.as_block()].as_value();
        }
        self.vmap.get(&v).copied().unwrap_or(v)
    }

    /// Maps the primal's parameters to the derivative's (`new_params`, in order), with their
    /// shadows: `width` per `Shadowed` one, the parameter itself for a `Plain` one that is its
    /// own shadow, a specialized constant's shadows ([`Engine::constant_shadows`]).
    pub(crate) fn map_params(&mut self, engine: &mut Engine, primal: Value, new_params: Vec<Value>, params: &[Param], width: usize) {
        let mut new_params = new_params.into_iter();
        for (p, a) in primal.params().into_iter().zip(params) {
            match *a {
                Param::Specialized(c) => {
                    self.vmap.insert(p, c);
                    if let Some(s) = engine.constant_shadows(c, self.sink, width) {
                        self.smap.insert(p, s);
                    }
                }
                Param::Plain { own_shadow } => {
                    let np = new_params.next().unwrap();
                    self.vmap.insert(p, np);
                    if own_shadow {
                        self.smap.insert(p, vec![np; width]);
                    }
                }
                Param::Shadowed => {
                    self.vmap.insert(p, new_params.next().unwrap());
                    let shadows: Vec<Value> = (0..width).map(|_| new_params.next().unwrap()).collect();
                    self.smap.insert(p, shadows);
                }
            }
        }
    }

    /// Carries the primal's pointer-parameter facts over to the derivative `df` (after
    /// [`Mapping::map_params`]), so that the optimizer keeps them once the derivative is inlined
    /// into its caller (`noalias` becomes scoped alias metadata there): without them the lanes
    /// of a wide forward derivative, or a shadow and the primal memory beside it, may all alias
    /// each other as far as LLVM knows.
    ///
    /// * A primal parameter keeps `noalias` and `readonly`: the derivative touches primal memory
    ///   exactly where the primal does.
    /// * A shadow parameter of a `noalias` primal one is `noalias` in forward mode (its accesses
    ///   mirror the primal's, through the shadow, and shadows of distinct primal objects are
    ///   distinct) and `readonly` when the primal one is; in reverse mode the reversal writes
    ///   adjoints into the shadow of read-only memory, and two shared references to the same
    ///   memory get the same shadow, so only the shadow of a writable `noalias` parameter (a
    ///   `&mut`, a `Box`) is `noalias` there.
    /// * Nothing is added when shadows may be primal pointers (run-time activity), since a shadow
    ///   and its primal are then the same memory.
    pub(crate) fn copy_param_facts(&self, primal: Value, df: Value, runtime: bool) {
        if runtime {
            return;
        }
        let forward = !self.sink;
        let index = |v: Value| -> Option<u32> {
            if !v.is_argument() || v.parent_function() != df {
                return None;
            }
            df.params().iter().position(|&q| q == v).map(|i| i as u32)
        };
        for (i, p) in primal.params().into_iter().enumerate() {
            let i = i as u32;
            if !p.ty().is_pointer() || !primal.param_has_attribute(i, "noalias") {
                continue;
            }
            let readonly = primal.param_has_attribute(i, "readonly") || primal.param_has_attribute(i, "readnone");
            if let Some(j) = self.vmap.get(&p).and_then(|&v| index(v)) {
                df.add_param_attribute(j, "noalias");
                if readonly {
                    df.add_param_attribute(j, "readonly");
                }
            }
            if !forward && readonly {
                continue;
            }
            for &s in self.smap.get(&p).map(|s| s.as_slice()).unwrap_or(&[]) {
                if self.vmap.get(&p) == Some(&s) {
                    continue; // its own shadow
                }
                if let Some(j) = index(s) {
                    df.add_param_attribute(j, "noalias");
                    if forward && readonly {
                        df.add_param_attribute(j, "readonly");
                    }
                }
            }
        }
    }

    /// The shadow of `v` in lane `k`, where one is known: a mapped shadow; a global's shadow; a
    /// value that is its own shadow — a function, a null or undefined pointer constant, a null
    /// or dangling address taken out of a constant aggregate (a dev build's `extractvalue
    /// { ptr, i64 } { ptr inttoptr (i64 8 to ptr), i64 0 }, 0`), an inactive sentinel address
    /// made from an integer ([`activity::is_sentinel`]).
    pub(crate) fn shadow(&self, engine: &mut Engine, activity: &Activity, v: Value, k: usize) -> Option<Value> {
        if let Some(s) = self.smap.get(&v) {
            return Some(s[k]);
        }
        if activity.shadow_globals.contains(&v) {
            return Some(engine.shadow_global(v, self.sink, k));
        }
        if v.is_function() || (v.is_constant() && v.ty().is_pointer() && (v.is_null_constant() || v.is_undef())) {
            return Some(v);
        }
        if v.is_instruction() && v.opcode() == Opcode::LLVMExtractValue && v.operand(0).is_constant_aggregate() {
            let field = v.indices().iter().try_fold(v.operand(0), |c, &i| c.is_constant_aggregate().then(|| c.operand(i)));
            if field.is_some_and(|f| f.is_null_constant() || f.is_undef() || f.is_int_to_ptr()) {
                return Some(self.val(v));
            }
        }
        if activity::is_sentinel(v) && !activity.is_active(v) {
            return Some(self.val(v));
        }
        None
    }

    /// Clones `inst` at `b`, operands remapped, then `overrides` (operand index, value) applied.
    pub(crate) fn emit_like(&self, b: &Builder, inst: Value, overrides: &[(u32, Value)]) -> Value {
        let c = emit::clone_at(b, inst, |v| self.val(v), overrides);
        if c.opcode() == Opcode::LLVMCall {
            crate::types::record_copy_contents(inst, c);
        }
        c
    }

    /// A clone that computes a shadow: metadata promising facts of primal values is dropped.
    pub(crate) fn emit_shadow_like(&self, b: &Builder, inst: Value, overrides: &[(u32, Value)]) -> Value {
        let c = self.emit_like(b, inst, overrides);
        emit::strip_primal_facts(c);
        c
    }

    /// The primal instruction's copy, recorded as its value.
    pub(crate) fn copy_primal(&mut self, b: &Builder, inst: Value) -> Value {
        let c = self.emit_like(b, inst, &[]);
        self.vmap.insert(inst, c);
        c
    }

    // ---- shadow memory ----

    /// The bytes an `alloca` reserves (its count × its type's size).
    pub(crate) fn alloca_bytes(&self, m: LLVMModuleRef, b: &Builder, inst: Value) -> Value {
        let size = abi_size(m, inst.allocated_type());
        let count = self.val(inst.operand(0));
        let i64t = Type::i64(context_of(m));
        if let Some(n) = count.const_int_value() {
            i64t.const_int(size * n as u64)
        } else {
            let n = b.cast(Opcode::LLVMZExt, count, i64t);
            b.mul(n, i64t.const_int(size))
        }
    }

    /// A zeroed shadow stack slot for `alloca` `inst` (the caller zeroes, [`zero_fill`]).
    pub(crate) fn stack_shadow(&self, b: &Builder, inst: Value) -> Value {
        self.emit_shadow_like(b, inst, &[])
    }

    /// A shadow block for the heap allocation `call` (`Uninit` or `Zeroed`): the same allocator
    /// called again, zeroed unless the allocator zeroes (C's `malloc`/`calloc` family by its
    /// usable size, see [`heap`]).
    ///
    /// Forward mode (shadows are not sinks) leaves the shadow of an uninitialized block as the
    /// allocator returns it: every tangent read from it was written by the shadow of the
    /// primal's store first (reading what was never written is undefined in the primal too),
    /// so zeroing is wasted work — for a reverse derivative differentiated again, a memset of
    /// each 64 KiB tape chunk per call. Reverse mode adds adjoints into shadows, which must
    /// start at zero.
    pub(crate) fn heap_shadow(&self, m: LLVMModuleRef, b: &Builder, call: Value, alloc: Alloc, args: &[Value]) -> Value {
        let s = self.emit_shadow_like(b, call, &[]);
        if !self.sink && alloc == Alloc::Uninit {
            return s;
        }
        if heap::is_c_allocation(call) {
            heap::zero_c_block(m, b, s);
        } else if alloc == Alloc::Uninit {
            let size = self.val(args[0]);
            b.memset(s, Type::i8(context_of(m)).zero(), size, 1);
        }
        s
    }

    /// The shadow of the `memset` `call` through the shadow `d` of its destination: the same
    /// fill (or `value` instead), none of it where `guarded` finds the shadow to be the
    /// destination itself (constant memory that is its own shadow).
    pub(crate) fn shadow_memset(&self, b: &Builder, call: Value, d: Value, value: Option<Value>, guarded: bool) -> Value {
        let args = call.call_args();
        let mut ov = vec![(0, d)];
        if let Some(v) = value {
            ov.push((1, v));
        }
        if guarded {
            let eq = runtime_activity::same(b, d, self.val(args[0]));
            let len = self.val(args[2]);
            ov.push((2, b.select(eq, len.ty().zero(), len)));
        }
        self.emit_shadow_like(b, call, &ov)
    }

    /// The shadow of the `memcpy`/`memmove` `call` through the shadows `d` of its destination
    /// and `s` of its source: the same copy between the shadows, or zeros where the source has
    /// no shadow (constant data); none of it where `guarded` finds `d` to be the destination
    /// itself (constant memory that is its own shadow).
    pub(crate) fn shadow_memcpy(&self, b: &Builder, call: Value, d: Value, s: Option<Value>, guarded: bool) {
        let args = call.call_args();
        let mut len = self.val(args[2]);
        if guarded {
            let eq = runtime_activity::same(b, d, self.val(args[0]));
            len = b.select(eq, len.ty().zero(), len);
        }
        match s {
            Some(s) => {
                self.emit_shadow_like(b, call, &[(0, d), (1, s), (2, len)]);
            }
            None => zero_fill(b, d, len, 1),
        }
    }

    /// The shadow of `realloc` `call` in one lane, moved to a fresh block: a zeroed block of the
    /// new size from the same allocator holding the bytes the old shadow `old` keeps (none when
    /// `guarded` finds `old` to be the primal block: constant data has zero shadows). The old
    /// shadow is left for the caller to free now (forward mode) or when the reversal is done
    /// with it (reverse mode). An allocator whose old size is unknown is refused: the construct
    /// is returned for the error ([`REALLOC_HINT`] says what to do).
    pub(crate) fn moved_shadow(&self, m: LLVMModuleRef, b: &Builder, call: Value, old: Value, guarded: bool) -> Result<MovedShadow, String> {
        let args = call.call_args();
        let i64t = Type::i64(context_of(m));
        let old_p = self.val(args[0]);
        // The old shadow, or null when it is the primal block (the primal's realloc frees it).
        let ours = |b: &Builder| {
            if guarded {
                let eq = runtime_activity::same(b, old, old_p);
                b.select(eq, old.ty().zero(), old)
            } else {
                old
            }
        };
        if heap::is_c_allocation(call) {
            // realloc(old, n): C's allocator, whose old size is the old shadow's usable size.
            let n = self.val(args[1]);
            let old = ours(b);
            let new = heap::fresh_c_block(m, b, n);
            let kept = heap::kept_bytes(m, b, old, n);
            b.memcpy(new, 1, old, 1, kept);
            let free = crate::tape::libc_function(m, "free");
            return Ok(MovedShadow { new, old, dealloc: free, size: i64t.zero(), align: i64t.zero() });
        }
        let callee = call.called_value();
        let (Some(alloc), Some(dealloc), 4) = (
            crate::calls::allocator_sibling(m, callee, "alloc_zeroed"),
            crate::calls::allocator_sibling(m, callee, "dealloc"),
            args.len(),
        ) else {
            return Err(format!("`{}` on differentiated memory (its old size is unknown)", describe(call)));
        };
        // __rust_realloc(ptr, old_size, align, new_size).
        let (old_size, align, new_size) = (self.val(args[1]), self.val(args[2]), self.val(args[3]));
        let grows = b.icmp(IntPredicate::LLVMIntULT, old_size, new_size);
        let mut kept = b.select(grows, old_size, new_size);
        if guarded {
            let eq = runtime_activity::same(b, old, old_p);
            kept = b.select(eq, kept.ty().zero(), kept);
        }
        let old = ours(b);
        let new = b.call(alloc.function_type(), alloc, &[new_size, align]);
        b.memcpy(new, 1, old, 1, kept);
        Ok(MovedShadow { new, old, dealloc, size: old_size, align })
    }
}

/// What a refused `realloc` ([`Mapping::moved_shadow`]) asks the user to do.
pub(crate) const REALLOC_HINT: &str = "use Rust's allocator (Vec, Box)";

/// A shadow moved by `realloc` ([`Mapping::moved_shadow`]): the new block, and the old one with
/// what frees it (`dealloc(old, size, align)`, or C's `free(old)` with zero size and
/// alignment); `old` is null when there is nothing of ours to free.
pub(crate) struct MovedShadow {
    pub(crate) new: Value,
    pub(crate) old: Value,
    pub(crate) dealloc: Value,
    pub(crate) size: Value,
    pub(crate) align: Value,
}

/// Whether the call `call` (of `kind`) reads or writes derivative data: its result or an
/// argument of a differentiable type is active. Both modes differentiate such calls (or refuse
/// them) and copy the others.
pub(crate) fn call_touches_shadow(activity: &Activity, call: Value, kind: CallKind, args: &[Value]) -> bool {
    match kind {
        CallKind::Ignored | CallKind::IntegerOnly => false,
        _ => activity.is_active(call) || args.iter().any(|&a| activity::differentiable_type(a.ty()) && activity.is_active(a)),
    }
}

/// Zeroes `bytes` bytes of fresh shadow memory at `s`.
pub(crate) fn zero_fill(b: &Builder, s: Value, bytes: Value, align: u32) {
    b.memset(s, Type::i8(s.ty().context()).zero(), bytes, align);
}
