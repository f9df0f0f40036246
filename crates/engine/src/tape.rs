//! The tape: a LIFO stack of bytes that carries values from the forward sweep of a reverse-mode
//! derivative to its reverse sweep.
//!
//! The reverse sweep visits blocks in exactly the opposite order of the forward sweep, so a plain
//! stack suffices: a block pushes what its reversal needs at its end, the reversal pops it at its
//! start, and callee derivatives push and pop on the same tape in between. Every entry occupies a
//! multiple of 8 bytes so that all entries stay 8-byte aligned.
//!
//! The tape also keeps a list of deferred frees: shadows of heap blocks the primal frees during
//! the forward sweep must live until the reverse sweep has passed them, so their frees run when
//! the tape is released at the very end.
//!
//! In IR the tape is the struct `{ ptr data, i64 len, i64 cap, ptr frees }` held in memory,
//! shared by a derivative and the callee derivatives it calls; each derivative pushes and pops
//! through a private copy of its first three fields (synced around calls), which the optimizer
//! keeps in registers. Pushes reserve
//! space through `oxidase.tape.reserve` (a compare and, rarely, a call to the out-of-line
//! `oxidase.tape.grow`), then store plain values. The first buffer comes from
//! `oxidase.tape.acquire`, growth is C's `realloc` (a large buffer moves by remapping its pages,
//! never by copying it into freshly faulted memory), and the release goes through
//! `oxidase.tape.recycle`; forward mode can differentiate all three (higher order): the two
//! helpers are an allocator and a deallocator to it. A thread keeps its two largest tape buffers
//! (up to 1 GiB each; a derivative differentiated again has a tape and its shadow) for its next
//! derivative call.

use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::{abi_size, add_function, context_of, get_function};
use oxidase_llvm::{Block, Builder, IntPredicate, Linkage, Type, Value};

/// The LLVM type of the tape header.
pub fn header_type(m: LLVMModuleRef) -> Type {
    let ctx = context_of(m);
    Type::struct_of(ctx, &[Type::ptr(ctx), Type::i64(ctx), Type::i64(ctx), Type::ptr(ctx)])
}

/// Bytes an entry of type `ty` occupies.
pub fn entry_size(m: LLVMModuleRef, ty: Type) -> u64 {
    abi_size(m, ty).div_ceil(8).max(1) * 8
}

/// Initializes an empty tape at `tape`.
pub fn init(m: LLVMModuleRef, b: &Builder, tape: Value) {
    b.store(header_type(m).zero(), tape);
}

/// Copies the stack state (`data`, `len`, `cap`) of one tape header into another: a derivative
/// works on a private copy (promoted to registers) and syncs the shared header around calls.
pub fn sync(m: LLVMModuleRef, b: &Builder, from: Value, to: Value) {
    let ctx = context_of(m);
    for (i, ty) in [(0, Type::ptr(ctx)), (1, Type::i64(ctx)), (2, Type::i64(ctx))] {
        let v = b.load(ty, field(m, b, from, i));
        b.store(v, field(m, b, to, i));
    }
}

/// `thread_local i64 oxidase.tape.hint`: the capacity the last tape of this thread reached, so
/// that the next derivative call allocates it at once instead of growing (and copying) it.
fn capacity_hint(m: LLVMModuleRef) -> Value {
    thread_local_global(m, "oxidase.tape.hint", Type::i64(context_of(m)))
}

/// The internal `thread_local` global `name` of type `ty`, zero-initialized, created on first use.
fn thread_local_global(m: LLVMModuleRef, name: &str, ty: Type) -> Value {
    if let Some(g) = oxidase_llvm::module::get_global(m, name) {
        return g;
    }
    let g = oxidase_llvm::module::add_global(m, ty, name);
    oxidase_llvm::module::set_initializer(g, ty.zero());
    oxidase_llvm::module::set_thread_local(g);
    g.set_linkage(Linkage::LLVMInternalLinkage);
    g
}

