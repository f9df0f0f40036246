//! Mod/ref: which loads of a primal function read memory that nothing writes while its
//! derivative runs, so that the reversal can load again instead of carrying the value; and,
//! at a call, which pointer arguments' memory the caller leaves alone until the callee's
//! reversal (a split callee may then load again too). Analysis only; changes nothing.
//!
//! Memory is described by the objects pointers come from ([`Root`]): a parameter, a stack slot,
//! a fresh heap block, a global, or a pointer loaded from memory. A write and a load may touch
//! the same bytes unless their objects are told apart: distinct identified objects (stack slots,
//! fresh blocks, globals, `noalias` parameters), a local object whose address never escapes
//! against anything else, a `noalias readonly` parameter (writing it is undefined behaviour),
//! constant memory, or scoped `noalias` metadata (what the inliner leaves of the inlined
//! function's `noalias` parameters). Writers in blocks that cannot return are ignored: the
//! reversal never runs after them.
//!
//! The context says what happens outside the function: a combined derivative runs its reversal
//! before returning (nothing outside intervenes); a split one returns between the sweeps, so
//! only memory its caller promised to keep ([`Context::preserved`]) may be read again, and stack
//! slots and heap blocks of the forward sweep are gone.

use crate::calls::{self, Alloc, CallKind};
use oxidase_llvm::{Block, Opcode, Value};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

/// The object a pointer points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Root {
    /// Parameter `i` of the function.
    Arg(u32),
    /// A stack slot (`alloca`).
    Local(Value),
    /// A block returned by an allocator call.
    Fresh(Value),
    /// A global variable.
    Global(Value),
    /// A constant address (null, a dangling address): never written.
    Constant,
    /// A pointer loaded from memory by this load.
    Loaded(Value),
    /// Anything else (a call's result, `inttoptr`, ...).
    Unknown,
}

/// What happens outside the function while its derivative runs.
#[derive(Clone, Debug)]
pub struct Context {
    /// The reversal runs before the derivative returns (user-facing, combined).
    pub combined: bool,
    /// Per parameter (split): whether the caller writes nothing reachable through it between
    /// the forward sweep and the reversal.
    pub preserved: Vec<bool>,
    /// The derivative frees heap blocks this function allocated and frees outside every loop
    /// only when the tape is released ([`ModRef::deferred_free`]): such a free writes nothing
    /// before the reversal.
    pub defer_frees: bool,
}

/// An instruction that may write memory, and where.
#[derive(Clone, Debug)]
enum Writer {
    /// A store, memset, memcpy destination, free: the bytes behind one pointer.
    At { inst: Value, ptr: Value },
    /// A call that may write through its pointer arguments, globals and escaped memory.
    Call { inst: Value },
}

impl Writer {
    fn inst(&self) -> Value {
        match *self {
            Writer::At { inst, .. } | Writer::Call { inst } => inst,
        }
    }
}

/// Whether `f`, and every function it may call, frees or reallocates only heap blocks the same
/// function allocated (their pointers come from its own allocator calls). Memory its caller can
/// reach then outlives the call, whichever derivative of `f` runs: a combined one releases what
/// it kept (deferred frees, shadows of freed blocks) before it returns, a split one only when
/// the caller's tape is released. A call through a pointer or inline assembly may free
/// anything.
pub fn frees_only_own_blocks(f: Value) -> bool {
    let mut seen = HashSet::new();
    let mut work = vec![f];
    while let Some(g) = work.pop() {
        if g.is_declaration() || !seen.insert(g) {
            continue;
        }
        let mut modref = None;
        for b in g.blocks() {
            for i in b.instructions() {
                if !matches!(i.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke) {
                    continue;
                }
                match calls::classify(i, &HashMap::new()) {
                    CallKind::Deallocation | CallKind::Allocation(Alloc::Realloc) => {
                        let m = modref.get_or_insert_with(|| {
                            ModRef::new(g, Context { combined: true, preserved: Vec::new(), defer_frees: false })
                        });
                        let own = i
                            .call_args()
                            .first()
                            .and_then(|&p| m.roots(p))
                            .is_some_and(|rs| rs.iter().all(|r| matches!(r, Root::Fresh(_) | Root::Constant)));
                        if !own {
                            return false;
                        }
                    }
                    CallKind::Indirect | CallKind::InlineAsm => return false,
                    _ => {
                        if let Some(callee) = i.called_function() {
                            work.push(callee);
                        }
                    }
                }
            }
        }
    }
    true
}

