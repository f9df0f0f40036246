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
//! keeps in registers.
//!
//! The bytes live in **chunks**: `data` is the current chunk's payload, `cap` its size, `len`
//! the bytes used in it. A chunk starts with a header holding the previous chunk's `data`,
//! `len` and `cap`. Pushes reserve space through `oxidase.tape.reserve` (a compare and, rarely,
//! a call to the out-of-line `oxidase.tape.grow`), then store plain values; when the chunk is
//! full, `grow` links a new one (twice the last one's size, from 64 KiB up to 64 MiB, or the
//! size of a larger reservation): nothing already on the tape is ever copied or moved, so a
//! loop buffer's address ([`reserve_block`]) stays valid while the tape grows. A pop
//! (`oxidase.tape.pop`) that finds its chunk empty goes back to the previous one and hands the
//! empty chunk back. Chunks come from a per-thread pool (`oxidase.tape.chunk` /
//! `oxidase.tape.unchunk`, up to 1 GiB kept): a derivative called again reuses the chunks of its
//! last call, without faulting in fresh pages. Forward mode can differentiate the tape code
//! (higher order): the two pool helpers are an allocator and a deallocator to it, so a tape's
//! shadow gets chunks of its own of the same sizes, and its headers hold shadow pointers.

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

/// Bytes before a chunk's payload: `{ ptr prev_data, i64 prev_len, i64 prev_cap, i64 _ }`
/// (32, so that payloads keep `malloc`'s 16-byte alignment).
const CHUNK_HEADER: u64 = 32;

/// The first chunk's payload, and the least a new chunk gets.
const MIN_CHUNK: u64 = 64 << 10;

/// Chunks double in size up to this; a larger reservation gets a chunk of its own size.
const MAX_CHUNK: u64 = 64 << 20;

/// Most bytes of chunks a thread keeps for its next derivative call: beyond that a chunk handed
/// back is freed at once rather than held for the life of the thread.
const POOL_BYTES: u64 = 1 << 30;

/// The thread's pool of free chunks: the first one (each free chunk starts with `{ ptr next,
/// i64 size }`) and the bytes they hold.
fn pool(m: LLVMModuleRef) -> (Value, Value) {
    let ctx = context_of(m);
    (thread_local_global(m, "oxidase.tape.pool", Type::ptr(ctx)), thread_local_global(m, "oxidase.tape.pool_bytes", Type::i64(ctx)))
}

/// `ptr oxidase.tape.chunk(i64 n)`: a block of at least `n` bytes, the first one of the
/// thread's pool that is large enough, otherwise from `malloc` (a failed `malloc` traps).
///
/// Why a pool: a large block comes from `mmap` and goes back to the kernel on `free`, so every
/// call of a derivative with a tape of more than a few MB paid for faulting in (and the kernel
/// zeroing) every page again — several times the cost of the derivative's own work.
///
/// It and `oxidase.tape.unchunk` are classified as an allocator and a deallocator
/// (`calls::classify`): differentiating a derivative (higher order) gives the tape's shadow
/// chunks of its own from them and never looks into the pool.
pub fn chunk_function(m: LLVMModuleRef) -> Value {
    let ctx = context_of(m);
    let (p, i64t) = (Type::ptr(ctx), Type::i64(ctx));
    let f = match helper(m, "oxidase.tape.chunk", Type::function(p, &[i64t], false)) {
        Ok(f) => return f,
        Err(f) => f,
    };
    let n = f.param(0);
    let (head, bytes) = pool(m);
    let b = Builder::new(ctx);
    let entry = Block::append(ctx, f, "entry");
    let walk = Block::append(ctx, f, "walk");
    let look = Block::append(ctx, f, "look");
    let take = Block::append(ctx, f, "take");
    let fresh = Block::append(ctx, f, "fresh");
    let oom = Block::append(ctx, f, "oom");
    let ok = Block::append(ctx, f, "ok");
    b.position_at_end(entry);
    b.br(walk);
    // `link` is where the pointer to the chunk looked at lives: the pool's head, then the
    // `next` field of the chunk before.
    b.position_at_end(walk);
    let link = b.phi(p);
    let cur = b.load(p, link);
    b.cond_br(b.icmp(IntPredicate::LLVMIntEQ, cur, p.zero()), fresh, look);
    b.position_at_end(look);
    let size = b.load(i64t, b.gep(Type::i8(ctx), cur, &[i64t.const_int(8)]));
    b.cond_br(b.icmp(IntPredicate::LLVMIntUGE, size, n), take, walk);
    link.add_incoming(head, entry);
    link.add_incoming(cur, look);
    b.position_at_end(take);
    b.store(b.load(p, cur), link);
    b.store(b.sub(b.load(i64t, bytes), size), bytes);
    b.ret(cur);
    b.position_at_end(fresh);
    let malloc = libc_function(m, "malloc");
    let block = b.call(malloc.function_type(), malloc, &[n]);
    b.cond_br(b.icmp(IntPredicate::LLVMIntEQ, block, p.zero()), oom, ok);
    b.position_at_end(oom);
    let trap = oxidase_llvm::intrinsic_declaration(m, "llvm.trap", &[]).expect("llvm.trap");
    b.call(trap.function_type(), trap, &[]);
    b.unreachable();
    b.position_at_end(ok);
    b.ret(block);
    f
}

