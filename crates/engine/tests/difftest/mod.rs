//! Generator of random differentiable functions over `f64` slices, as LLVM IR text.
//!
//! Every case is fully determined by its seed (a hand-written xorshift64* generator, no
//! dependency). A case is one exported function `@f<seed>` plus its internal helpers:
//!
//! ```text
//! define void   @f<seed>(ptr %x, ptr %y, i64 %n [, double %a0 [, double %a1]])
//! define double @f<seed>(ptr %x, i64 %n [, double ...])
//! define double @f<seed>(ptr %x, ptr %y, i64 %n [, double ...])
//! ```
//!
//! `x` holds `n` inputs (read only), `y` holds `m` values that the function writes: either a pure
//! output (every element is stored in the entry block before anything else, so the values on
//! entry are dead) or an in-place update (elements are read and overwritten). The body mixes
//! straight-line arithmetic, `select` on `fcmp`, branches joined by phis, counted loops (forward,
//! backward, constant trip count, nested) with accumulator phis, loads/stores through
//! `getelementptr`, an `alloca` scratch array, calls to internal helpers (scalar ones, ones taking
//! pointers, one that writes through a pointer, a recursive one) and smooth math: LLVM intrinsics
//! and libm calls on domains where they are smooth. Magnitudes are tracked roughly and large
//! values squashed with `atan`, so derivatives stay in a range where relative tolerances mean
//! something.

use std::collections::BTreeSet;
use std::fmt::Write as _;

/// xorshift64* — small, deterministic, good enough for test generation.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut s = seed.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        s ^= s >> 31;
        let mut r = Rng(if s == 0 { 0x2545_F491_4F6C_DD1D } else { s });
        for _ in 0..8 {
            r.next();
        }
        r
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// How `y` is used by a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YMode {
    /// No `y` parameter.
    None,
    /// Every element is stored before `y` is read: the values on entry are dead, so the reverse
    /// derivative must leave the shadow of `y` exactly zero.
    Output,
    /// Elements are read and overwritten.
    InPlace,
}

/// One generated test case.
#[derive(Clone, Debug)]
pub struct Case {
    pub seed: u64,
    /// Name of the exported function.
    pub name: String,
    /// Declarations (intrinsics, libm) the case needs, one per line.
    pub decls: BTreeSet<String>,
    /// Helpers and the exported function.
    pub body: String,
    /// Number of elements of `x`.
    pub n: usize,
    /// Number of elements of `y` (0 when there is no `y`).
    pub m: usize,
    pub y_mode: YMode,
    /// Number of scalar `double` parameters (after `%n`).
    pub scalars: usize,
    pub ret_double: bool,
    /// Whether `x` is differentiated (else `Const`).
    pub x_active: bool,
    /// Extra forward widths to check lane-wise against width 1.
    pub extra_fwd_width: Option<u32>,
    /// Whether to also check a width-2 reverse derivative (only void cases without scalars).
    pub rev_width2: bool,
}

impl Case {
    /// A standalone module text: what to feed `llc`/`opt` or the engine to reproduce a failure.
    pub fn ir(&self) -> String {
        let mut s = format!("; oxidase differential tester, seed {}\n", self.seed);
        for d in &self.decls {
            s.push_str(d);
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.body);
        s
    }
}

/// Joins several cases into one module text (declarations deduplicated).
pub fn module_text(cases: &[&Case]) -> String {
    let mut decls = BTreeSet::new();
    let mut s = String::new();
    for c in cases {
        decls.extend(c.decls.iter().cloned());
    }
    for d in &decls {
        s.push_str(d);
        s.push('\n');
    }
    for c in cases {
        s.push('\n');
        s.push_str(&c.body);
    }
    s
}

/// Exact text of a double constant.
fn hex(c: f64) -> String {
    format!("0x{:016X}", c.to_bits())
}

#[derive(Clone, Debug)]
struct Val {
    name: String,
    /// Rough bound of |value| for inputs in [0.5, 1.5].
    bound: f64,
}

#[derive(Clone, Debug)]
enum HelperKind {
    /// `double (double, double)`.
    Scalar,
    /// `double (double, i64)`, recursive.
    Recursive,
    /// `double (ptr, i64)`: loop over the elements.
    Sum,
    /// `double (ptr, ptr, i64)`.
    Dot,
    /// `void (ptr, i64, double)`: in-place update of one element.
    Update,
    /// `{ double, double } (double, double)`.
    Pair,
}

#[derive(Clone, Debug)]
struct Helper {
    name: String,
    kind: HelperKind,
    /// Bound of the result given arguments bounded by [`ARG_BOUND`].
    bound: f64,
}

/// Arguments passed to helpers and values stored to memory are squashed below this bound.
const ARG_BOUND: f64 = 10.0;
/// Values above this bound are squashed with `atan`.
const MAX_BOUND: f64 = 1e3;
/// Elements of the scratch `alloca` (at least `n`).
const BUF_LEN: usize = 8;

/// Where the current function can read and write.
#[derive(Clone, Default)]
struct Env {
    /// `x` with this many elements (main function).
    x: Option<usize>,
    /// `y` with this many elements.
    y: Option<usize>,
    /// The scratch array.
    buf: bool,
    /// Whether `%n` is a parameter.
    has_n: bool,
    /// In the exported function: whether it returns a double (enables early returns).
    ret: Option<bool>,
    /// `x` is not differentiated: never merge it with differentiated pointers (the engine
    /// refuses that by design: it would need a shadow for `x`).
    x_const: bool,
}