/// The mod/ref facts of one function in one [`Context`].
pub struct ModRef {
    function: Value,
    context: Context,
    params: HashMap<Value, u32>,
    noalias: Vec<bool>,
    readonly_noalias: Vec<bool>,
    writers: Vec<Writer>,
    /// Local objects (stack slots, fresh blocks, `noalias` parameters) whose address escapes:
    /// stored, passed to a call, converted to an integer, returned.
    escaped: HashSet<Root>,
    /// Scopes of `noalias` metadata declared (`llvm.experimental.noalias.scope.decl`, where the
    /// inliner put a `noalias` parameter's promise) outside every loop: their promise covers
    /// the whole run of the function. A scope declared inside a loop is renewed per iteration,
    /// and says nothing about accesses in different iterations.
    scopes: HashSet<Value>,
    /// Position of each instruction in its block.
    position: HashMap<Value, usize>,
    /// Per block: the blocks reachable from its successors.
    reach: RefCell<HashMap<Block, std::rc::Rc<HashSet<Block>>>>,
    invariant: RefCell<HashMap<Value, bool>>,
    /// [`ModRef::roots`] per pointer: asked for every (load, writer) pair.
    roots: RefCell<HashMap<Value, Option<Vec<Root>>>>,
    /// Frees the derivative defers to the release of its tape ([`ModRef::deferred_free`]).
    deferred: HashSet<Value>,
}

impl ModRef {
    pub fn new(function: Value, context: Context) -> ModRef {
        let params: HashMap<Value, u32> = function.params().into_iter().enumerate().map(|(i, p)| (p, i as u32)).collect();
        let n = params.len() as u32;
        let is_ptr = |i: u32| function.params()[i as usize].ty().is_pointer();
        let noalias: Vec<bool> = (0..n).map(|i| is_ptr(i) && function.param_has_attribute(i, "noalias")).collect();
        let readonly_noalias: Vec<bool> = (0..n)
            .map(|i| noalias[i as usize] && (function.param_has_attribute(i, "readonly") || function.param_has_attribute(i, "readnone")))
            .collect();
        let order = crate::forward::reverse_post_order(function);
        let cfg = crate::cfg::Cfg::new(order.clone());
        let returning = cfg.returning_blocks();
        let mut m = ModRef {
            function,
            context,
            params,
            noalias,
            readonly_noalias,
            writers: Vec::new(),
            escaped: HashSet::new(),
            scopes: HashSet::new(),
            position: HashMap::new(),
            reach: RefCell::new(HashMap::new()),
            invariant: RefCell::new(HashMap::new()),
            roots: RefCell::new(HashMap::new()),
            deferred: HashSet::new(),
        };
        for &b in &order {
            for (k, i) in b.instructions().into_iter().enumerate() {
                m.position.insert(i, k);
            }
        }
        let cyclic = cfg.cyclic_blocks();
        let mut looped = HashSet::new();
        for &b in &order {
            for i in b.instructions() {
                let decl = i.opcode() == Opcode::LLVMCall
                    && i.called_function().is_some_and(|f| f.name() == "llvm.experimental.noalias.scope.decl");
                if decl {
                    let scopes = i.operand(0).md_node_operands();
                    if cyclic.contains(&b) {
                        looped.extend(scopes);
                    } else {
                        m.scopes.extend(scopes);
                    }
                }
            }
        }
        m.scopes.retain(|s| !looped.contains(s));
        let live: Vec<Block> = order.iter().copied().filter(|b| returning.contains(b)).collect();
        for &b in &live {
            for i in b.instructions() {
                let once = m.context.defer_frees && !cyclic.contains(&b);
                if once && matches!(i.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke) && matches!(calls::classify(i, &HashMap::new()), CallKind::Deallocation) {
                    let fresh = i.call_args().first().and_then(|&p| m.roots(p)).is_some_and(|rs| rs.iter().all(|r| matches!(r, Root::Fresh(_) | Root::Constant)) && rs.iter().any(|r| matches!(r, Root::Fresh(_))));
                    if fresh {
                        m.deferred.insert(i);
                        continue;
                    }
                }
                if let Some(w) = writer(i) {
                    m.writers.push(w);
                }
            }
        }
        m.find_escapes(&order);
        m
    }

    /// Parameter `i`'s promise about what it points to: `Some(true)` for a `noalias` pointer
    /// written through (`&mut`: nothing else the function uses overlaps it), `Some(false)` for a
    /// `noalias` read-only one (`&T`: others may overlap it, but no pointer written through),
    /// `None` otherwise.
    pub fn exclusive_arg(&self, i: u32) -> Option<bool> {
        let i = i as usize;
        (*self.noalias.get(i)?).then(|| !self.readonly_noalias[i])
    }

    /// Whether the derivative's forward sweep leaves out the free `call` and frees the block when
    /// the tape is released instead: a block this function allocated, freed outside every loop
    /// of a derivative that runs once per user-facing call (so what stays allocated is bounded
    /// by what the primal allocates outside loops). The reversal may then read the block again.
    pub fn deferred_free(&self, call: Value) -> bool {
        self.deferred.contains(&call)
    }

