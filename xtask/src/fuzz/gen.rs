//! A generator of random differentiable Rust source, written the way users write Rust: `Vec`s
//! allocated inside, structs with a `Vec` field, enums with payloads in `Result`s, slices and
//! `Const` data beside the differentiated slice, iterator chains and closures, calls of helper
//! functions, branches, loops and sorting.
//!
//! Every generated function has the shape `fn f_K(x: &[f64], c: &[f64]) -> f64` with `x`
//! differentiated and `c` constant data, both of length [`N`]. Expressions keep values bounded
//! (divisions by `1.5 + t²`, `exp` of small arguments, `ln(1 + t²)`) so that the derivative
//! exists and finite differences are accurate. The program's `main` checks each function's
//! reverse gradient against central finite differences and its forward derivatives against the
//! reverse gradient, and prints one line per function.

/// Length of `x` and `c`.
pub const N: usize = 6;

/// splitmix64: a small deterministic generator, so that a seed names a program exactly.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    /// Uniform in `[lo, hi)`, printed with 3 decimals (the source shows exactly this value).
    pub fn float(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((lo + (hi - lo) * u) * 1000.0).round() / 1000.0
    }
}

/// A literal that Rust reads as an `f64`.
fn lit(v: f64) -> String {
    format!("{v:?}_f64")
}

/// Builds one function body: statements over scalar (`sK: f64`) and vector (`vK: Vec<f64>` of
/// length `N`) locals.
struct Body<'r> {
    rng: &'r mut Rng,
    lines: Vec<String>,
    scalars: Vec<String>,
    vectors: Vec<String>,
    next: usize,
    helpers: usize,
    /// `x` and `c` are in scope (not in a helper).
    inputs: bool,
}

