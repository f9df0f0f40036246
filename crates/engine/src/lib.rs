//! The oxidase AD engine: derivatives of LLVM IR functions.
//!
//! * [`activity`] — which values carry derivatives (analysis; changes nothing);
//! * [`calls`] — what each call site means for differentiation;
//! * [`rules`] — the declarative table of derivative rules shared by all modes;
//! * [`forward`] — forward (tangent) mode with batch width, the transformation;
//! * [`error`] — diagnostics in the user's terms;
//! * [`zero_test`] — the adjoint zero tests that let a reversal skip work, and their derivatives.
//!
//! An [`Engine`] works on one module. It memoizes every derivative it generates by a complete
//! key ([`ForwardKey`]: function, per-parameter activity, width), which also makes recursion work:
//! a derivative is declared before its body is generated, so a recursive call finds it.

pub mod activity;
pub mod bits;
pub mod calls;
pub mod cfg;
pub mod declared;
mod emit;
pub mod error;
pub mod fold;
pub mod forward;
pub mod heap;
pub mod inline;
pub mod modref;
pub mod requests;
pub mod reverse;
pub mod rules;
pub mod runtime_activity;
mod shadows;
pub mod tape;
pub mod types;
pub mod zero_test;

pub use error::AdError;

use oxidase_llvm::module::{self, add_function, add_global, context_of, set_global_constant, set_initializer};
use oxidase_llvm::llvm_sys::prelude::{LLVMContextRef, LLVMModuleRef};
use oxidase_llvm::{Linkage, Value};
use std::collections::HashMap;

/// How one parameter of a function is treated by a derivative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgActivity {
    /// Not differentiated; passed as is.
    Const,
    /// Not differentiated, and known to be this constant (a function pointer): the derivative is
    /// specialized on it and the parameter is dropped from its signature.
    Constant(Value),
    /// Differentiated: followed by `width` shadows (tangents, or shadow pointers) of its type.
    Dual,
}

/// Identifies a forward derivative completely (the memoization key).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ForwardKey {
    pub function: Value,
    pub args: Vec<ArgActivity>,
    pub width: u32,
    /// Shadows passed in may be the primal pointers themselves (constant memory that is its own
    /// shadow, see [`activity::Activity::self_shadowed`]): every access to shadow memory that
    /// may be such a pointer checks at run time. `false` for a user's request.
    pub runtime_activity: bool,
}

/// How one parameter of a function is treated by a reverse-mode derivative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevArg {
    /// Not differentiated; passed as is.
    Const,
    /// Not differentiated and known to be this constant (a function pointer); dropped from the
    /// derivative's signature.
    Constant(Value),
    /// A float scalar (or vector/aggregate of floats) passed by value whose adjoint is returned.
    Active,
    /// A pointer followed by `width` shadow pointers; adjoints are *accumulated* into the shadow
    /// memory (inputs) and the shadows of overwritten memory are consumed and zeroed (outputs),
    /// per SEMANTICS.md §5.
    Duplicated,
}

/// How the return value of a reverse-mode derivative is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevRet {
    /// Not differentiated (also used for a `void` primal): no seed parameter.
    Const,
    /// Differentiated: the derivative takes a seed `dret` of the return type, applied to every lane.
    Active,
    /// Differentiated, an integer result that carries the bits of this float type (a dev build
    /// returns `Matrix1<f64>` as an `i64`; [`crate::bits`]): the split reverse function takes the
    /// adjoint as this float type. Only for callees (a caller's view of the call decides it).
    FloatBits(oxidase_llvm::Type),
}