    /// The objects `p` may point into (`None`: too many to say).
    pub fn roots(&self, p: Value) -> Option<Vec<Root>> {
        if let Some(r) = self.roots.borrow().get(&p) {
            return r.clone();
        }
        let r = self.find_roots(p);
        self.roots.borrow_mut().insert(p, r.clone());
        r
    }

    fn find_roots(&self, p: Value) -> Option<Vec<Root>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut work = vec![p];
        while let Some(v) = work.pop() {
            if !seen.insert(v) || seen.len() > 32 {
                if seen.len() > 32 {
                    return None;
                }
                continue;
            }
            let r = if let Some(&i) = self.params.get(&v) {
                Root::Arg(i)
            } else if v.is_global_variable() {
                Root::Global(v)
            } else if let Some(op) = v.const_expr_opcode() {
                // An address computed from a global (or an integer) as a constant.
                match op {
                    Opcode::LLVMGetElementPtr | Opcode::LLVMBitCast | Opcode::LLVMAddrSpaceCast | Opcode::LLVMIntToPtr | Opcode::LLVMPtrToInt => {
                        work.push(v.operand(0));
                        continue;
                    }
                    _ => Root::Unknown,
                }
            } else if v.is_constant() {
                Root::Constant
            } else if v.is_instruction() {
                match v.opcode() {
                    Opcode::LLVMGetElementPtr | Opcode::LLVMBitCast | Opcode::LLVMAddrSpaceCast | Opcode::LLVMFreeze => {
                        work.push(v.operand(0));
                        continue;
                    }
                    // An address through an integer and back (a `Vec`'s pointer after LTO):
                    // the objects the integer came from.
                    Opcode::LLVMIntToPtr | Opcode::LLVMPtrToInt => {
                        work.push(v.operand(0));
                        continue;
                    }
                    Opcode::LLVMAdd | Opcode::LLVMSub if v.ty().is_int() && v.operand(1).is_constant() => {
                        work.push(v.operand(0));
                        continue;
                    }
                    Opcode::LLVMPHI => {
                        work.extend(v.incoming().into_iter().map(|(x, _)| x));
                        continue;
                    }
                    Opcode::LLVMSelect => {
                        work.push(v.operand(1));
                        work.push(v.operand(2));
                        continue;
                    }
                    Opcode::LLVMAlloca => Root::Local(v),
                    Opcode::LLVMLoad => Root::Loaded(v),
                    Opcode::LLVMCall | Opcode::LLVMInvoke => match calls::classify(v, &HashMap::new()) {
                        CallKind::Allocation(Alloc::Uninit | Alloc::Zeroed | Alloc::Realloc) => Root::Fresh(v),
                        _ => Root::Unknown,
                    },
                    _ => Root::Unknown,
                }
            } else {
                Root::Unknown
            };
            if !out.contains(&r) {
                out.push(r);
            }
        }
        Some(out)
    }

    /// Marks local objects whose address leaves the function's sight.
    fn find_escapes(&mut self, order: &[Block]) {
        let mut candidates: Vec<(Root, Value)> = Vec::new();
        for (&p, &i) in &self.params {
            if self.noalias[i as usize] {
                candidates.push((Root::Arg(i), p));
            }
        }
        for b in order {
            for v in b.instructions() {
                if let Some(r) = self.roots(v).filter(|_| v.ty().is_pointer()).and_then(|r| (r.len() == 1).then(|| r[0])) {
                    if matches!(r, Root::Local(x) | Root::Fresh(x) if x == v) {
                        candidates.push((r, v));
                    }
                }
            }
        }
        for (root, v) in candidates {
            if escapes(v) {
                self.escaped.insert(root);
            }
        }
    }

    /// Whether every object `p` may point into is private to the function ([`Self::private`]):
    /// nothing it calls can reach that memory.
    pub fn points_to_private(&self, p: Value) -> bool {
        self.roots(p).is_some_and(|rs| !rs.is_empty() && rs.iter().all(|&r| self.private(r)))
    }

    /// An object nothing outside the function can name: a stack slot, fresh block or `noalias`
    /// parameter whose address never escapes.
    fn private(&self, r: Root) -> bool {
        match r {
            Root::Local(_) | Root::Fresh(_) => !self.escaped.contains(&r),
            Root::Arg(i) => self.noalias[i as usize] && !self.escaped.contains(&r),
            _ => false,
        }
    }

    fn identified(&self, r: Root) -> bool {
        match r {
            Root::Local(_) | Root::Fresh(_) | Root::Global(_) => true,
            Root::Arg(i) => self.noalias[i as usize],
            _ => false,
        }
    }

    /// Memory nothing may write while the function runs.
    fn never_written(&self, r: Root) -> bool {
        match r {
            Root::Constant => true,
            Root::Global(g) => g.is_global_constant(),
            Root::Arg(i) => self.readonly_noalias[i as usize],
            _ => false,
        }
    }

    /// Whether writes to object `w` may touch object `l`.
    fn may_alias(&self, l: Root, w: Root) -> bool {
        if self.never_written(l) || w == Root::Constant {
            return false;
        }
        if l == w {
            return true;
        }
        if self.private(l) || self.private(w) {
            return false;
        }
        !(self.identified(l) && self.identified(w))
    }

    /// Whether writer `w` may write the bytes `load` reads from objects `roots`.
    fn clobbers(&self, w: &Writer, load: Value, roots: &[Root]) -> bool {
        if w.inst() == load || self.scopes_disjoint(load, w.inst()) {
            return false;
        }
        match *w {
            Writer::At { ptr, .. } => match self.roots(ptr) {
                None => roots.iter().any(|&l| !self.never_written(l)),
                Some(ws) => roots.iter().any(|&l| ws.iter().any(|&x| self.may_alias(l, x))),
            },
            Writer::Call { inst } => roots.iter().any(|&l| self.call_may_write(inst, l)),
        }
    }

    fn call_may_write(&self, call: Value, l: Root) -> bool {
        if self.never_written(l) {
            return false;
        }
        if self.private(l) {
            // Only through a pointer it is given.
            return call.call_args().into_iter().filter(|a| a.ty().is_pointer()).any(|a| {
                self.roots(a).is_none_or(|rs| rs.contains(&l) || rs.contains(&Root::Unknown))
            });
        }
        true
    }

    /// Whether memory of object `r` may have been replaced by the time the reversal runs,
    /// from outside the function.
    fn kept_from_outside(&self, r: Root) -> bool {
        match r {
            Root::Arg(i) => self.context.combined || self.context.preserved.get(i as usize).copied().unwrap_or(false),
            Root::Local(_) => self.context.combined,
            // A heap block nothing outside can name outlives the split forward sweep: only the
            // function itself writes or frees it (and those writes and frees are seen here).
            Root::Fresh(_) => self.context.combined || self.private(r),
            Root::Global(g) => g.is_global_constant() || self.context.combined,
            Root::Constant => true,
            Root::Loaded(l) => self.invariant(l),
            Root::Unknown => false,
        }
    }

    /// Whether loading again at the reversal gives the value `load` read in the forward sweep.
    pub fn invariant(&self, load: Value) -> bool {
        if let Some(&b) = self.invariant.borrow().get(&load) {
            return b;
        }
        // Cycles through phis of loaded pointers: assume not while deciding.
        self.invariant.borrow_mut().insert(load, false);
        let ok = load.is_instruction()
            && load.opcode() == Opcode::LLVMLoad
            && !load.is_volatile()
            && match self.roots(load.operand(0)) {
                None => false,
                Some(roots) => {
                    roots.iter().all(|&r| self.kept_from_outside(r))
                        && !self.writers.iter().any(|w| self.may_run_after(w.inst(), load) && self.clobbers(w, load, &roots))
                }
            };
        self.invariant.borrow_mut().insert(load, ok);
        ok
    }

    /// Whether `load` (in a loop whose blocks are `blocks`) reads the same value in every
    /// iteration of one execution of the loop: its address comes from outside the loop and
    /// nothing in the loop may write what it reads.
    pub fn invariant_within(&self, load: Value, blocks: &HashSet<Block>) -> bool {
        if !load.is_instruction() || load.opcode() != Opcode::LLVMLoad || load.is_volatile() {
            return false;
        }
        let p = load.operand(0);
        if p.is_instruction() && blocks.contains(&p.parent_block()) {
            return false;
        }
        let Some(roots) = self.roots(p) else { return false };
        !self.writers.iter().any(|w| blocks.contains(&w.inst().parent_block()) && self.clobbers(w, load, &roots))
    }

    /// Every load of the function that [`ModRef::invariant`] allows to repeat.
    pub fn invariant_loads(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for b in crate::forward::reverse_post_order(self.function) {
            for i in b.instructions() {
                if i.opcode() == Opcode::LLVMLoad && self.invariant(i) {
                    out.push(i);
                }
            }
        }
        out
    }

    /// Per argument of `call` (a call of a defined function inside this one): whether nothing
    /// reachable through it is written after the call until the callee's reversal, so a split
    /// derivative of the callee may read it again ([`Context::preserved`]).
    pub fn preserved_args(&self, call: Value) -> Vec<bool> {
        let callee = call.called_function();
        call.call_args()
            .into_iter()
            .enumerate()
            .map(|(k, a)| {
                if !a.ty().is_pointer() {
                    return false;
                }
                let Some(roots) = self.roots(a) else { return false };
                // A callee that reads only numbers through the argument (no pointer stored
                // there is followed) needs only its bytes kept.
                let flat = callee.is_some_and(|f| flat_reads(f, k));
                roots.iter().all(|&r| {
                    self.kept_from_outside(r)
                        && !self.writers.iter().any(|w| {
                            self.may_run_after(w.inst(), call) && if flat { self.may_write_bytes(w, r) } else { self.may_write_reachable(w, r) }
                        })
                })
            })
            .collect()
    }

    /// Whether writer `w` may write the bytes of object `r`.
    fn may_write_bytes(&self, w: &Writer, r: Root) -> bool {
        match *w {
            Writer::At { ptr, .. } => match self.roots(ptr) {
                None => !self.never_written(r),
                Some(ws) => ws.iter().any(|&x| self.may_alias(r, x)),
            },
            Writer::Call { inst } => self.call_may_write(inst, r),
        }
    }

    /// Whether instruction `w` may run after instruction `x` has run (later in its block, or in
    /// a block reachable from `x`'s, which includes `x`'s own on a cycle: the call itself in a
    /// loop writes again before the reversal).
    fn may_run_after(&self, w: Value, x: Value) -> bool {
        let (bw, bx) = (w.parent_block(), x.parent_block());
        let reach = self.reachable(bx);
        if bw == bx {
            let after = match (self.position.get(&w), self.position.get(&x)) {
                (Some(pw), Some(px)) => pw > px,
                _ => true,
            };
            after || reach.contains(&bx)
        } else {
            reach.contains(&bw)
        }
    }

    fn reachable(&self, b: Block) -> std::rc::Rc<HashSet<Block>> {
        if let Some(r) = self.reach.borrow().get(&b) {
            return r.clone();
        }
        let mut seen = HashSet::new();
        let mut work = crate::fold::live_successors(b);
        while let Some(s) = work.pop() {
            if seen.insert(s) {
                work.extend(crate::fold::live_successors(s));
            }
        }
        let r = std::rc::Rc::new(seen);
        self.reach.borrow_mut().insert(b, r.clone());
        r
    }

    /// Whether writer `w` may write memory reachable from object `r` (its bytes, or what
    /// pointers stored there point to).
    fn may_write_reachable(&self, w: &Writer, r: Root) -> bool {
        if r == Root::Constant || matches!(r, Root::Global(g) if g.is_global_constant()) {
            return false;
        }
        match *w {
            Writer::At { ptr, .. } => match self.roots(ptr) {
                None => true,
                // A private object is reachable from no other object; its own bytes are `r`'s
                // only if it is `r`. Constant memory is never written.
                Some(ws) => ws.iter().any(|&x| x != Root::Constant && (x == r || !self.private(x))),
            },
            Writer::Call { .. } => true,
        }
    }

    /// The analysis as text (`-Z autodiff=PrintModRef`-style reports and tests): one line per
    /// load, saying whether it may be repeated in the reversal.
    pub fn report(&self) -> String {
        let mut s = format!("mod/ref of {}:\n", crate::error::demangle(&self.function.name()));
        for b in crate::forward::reverse_post_order(self.function) {
            for i in b.instructions() {
                if i.opcode() == Opcode::LLVMLoad {
                    let what = if self.invariant(i) { "load again" } else { "carry" };
                    s.push_str(&format!("  {what}: {}\n", i.print().trim()));
                }
            }
        }
        s
    }
}