struct FnGen<'a> {
    rng: &'a mut Rng,
    decls: &'a mut BTreeSet<String>,
    helpers: &'a [Helper],
    env: Env,
    text: String,
    next: usize,
    nblk: usize,
    scopes: Vec<Vec<Val>>,
    cur: String,
    y_read: bool,
    /// Statements left before the function gets too large.
    budget: usize,
}

impl<'a> FnGen<'a> {
    fn new(rng: &'a mut Rng, decls: &'a mut BTreeSet<String>, helpers: &'a [Helper], env: Env, budget: usize) -> Self {
        FnGen {
            rng,
            decls,
            helpers,
            env,
            text: String::new(),
            next: 0,
            nblk: 0,
            scopes: vec![Vec::new()],
            cur: "entry".into(),
            y_read: false,
            budget,
        }
    }

    fn fresh(&mut self) -> String {
        self.next += 1;
        format!("%v{}", self.next)
    }
    fn label(&mut self, what: &str) -> String {
        self.nblk += 1;
        format!("{what}{}", self.nblk)
    }
    fn emit(&mut self, line: String) {
        self.text.push_str("  ");
        self.text.push_str(&line);
        self.text.push('\n');
    }
    fn start_block(&mut self, l: &str) {
        let _ = writeln!(self.text, "{l}:");
        self.cur = l.to_string();
    }
    fn push(&mut self, v: Val) {
        self.scopes.last_mut().unwrap().push(v);
    }
    fn all(&self) -> Vec<Val> {
        self.scopes.iter().flatten().cloned().collect()
    }
    /// A value available here, biased towards recent ones (longer dependency chains).
    fn pick(&mut self) -> Val {
        let all = self.all();
        assert!(!all.is_empty(), "generator: empty pool");
        if self.rng.chance(0.5) {
            let k = all.len().min(4);
            all[all.len() - 1 - self.rng.below(k)].clone()
        } else {
            all[self.rng.below(all.len())].clone()
        }
    }
    /// A value of the innermost scope if there is one (so that loop bodies feed accumulators).
    fn pick_inner(&mut self) -> Val {
        let inner = self.scopes.last().unwrap().clone();
        if !inner.is_empty() && self.rng.chance(0.7) {
            inner[inner.len() - 1 - self.rng.below(inner.len().min(3))].clone()
        } else {
            self.pick()
        }
    }
    fn decl(&mut self, d: &str) {
        self.decls.insert(d.to_string());
    }

    fn bin(&mut self, op: &str, a: &Val, b: &Val, bound: f64) -> Val {
        let r = self.fresh();
        self.emit(format!("{r} = {op} double {}, {}", a.name, b.name));
        Val { name: r, bound }
    }
    fn bin_c(&mut self, op: &str, a: &Val, c: f64, bound: f64) -> Val {
        let r = self.fresh();
        self.emit(format!("{r} = {op} double {}, {}", a.name, hex(c)));
        Val { name: r, bound }
    }
    fn intr1(&mut self, name: &str, a: &Val, bound: f64) -> Val {
        self.decl(&format!("declare double @llvm.{name}.f64(double)"));
        let r = self.fresh();
        self.emit(format!("{r} = call double @llvm.{name}.f64(double {})", a.name));
        Val { name: r, bound }
    }
    fn intr2(&mut self, name: &str, a: &Val, b: &Val, bound: f64) -> Val {
        self.decl(&format!("declare double @llvm.{name}.f64(double, double)"));
        let r = self.fresh();
        self.emit(format!("{r} = call double @llvm.{name}.f64(double {}, double {})", a.name, b.name));
        Val { name: r, bound }
    }
    fn libm1(&mut self, name: &str, a: &Val, bound: f64) -> Val {
        self.decl(&format!("declare double @{name}(double)"));
        let r = self.fresh();
        self.emit(format!("{r} = call double @{name}(double {})", a.name));
        Val { name: r, bound }
    }
    fn libm2(&mut self, name: &str, a: &Val, b: &Val, bound: f64) -> Val {
        self.decl(&format!("declare double @{name}(double, double)"));
        let r = self.fresh();
        self.emit(format!("{r} = call double @{name}(double {}, double {})", a.name, b.name));
        Val { name: r, bound }
    }
    /// `c + a*a` (strictly positive for c > 0).
    fn one_plus_sq(&mut self, a: &Val, c: f64) -> Val {
        let sq = self.bin("fmul", a, a, a.bound * a.bound);
        self.bin_c("fadd", &sq, c, c + a.bound * a.bound)
    }
    /// Keeps the magnitude of a value reasonable.
    fn limit(&mut self, v: Val) -> Val {
        if v.bound > MAX_BOUND {
            self.intr1("atan", &v, 1.6)
        } else {
            v
        }
    }
    /// A bounded function of `v` (|result| ≤ 1.6).
    fn squash(&mut self, v: &Val) -> Val {
        match self.rng.below(4) {
            0 => self.intr1("sin", v, 1.0),
            1 => self.intr1("atan", v, 1.6),
            2 => self.intr1("tanh", v, 1.0),
            _ => {
                // v / (1 + v*v)
                let d = self.one_plus_sq(v, 1.0);
                self.bin("fdiv", v, &d, 0.5)
            }
        }
    }
    fn bounded_arg(&mut self, v: Val) -> Val {
        if v.bound > ARG_BOUND {
            self.intr1("atan", &v, 1.6)
        } else {
            v
        }
    }