/// Largest tape buffer a thread keeps for its next derivative call (1 GiB): beyond that the
/// memory is returned at once rather than held for the life of the thread.
const MAX_KEPT_BYTES: u64 = 1 << 30;

/// `thread_local` globals holding the buffer a thread keeps between derivative calls and its
/// capacity.
fn kept_buffer(m: LLVMModuleRef, slot: usize) -> (Value, Value) {
    let ctx = context_of(m);
    let suffix = if slot == 0 { String::new() } else { format!(".{slot}") };
    (
        thread_local_global(m, &format!("oxidase.tape.kept{suffix}"), Type::ptr(ctx)),
        thread_local_global(m, &format!("oxidase.tape.kept_cap{suffix}"), Type::i64(ctx)),
    )
}

/// How many buffers a thread keeps: a derivative differentiated again (forward over reverse)
/// has a tape and the tape's shadow.
const KEPT_SLOTS: usize = 2;

/// `ptr oxidase.tape.acquire(i64 n)`: a buffer of at least `n` bytes, the one the thread kept
/// from its last derivative call if it is large enough, otherwise from `malloc`.
///
/// Why keep it: a large buffer comes from `mmap` and goes back to the kernel on `free`, so every
/// call of a derivative with a tape of more than a few MB paid for faulting in (and the kernel
/// zeroing) every page again — several times the cost of the derivative's own work.
///
/// It and `oxidase.tape.recycle` are classified as an allocator and a deallocator
/// (`calls::classify`): differentiating a derivative (higher order) gives the tape's shadow a
/// buffer of its own from them and never looks into the thread-local globals.
pub fn acquire_function(m: LLVMModuleRef) -> Value {
    let ctx = context_of(m);
    let (p, i64t) = (Type::ptr(ctx), Type::i64(ctx));
    let f = match helper(m, "oxidase.tape.acquire", Type::function(p, &[i64t], false)) {
        Ok(f) => return f,
        Err(f) => f,
    };
    let n = f.param(0);
    let b = Builder::new(ctx);
    let entry = Block::append(ctx, f, "entry");
    b.position_at_end(entry);
    // The first kept buffer large enough, taken out of its slot.
    for slot in 0..KEPT_SLOTS {
        let (kept, kept_cap) = kept_buffer(m, slot);
        let reuse = Block::append(ctx, f, "reuse");
        let next = Block::append(ctx, f, "next");
        let k = b.load(p, kept);
        let cap = b.load(i64t, kept_cap);
        let has = b.icmp(IntPredicate::LLVMIntNE, k, p.zero());
        let fits = b.icmp(IntPredicate::LLVMIntUGE, cap, n);
        let ok = b.and(has, fits);
        b.cond_br(ok, reuse, next);
        b.position_at_end(reuse);
        b.store(p.zero(), kept);
        b.store(i64t.zero(), kept_cap);
        b.ret(k);
        b.position_at_end(next);
    }
    let malloc = libc_function(m, "malloc");
    let block = b.call(malloc.function_type(), malloc, &[n]);
    b.ret(block);
    f
}