/// The write an instruction may do.
fn writer(i: Value) -> Option<Writer> {
    match i.opcode() {
        Opcode::LLVMStore => Some(Writer::At { inst: i, ptr: i.operand(1) }),
        Opcode::LLVMAtomicRMW | Opcode::LLVMAtomicCmpXchg => Some(Writer::At { inst: i, ptr: i.operand(0) }),
        Opcode::LLVMCall | Opcode::LLVMInvoke => {
            let at = |k: u32| Some(Writer::At { inst: i, ptr: i.operand(k) });
            match calls::classify(i, &HashMap::new()) {
                CallKind::Ignored => {
                    // A slot's lifetime ending lets later passes give its bytes to another slot.
                    let name = i.called_function().map(|f| f.name()).unwrap_or_default();
                    if name.starts_with("llvm.lifetime") {
                        i.call_args().into_iter().position(|a| a.ty().is_pointer()).and_then(|k| at(k as u32))
                    } else {
                        None
                    }
                }
                CallKind::IntegerOnly | CallKind::Rule(_) | CallKind::ThreadLocal => None,
                CallKind::MemTransfer | CallKind::MemSet | CallKind::Deallocation => at(0),
                CallKind::Allocation(Alloc::Realloc | Alloc::Out) => at(0),
                CallKind::Allocation(_) => None,
                CallKind::Defined(_) | CallKind::External(_) | CallKind::Indirect | CallKind::InlineAsm => {
                    let effects = i.memory_effects().or_else(|| i.called_function().and_then(|f| f.memory_effects()));
                    // Two bits per location: 2 = may write.
                    match effects {
                        Some(e) if e & 0xAAAA_AAAA_AAAA_AAAA == 0 => None,
                        _ => Some(Writer::Call { inst: i }),
                    }
                }
            }
        }
        _ => None,
    }
}