/// Identifies a reverse derivative completely (the memoization key).
///
/// Calling convention of the generated function (`<name>.oxidase.revN`):
/// * parameters: each primal parameter in order (a `Constant` one is dropped), a `Duplicated`
///   one followed by `width` shadow pointers; then, if `ret` is `Active`, the seed `dret`
///   (the primal's return type);
/// * result: the literal struct `{ primal result (if not void), adjoint of each Active parameter
///   in order (its own type) }`, or `void` when that struct would be empty.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReverseKey {
    pub function: Value,
    pub args: Vec<RevArg>,
    pub ret: RevRet,
    pub width: u32,
    /// As [`ForwardKey::runtime_activity`].
    pub runtime_activity: bool,
    /// Split derivatives (calls inside a derivative): per parameter, whether the caller writes
    /// nothing reachable through it between the augmented forward call and the reverse call
    /// ([`modref::Context::preserved`]), so the reversal may load that memory again. Empty for
    /// user requests (combined: nothing runs between the sweeps).
    pub preserved: Vec<bool>,
    /// Whether the derivative may run many times in one user-facing call (called from a loop,
    /// here or further up). Derivatives that run once per call keep the heap blocks the primal
    /// frees outside loops until the end, so the reversal may read them again
    /// ([`modref::Context::defer_frees`]).
    pub repeated: bool,
}

/// What the user asked the engine to report (`-Z autodiff=Print…`).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Print the activity of every value of differentiated functions.
    pub print_activity: bool,
    /// Print each derivative generated (`PrintSteps`).
    pub print_steps: bool,
    /// Print how reverse mode carries values to the reverse sweep (`PrintPerf`).
    pub print_perf: bool,
    /// Restrict reports to functions whose demangled name contains this.
    pub function_filter: Option<String>,
    /// Caches in a caller-provided arena (for GPU kernels): every user-facing (combined)
    /// reverse derivative takes one more parameter, last, a pointer to a tape header
    /// `{ ptr data, i64 len, i64 cap, ptr frees }` the caller fills with its arena (`len` 0,
    /// `frees` null); the derivative's caches never come from an allocator or a thread-local,
    /// and a cache that outgrows the arena stops the program (`llvm.trap`, which a GPU reports
    /// as a failed launch). Each such derivative `d` comes with a constant `i64`
    /// `d.tape_bytes`: the arena it needs at most, or `-1` where that depends on the run
    /// (a loop without a bound known on entry, recursion): see [`tape::arena_bound`]. A
    /// derivative that would defer frees to the end of the call (a primal that frees memory
    /// the reversal reads) is refused.
    pub tape_arena: bool,
}

/// The engine, bound to one module.
pub struct Engine {
    pub module: LLVMModuleRef,
    pub options: Options,
    /// Text reports requested through [`Options`], in generation order.
    pub report: Vec<String>,
    forward_cache: HashMap<ForwardKey, Value>,
    reverse_cache: HashMap<(ReverseKey, reverse::Shape), Vec<Value>>,
    /// Derivatives declared but whose bodies are not generated yet.
    pending: Vec<Job>,
    /// Derivatives generated for the request in progress (undone if it fails).
    in_request: Vec<Job>,
    /// Derivatives whose bodies are complete ([`Engine::body_complete`]).
    finished: std::collections::HashSet<Value>,
    /// Errors of a body generated ahead of its turn ([`Engine::body_complete`]), handed to the
    /// generation in progress when its current job ends.
    early_errors: Vec<AdError>,
    shadow_globals: HashMap<(Value, bool), Value>,
    /// Shadows of mutable thread-locals, per (global, lane), in creation order.
    mutable_shadows: Vec<((Value, usize), Value)>,
    /// Float-bit webs per function ([`bits`]): they depend on the function alone, and finding
    /// them asks the memory type analysis about integer loads and stores.
    float_bits: HashMap<Value, std::rc::Rc<bits::FloatBits>>,
    /// The derivatives requested by the user (not generated for a call from another one).
    requested: std::collections::HashSet<Value>,
    /// Memoized interprocedural requirements (see [`activity::Activity::required_params`]).
    requirements: HashMap<(Value, Vec<bool>, bool), Vec<(usize, activity::Need)>>,
    /// Possible targets of indirect calls whose derivative could not be generated, with the
    /// first error ([`Engine::try_forward_function`], [`Engine::try_split_functions`]).
    failed_forward: HashMap<ForwardKey, AdError>,
    failed_split: HashMap<ReverseKey, AdError>,
    /// The function of the request in progress (for messages).
    root: Option<Value>,
    /// How messages name the request: set by a route whose requested function is not the
    /// user's (the stable route's shim), with the user's `Const` arguments if known.
    pub request_label: Option<RequestLabel>,
}