/// `void oxidase.tape.recycle(ptr block, i64 cap)`: gives a tape buffer back. The thread keeps
/// its `KEPT_SLOTS` largest buffers (each up to `MAX_KEPT_BYTES`) and frees the others; a
/// capacity of 0 (unknown) frees it.
pub fn recycle_function(m: LLVMModuleRef) -> Value {
    let ctx = context_of(m);
    let (p, i64t) = (Type::ptr(ctx), Type::i64(ctx));
    let f = match helper(m, "oxidase.tape.recycle", Type::function(Type::void(ctx), &[p, i64t], false)) {
        Ok(f) => return f,
        Err(f) => f,
    };
    let (block, cap) = (f.param(0), f.param(1));
    let free = libc_function(m, "free");
    let b = Builder::new(ctx);
    let entry = Block::append(ctx, f, "entry");
    let drop = Block::append(ctx, f, "drop");
    b.position_at_end(entry);
    let small_enough = b.icmp(IntPredicate::LLVMIntULE, cap, i64t.const_int(MAX_KEPT_BYTES));
    let not_null = b.icmp(IntPredicate::LLVMIntNE, block, p.zero());
    let sized = b.icmp(IntPredicate::LLVMIntNE, cap, i64t.zero());
    let keepable = b.and(small_enough, not_null);
    let keepable = b.and(keepable, sized);
    let consider = Block::append(ctx, f, "consider");
    b.cond_br(keepable, consider, drop);
    b.position_at_end(consider);
    // An empty slot takes it; otherwise it replaces the smallest kept buffer it is larger than.
    for slot in 0..KEPT_SLOTS {
        let (kept, kept_cap) = kept_buffer(m, slot);
        let take = Block::append(ctx, f, "take");
        let next = Block::append(ctx, f, "next");
        let old = b.load(p, kept);
        let empty = b.icmp(IntPredicate::LLVMIntEQ, old, p.zero());
        b.cond_br(empty, take, next);
        b.position_at_end(take);
        b.store(block, kept);
        b.store(cap, kept_cap);
        b.ret_void();
        b.position_at_end(next);
    }
    let (k0, c0) = kept_buffer(m, 0);
    let (k1, c1) = kept_buffer(m, 1);
    let cap0 = b.load(i64t, c0);
    let cap1 = b.load(i64t, c1);
    let first_smaller = b.icmp(IntPredicate::LLVMIntULE, cap0, cap1);
    let (slot_p, slot_c, slot_cap) = (b.select(first_smaller, k0, k1), b.select(first_smaller, c0, c1), b.select(first_smaller, cap0, cap1));
    let larger = b.icmp(IntPredicate::LLVMIntUGT, cap, slot_cap);
    let replace = Block::append(ctx, f, "replace");
    b.cond_br(larger, replace, drop);
    b.position_at_end(replace);
    let old = b.load(p, slot_p);
    b.call(free.function_type(), free, &[old]);
    b.store(block, slot_p);
    b.store(cap, slot_c);
    b.ret_void();
    b.position_at_end(drop);
    b.call(free.function_type(), free, &[block]);
    b.ret_void();
    f
}

/// Gives the tape's buffer back (`oxidase.tape.recycle`) and runs the deferred frees.
pub fn release(m: LLVMModuleRef, b: &Builder, tape: Value) {
    let ctx = context_of(m);
    let cap = b.load(Type::i64(ctx), field(m, b, tape, 2));
    b.store(cap, capacity_hint(m));
    let data = b.load(Type::ptr(ctx), tape);
    let recycle = recycle_function(m);
    b.call(recycle.function_type(), recycle, &[data, cap]);
    let frees = field(m, b, tape, 3);
    let head = b.load(Type::ptr(ctx), frees);
    let run = run_frees_function(m);
    b.call(run.function_type(), run, &[head]);
}

/// Defers `dealloc(ptr, size, align)` (or `dealloc(ptr)` for C's `free`) to the release of the
/// tape.
pub fn defer_free(m: LLVMModuleRef, b: &Builder, tape: Value, dealloc: Value, ptr: Value, size: Value, align: Value) {
    register_deallocator(m, dealloc);
    let ctx = context_of(m);
    let (p, i64t) = (Type::ptr(ctx), Type::i64(ctx));
    let node_ty = free_node_type(m);
    let malloc = libc_function(m, "malloc");
    let node = b.call(malloc.function_type(), malloc, &[i64t.const_int(abi_size(m, node_ty))]);
    let frees = field(m, b, tape, 3);
    let head = b.load(p, frees);
    let mut v = node_ty.undef();
    for (i, x) in [head, dealloc, ptr, size, align].into_iter().enumerate() {
        v = b.insert_value(v, x, i as u32);
    }
    b.store(v, node);
    b.store(node, frees);
}