impl ModRef {
    /// Whether scoped `noalias` metadata says `a` and `b` touch different memory: for some scope
    /// domain, every scope `a` belongs to in it is one `b` promises not to alias (or the
    /// reverse), and each of those scopes holds for the whole run ([`ModRef::scopes`]).
    fn scopes_disjoint(&self, a: Value, b: Value) -> bool {
        self.one_way(&a.metadata_operands("alias.scope"), &b.metadata_operands("noalias"))
            || self.one_way(&b.metadata_operands("alias.scope"), &a.metadata_operands("noalias"))
    }

    fn one_way(&self, scopes: &[Value], noalias: &[Value]) -> bool {
        if scopes.is_empty() || noalias.is_empty() {
            return false;
        }
        let domain = |s: Value| s.md_node_operands().get(1).copied();
        let domains: HashSet<Option<Value>> = scopes.iter().map(|&s| domain(s)).collect();
        domains.into_iter().flatten().any(|d| {
            scopes.iter().filter(|&&s| domain(s) == Some(d)).all(|s| noalias.contains(s) && self.scopes.contains(s))
        })
    }
}

/// Whether function `f` reads only numbers through its parameter `i`: every address derived
/// from it is only loaded from as numbers (no pointer is read from there and followed), stored
/// numbers into, compared, or passed on as the same parameter of `f` itself (recursion).
fn flat_reads(f: Value, i: usize) -> bool {
    let Some(&p) = f.params().get(i) else { return false };
    if f.blocks().is_empty() {
        return false;
    }
    let mut seen = HashSet::new();
    let mut work = vec![p];
    while let Some(v) = work.pop() {
        if !seen.insert(v) {
            continue;
        }
        for u in v.users() {
            if !u.is_instruction() {
                return false;
            }
            match u.opcode() {
                Opcode::LLVMGetElementPtr | Opcode::LLVMBitCast | Opcode::LLVMAddrSpaceCast | Opcode::LLVMPHI | Opcode::LLVMSelect
                | Opcode::LLVMFreeze => work.push(u),
                Opcode::LLVMICmp => {}
                Opcode::LLVMLoad => {
                    if u.ty().contains_pointer() {
                        return false;
                    }
                }
                Opcode::LLVMStore => {
                    if u.operand(0) == v || u.operand(0).ty().contains_pointer() {
                        return false;
                    }
                }
                Opcode::LLVMCall | Opcode::LLVMInvoke => {
                    if matches!(calls::classify(u, &HashMap::new()), CallKind::Ignored) {
                        continue;
                    }
                    let same = u.called_function() == Some(f) && u.call_args().iter().enumerate().all(|(j, &a)| a != v || j == i);
                    if !same {
                        return false;
                    }
                }
                _ => return false,
            }
        }
    }
    true
}