/// The user's view of a request, for messages (see [`Engine::request_label`]).
#[derive(Clone, Debug, Default)]
pub struct RequestLabel {
    /// The user's function (`path::to::f`).
    pub function: String,
    /// Its `Const` arguments, as the user wrote them (`` `a`, `b` ``); empty when unknown.
    pub const_args: String,
}

impl Engine {
    pub fn new(module: LLVMModuleRef, options: Options) -> Engine {
        if options.tape_arena {
            tape::use_arena(module);
        }
        Engine {
            module,
            options,
            report: Vec::new(),
            forward_cache: HashMap::new(),
            reverse_cache: HashMap::new(),
            pending: Vec::new(),
            in_request: Vec::new(),
            finished: Default::default(),
            early_errors: Vec::new(),
            shadow_globals: HashMap::new(),
            mutable_shadows: Vec::new(),
            requested: std::collections::HashSet::new(),
            float_bits: HashMap::new(),
            requirements: HashMap::new(),
            failed_forward: HashMap::new(),
            failed_split: HashMap::new(),
            root: None,
            request_label: None,
        }
    }

    /// The float-bit webs of the primal function `f` (computed once).
    ///
    /// This is the engine's first look at `f`: helpers that only move bytes are inlined
    /// ([`inline`]) and branches its constants decide are folded ([`fold`]) first, so that no
    /// analysis sees a helper's bits apart from their meaning, or the side never taken.
    pub(crate) fn float_bits(&mut self, f: Value) -> std::rc::Rc<bits::FloatBits> {
        let m = self.module;
        self.float_bits
            .entry(f)
            .or_insert_with(|| {
                inline::inline_move_helpers(f);
                fold::fold_constant_branches(m, f);
                std::rc::Rc::new(bits::analyze(f))
            })
            .clone()
    }

    /// Whether `Const` parameters of `function` may be their own shadows in the derivative
    /// `derivative` (run-time activity, see [`runtime_activity`]). Only where every access to
    /// such a shadow is checked: in a derivative the user requested (its callers are the
    /// user's code, which never reads shadows), or one generated for a caller that checks
    /// (`runtime`), and never when the shadow would be handed back as a returned pointer. A
    /// callee whose caller passes no shadow is an inconsistency, refused.
    pub(crate) fn check_self_shadowing(&self, function: Value, derivative: Value, runtime: bool, returns_pointer: bool) -> Result<(), Vec<AdError>> {
        if returns_pointer {
            return Err(vec![AdError::new(
                function,
                "the function returns a reference while constant data is kept beside differentiated data (a `Const` argument next to a differentiated one in a struct or iterator)",
                "mark the constant argument Dual/Duplicated (with a zero shadow), or return a value instead of a reference",
            )]);
        }
        if runtime || self.requested.contains(&derivative) {
            return Ok(());
        }
        Err(vec![AdError::new(
            function,
            "a constant argument needs a shadow that its caller does not provide (internal error)",
            "please report this program; as a workaround mark the constant argument Dual/Duplicated",
        )])
    }

    /// The forward derivative for `key`, generating it (and everything it calls) on demand.
    ///
    /// Calling convention: see [`forward`]. On error nothing generated by this request is left
    /// in the module.
    pub fn forward(&mut self, key: &ForwardKey) -> Result<Value, Vec<AdError>> {
        if let Some(err) = check_key(key.function, key.args.len(), key.width) {
            return Err(vec![err]);
        }
        self.root = Some(key.function);
        let f = self.forward_function(key);
        self.requested.insert(f);
        self.finish_request()?;
        Ok(self.entry_for(f))
    }