/// `{ ptr next, ptr dealloc, ptr block, i64 size, i64 align }`.
fn free_node_type(m: LLVMModuleRef) -> Type {
    let ctx = context_of(m);
    let (p, i64t) = (Type::ptr(ctx), Type::i64(ctx));
    Type::struct_of(ctx, &[p, p, p, i64t, i64t])
}

/// `void oxidase.tape.run_frees(ptr head)`: runs and frees every node of the list. Each node
/// names its deallocator; the body compares it with every deallocator deferred so far and calls
/// that one directly (so that the function stays differentiable), and is rebuilt when a new
/// deallocator shows up.
fn run_frees_function(m: LLVMModuleRef) -> Value {
    let ctx = context_of(m);
    let f = match helper(m, "oxidase.tape.run_frees", Type::function(Type::void(ctx), &[Type::ptr(ctx)], false)) {
        Ok(f) => return f,
        Err(f) => f,
    };
    // Every deallocator a derivative may defer, known from the start: rebuilding the body later
    // would change it under a derivative of it being generated (reverse over reverse defers the
    // `free` of this very function's list nodes).
    let mut known = vec![recycle_function(m), libc_function(m, "free")];
    for g in oxidase_llvm::module::functions(m) {
        let name = crate::calls::allocator_symbol(&g.name());
        if matches!(name.as_str(), "__rust_dealloc" | "__rdl_dealloc") && !known.contains(&g) {
            known.push(g);
        }
    }
    build_run_frees(m, f, &known);
    f
}

/// The deallocators `run_frees` knows: the functions it calls with a node's block (a field of
/// the loaded node; the node itself goes to `free`). Not read from block names: rustc's context
/// discards them.
fn known_deallocators(f: Value) -> Vec<Value> {
    let mut out = Vec::new();
    for i in f.blocks().into_iter().flat_map(|b| b.instructions()) {
        if i.opcode() != oxidase_llvm::Opcode::LLVMCall {
            continue;
        }
        let Some(callee) = i.called_function() else { continue };
        let args = i.call_args();
        if args.first().is_some_and(|a| a.is_instruction() && a.opcode() == oxidase_llvm::Opcode::LLVMExtractValue) && !out.contains(&callee) {
            out.push(callee);
        }
    }
    out
}

fn register_deallocator(m: LLVMModuleRef, dealloc: Value) {
    let f = run_frees_function(m);
    let mut known = known_deallocators(f);
    if known.contains(&dealloc) {
        return;
    }
    known.push(dealloc);
    oxidase_llvm::module::clear_body(f);
    build_run_frees(m, f, &known);
}

fn build_run_frees(m: LLVMModuleRef, f: Value, deallocators: &[Value]) {
    let ctx = context_of(m);
    let p = Type::ptr(ctx);
    let b = Builder::new(ctx);
    let entry = Block::append(ctx, f, "entry");
    let body = Block::append(ctx, f, "node");
    let next_bb = Block::append(ctx, f, "next");
    let done = Block::append(ctx, f, "done");
    b.position_at_end(entry);
    let empty = b.icmp(IntPredicate::LLVMIntEQ, f.param(0), p.zero());
    b.cond_br(empty, done, body);
    b.position_at_end(body);
    let node = b.phi(p);
    let v = b.load(free_node_type(m), node);
    let next = b.extract_value(v, 0);
    let dealloc = b.extract_value(v, 1);
    let args = [b.extract_value(v, 2), b.extract_value(v, 3), b.extract_value(v, 4)];
    // A null block: a shadow that was the primal memory itself (run-time activity), not ours.
    let dispatch = Block::append(ctx, f, "dispatch");
    let null_block = b.icmp(IntPredicate::LLVMIntEQ, args[0], p.zero());
    b.cond_br(null_block, next_bb, dispatch);
    b.position_at_end(dispatch);
    for &d in deallocators {
        let hit = Block::append(ctx, f, "dealloc.hit");
        let miss = Block::append(ctx, f, "dealloc.next");
        let is = b.icmp(IntPredicate::LLVMIntEQ, dealloc, d);
        b.cond_br(is, hit, miss);
        b.position_at_end(hit);
        let n = d.function_type().param_types().len();
        b.call(d.function_type(), d, &args[..n.min(3)]);
        b.br(next_bb);
        b.position_at_end(miss);
    }
    b.br(next_bb);
    b.position_at_end(next_bb);
    let free = libc_function(m, "free");
    b.call(free.function_type(), free, &[node]);
    let last = b.icmp(IntPredicate::LLVMIntEQ, next, p.zero());
    b.cond_br(last, done, body);
    node.add_incoming(f.param(0), entry);
    node.add_incoming(next, next_bb);
    b.position_at_end(done);
    b.ret_void();
}