    fn gep(&mut self, base: &str, idx: &str) -> String {
        let p = self.fresh();
        self.emit(format!("{p} = getelementptr inbounds double, ptr {base}, i64 {idx}"));
        p
    }
    fn load(&mut self, base: &str, idx: &str, bound: f64) -> Val {
        let p = self.gep(base, idx);
        let r = self.fresh();
        self.emit(format!("{r} = load double, ptr {p}, align 8"));
        Val { name: r, bound }
    }
    fn store(&mut self, v: &Val, base: &str, idx: &str) {
        let p = self.gep(base, idx);
        self.emit(format!("store double {}, ptr {p}, align 8", v.name));
    }
    /// `p[idx] = p[idx] * 0.5 + squash(v)`.
    fn update(&mut self, v: &Val, base: &str, idx: &str) {
        let p = self.gep(base, idx);
        let old = self.fresh();
        self.emit(format!("{old} = load double, ptr {p}, align 8"));
        let old = Val { name: old, bound: ARG_BOUND };
        let h = self.bin_c("fmul", &old, 0.5, ARG_BOUND / 2.0);
        let s = self.squash(v);
        let new = self.bin("fadd", &h, &s, ARG_BOUND);
        self.emit(format!("store double {}, ptr {p}, align 8", new.name));
    }

    /// One arithmetic / math / memory-read operation; its result joins the pool.
    fn op(&mut self) -> Val {
        let a = self.pick();
        let b = self.pick();
        let r = match self.rng.below(30) {
            0 | 1 => self.bin("fadd", &a, &b, a.bound + b.bound),
            2 => self.bin("fsub", &a, &b, a.bound + b.bound),
            3 | 4 => self.bin("fmul", &a, &b, a.bound * b.bound),
            5 => {
                let d = self.one_plus_sq(&b, 1.5);
                self.bin("fdiv", &a, &d, a.bound / 1.5)
            }
            6 => {
                let r = self.fresh();
                self.emit(format!("{r} = fneg double {}", a.name));
                Val { name: r, bound: a.bound }
            }
            7 => {
                let c = self.fresh();
                let pred = ["olt", "ogt", "ole", "oge", "ult", "ugt"][self.rng.below(6)];
                if self.rng.chance(0.5) {
                    let k = hex(self.rng.range(0.5, 1.5));
                    self.emit(format!("{c} = fcmp {pred} double {}, {k}", a.name));
                } else {
                    self.emit(format!("{c} = fcmp {pred} double {}, {}", a.name, b.name));
                }
                let p = self.pick();
                let q = self.pick();
                let r = self.fresh();
                self.emit(format!("{r} = select i1 {c}, double {}, double {}", p.name, q.name));
                Val { name: r, bound: p.bound.max(q.bound) }
            }
            8 => self.intr1("sin", &a, 1.0),
            9 => self.intr1("cos", &a, 1.0),
            10 => {
                let s = self.squash(&a);
                self.intr1("exp", &s, 5.0)
            }
            11 => {
                let d = self.one_plus_sq(&a, 1.0);
                let bound = d.bound.ln() + 1.0;
                self.intr1("log", &d, bound)
            }
            12 => {
                let d = self.one_plus_sq(&a, 1.0);
                let bound = d.bound.sqrt();
                self.intr1("sqrt", &d, bound)
            }
            13 => {
                let base = self.one_plus_sq(&a, 1.5);
                let e = self.intr1("sin", &b, 1.0);
                let bound = base.bound;
                self.intr2("pow", &base, &e, bound)
            }
            14 => {
                self.decl("declare double @llvm.powi.f64.i32(double, i32)");
                let (base, k) = if self.rng.chance(0.5) {
                    (a.clone(), self.rng.int(2, 3) as i32)
                } else {
                    (self.one_plus_sq(&a, 1.5), -(self.rng.int(1, 2) as i32))
                };
                let bound = if k > 0 { base.bound.powi(k) } else { 1.0 };
                let r = self.fresh();
                self.emit(format!("{r} = call double @llvm.powi.f64.i32(double {}, i32 {k})", base.name));
                Val { name: r, bound }
            }
            15 | 16 => {
                let c = self.pick();
                let name = if self.rng.chance(0.5) { "fma" } else { "fmuladd" };
                self.decl(&format!("declare double @llvm.{name}.f64(double, double, double)"));
                let r = self.fresh();
                self.emit(format!(
                    "{r} = call double @llvm.{name}.f64(double {}, double {}, double {})",
                    a.name, b.name, c.name
                ));
                Val { name: r, bound: a.bound * b.bound + c.bound }
            }
            17 => {
                let name = if self.rng.chance(0.5) { "maxnum" } else { "minnum" };
                self.intr2(name, &a, &b, a.bound.max(b.bound))
            }
            18 => self.intr1("fabs", &a, a.bound),
            19 => self.intr1("tanh", &a, 1.0),
            20 => self.intr1("atan", &a, 1.6),
            21 => match self.rng.below(6) {
                0 => {
                    let d = self.one_plus_sq(&a, 0.5);
                    let bound = d.bound.cbrt();
                    self.libm1("cbrt", &d, bound)
                }
                1 => {
                    // Away from the origin (hypot is not differentiable at (0, 0)).
                    let d = self.one_plus_sq(&b, 0.5);
                    self.libm2("hypot", &a, &d, a.bound + d.bound)
                }
                2 => self.libm1("erf", &a, 1.0),
                3 => {
                    let d = self.one_plus_sq(&b, 0.5);
                    self.libm2("atan2", &a, &d, 1.6)
                }
                4 => {
                    let d = self.bin("fmul", &a, &a, a.bound * a.bound);
                    let bound = (1.0 + d.bound).ln();
                    self.libm1("log1p", &d, bound)
                }
                _ => {
                    let s = self.squash(&a);
                    self.libm1("expm1", &s, 4.0)
                }
            },
            22 | 23 => match self.env.x {
                Some(n) => {
                    let k = self.rng.below(n).to_string();
                    self.load("%x", &k, 1.5)
                }
                None => self.bin("fmul", &a, &b, a.bound * b.bound),
            },
            24 | 25 => self.call_helper(a, b),
            27 => self.select_pointer_load(),
            28 => self.vector_op(&a, &b),
            29 => match self.env.x {
                // An index computed from a float (piecewise constant, inactive).
                Some(_) => {
                    let t = self.bin_c("fmul", &a, 4.0, a.bound * 4.0);
                    let k = self.fresh();
                    self.emit(format!("{k} = fptosi double {} to i64", t.name));
                    let k2 = self.fresh();
                    self.emit(format!("{k2} = and i64 {k}, 1"));
                    self.load("%x", &k2, 1.5)
                }
                None => self.bin("fadd", &a, &b, a.bound + b.bound),
            },
            _ => {
                if self.env.buf {
                    let k = self.rng.below(BUF_LEN).to_string();
                    self.load("%buf", &k, ARG_BOUND)
                } else {
                    self.bin("fsub", &a, &b, a.bound + b.bound)
                }
            }
        };
        let r = self.limit(r);
        self.push(r.clone());
        r
    }