impl Body<'_> {
    fn fresh(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next)
    }

    /// A scalar operand: a local, an element of `x` or `c`, or a constant.
    fn leaf(&mut self, extra: &[&str]) -> String {
        let r = self.rng.below(10);
        if !extra.is_empty() && (r < 4 || !self.inputs) {
            if self.inputs || r < 8 {
                return extra[self.rng.below(extra.len())].to_string();
            }
            return lit(self.rng.float(0.2, 2.0));
        }
        match r {
            0..=3 if !self.scalars.is_empty() => self.scalars[self.rng.below(self.scalars.len())].clone(),
            0..=5 => format!("x[{}]", self.rng.below(N)),
            6 | 7 => format!("c[{}]", self.rng.below(N)),
            8 if !self.vectors.is_empty() => {
                let v = self.vectors[self.rng.below(self.vectors.len())].clone();
                format!("{v}[{}]", self.rng.below(N))
            }
            _ => lit(self.rng.float(0.2, 2.0)),
        }
    }

    /// A bounded smooth expression of depth at most `depth`; `extra` are closure parameters.
    fn expr(&mut self, depth: u32, extra: &[&str]) -> String {
        if depth == 0 || self.rng.chance(25) {
            return self.leaf(extra);
        }
        let a = self.expr(depth - 1, extra);
        match self.rng.below(14) {
            0 | 1 => format!("({a} + {})", self.expr(depth - 1, extra)),
            2 => format!("({a} - {})", self.expr(depth - 1, extra)),
            3 | 4 => format!("({a} * {})", self.expr(depth - 1, extra)),
            5 => {
                let b = self.expr(depth - 1, extra);
                format!("({a} / (1.5 + {b} * {b}))")
            }
            6 => format!("({a}).sin()"),
            7 => format!("({a}).cos()"),
            8 => format!("(0.3 * {a}).tanh()"),
            9 => format!("(0.2 * ({a}).tanh()).exp()"),
            10 => format!("(1.0 + {a} * {a}).ln()"),
            11 => format!("(1.0 + {a} * {a}).sqrt()"),
            12 => format!("({a}).powi({})", 2 + self.rng.below(2)),
            _ => format!("({a}).mul_add({}, {})", self.leaf(extra), self.leaf(extra)),
        }
    }

    fn scalar(&mut self, line: String, name: String) {
        self.lines.push(line);
        self.scalars.push(name);
    }

    /// One random statement.
    fn statement(&mut self) {
        let kind = self.rng.below(16);
        match kind {
            0 | 1 => {
                let s = self.fresh("s");
                let e = self.expr(3, &[]);
                self.scalar(format!("let {s}: f64 = {e};"), s);
            }
            2 => {
                // collect from an iterator chain with a closure
                let v = self.fresh("v");
                let e = self.expr(2, &["t"]);
                self.lines.push(format!("let {v}: Vec<f64> = x.iter().map(|&t| {e}).collect();"));
                self.vectors.push(v);
            }
            3 if !self.vectors.is_empty() => {
                // zip a local vector with the constant data
                let src = self.vectors[self.rng.below(self.vectors.len())].clone();
                let v = self.fresh("v");
                let e = self.expr(2, &["a", "b"]);
                self.lines.push(format!("let {v}: Vec<f64> = {src}.iter().zip(c).map(|(&a, &b)| {e}).collect();"));
                self.vectors.push(v);
            }
            4 => {
                // a loop filling a Vec allocated inside
                let v = self.fresh("v");
                let e = self.expr(2, &["x[i]", "c[i]"]);
                self.lines.push(format!("let mut {v} = vec![0.0; N];"));
                self.lines.push(format!("for i in 0..N {{ {v}[i] = {e}; }}"));
                self.vectors.push(v);
            }
            5 => {
                // accumulate in a loop, reading x and c beside each other: a sum, or a
                // nonlinear recurrence (whose values the reversal keeps per iteration) over a
                // range up, down, by two, or a counter in a `while`
                let s = self.fresh("s");
                let e = self.expr(2, &["x[i]", "c[i]"]);
                self.lines.push(format!("let mut {s}: f64 = 0.0;"));
                let line = match self.rng.below(4) {
                    0 => format!("for i in 0..N {{ {s} += {e}; }}"),
                    1 => format!("for i in (0..N).rev() {{ {s} = 0.5 * {s} + ({e}) * {s}.cos(); }}"),
                    2 => format!("for i in (0..N).step_by(2) {{ {s} = ({s} + {e}).sin(); }}"),
                    _ => format!("let mut i = 0; while i < N {{ {s} = (0.7 * {s} + {e}).tanh(); i += 1; }}"),
                };
                self.lines.push(line);
                self.scalars.push(s);
            }
            6 => {
                // sum over a zip of x and the constant data
                let s = self.fresh("s");
                let e = self.expr(2, &["a", "b"]);
                self.scalar(format!("let {s}: f64 = x.iter().zip(c.iter()).map(|(&a, &b)| {e}).sum();"), s);
            }
            7 if !self.vectors.is_empty() => {
                // sort a copy (a permutation: the adjoint follows the same moves)
                let src = self.vectors[self.rng.below(self.vectors.len())].clone();
                let v = self.fresh("v");
                self.lines.push(format!("let mut {v} = {src}.clone();"));
                self.lines.push(format!("{v}.sort_by(|a, b| a.partial_cmp(b).unwrap());"));
                self.vectors.push(v);
            }
            8 if !self.vectors.is_empty() => {
                // a struct with a Vec field and a method
                let src = self.vectors[self.rng.below(self.vectors.len())].clone();
                let s = self.fresh("s");
                let a = self.expr(2, &[]);
                self.scalar(format!("let {s} = Pair {{ a: {a}, b: {src}.clone() }}.eval(c);"), s);
            }
            9 => {
                // an enum with a payload in a Result
                let s = self.fresh("s");
                let a = self.expr(2, &[]);
                self.scalar(format!("let {s} = match checked({a}) {{ Ok(v) => v, Err(e) => e.fallback() }};"), s);
            }
            10 => {
                // a closure capturing constant data and a local
                let s = self.fresh("s");
                let cap = self.leaf(&[]);
                let e = self.expr(2, &["t"]);
                let (u, w) = (self.leaf(&[]), self.leaf(&[]));
                self.lines.push(format!("let w = |t: f64| {e} * c[{}] + {cap};", self.rng.below(N)));
                self.scalar(format!("let {s} = w({u}) * w({w});"), s);
            }
            11 if self.helpers > 0 => {
                let s = self.fresh("s");
                let h = self.rng.below(self.helpers);
                let (a, b) = (self.expr(2, &[]), self.expr(1, &[]));
                self.scalar(format!("let {s} = helper{h}({a}, {b});"), s);
            }
            12 => {
                // a branch on differentiated data
                let s = self.fresh("s");
                let cond = self.leaf(&[]);
                let (t, e) = (self.expr(2, &[]), self.expr(2, &[]));
                let j = self.rng.below(N);
                self.scalar(format!("let {s} = if {cond} > c[{j}] {{ {t} }} else {{ {e} }};"), s);
            }
            13 => {
                // a fixed-size array filled in a loop
                let s = self.fresh("s");
                let a = self.fresh("arr");
                let e = self.expr(2, &["x[k % N]", "c[(k + 1) % N]"]);
                self.lines.push(format!("let mut {a} = [0.0f64; 4];"));
                self.lines.push(format!("for k in 0..4 {{ {a}[k] = {e}; }}"));
                self.scalar(format!("let {s}: f64 = {a}.iter().sum();"), s);
            }
            14 if !self.vectors.is_empty() => {
                // windows, enumerate and fold over a local vector
                let src = self.vectors[self.rng.below(self.vectors.len())].clone();
                let s = self.fresh("s");
                let pick = self.rng.below(3);
                let line = match pick {
                    0 => format!("let {s}: f64 = {src}.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum();"),
                    1 => format!("let {s}: f64 = {src}.iter().enumerate().filter(|(i, _)| i % 2 == 0).map(|(_, v)| v * v).sum();"),
                    _ => format!("let {s} = {src}.iter().fold(0.0, |acc, v| 0.5 * acc + v);"),
                };
                self.scalar(line, s);
            }
            _ => {
                // a data-dependent while loop (the trip count is locally constant)
                let s = self.fresh("s");
                let a = self.expr(2, &[]);
                self.lines.push(format!("let mut {s} = {a};"));
                self.lines.push(format!("let mut n = 0; while {s}.abs() > 0.3 && n < 6 {{ {s} *= 0.7; n += 1; }}"));
                self.scalars.push(s);
            }
        }
    }
}