fn field(m: LLVMModuleRef, b: &Builder, tape: Value, i: u64) -> Value {
    let ctx = context_of(m);
    b.inbounds_gep(header_type(m), tape, &[Type::i32(ctx).zero(), Type::i32(ctx).const_int(i)])
}

/// Pushes `values` in order (the last one ends on top); returns the stores into the buffer.
pub fn push(m: LLVMModuleRef, b: &Builder, tape: Value, values: &[Value]) -> Vec<Value> {
    if values.is_empty() {
        return Vec::new();
    }
    let ctx = context_of(m);
    let i64t = Type::i64(ctx);
    let total: u64 = values.iter().map(|v| entry_size(m, v.ty())).sum();
    let reserve = reserve_function(m);
    b.call(reserve.function_type(), reserve, &[tape, i64t.const_int(total)]);
    let data = b.load(Type::ptr(ctx), tape);
    let len_ptr = field(m, b, tape, 1);
    let mut len = b.load(i64t, len_ptr);
    let mut stores = Vec::new();
    for &v in values {
        let at = b.gep(Type::i8(ctx), data, &[len]);
        let st = b.store(v, at);
        st.set_alignment(8);
        stores.push(st);
        len = b.add(len, i64t.const_int(entry_size(m, v.ty())));
    }
    b.store(len, len_ptr);
    stores
}

/// Reserves a block of `n` bytes (a run-time value) on top of the stack at once and returns
/// its offset from the buffer's start (the buffer may move later: address it from `data`).
pub fn reserve_block(m: LLVMModuleRef, b: &Builder, tape: Value, n: Value) -> Value {
    let i64t = Type::i64(context_of(m));
    let reserve = reserve_function(m);
    b.call(reserve.function_type(), reserve, &[tape, n]);
    let len_ptr = field(m, b, tape, 1);
    let off = b.load(i64t, len_ptr);
    b.store(b.add(off, n), len_ptr);
    off
}

/// The buffer's start (it moves when the tape grows).
pub fn data(m: LLVMModuleRef, b: &Builder, tape: Value) -> Value {
    b.load(Type::ptr(context_of(m)), tape)
}

/// Pops everything above `offset`: a block from [`reserve_block`] and what was pushed after it.
pub fn pop_to(m: LLVMModuleRef, b: &Builder, tape: Value, offset: Value) {
    b.store(offset, field(m, b, tape, 1));
}

/// Pops one value of type `ty`.
pub fn pop(m: LLVMModuleRef, b: &Builder, tape: Value, ty: Type) -> Value {
    let ctx = context_of(m);
    let i64t = Type::i64(ctx);
    let len_ptr = field(m, b, tape, 1);
    let len = b.load(i64t, len_ptr);
    let len = b.sub(len, i64t.const_int(entry_size(m, ty)));
    b.store(len, len_ptr);
    let data = b.load(Type::ptr(ctx), tape);
    let at = b.gep(Type::i8(ctx), data, &[len]);
    let v = b.load(ty, at);
    v.set_alignment(8);
    v
}