    /// The reverse (gradient) derivative for `key`, generating it and everything it calls on
    /// demand. Calling convention: see [`ReverseKey`]. On error nothing generated by this request
    /// is left in the module.
    pub fn reverse(&mut self, key: &ReverseKey) -> Result<Value, Vec<AdError>> {
        if let Some(err) = check_key(key.function, key.args.len(), key.width) {
            return Err(vec![err]);
        }
        self.root = Some(key.function);
        let f = self.reverse_functions(key, reverse::Shape::Combined)[0];
        self.requested.insert(f);
        self.finish_request()?;
        if self.options.tape_arena {
            let bound = tape::arena_bound(f);
            tape::publish_arena_bound(self.module, f, bound);
            if self.options.print_perf && self.wants_report(key.function) {
                let what = match bound {
                    Some(n) => format!("{n} bytes at most"),
                    None => "no bound known before the call (a loop without a bound known on entry, or recursion)".to_string(),
                };
                self.report.push(format!("oxidase: arena of {}: {what}", f.name()));
            }
        }
        Ok(self.entry_for(f))
    }

    /// The function a route calls for the requested derivative `f`: `f` itself, or, when
    /// derivatives keep shadows of mutable thread-locals, `f` behind an entry that zeroes
    /// them (see [`Engine::shadow_global`]); `f` may also be called from other derivatives,
    /// where the shadows hold data of the call in progress and must not be zeroed.
    fn entry_for(&mut self, f: Value) -> Value {
        if self.mutable_shadows.is_empty() {
            return f;
        }
        let name = format!("{}.entry{}", f.name(), self.mutable_shadows.len());
        if let Some(e) = module::get_function(self.module, &name) {
            return e;
        }
        let ctx = module::context_of(self.module);
        let e = add_function(self.module, &name, f.function_type());
        e.set_linkage(Linkage::LLVMInternalLinkage);
        let b = oxidase_llvm::Builder::new(ctx);
        b.position_at_end(oxidase_llvm::Block::append(ctx, e, "entry"));
        let i64t = oxidase_llvm::Type::i64(ctx);
        for &(_, s) in &self.mutable_shadows {
            let size = module::abi_size(self.module, s.global_value_type());
            let at = if s.is_thread_local() {
                emit::intrinsic(self.module, &b, "threadlocal.address", s.ty(), &[s])
            } else {
                s
            };
            b.memset(
                at,
                oxidase_llvm::Type::i8(ctx).zero(),
                i64t.const_int(size),
                1,
            );
        }
        let r = b.call(f.function_type(), f, &e.params());
        if f.function_type().return_type().is_void() {
            b.ret_void();
        } else {
            b.ret(r);
        }
        e
    }

    /// The message of a run-time check that stops the program where `function`'s derivative
    /// would write derivative data into memory passed as `Const` ([`runtime_activity`]), in
    /// the user's terms: the requested function and its `Const` arguments.
    pub(crate) fn lost_derivative_text(&self, function: Value) -> String {
        let here = error::demangle(&function.name());
        let (requested, consts) = match (&self.request_label, self.root) {
            (Some(l), _) => (l.function.clone(), l.const_args.clone()),
            (None, Some(r)) => (error::demangle(&r.name()), String::new()),
            (None, None) => (here.clone(), String::new()),
        };
        let consts = if consts.is_empty() { "a `Const` argument".to_string() } else { format!("a `Const` argument ({consts})") };
        let inside = if here == requested || Some(function) == self.root { String::new() } else { format!(" (in `{here}`)") };
        format!(
            "oxidase: stopped in the derivative of `{requested}`: it writes a differentiated value into memory of {consts}{inside}, so a derivative would be lost; mark that argument Duplicated (reverse) or Dual (forward), with a zero shadow, if it receives values computed from differentiated ones\n"
        )
    }