    /// Arrays readable here, with their lengths.
    fn arrays(&self) -> Vec<(&'static str, usize, f64)> {
        let mut v = Vec::new();
        if let Some(n) = self.env.x {
            v.push(("%x", n, 1.5));
        }
        if self.env.buf {
            v.push(("%buf", BUF_LEN, ARG_BOUND));
        }
        if let Some(m) = self.env.y {
            v.push(("%y", m, ARG_BOUND));
        }
        v
    }

    /// A load through `select(c, ptr a, ptr b)`.
    fn select_pointer_load(&mut self) -> Val {
        let mut arrays = self.arrays();
        if self.env.x_const && arrays.len() > 1 {
            arrays.retain(|a| a.0 != "%x");
        }
        if arrays.is_empty() {
            let a = self.pick();
            return self.intr1("sin", &a, 1.0);
        }
        let (p, lp, bp) = arrays[self.rng.below(arrays.len())];
        let (q, lq, bq) = arrays[self.rng.below(arrays.len())];
        let c = self.cond();
        let s = self.fresh();
        self.emit(format!("{s} = select i1 {c}, ptr {p}, ptr {q}"));
        let k = self.rng.below(lp.min(lq)).to_string();
        self.load(&s, &k, bp.max(bq))
    }

    /// Arithmetic on `<2 x double>`: build, combine, (maybe) a vector intrinsic, extract.
    fn vector_op(&mut self, a: &Val, b: &Val) -> Val {
        let v0 = self.fresh();
        self.emit(format!("{v0} = insertelement <2 x double> poison, double {}, i32 0", a.name));
        let v1 = self.fresh();
        self.emit(format!("{v1} = insertelement <2 x double> {v0}, double {}, i32 1", b.name));
        let v2 = self.fresh();
        let (c0, c1) = (hex(self.rng.range(-1.5, 1.5)), hex(self.rng.range(-1.5, 1.5)));
        let mut bound = a.bound.max(b.bound);
        if self.rng.chance(0.5) {
            self.emit(format!("{v2} = fmul <2 x double> {v1}, {v1}"));
            bound *= bound;
        } else {
            self.emit(format!("{v2} = fmul <2 x double> {v1}, <double {c0}, double {c1}>"));
            bound *= 1.5;
        }
        let v3 = if self.rng.chance(0.5) {
            self.decl("declare <2 x double> @llvm.sin.v2f64(<2 x double>)");
            let v3 = self.fresh();
            self.emit(format!("{v3} = call <2 x double> @llvm.sin.v2f64(<2 x double> {v2})"));
            bound = 1.0;
            v3
        } else {
            v2
        };
        let e0 = self.fresh();
        self.emit(format!("{e0} = extractelement <2 x double> {v3}, i32 0"));
        let e1 = self.fresh();
        self.emit(format!("{e1} = extractelement <2 x double> {v3}, i32 1"));
        let r = self.fresh();
        self.emit(format!("{r} = fsub double {e0}, {e1}"));
        Val { name: r, bound: 2.0 * bound }
    }

    /// A call to a helper returning a double (falls back to arithmetic without helpers).
    fn call_helper(&mut self, a: Val, b: Val) -> Val {
        let cands: Vec<Helper> = self
            .helpers
            .iter()
            .filter(|h| match h.kind {
                HelperKind::Scalar | HelperKind::Recursive | HelperKind::Pair => true,
                HelperKind::Sum | HelperKind::Dot => self.env.x.is_some(),
                HelperKind::Update => false,
            })
            .cloned()
            .collect();
        if cands.is_empty() {
            return self.bin("fadd", &a, &b, a.bound + b.bound);
        }
        let h = cands[self.rng.below(cands.len())].clone();
        let r = self.fresh();
        match h.kind {
            HelperKind::Scalar => {
                let a = self.bounded_arg(a);
                let b = self.bounded_arg(b);
                self.emit(format!("{r} = call double @{}(double {}, double {})", h.name, a.name, b.name));
            }
            HelperKind::Recursive => {
                let a = self.bounded_arg(a);
                let k = self.rng.int(0, 3);
                self.emit(format!("{r} = call double @{}(double {}, i64 {k})", h.name, a.name));
            }
            HelperKind::Sum => {
                let (p, len) = self.pointer_arg();
                self.emit(format!("{r} = call double @{}(ptr {p}, i64 {len})", h.name));
            }
            HelperKind::Dot => {
                let (p, len) = self.pointer_arg();
                let q = if self.rng.chance(0.5) { "%x".to_string() } else { p.clone() };
                self.emit(format!("{r} = call double @{}(ptr {p}, ptr {q}, i64 {len})", h.name));
            }
            HelperKind::Pair => {
                let a = self.bounded_arg(a);
                let b = self.bounded_arg(b);
                self.emit(format!("{r} = call {{ double, double }} @{}(double {}, double {})", h.name, a.name, b.name));
                let e0 = self.fresh();
                self.emit(format!("{e0} = extractvalue {{ double, double }} {r}, 0"));
                let e1 = self.fresh();
                self.emit(format!("{e1} = extractvalue {{ double, double }} {r}, 1"));
                self.push(Val { name: e1.clone(), bound: h.bound });
                let d = self.fresh();
                self.emit(format!("{d} = fsub double {e0}, {e1}"));
                return Val { name: d, bound: 2.0 * h.bound };
            }
            HelperKind::Update => unreachable!(),
        }
        Val { name: r, bound: h.bound }
    }