/// A runtime helper of the generated code: `Ok(f)` if the module has it already, otherwise
/// `Err(f)`, a new internal function of type `ty` whose body the caller builds.
pub fn helper(m: LLVMModuleRef, name: &str, ty: Type) -> Result<Value, Value> {
    if let Some(f) = get_function(m, name) {
        return Ok(f);
    }
    let f = add_function(m, name, ty);
    f.set_linkage(Linkage::LLVMInternalLinkage);
    Err(f)
}

/// `malloc`, `free` or `memcpy`-like C functions, declared on first use.
pub fn libc_function(m: LLVMModuleRef, name: &str) -> Value {
    if let Some(f) = get_function(m, name) {
        return f;
    }
    let ctx = context_of(m);
    let (p, i64t) = (Type::ptr(ctx), Type::i64(ctx));
    let ty = match name {
        "malloc" => Type::function(p, &[i64t], false),
        "realloc" => Type::function(p, &[p, i64t], false),
        "free" => Type::function(Type::void(ctx), &[p], false),
        "write" => Type::function(i64t, &[Type::i32(ctx), p, i64t], false),
        "malloc_usable_size" => Type::function(i64t, &[p], false),
        "aligned_alloc" => Type::function(p, &[i64t, i64t], false),
        "abort" => Type::function(Type::void(ctx), &[], false),
        _ => unreachable!("unknown libc function {name}"),
    };
    add_function(m, name, ty)
}

/// `void oxidase.tape.reserve(ptr tape, i64 n)`: makes room for `n` more bytes.
fn reserve_function(m: LLVMModuleRef) -> Value {
    build_reserve(m, |b, tape, n, done| {
        let grow = grow_function(m);
        b.call(grow.function_type(), grow, &[tape, n]);
        b.br(done);
    })
}

/// Arena mode ([`crate::Options::tape_arena`]): defines `oxidase.tape.reserve` before any
/// derivative asks for it as a check that stops the program (`llvm.trap`) when the caller's
/// arena cannot take `n` more bytes, instead of growing the buffer: nothing allocates, no
/// thread-local is read.
pub fn use_arena(m: LLVMModuleRef) {
    build_reserve(m, |b, _, _, _| {
        let trap = oxidase_llvm::intrinsic_declaration(m, "llvm.trap", &[]).expect("llvm.trap");
        b.call(trap.function_type(), trap, &[]);
        b.unreachable();
    });
}

/// `oxidase.tape.reserve` (found, or built): when `len + n` exceeds `cap`, `full(builder,
/// tape, n, done)` ends the block that handles it (grows the buffer and goes on to `done`,
/// or stops the program).
fn build_reserve(m: LLVMModuleRef, full: impl FnOnce(&Builder, Value, Value, Block)) -> Value {
    let ctx = context_of(m);
    let (p, i64t) = (Type::ptr(ctx), Type::i64(ctx));
    let f = match helper(m, "oxidase.tape.reserve", Type::function(Type::void(ctx), &[p, i64t], false)) {
        Ok(f) => return f,
        Err(f) => f,
    };
    f.add_fn_attribute("alwaysinline");
    let (tape, n) = (f.param(0), f.param(1));
    let b = Builder::new(ctx);
    let entry = Block::append(ctx, f, "entry");
    let full_bb = Block::append(ctx, f, "full");
    let done = Block::append(ctx, f, "done");
    b.position_at_end(entry);
    let len = b.load(i64t, field(m, &b, tape, 1));
    let cap = b.load(i64t, field(m, &b, tape, 2));
    let need = b.add(len, n);
    b.cond_br(b.icmp(IntPredicate::LLVMIntUGT, need, cap), full_bb, done);
    b.position_at_end(full_bb);
    full(&b, tape, n, done);
    b.position_at_end(done);
    b.ret_void();
    f
}