/// `void oxidase.tape.unchunk(ptr block, i64 n)`: hands back a block of `n` bytes from
/// `oxidase.tape.chunk`. The pool keeps it while it holds less than `POOL_BYTES`; otherwise,
/// or when the size is not known (`n == 0`: a free deferred by a derivative of the tape code),
/// it is freed.
pub fn unchunk_function(m: LLVMModuleRef) -> Value {
    let ctx = context_of(m);
    let (p, i64t) = (Type::ptr(ctx), Type::i64(ctx));
    let f = match helper(m, "oxidase.tape.unchunk", Type::function(Type::void(ctx), &[p, i64t], false)) {
        Ok(f) => return f,
        Err(f) => f,
    };
    let (block, n) = (f.param(0), f.param(1));
    let (head, bytes) = pool(m);
    let b = Builder::new(ctx);
    let entry = Block::append(ctx, f, "entry");
    let keep = Block::append(ctx, f, "keep");
    let drop = Block::append(ctx, f, "drop");
    b.position_at_end(entry);
    let held = b.load(i64t, bytes);
    let total = b.add(held, n);
    let fits = b.icmp(IntPredicate::LLVMIntULE, total, i64t.const_int(POOL_BYTES));
    let sized = b.icmp(IntPredicate::LLVMIntUGE, n, i64t.const_int(16));
    let not_null = b.icmp(IntPredicate::LLVMIntNE, block, p.zero());
    b.cond_br(b.and(b.and(fits, sized), not_null), keep, drop);
    b.position_at_end(keep);
    b.store(b.load(p, head), block);
    b.store(n, b.gep(Type::i8(ctx), block, &[i64t.const_int(8)]));
    b.store(block, head);
    b.store(total, bytes);
    b.ret_void();
    b.position_at_end(drop);
    let free = libc_function(m, "free");
    b.call(free.function_type(), free, &[block]);
    b.ret_void();
    f
}

/// Goes back from the current chunk of the tape header `tape` to the previous one (restoring
/// its `data`, `len` and `cap`) and hands the current one back; returns the previous `len`.
fn leave_chunk(m: LLVMModuleRef, b: &Builder, tape: Value) -> Value {
    let ctx = context_of(m);
    let (p, i64t, i8t) = (Type::ptr(ctx), Type::i64(ctx), Type::i8(ctx));
    let data = b.load(p, tape);
    let cap = b.load(i64t, field(m, b, tape, 2));
    let c = b.gep(i8t, data, &[i64t.const_int((CHUNK_HEADER as i64).wrapping_neg() as u64)]);
    let prev_data = b.load(p, c);
    let prev_len = b.load(i64t, b.gep(i8t, c, &[i64t.const_int(8)]));
    let prev_cap = b.load(i64t, b.gep(i8t, c, &[i64t.const_int(16)]));
    let unchunk = unchunk_function(m);
    b.call(unchunk.function_type(), unchunk, &[c, b.add(cap, i64t.const_int(CHUNK_HEADER))]);
    b.store(prev_data, tape);
    b.store(prev_len, field(m, b, tape, 1));
    b.store(prev_cap, field(m, b, tape, 2));
    prev_len
}