    /// A readable array and a length for it: `x`, the scratch array or `y` (when as long as `x`).
    fn pointer_arg(&mut self) -> (String, String) {
        let n = self.env.x.unwrap();
        let len = if self.env.has_n && self.rng.chance(0.7) { "%n".to_string() } else { n.to_string() };
        match self.rng.below(4) {
            0 if self.env.buf => ("%buf".into(), len),
            1 if self.env.y == Some(n) => {
                self.y_read = true;
                ("%y".into(), len)
            }
            _ => ("%x".into(), len),
        }
    }

    /// A write to `y` or to the scratch array (store, in-place update, or helper call).
    fn write(&mut self, loop_index: Option<&str>) {
        let v = self.pick_inner();
        let mut targets = Vec::new();
        if let Some(m) = self.env.y {
            targets.push(("%y", m));
        }
        if self.env.buf {
            targets.push(("%buf", BUF_LEN));
        }
        if targets.is_empty() {
            self.op();
            return;
        }
        let (base, len) = targets[self.rng.below(targets.len())];
        let idx = match loop_index {
            Some(i) if self.env.x.is_some_and(|n| n <= len) && self.rng.chance(0.6) => i.to_string(),
            _ => self.rng.below(len).to_string(),
        };
        let upd = self.helpers.iter().find(|h| matches!(h.kind, HelperKind::Update)).cloned();
        if self.rng.chance(0.12) {
            // memcpy between whole arrays (x → buf, buf → y, y → buf).
            let arrays = self.arrays();
            let (dst, ld, _) = arrays[self.rng.below(arrays.len())];
            let (src, ls, _) = arrays[self.rng.below(arrays.len())];
            if dst != "%x" && dst != src {
                self.decl("declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)");
                let bytes = 8 * ld.min(ls);
                self.emit(format!("call void @llvm.memcpy.p0.p0.i64(ptr align 8 {dst}, ptr align 8 {src}, i64 {bytes}, i1 false)"));
                return;
            }
        }
        match self.rng.below(3) {
            0 => {
                let v = self.bounded_arg(v);
                self.store(&v, base, &idx);
            }
            1 => {
                if base == "%y" {
                    self.y_read = true;
                }
                self.update(&v, base, &idx);
            }
            _ => {
                if base == "%y" {
                    self.y_read = true;
                }
                match upd {
                    Some(h) => {
                        let v = self.bounded_arg(v);
                        self.emit(format!("call void @{}(ptr {base}, i64 {idx}, double {})", h.name, v.name));
                    }
                    None => self.update(&v, base, &idx),
                }
            }
        }
    }

    fn cond(&mut self) -> String {
        let a = self.pick();
        let c = self.fresh();
        let pred = ["olt", "ogt", "ole", "oge", "ult", "uge"][self.rng.below(6)];
        if self.rng.chance(0.6) {
            let k = hex(self.rng.range(0.3, 1.7));
            self.emit(format!("{c} = fcmp {pred} double {}, {k}", a.name));
        } else {
            let b = self.pick();
            self.emit(format!("{c} = fcmp {pred} double {}, {}", a.name, b.name));
        }
        c
    }

    fn stmts(&mut self, depth: usize, count: usize, loop_index: Option<&str>) {
        for _ in 0..count {
            if self.budget == 0 {
                self.op();
                continue;
            }
            self.budget -= 1;
            match self.rng.below(13) {
                0..=5 => {
                    self.op();
                }
                12 if depth == 0 && self.env.ret.is_some() => self.early_return(),
                6 | 7 => self.write(loop_index),
                8 | 9 if depth < 2 => self.branch(depth, loop_index),
                10 | 11 if depth < 2 => self.counted_loop(depth),
                _ => {
                    self.op();
                }
            }
        }
    }

    /// `if c { ret } ` in the middle of the exported function.
    fn early_return(&mut self) {
        let c = self.cond();
        let lr = self.label("early");
        let lc = self.label("cont");
        self.emit(format!("br i1 {c}, label %{lr}, label %{lc}"));
        self.start_block(&lr);
        if self.env.ret == Some(true) {
            let v = self.pick();
            self.emit(format!("ret double {}", v.name));
        } else {
            self.emit("ret void".into());
        }
        self.start_block(&lc);
    }