/// The most bytes the derivative `f` (and the derivatives it calls) can keep on its tape in
/// one call, where that is known before the call: every reservation has a constant size and
/// runs at most once per call (outside every cycle) — a loop buffer whose bound is a constant,
/// values kept outside loops — and no derivative it calls recurses. `None` otherwise.
pub fn arena_bound(f: Value) -> Option<u64> {
    fn walk(f: Value, memo: &mut std::collections::HashMap<Value, Option<u64>>, stack: &mut Vec<Value>) -> Option<u64> {
        if let Some(&b) = memo.get(&f) {
            return b;
        }
        if stack.contains(&f) {
            return None;
        }
        stack.push(f);
        let order = crate::forward::reverse_post_order(f);
        let cyclic = crate::cfg::Cfg::new(order.clone()).cyclic_blocks();
        let mut total = Some(0u64);
        'blocks: for b in order {
            for i in b.instructions() {
                if !matches!(i.opcode(), oxidase_llvm::Opcode::LLVMCall | oxidase_llvm::Opcode::LLVMInvoke) {
                    continue;
                }
                let callee = i.called_value();
                let here = if !callee.is_function() {
                    // An indirect call: the tape is handed only to derivatives, never to a
                    // pointer the engine does not resolve into a chain of known ones.
                    let mut most = Some(0u64);
                    for t in call_targets(callee) {
                        let n = match t {
                            Some(t) if t.name().contains(".oxidase.") => walk(t, memo, stack),
                            Some(_) => Some(0),
                            None => None,
                        };
                        most = match (most, n) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            _ => None,
                        };
                    }
                    most
                } else if callee.name() == "oxidase.tape.reserve" {
                    i.operand(1).const_int_value().map(|n| n as u64)
                } else if callee.name().contains(".oxidase.") && !callee.is_declaration() {
                    walk(callee, memo, stack)
                } else {
                    Some(0)
                };
                total = match (total, here) {
                    (Some(_), Some(n)) if n > 0 && cyclic.contains(&b) => None,
                    (Some(t), Some(n)) => t.checked_add(n),
                    _ => None,
                };
                if total.is_none() {
                    break 'blocks;
                }
            }
        }
        stack.pop();
        memo.insert(f, total);
        total
    }
    walk(f, &mut std::collections::HashMap::new(), &mut Vec::new())
}

/// The functions an indirect call's pointer may be (a chain of `select`s over known ones);
/// `None` for a leaf that is not a function.
fn call_targets(v: Value) -> Vec<Option<Value>> {
    if v.is_function() {
        return vec![Some(v)];
    }
    if v.is_instruction() && v.opcode() == oxidase_llvm::Opcode::LLVMSelect {
        let mut out = call_targets(v.operand(1));
        out.extend(call_targets(v.operand(2)));
        return out;
    }
    vec![None]
}

/// Arena mode: `f.tape_bytes`, a constant `i64` holding [`arena_bound`]'s answer for the
/// user-facing derivative `f` (`-1` when there is none).
pub fn publish_arena_bound(m: LLVMModuleRef, f: Value, bound: Option<u64>) {
    let i64t = Type::i64(context_of(m));
    let name = format!("{}.tape_bytes", f.name());
    let g = match oxidase_llvm::module::get_global(m, &name) {
        Some(g) => g,
        None => oxidase_llvm::module::add_global(m, i64t, &name),
    };
    oxidase_llvm::module::set_initializer(g, i64t.const_int(bound.unwrap_or(u64::MAX)));
    oxidase_llvm::module::set_global_constant(g, true);
}