    /// Generates every pending body, then checks the result; undoes the request on error.
    fn finish_request(&mut self) -> Result<(), Vec<AdError>> {
        let errors = self.generate_pending(0);
        if errors.is_empty() {
            // Adjoint and value slots become SSA values now, not only in the optimizer: a
            // derivative that is differentiated again (a later request calls it) would
            // otherwise give every slot a shadow, on the heap in a split derivative.
            for job in std::mem::take(&mut self.in_request) {
                if let Job::Reverse(_, _, fns) = job {
                    for f in fns {
                        let _ = oxidase_llvm::passes::run_on_function(f, "sroa", Default::default());
                    }
                }
            }
            Ok(())
        } else {
            self.undo_request();
            Err(errors)
        }
    }

    /// The forward derivative for `key` if it can be generated: a possible target of an
    /// indirect call (a `dyn` method), which the program may never call. Its body (and those of
    /// its callees) is generated now; on error they are removed again and the error is kept, so
    /// the caller calls a stub that stops the program with that message instead.
    pub(crate) fn try_forward_function(&mut self, key: &ForwardKey) -> Result<Value, AdError> {
        if let Some(e) = self.failed_forward.get(key) {
            return Err(e.clone());
        }
        let r = self.speculate(|engine| engine.forward_function(key));
        if let Err(e) = &r {
            self.failed_forward.insert(key.clone(), e.clone());
        }
        r
    }

    /// [`Engine::try_forward_function`] for the augmented forward and reverse functions.
    pub(crate) fn try_split_functions(&mut self, key: &ReverseKey) -> Result<(Value, Value), AdError> {
        if let Some(e) = self.failed_split.get(key) {
            return Err(e.clone());
        }
        let r = self.speculate(|engine| engine.split_functions(key));
        if let Err(e) = &r {
            self.failed_split.insert(key.clone(), e.clone());
        }
        r
    }

    /// Whether the body of the derivative `f` is complete, generating it now if it is still
    /// pending: a caller that asks which of `f`'s parameters the body reads. False while `f` is
    /// being generated (a recursive call) or is not this generation's to make.
    pub(crate) fn body_complete(&mut self, f: Value) -> bool {
        if self.finished.contains(&f) {
            return true;
        }
        if !self.early_errors.is_empty() {
            return false;
        }
        let Some(i) = self.pending.iter().position(|j| j.functions().contains(&f)) else { return false };
        let Some(from) = self.in_request.iter().position(|j| j.functions().contains(&f)) else { return false };
        let job = self.pending.remove(i);
        let outer = std::mem::replace(&mut self.pending, vec![job]);
        let errors = self.generate_pending(from);
        self.pending = outer;
        if !errors.is_empty() {
            self.early_errors = errors;
            return false;
        }
        self.finished.contains(&f)
    }

    /// Declares with `declare` and generates what that adds, apart from the derivatives still
    /// pending; undoes exactly that on error.
    fn speculate<T>(&mut self, declare: impl FnOnce(&mut Engine) -> T) -> Result<T, AdError> {
        let outer = std::mem::take(&mut self.pending);
        let mark = self.in_request.len();
        let value = declare(self);
        let errors = self.generate_pending(mark);
        self.pending = outer;
        if errors.is_empty() {
            return Ok(value);
        }
        let jobs = self.in_request.split_off(mark);
        self.undo_jobs(jobs);
        Err(errors.into_iter().next().expect("errors is not empty"))
    }