/// Source of `fn helper{k}(a: f64, b: f64) -> f64`.
fn helper(rng: &mut Rng, k: usize) -> String {
    let mut b = Body { rng, lines: Vec::new(), scalars: Vec::new(), vectors: Vec::new(), next: 0, helpers: 0, inputs: false };
    let e = b.expr(3, &["a", "b"]);
    format!("#[inline(never)]\nfn helper{k}(a: f64, b: f64) -> f64 {{\n    {e}\n}}\n")
}

/// Source of `fn f_{k}(x: &[f64], c: &[f64]) -> f64` and its two derivatives.
fn function(rng: &mut Rng, k: usize, helpers: usize) -> String {
    let mut b = Body { rng, lines: Vec::new(), scalars: Vec::new(), vectors: Vec::new(), next: 0, helpers, inputs: true };
    // The first statement reads x, so that the result depends on it.
    let e = b.expr(2, &["x[0]", "x[1]"]);
    b.scalar(format!("let s0: f64 = {e} + x[{}];", N - 1), "s0".into());
    let count = 2 + b.rng.below(6);
    for _ in 0..count {
        b.statement();
    }
    // The result: a few scalars and the sum of a vector.
    let mut terms: Vec<String> = Vec::new();
    for _ in 0..3 {
        let s = b.scalars[b.rng.below(b.scalars.len())].clone();
        if !terms.contains(&s) {
            terms.push(s);
        }
    }
    if let Some(v) = b.vectors.last() {
        terms.push(format!("0.1 * {v}.iter().sum::<f64>()"));
    }
    let mut out = format!("#[autodiff_reverse(rev_{k}, Duplicated, Const, Active)]\npub fn f_{k}(x: &[f64], c: &[f64]) -> f64 {{\n");
    for l in &b.lines {
        out.push_str("    ");
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(&format!("    {}\n}}\n", terms.join(" + ")));
    out.push_str(&format!(
        "#[autodiff_forward(fwd_{k}, Dual, Const, Dual)]\npub fn g_{k}(x: &[f64], c: &[f64]) -> f64 {{\n    f_{k}(x, c)\n}}\n"
    ));
    out
}

const PRELUDE: &str = r#"//! Generated by `cargo xtask fuzz` (seed SEED). Each `f_K` is checked by `check` below.
#![cfg_attr(not(feature = "stable"), feature(autodiff))]
#![allow(unused, clippy::all)]
#[cfg(not(feature = "stable"))]
use std::autodiff::{autodiff_forward, autodiff_reverse};
#[cfg(feature = "stable")]
use oxidase::autodiff::{autodiff_forward, autodiff_reverse};

const N: usize = NN;

pub struct Pair {
    a: f64,
    b: Vec<f64>,
}

impl Pair {
    fn eval(&self, c: &[f64]) -> f64 {
        self.a * self.b.iter().zip(c).map(|(u, w)| u * w).sum::<f64>() / (1.0 + self.a * self.a)
    }
}

#[derive(Debug)]
pub enum Bad {
    Large(usize),
    Negative { at: f64 },
}

impl Bad {
    fn fallback(&self) -> f64 {
        match self {
            Bad::Large(n) => 1.0 + *n as f64 * 1e-3,
            Bad::Negative { .. } => -1.0,
        }
    }
}

fn checked(v: f64) -> Result<f64, Bad> {
    if v > 40.0 {
        return Err(Bad::Large(v as usize));
    }
    if v < -40.0 {
        return Err(Bad::Negative { at: v });
    }
    Ok(0.5 * v + 1.0)
}

/// One line per function: `ok K`, `nonsmooth K` (finite differences disagree with themselves),
/// `nonfinite K`, or `WRONG K <what>`.
fn check(k: usize, f: fn(&[f64], &[f64]) -> f64, rev: fn(&[f64], &mut [f64], &[f64], f64) -> f64, fwd: fn(&[f64], &[f64], &[f64]) -> (f64, f64), x: &[f64], c: &[f64]) {
    let y = f(x, c);
    if !y.is_finite() {
        println!("nonfinite {k}");
        return;
    }
    let mut g = vec![0.0; x.len()];
    let yr = rev(x, &mut g, c, 1.0);
    if (yr - y).abs() > 1e-12 * (1.0 + y.abs()) {
        println!("WRONG {k} primal of the reverse derivative {yr} != {y}");
        return;
    }
    let mut xp = x.to_vec();
    let mut smooth = true;
    for i in 0..x.len() {
        let fd = |h: f64, xp: &mut Vec<f64>| {
            xp[i] = x[i] + h;
            let a = f(xp, c);
            xp[i] = x[i] - h;
            let b = f(xp, c);
            xp[i] = x[i];
            (a - b) / (2.0 * h)
        };
        let h = 1e-5 * x[i].abs().max(1.0);
        let (d1, d2) = (fd(h, &mut xp), fd(h / 4.0, &mut xp));
        if (d1 - d2).abs() > 1e-5 * (1.0 + d1.abs()) {
            smooth = false;
            continue;
        }
        if (g[i] - d1).abs() > 1e-5 * (1.0 + g[i].abs().max(d1.abs())) {
            println!("WRONG {k} reverse d/dx{i} = {} but finite differences give {d1}", g[i]);
            return;
        }
    }
    for i in 0..x.len() {
        let mut e = vec![0.0; x.len()];
        e[i] = 1.0;
        let (yf, t) = fwd(x, &e, c);
        if (yf - y).abs() > 1e-12 * (1.0 + y.abs()) {
            println!("WRONG {k} primal of the forward derivative {yf} != {y}");
            return;
        }
        if (t - g[i]).abs() > 1e-9 * (1.0 + t.abs().max(g[i].abs())) {
            println!("WRONG {k} forward d/dx{i} = {t} but reverse gives {}", g[i]);
            return;
        }
    }
    println!("{} {k}", if smooth { "ok" } else { "nonsmooth" });
}
"#;

/// The source of a program with `count` functions `f_{first}..`, from `seed`.
pub fn program(seed: u64, first: usize, count: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut src = PRELUDE.replace("SEED", &seed.to_string()).replace("NN", &N.to_string());
    let helpers = 3;
    for h in 0..helpers {
        src.push_str(&helper(&mut rng, h));
    }
    let ids: Vec<usize> = (first..first + count).collect();
    for &k in &ids {
        src.push_str(&format!("#[cfg(not(skip_{k}))]\nmod m{k} {{\nuse super::*;\n"));
        src.push_str(&function(&mut rng, k, helpers));
        src.push_str("}\n");
    }
    let x: Vec<String> = (0..N).map(|_| lit(rng.float(-1.5, 1.5))).collect();
    let c: Vec<String> = (0..N).map(|_| lit(rng.float(-1.5, 1.5))).collect();
    src.push_str(&format!(
        "\nfn main() {{\n    let x = [{}];\n    let c = [{}];\n",
        x.join(", "),
        c.join(", ")
    ));
    for &k in &ids {
        src.push_str(&format!(
            "    #[cfg(not(skip_{k}))]\n    if std::panic::catch_unwind(|| check({k}, m{k}::f_{k}, m{k}::rev_{k}, m{k}::fwd_{k}, &x, &c)).is_err() {{ println!(\"WRONG {k} panicked\"); }}\n"
        ));
    }
    src.push_str("}\n");
    src
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_names_a_program() {
        assert_eq!(program(7, 0, 5), program(7, 0, 5));
        assert_ne!(program(7, 0, 5), program(8, 0, 5));
        let p = program(7, 10, 3);
        for k in 10..13 {
            assert!(p.contains(&format!("fn f_{k}(")) && p.contains(&format!("skip_{k}")), "{p}");
        }
        if let Ok(path) = std::env::var("OXIDASE_FUZZ_WRITE") {
            std::fs::write(path, program(7, 0, 25)).unwrap();
        }
    }

    #[test]
    fn every_statement_kind_is_generated() {
        let p = program(1, 0, 60);
        for needle in [".collect()", "vec![0.0; N]", "sort_by", "Pair {", "checked(", "let w = |t: f64|", "helper", "} else {", "[0.0f64; 4]", "while ", ".zip(c", ".rev()", ".step_by(2)", "while i < N"] {
            assert!(p.contains(needle), "no `{needle}` in 60 functions");
        }
    }
}