/// `void oxidase.tape.grow(ptr tape, i64 n)`: reallocates the buffer to fit `n` more bytes.
fn grow_function(m: LLVMModuleRef) -> Value {
    let ctx = context_of(m);
    let (p, i64t) = (Type::ptr(ctx), Type::i64(ctx));
    let f = match helper(m, "oxidase.tape.grow", Type::function(Type::void(ctx), &[p, i64t], false)) {
        Ok(f) => return f,
        Err(f) => f,
    };
    // Inlined (on a cold path) so that a derivative's working copy of the tape header never
    // escapes and its fields live in registers.
    f.add_fn_attribute("alwaysinline");
    let (tape, n) = (f.param(0), f.param(1));
    let b = Builder::new(ctx);
    let entry = Block::append(ctx, f, "entry");
    let fail = Block::append(ctx, f, "oom");
    let hint = capacity_hint(m);
    let ok = Block::append(ctx, f, "ok");
    b.position_at_end(entry);
    let data = b.load(p, tape);
    let len = b.load(i64t, field(m, &b, tape, 1));
    let cap = b.load(i64t, field(m, &b, tape, 2));
    // new capacity: max(2·cap, len + n, 4096, what the previous tape of this thread needed)
    let twice = b.add(cap, cap);
    let need = b.add(len, n);
    let c1 = b.icmp(IntPredicate::LLVMIntUGT, twice, need);
    let m1 = b.select(c1, twice, need);
    let last = b.load(i64t, hint);
    let c0 = b.icmp(IntPredicate::LLVMIntUGT, last, i64t.const_int(4096));
    let min = b.select(c0, last, i64t.const_int(4096));
    let c2 = b.icmp(IntPredicate::LLVMIntUGT, m1, min);
    let newcap = b.select(c2, m1, min);
    // A first buffer comes from `acquire` (the one this thread kept, if large enough); a full
    // one grows with `realloc`, which moves large buffers by remapping their pages instead of
    // copying them (and faulting in a fresh copy) on every doubling.
    let first = Block::append(ctx, f, "first");
    let more = Block::append(ctx, f, "more");
    let join = Block::append(ctx, f, "join");
    let none = b.icmp(IntPredicate::LLVMIntEQ, data, p.zero());
    b.cond_br(none, first, more);
    b.position_at_end(first);
    let acquire = acquire_function(m);
    let f1 = b.call(acquire.function_type(), acquire, &[newcap]);
    b.br(join);
    b.position_at_end(more);
    let realloc = libc_function(m, "realloc");
    let f2 = b.call(realloc.function_type(), realloc, &[data, newcap]);
    b.br(join);
    b.position_at_end(join);
    let fresh = b.phi(p);
    fresh.add_incoming(f1, first);
    fresh.add_incoming(f2, more);
    let null = b.icmp(IntPredicate::LLVMIntEQ, fresh, p.zero());
    b.cond_br(null, fail, ok);
    b.position_at_end(fail);
    let trap = oxidase_llvm::intrinsic_declaration(m, "llvm.trap", &[]).expect("llvm.trap");
    b.call(trap.function_type(), trap, &[]);
    b.unreachable();
    b.position_at_end(ok);
    b.store(fresh, tape);
    b.store(newcap, field(m, &b, tape, 2));
    b.ret_void();
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxidase_llvm::module::Context;

    /// Deferring frees through a deallocator `run_frees` already knows leaves its body alone,
    /// also where the context discards block names (rustc's); a new one is added once.
    #[test]
    fn deallocators_are_known_without_block_names() {
        let ctx = Context::new();
        let owned = ctx.parse_ir("declare void @__rust_dealloc(ptr, i64, i64)\ndeclare void @my_dealloc(ptr, i64, i64)\n", "t").unwrap();
        ctx.discard_value_names();
        let m = owned.raw();
        let f = run_frees_function(m);
        let known = known_deallocators(f);
        let rust = oxidase_llvm::module::get_function(m, "__rust_dealloc").unwrap();
        assert!(known.contains(&rust) && known.contains(&recycle_function(m)) && known.contains(&libc_function(m, "free")));
        let entry = f.entry_block();
        register_deallocator(m, rust);
        assert!(f.entry_block() == entry, "the body was rebuilt for a known deallocator");
        let mine = oxidase_llvm::module::get_function(m, "my_dealloc").unwrap();
        register_deallocator(m, mine);
        assert_eq!(known_deallocators(f).len(), known.len() + 1);
        register_deallocator(m, mine);
        assert_eq!(known_deallocators(f).len(), known.len() + 1);
        oxidase_llvm::module::verify_module(m).unwrap();
    }
}