    fn branch(&mut self, depth: usize, loop_index: Option<&str>) {
        let c = self.cond();
        let lt = self.label("then");
        let le = self.label("else");
        let lj = self.label("join");
        let one_sided = self.rng.chance(0.3);
        let nphi = self.rng.int(1, 2);
        // Values flowing around a one-sided branch must be available before it.
        let around: Vec<Val> = (0..nphi).map(|_| self.pick()).collect();
        let from = self.cur.clone();
        self.emit(format!("br i1 {c}, label %{lt}, label %{}", if one_sided { &lj } else { &le }));

        self.start_block(&lt);
        self.scopes.push(Vec::new());
        let k = self.rng.int(1, 3);
        self.stmts(depth + 1, k, loop_index);
        let tv: Vec<Val> = (0..nphi).map(|_| self.pick_inner()).collect();
        let tend = self.cur.clone();
        self.emit(format!("br label %{lj}"));
        self.scopes.pop();

        let (ev, eend) = if one_sided {
            (around, from)
        } else {
            self.start_block(&le);
            self.scopes.push(Vec::new());
            let k = self.rng.int(1, 3);
            self.stmts(depth + 1, k, loop_index);
            let ev: Vec<Val> = (0..nphi).map(|_| self.pick_inner()).collect();
            let eend = self.cur.clone();
            self.emit(format!("br label %{lj}"));
            self.scopes.pop();
            (ev, eend)
        };

        self.start_block(&lj);
        for (t, e) in tv.iter().zip(&ev) {
            let r = self.fresh();
            self.emit(format!("{r} = phi double [ {}, %{tend} ], [ {}, %{eend} ]", t.name, e.name));
            self.push(Val { name: r, bound: t.bound.max(e.bound) });
        }
    }

    fn counted_loop(&mut self, depth: usize) {
        // Trip: over x forward, over x backward, or a constant count.
        let n = self.env.x;
        let kind = match n {
            Some(_) => self.rng.below(3),
            None => 2,
        };
        let trips = match kind {
            0 | 1 => n.unwrap(),
            _ => self.rng.int(1, 4),
        };
        let limit = if kind != 2 && self.env.has_n { "%n".to_string() } else { trips.to_string() };
        let pre = self.cur.clone();
        let lh = self.label("loop");
        let lb = self.label("body");
        let ll = self.label("latch");
        let lx = self.label("exit");
        let start = if kind == 1 {
            let s = self.fresh();
            self.emit(format!("{s} = sub i64 {limit}, 1"));
            s
        } else {
            "0".to_string()
        };
        let nacc = self.rng.int(1, 2);
        let inits: Vec<Val> = (0..nacc)
            .map(|_| {
                let v = self.pick();
                self.bounded_arg(v)
            })
            .collect();
        self.emit(format!("br label %{lh}"));

        self.start_block(&lh);
        let i = self.fresh();
        let inext = self.fresh();
        self.emit(format!("{i} = phi i64 [ {start}, %{pre} ], [ {inext}, %{ll} ]"));
        let modes: Vec<usize> = (0..nacc).map(|_| self.rng.below(3)).collect();
        let mut accs = Vec::new();
        for (init, &mode) in inits.iter().zip(&modes) {
            let acc = self.fresh();
            let next = self.fresh();
            self.emit(format!("{acc} = phi double [ {}, %{pre} ], [ {next}, %{ll} ]", init.name));
            let bound = if mode == 2 { init.bound * 1.25f64.powi(trips as i32) } else { init.bound + 1.6 * trips as f64 };
            accs.push((Val { name: acc, bound }, next, mode));
        }
        let c = self.fresh();
        if kind == 1 {
            self.emit(format!("{c} = icmp sge i64 {i}, 0"));
        } else {
            self.emit(format!("{c} = icmp slt i64 {i}, {limit}"));
        }
        self.emit(format!("br i1 {c}, label %{lb}, label %{lx}"));
        // The accumulators (header phis) dominate the body and the exit.
        for (acc, _, _) in &accs {
            self.push(acc.clone());
        }

        self.start_block(&lb);
        self.scopes.push(Vec::new());
        let index = if kind == 2 {
            let f = self.fresh();
            self.emit(format!("{f} = sitofp i64 {i} to double"));
            self.push(Val { name: f, bound: 4.0 });
            None
        } else {
            let xi = self.load("%x", &i, 1.5);
            self.push(xi);
            Some(i.clone())
        };
        let k = self.rng.int(1, 4);
        self.stmts(depth + 1, k, index.as_deref());
        let feeds: Vec<Val> = accs.iter().map(|_| self.pick_inner()).collect();
        if self.rng.chance(0.25) {
            // Early exit: the loop leaves from its body too.
            let c = self.cond();
            self.emit(format!("br i1 {c}, label %{lx}, label %{ll}"));
        } else {
            self.emit(format!("br label %{ll}"));
        }

        self.start_block(&ll);
        for ((acc, next, mode), feed) in accs.iter().zip(&feeds) {
            match mode {
                0 | 1 => {
                    let s = self.squash(feed);
                    let op = if *mode == 0 { "fadd" } else { "fsub" };
                    self.emit(format!("{next} = {op} double {}, {}", acc.name, s.name));
                }
                _ => {
                    // acc * (1 + 0.25 sin(feed))
                    let s = self.intr1("sin", feed, 1.0);
                    let q = self.bin_c("fmul", &s, 0.25, 0.25);
                    let f = self.bin_c("fadd", &q, 1.0, 1.25);
                    self.emit(format!("{next} = fmul double {}, {}", acc.name, f.name));
                }
            }
        }
        let step = if kind == 1 { "sub" } else { "add" };
        self.emit(format!("{inext} = {step} i64 {i}, 1"));
        self.emit(format!("br label %{lh}"));
        self.scopes.pop();

        self.start_block(&lx);
    }