    /// Generates every pending body; the errors of the first failure, or of an invalid
    /// derivative among those generated since `in_request[from]`.
    fn generate_pending(&mut self, from: usize) -> Vec<AdError> {
        let mut errors = Vec::new();
        while let Some(job) = self.pending.pop() {
            let result = match &job {
                Job::Forward(k, df) => forward::generate(self, k, *df),
                Job::Reverse(k, shape, fns) => reverse::generate(self, k, *shape, fns),
            };
            if let Err(mut e) = result {
                errors.append(&mut e);
                break;
            }
            if !self.early_errors.is_empty() {
                errors.append(&mut self.early_errors);
                break;
            }
            self.finished.extend(job.functions());
            if self.options.print_steps && self.wants_report(job.function()) {
                let line = match &job {
                    Job::Forward(k, _) => format!("forward derivative (width {}, args {:?})", k.width, k.args),
                    Job::Reverse(k, shape, _) => {
                        format!("reverse derivative ({shape:?}, width {}, args {:?}, return {:?})", k.width, k.args, k.ret)
                    }
                };
                self.report.push(format!("oxidase: {line} of {}", self.report_name(job.function())));
            }
        }
        if errors.is_empty() {
            // Never hand out IR the verifier rejects: that would surface as a crash in codegen.
            // (Not those still being generated: a body generated ahead of its turn
            // checks while its callers are incomplete.)
            let done = |j: &&Job| j.functions().iter().all(|f| self.finished.contains(f));
            let bad = self.in_request[from..].iter().filter(done).find(|j| j.functions().iter().any(|f| !module::function_is_valid(*f)));
            if let Some(j) = bad {
                // The verifier's first complaint, for the report.
                let why = module::verify_module(self.module).err().and_then(|t| t.lines().next().map(str::to_string)).unwrap_or_default();
                // Debugging aid: the rejected functions' text.
                if let Some(path) = std::env::var_os("OXIDASE_DUMP_INVALID") {
                    let text: String = j.functions().iter().map(|f| f.print()).collect();
                    let _ = std::fs::write(path, text);
                }
                errors.push(AdError::new(
                    j.function(),
                    format!("oxidase generated an invalid derivative (internal error: {why})"),
                    "please report this program; as a workaround mark the function #[inline] or simplify it",
                ));
            }
        }
        errors
    }

    /// Declares (or finds) the reverse derivative functions for `key` in `shape`: `[combined]`
    /// or `[augmented forward, reverse]`; their bodies are generated later.
    pub(crate) fn reverse_functions(&mut self, key: &ReverseKey, shape: reverse::Shape) -> Vec<Value> {
        let ck = (key.clone(), shape);
        if let Some(f) = self.reverse_cache.get(&ck) {
            return f.clone();
        }
        let n = self.reverse_cache.len();
        let base = key.function.name();
        let fns = match shape {
            reverse::Shape::Combined => {
                vec![add_function(self.module, &format!("{base}.oxidase.rev{n}"), reverse::combined_type(key, self.options.tape_arena))]
            }
            reverse::Shape::Split => vec![
                add_function(self.module, &format!("{base}.oxidase.aug{n}"), reverse::augmented_type(key)),
                add_function(self.module, &format!("{base}.oxidase.rrev{n}"), reverse::split_reverse_type(key)),
            ],
        };
        for f in &fns {
            f.set_linkage(Linkage::LLVMInternalLinkage);
            if key.function.has_fn_attribute("alwaysinline") {
                f.add_fn_attribute("alwaysinline");
            }
        }
        self.reverse_cache.insert(ck, fns.clone());
        self.pending.push(Job::Reverse(key.clone(), shape, fns.clone()));
        self.in_request.push(Job::Reverse(key.clone(), shape, fns.clone()));
        fns
    }

    /// The augmented forward and reverse functions for a call from another derivative.
    pub(crate) fn split_functions(&mut self, key: &ReverseKey) -> (Value, Value) {
        let f = self.reverse_functions(key, reverse::Shape::Split);
        (f[0], f[1])
    }

    /// Declares (or finds) the derivative for `key`; its body is generated later.
    pub(crate) fn forward_function(&mut self, key: &ForwardKey) -> Value {
        if let Some(&f) = self.forward_cache.get(key) {
            return f;
        }
        let name = format!("{}.oxidase.fwd{}", key.function.name(), self.forward_cache.len());
        let df = add_function(self.module, &name, forward::derivative_type(key));
        df.set_linkage(Linkage::LLVMInternalLinkage);
        // A helper meant to be inlined (the tape's `reserve` in a derivative differentiated
        // again) stays so: a call per tape push otherwise.
        if key.function.has_fn_attribute("alwaysinline") {
            df.add_fn_attribute("alwaysinline");
        }
        self.forward_cache.insert(key.clone(), df);
        self.pending.push(Job::Forward(key.clone(), df));
        self.in_request.push(Job::Forward(key.clone(), df));
        df
    }