/// `void oxidase.tape.drop(ptr tape)`: hands every chunk of the tape back (the release).
fn drop_function(m: LLVMModuleRef) -> Value {
    let ctx = context_of(m);
    let p = Type::ptr(ctx);
    let f = match helper(m, "oxidase.tape.drop", Type::function(Type::void(ctx), &[p], false)) {
        Ok(f) => return f,
        Err(f) => f,
    };
    let tape = f.param(0);
    let b = Builder::new(ctx);
    let entry = Block::append(ctx, f, "entry");
    let next = Block::append(ctx, f, "next");
    let done = Block::append(ctx, f, "done");
    b.position_at_end(entry);
    b.br(next);
    b.position_at_end(next);
    let data = b.load(p, tape);
    let more = Block::append(ctx, f, "more");
    b.cond_br(b.icmp(IntPredicate::LLVMIntEQ, data, p.zero()), done, more);
    b.position_at_end(more);
    leave_chunk(m, &b, tape);
    b.br(next);
    b.position_at_end(done);
    b.ret_void();
    f
}

/// Hands the tape's chunks back (`oxidase.tape.drop`) and runs the deferred frees.
pub fn release(m: LLVMModuleRef, b: &Builder, tape: Value) {
    let ctx = context_of(m);
    let drop = drop_function(m);
    b.call(drop.function_type(), drop, &[tape]);
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
    let mut known = vec![unchunk_function(m), libc_function(m, "free")];
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
/// its address (chunks never move: it stays valid however the tape grows above it).
pub fn reserve_block(m: LLVMModuleRef, b: &Builder, tape: Value, n: Value) -> Value {
    let ctx = context_of(m);
    let i64t = Type::i64(ctx);
    let reserve = reserve_function(m);
    b.call(reserve.function_type(), reserve, &[tape, n]);
    let data = b.load(Type::ptr(ctx), tape);
    let len_ptr = field(m, b, tape, 1);
    let off = b.load(i64t, len_ptr);
    b.store(b.add(off, n), len_ptr);
    b.gep(Type::i8(ctx), data, &[off])
}

/// Pops everything from `block` up: a block from [`reserve_block`] and what was pushed after it
/// (`oxidase.tape.pop_to`).
pub fn pop_to(m: LLVMModuleRef, b: &Builder, tape: Value, block: Value) {
    let f = pop_to_function(m);
    b.call(f.function_type(), f, &[tape, block]);
}

/// Pops one value of type `ty`.
pub fn pop(m: LLVMModuleRef, b: &Builder, tape: Value, ty: Type) -> Value {
    let i64t = Type::i64(context_of(m));
    let f = pop_function(m);
    let at = b.call(f.function_type(), f, &[tape, i64t.const_int(entry_size(m, ty))]);
    let v = b.load(ty, at);
    v.set_alignment(8);
    v
}

/// `ptr oxidase.tape.pop(ptr tape, i64 n)`: takes `n` bytes off the top and returns their
/// address; an empty chunk is left for the previous one first ([`leave_chunk`]).
fn pop_function(m: LLVMModuleRef) -> Value {
    build_pop(m, true)
}

/// `void oxidase.tape.pop_to(ptr tape, ptr block)`: leaves the chunks above the one holding
/// `block` and makes `block` the top.
fn pop_to_function(m: LLVMModuleRef) -> Value {
    build_pop_to(m, true)
}

/// `oxidase.tape.pop` (found, or built); `chunked == false` (arena mode): one chunk, so a pop
/// only moves the length.
fn build_pop(m: LLVMModuleRef, chunked: bool) -> Value {
    let ctx = context_of(m);
    let (p, i64t) = (Type::ptr(ctx), Type::i64(ctx));
    let f = match helper(m, "oxidase.tape.pop", Type::function(p, &[p, i64t], false)) {
        Ok(f) => return f,
        Err(f) => f,
    };
    f.add_fn_attribute("alwaysinline");
    let (tape, n) = (f.param(0), f.param(1));
    let b = Builder::new(ctx);
    let entry = Block::append(ctx, f, "entry");
    let done = Block::append(ctx, f, "done");
    b.position_at_end(entry);
    let len_ptr = field(m, &b, tape, 1);
    let len = b.sub(b.load(i64t, len_ptr), n);
    let len = if chunked {
        let back = Block::append(ctx, f, "back");
        b.cond_br(b.icmp(IntPredicate::LLVMIntSLT, len, i64t.zero()), back, done);
        b.position_at_end(back);
        let prev = b.sub(leave_chunk(m, &b, tape), n);
        b.cond_br(b.icmp(IntPredicate::LLVMIntSLT, prev, i64t.zero()), back, done);
        b.position_at_end(done);
        let phi = b.phi(i64t);
        phi.add_incoming(len, entry);
        phi.add_incoming(prev, back);
        phi
    } else {
        b.br(done);
        b.position_at_end(done);
        len
    };
    b.store(len, len_ptr);
    let data = b.load(p, tape);
    b.ret(b.gep(Type::i8(ctx), data, &[len]));
    f
}

/// `oxidase.tape.pop_to` (found, or built); see [`build_pop`].
fn build_pop_to(m: LLVMModuleRef, chunked: bool) -> Value {
    let ctx = context_of(m);
    let (p, i64t) = (Type::ptr(ctx), Type::i64(ctx));
    let f = match helper(m, "oxidase.tape.pop_to", Type::function(Type::void(ctx), &[p, p], false)) {
        Ok(f) => return f,
        Err(f) => f,
    };
    f.add_fn_attribute("alwaysinline");
    let (tape, block) = (f.param(0), f.param(1));
    let b = Builder::new(ctx);
    let entry = Block::append(ctx, f, "entry");
    let check = Block::append(ctx, f, "check");
    let done = Block::append(ctx, f, "done");
    b.position_at_end(entry);
    b.br(check);
    b.position_at_end(check);
    let data = b.load(p, tape);
    let to_int = |v: Value| b.cast(oxidase_llvm::Opcode::LLVMPtrToInt, v, i64t);
    let off = b.sub(to_int(block), to_int(data));
    if chunked {
        // In this chunk: 0 <= block - data <= cap.
        let cap = b.load(i64t, field(m, &b, tape, 2));
        let back = Block::append(ctx, f, "back");
        b.cond_br(b.icmp(IntPredicate::LLVMIntULE, off, cap), done, back);
        b.position_at_end(back);
        leave_chunk(m, &b, tape);
        b.br(check);
    } else {
        b.br(done);
    }
    b.position_at_end(done);
    b.store(off, field(m, &b, tape, 1));
    b.ret_void();
    f
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
/// arena cannot take `n` more bytes, instead of growing the buffer, and pops that never look
/// for a previous chunk: nothing allocates, no thread-local is read.
pub fn use_arena(m: LLVMModuleRef) {
    build_pop(m, false);
    build_pop_to(m, false);
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

/// `void oxidase.tape.grow(ptr tape, i64 n)`: links a new chunk that fits `n` bytes, its header
/// holding the current chunk's `data`, `len` and `cap` (all null for the first one).
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
    b.position_at_end(Block::append(ctx, f, "entry"));
    let data = b.load(p, tape);
    let len = b.load(i64t, field(m, &b, tape, 1));
    let cap = b.load(i64t, field(m, &b, tape, 2));
    // size: max(n, min(max(2·cap, MIN_CHUNK), MAX_CHUNK))
    let umax = |x: Value, y: Value| b.select(b.icmp(IntPredicate::LLVMIntUGT, x, y), x, y);
    let umin = |x: Value, y: Value| b.select(b.icmp(IntPredicate::LLVMIntULT, x, y), x, y);
    let size = umin(umax(b.add(cap, cap), i64t.const_int(MIN_CHUNK)), i64t.const_int(MAX_CHUNK));
    let size = umax(size, n);
    let chunk = chunk_function(m);
    let c = b.call(chunk.function_type(), chunk, &[b.add(size, i64t.const_int(CHUNK_HEADER))]);
    b.store(data, c);
    b.store(len, b.gep(Type::i8(ctx), c, &[i64t.const_int(8)]));
    b.store(cap, b.gep(Type::i8(ctx), c, &[i64t.const_int(16)]));
    b.store(b.gep(Type::i8(ctx), c, &[i64t.const_int(CHUNK_HEADER)]), tape);
    b.store(i64t.zero(), field(m, &b, tape, 1));
    b.store(size, field(m, &b, tape, 2));
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
        assert!(known.contains(&rust) && known.contains(&unchunk_function(m)) && known.contains(&libc_function(m, "free")));
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