    /// A value combining several pool values (so outputs depend on much of the function).
    fn combine(&mut self) -> Val {
        let mut v = self.pick();
        for _ in 0..self.rng.int(1, 3) {
            let w = self.pick();
            let op = if self.rng.chance(0.5) { "fadd" } else { "fsub" };
            v = self.bin(op, &v, &w, v.bound + w.bound);
        }
        self.limit(v)
    }
}

/// Size factor of the exported functions (`OXIDASE_DIFFTEST_SIZE`, default 1).
pub fn size() -> usize {
    std::env::var("OXIDASE_DIFFTEST_SIZE").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1)
}

/// Generates the case of `seed` (at the size given by [`size`]).
pub fn generate(seed: u64) -> Case {
    let mut rng = Rng::new(seed);
    let name = format!("f{seed}");
    let mut decls = BTreeSet::new();
    let mut body = String::new();

    let n = rng.int(2, 5);
    let y_mode = match rng.below(5) {
        0 => YMode::None,
        1 | 2 => YMode::Output,
        _ => YMode::InPlace,
    };
    let ret_double = y_mode == YMode::None || rng.chance(0.3);
    let m = match y_mode {
        YMode::None => 0,
        _ if rng.chance(0.4) => n,
        _ => rng.int(1, 3),
    };
    let scalars = [0, 0, 0, 1, 2][rng.below(5)];
    let x_active = scalars == 0 || rng.chance(0.8);

    // ---- helpers ----
    let mut helpers: Vec<Helper> = Vec::new();
    let nscalar = [0, 1, 1, 2][rng.below(4)];
    for k in 0..nscalar {
        let hname = format!("{name}.h{k}");
        let env = Env::default();
        let prior = helpers.clone();
        let mut g = FnGen::new(&mut rng, &mut decls, &prior, env, 4);
        g.push(Val { name: "%a".into(), bound: ARG_BOUND });
        g.push(Val { name: "%b".into(), bound: ARG_BOUND });
        let cnt = g.rng.int(2, 5);
        g.stmts(1, cnt, None);
        let r = g.combine();
        let _ = writeln!(body, "define internal double @{hname}(double %a, double %b) {{\nentry:");
        body.push_str(&g.text);
        let _ = writeln!(body, "  ret double {}\n}}\n", r.name);
        helpers.push(Helper { name: hname, kind: HelperKind::Scalar, bound: r.bound });
    }
    if rng.chance(0.15) {
        // rec(a, k) = k <= 0 ? sin(a) + a*0.5 : rec(a*0.9 + 0.1, k-1) * 0.5 + cos(a)
        let hname = format!("{name}.rec");
        decls.insert("declare double @llvm.sin.f64(double)".into());
        decls.insert("declare double @llvm.cos.f64(double)".into());
        let _ = write!(
            body,
            "define internal double @{hname}(double %a, i64 %k) {{
entry:
  %c = icmp sle i64 %k, 0
  br i1 %c, label %base, label %rec
base:
  %s = call double @llvm.sin.f64(double %a)
  %h = fmul double %a, {half}
  %r0 = fadd double %s, %h
  ret double %r0
rec:
  %a1 = fmul double %a, {p9}
  %a2 = fadd double %a1, {p1}
  %k1 = sub i64 %k, 1
  %t = call double @{hname}(double %a2, i64 %k1)
  %t2 = fmul double %t, {half}
  %co = call double @llvm.cos.f64(double %a)
  %r1 = fadd double %t2, %co
  ret double %r1
}}

",
            half = hex(0.5),
            p9 = hex(0.9),
            p1 = hex(0.1)
        );
        helpers.push(Helper { name: hname, kind: HelperKind::Recursive, bound: 20.0 });
    }
    if rng.chance(0.25) {
        let hname = format!("{name}.pair");
        decls.insert("declare double @llvm.sin.f64(double)".into());
        let _ = write!(
            body,
            "define internal {{ double, double }} @{hname}(double %a, double %b) {{
entry:
  %p = fmul double %a, %b
  %s = call double @llvm.sin.f64(double %a)
  %t = fadd double %s, %b
  %r0 = insertvalue {{ double, double }} poison, double %p, 0
  %r1 = insertvalue {{ double, double }} %r0, double %t, 1
  ret {{ double, double }} %r1
}}

"
        );
        helpers.push(Helper { name: hname, kind: HelperKind::Pair, bound: ARG_BOUND * ARG_BOUND });
    }
    if rng.chance(0.4) {
        let hname = format!("{name}.sum");
        let mut g = FnGen::new(&mut rng, &mut decls, &[], Env::default(), 0);
        let xi = Val { name: "%xi".into(), bound: ARG_BOUND };
        let f = match g.rng.below(3) {
            0 => g.intr1("sin", &xi, 1.0),
            1 => g.bin("fmul", &xi, &xi, ARG_BOUND * ARG_BOUND),
            _ => {
                let s = g.squash(&xi);
                g.intr1("exp", &s, 5.0)
            }
        };
        let fb = f.bound;
        let text = g.text;
        let _ = write!(
            body,
            "define internal double @{hname}(ptr %p, i64 %n) {{
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %body ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %body ]
  %c = icmp slt i64 %i, %n
  br i1 %c, label %body, label %exit
body:
  %q = getelementptr inbounds double, ptr %p, i64 %i
  %xi = load double, ptr %q, align 8
{text}  %acc1 = fadd double %acc, {}
  %i1 = add i64 %i, 1
  br label %loop
exit:
  ret double %acc
}}