    /// Which inactive parameters of `f` need shadow memory when its parameters are active as in
    /// `active`. Recursion is cut by assuming "none" for a query already in progress, then
    /// iterating until the answer is stable.
    pub(crate) fn param_requirements(&mut self, f: Value, active: &[bool], ret_shadow: bool) -> Vec<(usize, activity::Need)> {
        let key = (f, active.to_vec(), ret_shadow);
        if let Some(r) = self.requirements.get(&key) {
            return r.clone();
        }
        self.requirements.insert(key.clone(), Vec::new());
        let subst = HashMap::new();
        let bits = self.float_bits(f);
        loop {
            let result = {
                let mut callees = |c: Value, a: &[bool], r: bool| self.param_requirements(c, a, r);
                activity::analyze(f, active, ret_shadow, bits.clone(), &subst, &mut callees)
            };
            // Errors surface when the derivative itself is generated; here they mean "nothing".
            let req: Vec<(usize, activity::Need)> = result
                .map(|a| {
                    a.required_params
                        .iter()
                        .map(|&k| (k, if a.written_params.contains(&k) { activity::Need::Data } else { activity::Need::Mirror }))
                        .collect()
                })
                .unwrap_or_default();
            let previous = self.requirements.insert(key.clone(), req.clone());
            if previous.as_ref() == Some(&req) {
                return req;
            }
        }
    }

    /// The shadow of a constant global (its data has no derivative): for forward mode
    /// (`sink == false`) a zero constant, whose tangents read as zero; for reverse mode a
    /// zero-initialized writable sink of the same type, into which the reversals of loads add
    /// adjoints that no derivative ever reads (a constant there would fault on the first add).
    ///
    /// A mutable thread-local written with derivative data (`lane` of a batch) gets a
    /// writable thread-local shadow, shared by both modes: its contents belong to one
    /// derivative call, so every requested derivative zeroes it first ([`Engine::entry_for`]):
    /// what a previous call left there (tangents, or adjoints of data read before written)
    /// never leaks into the next.
    pub(crate) fn shadow_global(&mut self, g: Value, sink: bool, lane: usize) -> Value {
        if !g.is_global_constant() && !is_sink(g) {
            let key = (g, lane);
            if let Some(&s) = self
                .mutable_shadows
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, s)| s)
            {
                return s;
            }
            let ty = g.global_value_type();
            let s = add_global(
                self.module,
                ty,
                &format!("{}.oxidase.shadow.{lane}", g.name()),
            );
            set_initializer(s, ty.zero());
            module::set_thread_local_mode(s, g.thread_local_mode());
            s.set_linkage(Linkage::LLVMInternalLinkage);
            s.set_alignment(g.alignment());
            self.mutable_shadows.push((key, s));
            return s;
        }
        // A sink's shadow is a sink in both modes: the code being differentiated writes it.
        let sink = sink || is_sink(g);
        if let Some(&s) = self.shadow_globals.get(&(g, sink)) {
            return s;
        }
        let ty = g.global_value_type();
        let suffix = if sink { "sink" } else { "shadow" };
        let s = add_global(self.module, ty, &format!("{}.oxidase.{suffix}", g.name()));
        set_initializer(s, ty.zero());
        set_global_constant(s, !sink);
        s.set_linkage(Linkage::LLVMInternalLinkage);
        self.shadow_globals.insert((g, sink), s);
        s
    }

    /// The shadows, one per lane, of a parameter a derivative is specialized on (see
    /// [`calls::specializes_on`]): a constant table's global shadow (`sink`: reverse mode's), a
    /// null pointer itself; `None` for a function (never dereferenced as data).
    pub(crate) fn constant_shadows(&mut self, c: Value, sink: bool, width: usize) -> Option<Vec<Value>> {
        if c.is_global_variable() {
            Some((0..width).map(|k| self.shadow_global(c, sink, k)).collect())
        } else if calls::constant_has_shadow(c) {
            Some(vec![c; width])
        } else {
            None
        }
    }

    pub(crate) fn wants_report(&self, f: Value) -> bool {
        match &self.options.function_filter {
            None => true,
            Some(filter) => self.report_name(f).contains(filter.as_str()) || f.name().contains(filter.as_str()),
        }
    }

    /// How reports name `f`: the user's function for the request's own function when a route
    /// labels it ([`Engine::request_label`]: the stable route's shim, which is
    /// `FnOnce::call_once` to LLVM), else `f`'s demangled name.
    pub(crate) fn report_name(&self, f: Value) -> String {
        match &self.request_label {
            Some(l) if Some(f) == self.root => l.function.clone(),
            _ => error::demangle(&f.name()),
        }
    }

    /// Removes every function generated by the failed request.
    fn undo_request(&mut self) {
        let jobs = std::mem::take(&mut self.in_request);
        self.pending.clear();
        self.undo_jobs(jobs);
    }

    /// Forgets and deletes the derivatives of `jobs`.
    fn undo_jobs(&mut self, jobs: Vec<Job>) {
        let mut created = Vec::new();
        for job in &jobs {
            match job {
                Job::Forward(k, _) => {
                    self.forward_cache.remove(k);
                }
                Job::Reverse(k, shape, _) => {
                    self.reverse_cache.remove(&(k.clone(), *shape));
                }
            }
            created.extend(job.functions());
        }
        // Deleted functions' addresses may be reused by new ones.
        self.float_bits.retain(|f, _| !created.contains(f));
        self.finished.retain(|f| !created.contains(f));
        for f in &created {
            module::clear_body(*f);
        }
        for f in created {
            if f.users().is_empty() {
                f.delete_function();
            } else {
                // Still referenced from outside (should not happen): leave an empty declaration.
                f.set_linkage(Linkage::LLVMExternalLinkage);
            }
        }
    }

    pub fn context(&self) -> LLVMContextRef {
        context_of(self.module)
    }

    /// Verifies the module (debug aid for tests and `PrintSteps`).
    pub fn verify(&self) -> Result<(), String> {
        module::verify_module(self.module)
    }
}