/// Whether the address `v` (or one derived from it) leaves the function's sight.
fn escapes(v: Value) -> bool {
    let mut seen = HashSet::new();
    let mut work = vec![v];
    while let Some(p) = work.pop() {
        if !seen.insert(p) {
            continue;
        }
        for u in p.users() {
            if !u.is_instruction() {
                return true;
            }
            match u.opcode() {
                Opcode::LLVMGetElementPtr | Opcode::LLVMBitCast | Opcode::LLVMAddrSpaceCast | Opcode::LLVMPHI | Opcode::LLVMSelect
                | Opcode::LLVMFreeze => work.push(u),
                // The address as an integer: not an escape as long as the integer only becomes
                // an address again (or is compared, or offset by a constant).
                Opcode::LLVMPtrToInt | Opcode::LLVMIntToPtr => work.push(u),
                Opcode::LLVMAdd | Opcode::LLVMSub if u.operand(1).is_constant() && u.operand(0) == p => work.push(u),
                Opcode::LLVMLoad | Opcode::LLVMICmp => {}
                Opcode::LLVMStore => {
                    if u.operand(0) == p {
                        return true;
                    }
                }
                Opcode::LLVMCall | Opcode::LLVMInvoke => match calls::classify(u, &HashMap::new()) {
                    CallKind::Ignored | CallKind::MemTransfer | CallKind::MemSet | CallKind::Deallocation | CallKind::IntegerOnly => {}
                    _ => return true,
                },
                _ => return true,
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxidase_llvm::module::{self, Context as LlvmContext};

    /// Loads named `%l…`; whether each may be repeated is read from its name's suffix in the
    /// asserts below.
    const IR: &str = r#"
define double @f(ptr noalias readonly %x, ptr noalias %out, ptr noalias readonly %tuple, ptr %raw, i64 %n) {
entry:
  %slot = alloca double
  store double 1.0, ptr %slot
  %spill = alloca ptr
  store ptr %x, ptr %spill
  %data = load ptr, ptr %tuple
  %blk = call ptr @malloc(i64 64)
  store double 2.0, ptr %blk
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %px = getelementptr double, ptr %x, i64 %i
  %lx = load double, ptr %px
  %pd = getelementptr double, ptr %data, i64 %i
  %ld = load double, ptr %pd
  %ls = load double, ptr %slot
  %xs = load ptr, ptr %spill
  %lxs = load double, ptr %xs
  %lb = load double, ptr %blk
  %po = getelementptr double, ptr %out, i64 %i
  %lo = load double, ptr %po
  %v = fadd double %lx, %ld
  store double %v, ptr %po
  store double %v, ptr %slot
  %i1 = add i64 %i, 1
  %go = icmp slt i64 %i1, %n
  br i1 %go, label %loop, label %done
done:
  call void @free(ptr %blk)
  ret double %v
}
declare ptr @malloc(i64)
declare void @free(ptr)
"#;

    fn loads(f: Value) -> HashMap<String, Value> {
        let mut out = HashMap::new();
        for b in f.blocks() {
            for i in b.instructions() {
                if i.opcode() == Opcode::LLVMLoad {
                    out.insert(i.name(), i);
                }
            }
        }
        out
    }

    #[test]
    fn loads_repeated_where_nothing_writes_their_memory() {
        let ctx = LlvmContext::new();
        let owned = ctx.parse_ir(IR, "t").unwrap();
        let f = module::get_function(owned.raw(), "f").unwrap();
        let l = loads(f);
        let combined = ModRef::new(f, Context { combined: true, preserved: Vec::new(), defer_frees: true });
        // `noalias readonly`: never written.
        assert!(combined.invariant(l["lx"]));
        // A pointer loaded from a parameter nothing writes, and the memory behind it: the only
        // stores go to a `noalias` parameter and to local memory, none of which escapes.
        assert!(combined.invariant(l["data"]) && combined.invariant(l["ld"]));
        // A slot written only before the loop (a dev build's spill of a parameter), and the
        // memory behind the pointer it holds.
        assert!(combined.invariant(l["xs"]) && combined.invariant(l["lxs"]));
        // Written in the loop: a stack slot, and the `noalias` output.
        assert!(!combined.invariant(l["ls"]) && !combined.invariant(l["lo"]));
        // Freed outside the loops of a derivative that runs once per call: the free waits for
        // the tape's release, so the block is read again; freed before the reversal where the
        // derivative runs many times (called from a loop further up).
        let free = f
            .blocks()
            .into_iter()
            .flat_map(|b| b.instructions())
            .find(|i| i.opcode() == Opcode::LLVMCall && i.called_function().is_some_and(|g| g.name() == "free"))
            .unwrap();
        assert!(combined.deferred_free(free));
        assert!(combined.invariant(l["lb"]));
        let repeated = ModRef::new(f, Context { combined: true, preserved: Vec::new(), defer_frees: false });
        assert!(!repeated.invariant(l["lb"]));

        // Split: only what the caller keeps may be read again.
        let kept = ModRef::new(f, Context { combined: false, preserved: vec![true, false, true, false, false], defer_frees: true });
        assert!(kept.invariant(l["lx"]) && kept.invariant(l["ld"]));
        let not_kept = ModRef::new(f, Context { combined: false, preserved: vec![false; 5], defer_frees: true });
        assert!(!not_kept.invariant(l["lx"]) && !not_kept.invariant(l["ld"]));
        assert!(combined.report().contains("load again: %lx = load double"));
    }

    /// Scoped `noalias` metadata counts only when its scope is declared outside every loop.
    #[test]
    fn scopes_declared_in_a_loop_say_nothing_across_iterations() {
        for (decl_in_loop, expected) in [(false, true), (true, false)] {
            let (pre, body) = if decl_in_loop { ("", "  call void @llvm.experimental.noalias.scope.decl(metadata !2)\n") } else { ("  call void @llvm.experimental.noalias.scope.decl(metadata !2)\n", "") };
            let ir = format!(
                r#"
define void @h(ptr %a, ptr %b, i64 %n) {{
entry:
{pre}  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
{body}  %v = load double, ptr %a, !alias.scope !2
  store double %v, ptr %b, !noalias !2
  %i1 = add i64 %i, 1
  %go = icmp slt i64 %i1, %n
  br i1 %go, label %loop, label %done
done:
  ret void
}}
declare void @llvm.experimental.noalias.scope.decl(metadata)
!0 = distinct !{{!0, !"domain"}}
!1 = distinct !{{!1, !0, !"a"}}
!2 = !{{!1}}
"#
            );
            let ctx = LlvmContext::new();
            let owned = ctx.parse_ir(&ir, "t").unwrap();
            let f = module::get_function(owned.raw(), "h").unwrap();
            let m = ModRef::new(f, Context { combined: true, preserved: Vec::new(), defer_frees: true });
            assert_eq!(m.invariant(loads(f)["v"]), expected, "declared in the loop: {decl_in_loop}");
        }
    }

    #[test]
    fn arguments_a_caller_keeps_until_the_reversal() {
        let ir = r#"
define void @caller(ptr noalias readonly %t, ptr noalias %r, ptr noalias %s) {
entry:
  %x = load ptr, ptr %t
  %y = load ptr, ptr %s
  call void @callee(ptr %x, ptr %y)
  store double 0.0, ptr %r
  store double 0.0, ptr %s
  ret void
}
define void @callee(ptr %a, ptr %b) {
  ret void
}
"#;
        let ctx = LlvmContext::new();
        let owned = ctx.parse_ir(ir, "t").unwrap();
        let f = module::get_function(owned.raw(), "caller").unwrap();
        let call = f.blocks()[0].instructions().into_iter().find(|i| i.opcode() == Opcode::LLVMCall).unwrap();
        let m = ModRef::new(f, Context { combined: true, preserved: Vec::new(), defer_frees: true });
        // `%x` comes from read-only memory and only private memory is written after the call;
        // `%y` is loaded from `%s`, which a later store writes.
        assert_eq!(m.preserved_args(call), [true, false]);

        // In a loop, the call's own writes come after it too: `@callee` may write what `%x`
        // reaches (the noalias promise of one call says nothing of the next).
        let looped = ir.replace("  call void @callee(ptr %x, ptr %y)\n", "  br label %l\nl:\n  call void @callee(ptr %x, ptr %y)\n  %c = icmp eq ptr %x, %y\n  br i1 %c, label %l, label %e\ne:\n");
        let owned = ctx.parse_ir(&looped, "t2").unwrap();
        let f = module::get_function(owned.raw(), "caller").unwrap();
        let call = f.blocks()[1].instructions().into_iter().find(|i| i.opcode() == Opcode::LLVMCall).unwrap();
        let m = ModRef::new(f, Context { combined: true, preserved: Vec::new(), defer_frees: true });
        assert_eq!(m.preserved_args(call), [false, false]);
    }
    /// A recursive helper reading numbers from a read-only matrix while it writes a scratch
    /// array it also passes on: the matrix stays readable for the helper's reversal; a helper
    /// that follows a pointer read from its argument needs everything reachable kept.
    #[test]
    fn flat_reads_need_only_the_bytes_kept() {
        let ir = r#"
define double @minor(ptr noalias readonly %a, ptr noalias %cols, i64 %n) {
entry:
  %stop = icmp eq i64 %n, 0
  br i1 %stop, label %leaf, label %loop
leaf:
  %v = load double, ptr %a
  ret double %v
loop:
  %j = phi i64 [ 0, %entry ], [ %j1, %loop ]
  %s = phi double [ 0.0, %entry ], [ %s1, %loop ]
  %pc = getelementptr i64, ptr %cols, i64 %j
  store i64 %j, ptr %pc
  %m = sub i64 %n, 1
  %r = call double @minor(ptr %a, ptr %cols, i64 %m)
  %pa = getelementptr double, ptr %a, i64 %j
  %x = load double, ptr %pa
  %h = load double, ptr %a
  %c0 = load i64, ptr %cols
  %t = fmul double %x, %r
  %th = fmul double %t, %h
  %s1 = fadd double %s, %th
  %j1 = add i64 %j, 1
  %more = icmp slt i64 %j1, %n
  br i1 %more, label %loop, label %done
done:
  ret double %s1
}
define double @follows(ptr noalias readonly %a, ptr noalias %cols, i64 %n) {
  %p = load ptr, ptr %a
  %v = load double, ptr %p
  ret double %v
}
"#;
        let ctx = LlvmContext::new();
        let owned = ctx.parse_ir(ir, "t").unwrap();
        let minor = module::get_function(owned.raw(), "minor").unwrap();
        let follows = module::get_function(owned.raw(), "follows").unwrap();
        assert!(flat_reads(minor, 0) && !flat_reads(follows, 0));
        let call = minor.blocks().into_iter().flat_map(|b| b.instructions()).find(|i| i.opcode() == Opcode::LLVMCall).unwrap();
        let m = ModRef::new(minor, Context { combined: true, preserved: Vec::new(), defer_frees: true });
        // The matrix: kept (only its bytes matter). The scratch array: written again in the loop.
        assert_eq!(m.preserved_args(call), [true, false, false]);
        // In the loop, the matrix reads the same in every iteration; the scratch array does not.
        let l = loads(minor);
        let body: HashSet<Block> = [call.parent_block()].into_iter().collect();
        assert!(m.invariant_within(l["h"], &body), "nothing in the loop writes the matrix");
        assert!(!m.invariant_within(l["c0"], &body), "the loop writes the scratch array");
        assert!(!m.invariant_within(l["x"], &body), "the address changes with the loop");
    }

}