",
            f.name
        );
        helpers.push(Helper { name: hname, kind: HelperKind::Sum, bound: fb * BUF_LEN as f64 });
    }
    if rng.chance(0.3) {
        let hname = format!("{name}.dot");
        let _ = write!(
            body,
            "define internal double @{hname}(ptr %p, ptr %q, i64 %n) {{
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %body ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %body ]
  %c = icmp slt i64 %i, %n
  br i1 %c, label %body, label %exit
body:
  %pp = getelementptr inbounds double, ptr %p, i64 %i
  %qq = getelementptr inbounds double, ptr %q, i64 %i
  %a = load double, ptr %pp, align 8
  %b = load double, ptr %qq, align 8
  %ab = fmul double %a, %b
  %acc1 = fadd double %acc, %ab
  %i1 = add i64 %i, 1
  br label %loop
exit:
  ret double %acc
}}

"
        );
        helpers.push(Helper { name: hname, kind: HelperKind::Dot, bound: ARG_BOUND * ARG_BOUND * BUF_LEN as f64 });
    }
    if rng.chance(0.3) {
        let hname = format!("{name}.upd");
        let mut g = FnGen::new(&mut rng, &mut decls, &[], Env::default(), 0);
        let v = Val { name: "%v".into(), bound: ARG_BOUND };
        g.update(&v, "%p", "%j");
        let text = g.text;
        let _ = write!(body, "define internal void @{hname}(ptr %p, i64 %j, double %v) {{\nentry:\n{text}  ret void\n}}\n\n");
        helpers.push(Helper { name: hname, kind: HelperKind::Update, bound: 0.0 });
    }

    // ---- the exported function ----
    let use_buf = rng.chance(0.4);
    let env = Env { x: Some(n), y: (m > 0).then_some(m), buf: use_buf, has_n: true, ret: Some(ret_double), x_const: !x_active };
    let budget = rng.int(5, 12) * size();
    let mut g = FnGen::new(&mut rng, &mut decls, &helpers, env, budget);
    let mut params = vec!["ptr %x".to_string()];
    if m > 0 {
        params.push("ptr %y".into());
    }
    params.push("i64 %n".into());
    for k in 0..scalars {
        params.push(format!("double %a{k}"));
        g.push(Val { name: format!("%a{k}"), bound: 1.5 });
    }
    for _ in 0..g.rng.int(1, 2) {
        let k = g.rng.below(n).to_string();
        let v = g.load("%x", &k, 1.5);
        g.push(v);
    }
    if use_buf {
        g.emit(format!("%buf = alloca [{BUF_LEN} x double], align 8"));
        for k in 0..BUF_LEN {
            let v = if g.rng.chance(0.5) {
                g.pick()
            } else {
                Val { name: hex(g.rng.range(-1.0, 1.0)), bound: 1.0 }
            };
            g.store(&v, "%buf", &k.to_string());
        }
    }
    if y_mode == YMode::Output {
        for j in 0..m {
            let v = g.pick();
            g.store(&v, "%y", &j.to_string());
        }
    }
    let cnt = g.rng.int(3, 8) * size();
    g.stmts(0, cnt, None);
    if m > 0 {
        // Final writes so that y depends on the whole function.
        for j in 0..m {
            if g.rng.chance(0.6) {
                let v = g.combine();
                if y_mode == YMode::InPlace && g.rng.chance(0.5) {
                    g.update(&v, "%y", &j.to_string());
                    g.y_read = true;
                } else {
                    let v = g.bounded_arg(v);
                    g.store(&v, "%y", &j.to_string());
                }
            }
        }
    }
    let ret = if ret_double { Some(g.combine()) } else { None };
    // Now and then the result passes through a helper as the last thing the function does: a
    // call reverse mode fuses with its reversal. Drawn from a stream of its own, so that the
    // rest of each seed's function stays as it was.
    let ret = ret.map(|r| {
        let mut tail = Rng::new(seed ^ 0x7a11_ca11);
        let cands: Vec<Helper> = helpers.iter().filter(|h| matches!(h.kind, HelperKind::Scalar | HelperKind::Recursive)).cloned().collect();
        if cands.is_empty() || !tail.chance(0.5) {
            return r;
        }
        let h = cands[tail.below(cands.len())].clone();
        let a = g.bounded_arg(r);
        let t = g.fresh();
        match h.kind {
            HelperKind::Scalar => g.emit(format!("{t} = call double @{}(double {}, double {})", h.name, a.name, a.name)),
            _ => g.emit(format!("{t} = call double @{}(double {}, i64 2)", h.name, a.name)),
        }
        Val { name: t, bound: h.bound }
    });
    let y_read = g.y_read;
    let text = std::mem::take(&mut g.text);
    let rng = g.rng;
    let rty = if ret_double { "double" } else { "void" };
    let _ = writeln!(body, "define {rty} @{name}({}) {{\nentry:", params.join(", "));
    body.push_str(&text);
    match ret {
        Some(r) => {
            let _ = writeln!(body, "  ret double {}\n}}", r.name);
        }
        None => body.push_str("  ret void\n}\n"),
    }
    let _ = y_read; // In-place reads are allowed in both modes (see `YMode::Output`).

    let extra_fwd_width = if rng.chance(0.4) { Some(rng.int(2, 3) as u32) } else { None };
    let rev_width2 = !ret_double && scalars == 0 && rng.chance(0.4);
    Case {
        seed,
        name,
        decls,
        body,
        n,
        m,
        y_mode,
        scalars,
        ret_double,
        x_active,
        extra_fwd_width,
        rev_width2,
    }
}