/// A derivative to generate (or generated by the request in progress).
#[derive(Clone, Debug)]
enum Job {
    Forward(ForwardKey, Value),
    Reverse(ReverseKey, reverse::Shape, Vec<Value>),
}

impl Job {
    fn function(&self) -> Value {
        match self {
            Job::Forward(k, _) => k.function,
            Job::Reverse(k, _, _) => k.function,
        }
    }

    fn functions(&self) -> Vec<Value> {
        match self {
            Job::Forward(_, f) => vec![*f],
            Job::Reverse(_, _, fs) => fs.clone(),
        }
    }
}

/// Rejects requests that do not fit the function.
fn check_key(f: Value, nargs: usize, width: u32) -> Option<AdError> {
    if f.is_declaration() {
        return Some(AdError::new(f, "the function has no body in this program", "differentiate a function defined in Rust"));
    }
    let n = f.function_type().param_types().len();
    if nargs != n {
        return Some(AdError::new(
            f,
            format!("{nargs} activities were given for {n} parameters"),
            "this is a bug in the caller of the engine",
        ));
    }
    if width == 0 {
        return Some(AdError::new(f, "width 0", "the width must be at least 1"));
    }
    None
}

/// Whether `g` is a reverse-mode sink that [`Engine::shadow_global`] made for a constant global
/// (in this request or an earlier one): writable, but nothing ever reads what reversals add
/// there. Differentiating a derivative that adds into one (reverse over reverse) treats it as
/// the constant global it stands for: its own shadow is another sink.
pub(crate) fn is_sink(g: Value) -> bool {
    g.is_global_variable() && !g.is_thread_local() && g.name().ends_with(".oxidase.sink")
}
