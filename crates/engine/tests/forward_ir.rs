//! IR-level tests of forward mode.
//!
//! Every `tests/ir/*.ll` file holds hand-written primal functions and comment directives saying
//! what to differentiate and where to evaluate. For each file the harness
//!
//! 1. parses the file into a fresh context and runs [`Engine::forward`] for every request;
//! 2. verifies the module and runs `FileCheck` on its printed text with the `.ll` file as the
//!    check file (only when the file has `; CHECK` lines);
//! 3. adds one wrapper per primal and per derivative with a uniform ABI,
//!    `void (ptr %in, ptr %out)`: parameter `i` is read from the 8-byte slot `in[i]`, and the
//!    leaves of the (flattened, possibly nested) result are written to `out[0..]`;
//! 4. JIT-compiles the module and calls primal and derivatives on the given inputs, checking
//!    * that the derivative's primal results (return value and memory) equal the primal's;
//!    * every tangent lane (return value and shadow memory of `Dual` pointers) against a central
//!      finite difference of the primal along that lane's seed direction;
//!    * for `width > 1`, every lane against the width-1 derivative with the same activities;
//!    * `EXPECT` lines against analytic values.
//!
//! Directives (one per line, anywhere in the file):
//!
//! ```text
//! ; FWD: @f width=2 args=dual,const,@g     request; `@g` = ArgActivity::Constant(@g); width defaults to 1
//! ; AT: @f 1.5, [1, 2, 3], 3, @g           evaluation point for every request of @f
//! ; EXPECT: @f args=dual,const at 2.0, 3.0 seed 1.0 => 11.5
//! ; FWD-ERROR: @f args=dual => "mystery" "`f`"
//! ```
//!
//! Arguments: a number (typed by the parameter: double, float or integer), a buffer for a `ptr`
//! parameter (`[1, 2, 3]`, `[0.0; 4]`, prefixed `f32` or `i64` for other element types; default
//! `f64`), `@name` (the address of a function of the module), or `null`.
//! `EXPECT` seeds: one per `Dual` parameter (a number, or a buffer for a pointer); expected values:
//! the tangents of the float leaves of the result, then the final shadow contents of every `Dual`
//! float buffer, in parameter order.
//! `FWD-ERROR`: the request must fail with an error whose `Display` contains every quoted string;
//! the module must still verify afterwards.
//!
//! Derivatives are named `<f>.oxidase.fwd<N>`; CHECK lines should match `N` with a regex.
//!
//! Each file runs in a child process (this binary, filtered to that one test), so a generated
//! function that crashes fails its own test with a message instead of killing the whole run.
//! `bug_*.ll` files reproduce known engine bugs (described in their header comments); their
//! tests are `#[ignore]`d until the bug is fixed (`cargo test -p oxidase-engine --test
//! forward_ir -- --ignored` shows their status).
//!
//! Set `OXIDASE_TEST_DUMP=1` to print each module after differentiation, and
//! `OXIDASE_IR_PROBE=/path/file.ll` with `-- --ignored probe` to run the harness on any file.

use oxidase_engine::{ArgActivity, Engine, ForwardKey, Options};
use oxidase_llvm::jit::Jit;
use oxidase_llvm::llvm_sys::prelude::LLVMModuleRef;
use oxidase_llvm::module::{self, Context};
use oxidase_llvm::{Block, Builder, Type, TypeKind, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const FILECHECK: &str = "/usr/lib/llvm-22/bin/FileCheck";

// ---------------------------------------------------------------------------------------------
// Directives
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Act {
    Const,
    Dual,
    /// `ArgActivity::Constant(@name)`.
    Func(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Elem {
    F64,
    F32,
    I64,
}

#[derive(Clone, Debug)]
struct Buf {
    elem: Elem,
    vals: Vec<f64>,
}

#[derive(Clone, Debug)]
enum Arg {
    Num(f64),
    Buf(Buf),
    Func(String),
    Null,
}

/// Identifies a derivative: function, activities, width.
type ReqKey = (String, Vec<Act>, u32);

#[derive(Clone, Debug)]
struct Request {
    key: ReqKey,
    line: usize,
}

#[derive(Clone, Debug)]
struct Point {
    func: String,
    args: Vec<Arg>,
    line: usize,
}

#[derive(Clone, Debug)]
struct Expect {
    func: String,
    acts: Vec<Act>,
    args: Vec<Arg>,
    seeds: Vec<Arg>,
    values: Vec<f64>,
    line: usize,
}

#[derive(Clone, Debug)]
struct ErrorCase {
    key: ReqKey,
    needles: Vec<String>,
    line: usize,
}

#[derive(Debug, Default)]
struct Spec {
    requests: Vec<Request>,
    points: Vec<Point>,
    expects: Vec<Expect>,
    errors: Vec<ErrorCase>,
    has_checks: bool,
}

fn parse_spec(text: &str) -> Result<Spec, String> {
    let mut spec = Spec::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        let Some(body) = l.strip_prefix(';') else {
            continue;
        };
        let body = body.trim();
        let ctx = |e: String| format!("line {line}: {e}: `{raw}`");
        if body.starts_with("CHECK") {
            spec.has_checks = true;
        } else if let Some(rest) = body.strip_prefix("FWD:") {
            let (func, acts, width) = parse_request(rest).map_err(ctx)?;
            spec.requests.push(Request {
                key: (func, acts, width),
                line,
            });
        } else if let Some(rest) = body.strip_prefix("FWD-ERROR:") {
            let (head, tail) = rest
                .split_once("=>")
                .ok_or_else(|| ctx("missing `=>`".into()))?;
            let (func, acts, width) = parse_request(head).map_err(ctx)?;
            let needles: Vec<String> = tail
                .split('"')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            if needles.is_empty() {
                return Err(ctx("no quoted strings after `=>`".into()));
            }
            spec.errors.push(ErrorCase {
                key: (func, acts, width),
                needles,
                line,
            });
        } else if let Some(rest) = body.strip_prefix("AT:") {
            let rest = rest.trim();
            let (func, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let func = parse_func_name(func).map_err(ctx)?;
            let args = parse_args(args).map_err(ctx)?;
            spec.points.push(Point { func, args, line });
        } else if let Some(rest) = body.strip_prefix("EXPECT:") {
            let (head, values) = rest
                .split_once("=>")
                .ok_or_else(|| ctx("missing `=>`".into()))?;
            let (head, seeds) = head
                .split_once(" seed ")
                .ok_or_else(|| ctx("missing ` seed `".into()))?;
            let (head, args) = head
                .split_once(" at ")
                .ok_or_else(|| ctx("missing ` at `".into()))?;
            let (func, acts, width) = parse_request(head).map_err(ctx)?;
            if width != 1 {
                return Err(ctx("EXPECT is for width 1".into()));
            }
            let values = split_top(values)
                .iter()
                .map(|v| parse_num(v))
                .collect::<Result<Vec<_>, _>>()
                .map_err(ctx)?;
            spec.expects.push(Expect {
                func,
                acts,
                args: parse_args(args).map_err(ctx)?,
                seeds: parse_args(seeds).map_err(ctx)?,
                values,
                line,
            });
        }
    }
    Ok(spec)
}

fn parse_func_name(s: &str) -> Result<String, String> {
    s.trim()
        .strip_prefix('@')
        .map(str::to_string)
        .ok_or_else(|| format!("expected `@name`, got `{s}`"))
}

/// `@f width=2 args=dual,const` → (f, activities, width).
fn parse_request(s: &str) -> Result<(String, Vec<Act>, u32), String> {
    let mut words = s.split_whitespace();
    let func = parse_func_name(words.next().ok_or("missing function")?)?;
    let mut width = 1;
    let mut acts = Vec::new();
    let mut has_args = false;
    for w in words {
        if let Some(v) = w.strip_prefix("width=") {
            width = v.parse().map_err(|e| format!("bad width `{v}`: {e}"))?;
        } else if let Some(v) = w.strip_prefix("args=") {
            has_args = true;
            for a in v.split(',').filter(|a| !a.is_empty()) {
                acts.push(match a {
                    "dual" => Act::Dual,
                    "const" => Act::Const,
                    _ if a.starts_with('@') => Act::Func(a[1..].to_string()),
                    _ => return Err(format!("bad activity `{a}`")),
                });
            }
        } else {
            return Err(format!("unknown word `{w}`"));
        }
    }
    if !has_args {
        return Err("missing `args=`".into());
    }
    Ok((func, acts, width))
}

/// Splits at commas that are not inside brackets.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            out.push(cur.trim().to_string());
            cur.clear();
        } else {
            cur.push(c);
        }
    }
    if !cur.trim().is_empty() || !out.is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn parse_num(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|e| format!("bad number `{s}`: {e}"))
}

fn parse_args(s: &str) -> Result<Vec<Arg>, String> {
    split_top(s).iter().map(|a| parse_arg(a)).collect()
}

fn parse_arg(s: &str) -> Result<Arg, String> {
    let s = s.trim();
    if s == "null" {
        return Ok(Arg::Null);
    }
    if let Some(f) = s.strip_prefix('@') {
        return Ok(Arg::Func(f.to_string()));
    }
    let (elem, rest) = if let Some(r) = s.strip_prefix("f32") {
        (Elem::F32, r)
    } else if let Some(r) = s.strip_prefix("i64") {
        (Elem::I64, r)
    } else if let Some(r) = s.strip_prefix("f64") {
        (Elem::F64, r)
    } else {
        (Elem::F64, s)
    };
    if let Some(inner) = rest.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| format!("unclosed buffer `{s}`"))?;
        let vals = if let Some((v, n)) = inner.split_once(';') {
            let v = parse_num(v)?;
            let n: usize = n
                .trim()
                .parse()
                .map_err(|e| format!("bad count in `{s}`: {e}"))?;
            vec![v; n]
        } else {
            split_top(inner)
                .iter()
                .map(|v| parse_num(v))
                .collect::<Result<_, _>>()?
        };
        return Ok(Arg::Buf(Buf { elem, vals }));
    }
    Ok(Arg::Num(parse_num(s)?))
}

// ---------------------------------------------------------------------------------------------
// Wrappers with a uniform ABI
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    F64,
    F32,
    Int(u32),
    Ptr,
}

impl Kind {
    fn is_float(self) -> bool {
        matches!(self, Kind::F64 | Kind::F32)
    }
}

fn kind_of(t: Type) -> Kind {
    match t.kind() {
        TypeKind::LLVMDoubleTypeKind => Kind::F64,
        TypeKind::LLVMFloatTypeKind => Kind::F32,
        TypeKind::LLVMIntegerTypeKind => {
            let w = t.int_width();
            assert!(w <= 64, "harness: integer type {} too wide", t.print());
            Kind::Int(w)
        }
        TypeKind::LLVMPointerTypeKind => Kind::Ptr,
        _ => panic!("harness: unsupported parameter/result type {}", t.print()),
    }
}

/// A compiled wrapper: `void (ptr in, ptr out)`.
#[derive(Clone, Debug)]
struct Callable {
    name: String,
    params: Vec<Kind>,
    leaves: Vec<Kind>,
    addr: u64,
}

/// Flattens an aggregate result into scalar leaves.
fn flatten(b: &Builder, v: Value, t: Type, out: &mut Vec<(Value, Kind)>) {
    if t.is_void() {
        return;
    }
    if t.is_struct() || t.is_array() {
        for i in 0..t.aggregate_len() {
            let e = b.extract_value(v, i);
            flatten(b, e, t.field(i), out);
        }
    } else {
        out.push((v, kind_of(t)));
    }
}

fn build_wrapper(m: LLVMModuleRef, callee: Value, name: &str) -> Callable {
    let ctx = module::context_of(m);
    let ptr = Type::ptr(ctx);
    let w = module::add_function(m, name, Type::function(Type::void(ctx), &[ptr, ptr], false));
    let b = Builder::new(ctx);
    b.position_at_end(Block::append(ctx, w, "entry"));
    let (inp, outp) = (w.param(0), w.param(1));
    let (i8t, i64t) = (Type::i8(ctx), Type::i64(ctx));
    let fty = callee.function_type();
    let mut args = Vec::new();
    let mut params = Vec::new();
    for (i, t) in fty.param_types().into_iter().enumerate() {
        params.push(kind_of(t));
        let p = b.gep(i8t, inp, &[i64t.const_int(8 * i as u64)]);
        args.push(b.load(t, p));
    }
    let r = b.call(fty, callee, &args);
    let mut leaves = Vec::new();
    flatten(&b, r, fty.return_type(), &mut leaves);
    for (j, (v, _)) in leaves.iter().enumerate() {
        let p = b.gep(i8t, outp, &[i64t.const_int(8 * j as u64)]);
        b.store(*v, p);
    }
    b.ret_void();
    Callable {
        name: name.to_string(),
        params,
        leaves: leaves.into_iter().map(|(_, k)| k).collect(),
        addr: 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Calling
// ---------------------------------------------------------------------------------------------

const PAD: usize = 4;
const CANARY: u8 = 0xA5;

impl Elem {
    fn size(self) -> usize {
        match self {
            Elem::F32 => 4,
            _ => 8,
        }
    }
    fn is_float(self) -> bool {
        self != Elem::I64
    }
}

/// A buffer laid out in memory, followed by canary bytes.
struct Raw {
    elem: Elem,
    n: usize,
    mem: Vec<u64>,
}

impl Raw {
    fn new(b: &Buf) -> Raw {
        let size = b.elem.size();
        let bytes = (b.vals.len() + PAD) * size;
        let mut r = Raw {
            elem: b.elem,
            n: b.vals.len(),
            mem: vec![0; bytes.div_ceil(8)],
        };
        let p = r.mem.as_mut_ptr() as *mut u8;
        unsafe {
            std::ptr::write_bytes(p, CANARY, r.mem.len() * 8);
            for (i, &v) in b.vals.iter().enumerate() {
                let at = p.add(i * size);
                match b.elem {
                    Elem::F64 => (at as *mut f64).write_unaligned(v),
                    Elem::F32 => (at as *mut f32).write_unaligned(v as f32),
                    Elem::I64 => (at as *mut i64).write_unaligned(v as i64),
                }
            }
        }
        r
    }
    fn ptr(&mut self) -> u64 {
        self.mem.as_mut_ptr() as u64
    }
    fn read(&self) -> Result<Buf, String> {
        let size = self.elem.size();
        let p = self.mem.as_ptr() as *const u8;
        let mut vals = Vec::with_capacity(self.n);
        unsafe {
            for i in 0..self.n {
                let at = p.add(i * size);
                vals.push(match self.elem {
                    Elem::F64 => (at as *const f64).read_unaligned(),
                    Elem::F32 => (at as *const f32).read_unaligned() as f64,
                    Elem::I64 => (at as *const i64).read_unaligned() as f64,
                });
            }
            for i in self.n * size..self.mem.len() * 8 {
                if *p.add(i) != CANARY {
                    return Err(format!(
                        "write past the end of a {}-element buffer (byte {i})",
                        self.n
                    ));
                }
            }
        }
        Ok(Buf {
            elem: self.elem,
            vals,
        })
    }
}

/// One input slot of a call.
#[derive(Clone, Debug)]
enum In {
    Scalar(f64),
    Buf(Buf),
    Addr(u64),
}

struct Outcome {
    leaves: Vec<f64>,
    /// Final contents of the buffer passed in slot `i`.
    bufs: Vec<Option<Buf>>,
}

fn scalar_bits(k: Kind, v: f64) -> Result<u64, String> {
    Ok(match k {
        Kind::F64 => v.to_bits(),
        Kind::F32 => (v as f32).to_bits() as u64,
        Kind::Int(_) => {
            if v.fract() != 0.0 {
                return Err(format!("integer parameter given {v}"));
            }
            v as i64 as u64
        }
        Kind::Ptr => return Err(format!("pointer parameter given the number {v}")),
    })
}

fn leaf_value(k: Kind, bits: u64) -> f64 {
    match k {
        Kind::F64 => f64::from_bits(bits),
        Kind::F32 => f32::from_bits(bits as u32) as f64,
        Kind::Int(w) => {
            let v = if w < 64 {
                bits & ((1u64 << w) - 1)
            } else {
                bits
            };
            v as i64 as f64
        }
        Kind::Ptr => bits as f64,
    }
}

fn call(c: &Callable, ins: &[In]) -> Result<Outcome, String> {
    if ins.len() != c.params.len() {
        return Err(format!(
            "harness: {} takes {} slots, {} given",
            c.name,
            c.params.len(),
            ins.len()
        ));
    }
    let mut raws: Vec<Option<Raw>> = Vec::new();
    let mut slots = vec![0u64; ins.len()];
    for (i, (input, &k)) in ins.iter().zip(&c.params).enumerate() {
        raws.push(None);
        slots[i] = match input {
            In::Scalar(v) => scalar_bits(k, *v).map_err(|e| format!("slot {i}: {e}"))?,
            In::Addr(a) if k == Kind::Ptr => *a,
            In::Buf(b) if k == Kind::Ptr => {
                let mut r = Raw::new(b);
                let p = r.ptr();
                raws[i] = Some(r);
                p
            }
            _ => {
                return Err(format!(
                    "slot {i}: {input:?} given for a parameter of kind {k:?}"
                ))
            }
        };
    }
    let mut out = vec![0u64; c.leaves.len().max(1)];
    // SAFETY: the wrapper has exactly this signature; buffers outlive the call.
    let f: extern "C" fn(*const u64, *mut u64) = unsafe { std::mem::transmute(c.addr as usize) };
    f(slots.as_ptr(), out.as_mut_ptr());
    let leaves = c
        .leaves
        .iter()
        .zip(&out)
        .map(|(&k, &b)| leaf_value(k, b))
        .collect();
    let mut bufs = Vec::new();
    for r in &raws {
        bufs.push(match r {
            Some(r) => Some(r.read()?),
            None => None,
        });
    }
    Ok(Outcome { leaves, bufs })
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// A deterministic seed in ±[0.25, 1).
fn seed(lane: usize, param: usize, elem: usize) -> f64 {
    let x = ((lane * 131 + param * 37 + elem * 11 + 7) as f64 * 0.618_033_988_749_895).fract();
    let v = 0.25 + 0.75 * x;
    if (lane + param + elem).is_multiple_of(2) {
        v
    } else {
        -v
    }
}

/// Seeds of one lane: per primal parameter, `Some` for `Dual` ones.
type LaneSeeds = Vec<Option<Arg>>;

fn lane_seeds(acts: &[Act], point: &[Arg], lane: usize) -> LaneSeeds {
    acts.iter()
        .zip(point)
        .enumerate()
        .map(|(i, (a, p))| match (a, p) {
            (Act::Dual, Arg::Num(_)) => Some(Arg::Num(seed(lane, i, 0))),
            (Act::Dual, Arg::Buf(b)) => Some(Arg::Buf(Buf {
                elem: b.elem,
                vals: (0..b.vals.len())
                    .map(|e| {
                        if b.elem.is_float() {
                            seed(lane, i, e)
                        } else {
                            0.0
                        }
                    })
                    .collect(),
            })),
            (Act::Dual, other) => Some(other.clone()),
            _ => None,
        })
        .collect()
}

struct Ctx<'a> {
    file: &'a str,
    funcs: &'a HashMap<String, u64>,
    failures: Vec<String>,
}

impl Ctx<'_> {
    fn input(&self, a: &Arg) -> Result<In, String> {
        Ok(match a {
            Arg::Num(v) => In::Scalar(*v),
            Arg::Buf(b) => In::Buf(b.clone()),
            Arg::Null => In::Addr(0),
            Arg::Func(f) => In::Addr(
                *self
                    .funcs
                    .get(f)
                    .ok_or_else(|| format!("no function @{f}"))?,
            ),
        })
    }

    fn run_primal(&self, p: &Callable, point: &[Arg]) -> Result<Outcome, String> {
        let ins = point
            .iter()
            .map(|a| self.input(a))
            .collect::<Result<Vec<_>, _>>()?;
        call(p, &ins)
    }

    /// Runs a derivative; returns (primal leaves, lane leaves, primal buffers, lane shadow
    /// buffers), buffers indexed by primal parameter.
    fn run_derivative(
        &self,
        d: &Callable,
        acts: &[Act],
        point: &[Arg],
        seeds: &[LaneSeeds],
    ) -> Result<DerivOut, String> {
        let width = seeds.len();
        let mut ins = Vec::new();
        // (slot, primal param, lane or None for primal)
        let mut slot_of = Vec::new();
        for (i, (a, p)) in acts.iter().zip(point).enumerate() {
            match a {
                Act::Func(_) => {}
                Act::Const => {
                    slot_of.push((i, None));
                    ins.push(self.input(p)?);
                }
                Act::Dual => {
                    slot_of.push((i, None));
                    ins.push(self.input(p)?);
                    for (k, s) in seeds.iter().enumerate() {
                        slot_of.push((i, Some(k)));
                        ins.push(self.input(s[i].as_ref().ok_or("harness: missing seed")?)?);
                    }
                }
            }
        }
        let o = call(d, &ins)?;
        let r = o.leaves.len() / (1 + width);
        let mut out = DerivOut {
            primal: o.leaves[..r].to_vec(),
            lanes: (0..width)
                .map(|k| o.leaves[r * (1 + k)..r * (2 + k)].to_vec())
                .collect(),
            primal_bufs: vec![None; acts.len()],
            shadow_bufs: vec![vec![None; acts.len()]; width],
        };
        for ((i, lane), b) in slot_of.into_iter().zip(o.bufs) {
            match lane {
                None => out.primal_bufs[i] = b,
                Some(k) => out.shadow_bufs[k][i] = b,
            }
        }
        Ok(out)
    }
}

struct DerivOut {
    primal: Vec<f64>,
    lanes: Vec<Vec<f64>>,
    primal_bufs: Vec<Option<Buf>>,
    shadow_bufs: Vec<Vec<Option<Buf>>>,
}

fn same(a: f64, b: f64, rtol: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= rtol * a.abs().max(b.abs()).max(1e-300)
}

fn fmt_point(point: &[Arg]) -> String {
    let parts: Vec<String> = point
        .iter()
        .map(|a| match a {
            Arg::Num(v) => format!("{v}"),
            Arg::Buf(b) => format!("{:?}{:?}", b.elem, b.vals),
            Arg::Func(f) => format!("@{f}"),
            Arg::Null => "null".into(),
        })
        .collect();
    format!("({})", parts.join(", "))
}

/// The point moved by `t · h · seed` along the `Dual` parameters.
fn perturb(point: &[Arg], seeds: &LaneSeeds, t: f64) -> Vec<Arg> {
    point
        .iter()
        .zip(seeds)
        .map(|(p, s)| match (p, s) {
            (Arg::Num(x), Some(Arg::Num(d))) => Arg::Num(x + t * d),
            (Arg::Buf(b), Some(Arg::Buf(d))) if b.elem.is_float() => Arg::Buf(Buf {
                elem: b.elem,
                vals: b.vals.iter().zip(&d.vals).map(|(x, d)| x + t * d).collect(),
            }),
            _ => p.clone(),
        })
        .collect()
}

/// Compares the derivative's primal part with the primal run.
fn check_primal(c: &mut Ctx, what: &str, primal: &Outcome, d: &DerivOut, leaves: &[Kind]) {
    for (j, (&a, &b)) in primal.leaves.iter().zip(&d.primal).enumerate() {
        let ok = if leaves[j].is_float() {
            same(a, b, 1e-12)
        } else {
            a == b
        };
        if !ok {
            c.failures.push(format!(
                "{what}: primal result leaf {j}: primal {a:e}, derivative {b:e}"
            ));
        }
    }
    for (i, (a, b)) in primal.bufs.iter().zip(&d.primal_bufs).enumerate() {
        if let (Some(a), Some(b)) = (a, b) {
            for (e, (&x, &y)) in a.vals.iter().zip(&b.vals).enumerate() {
                if !same(x, y, 1e-12) {
                    c.failures.push(format!(
                        "{what}: primal memory of parameter {i}[{e}]: primal {x:e}, derivative {y:e}"
                    ));
                }
            }
        }
    }
}

/// Float tangent outputs of one lane: (label, ad value) in a fixed order.
fn tangents(d: &DerivOut, lane: usize, leaves: &[Kind], acts: &[Act]) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for (j, &k) in leaves.iter().enumerate() {
        if k.is_float() {
            out.push((format!("result leaf {j}"), d.lanes[lane][j]));
        }
    }
    for (i, a) in acts.iter().enumerate() {
        if *a != Act::Dual {
            continue;
        }
        if let Some(b) = &d.shadow_bufs[lane][i] {
            if b.elem.is_float() {
                for (e, &v) in b.vals.iter().enumerate() {
                    out.push((format!("shadow of parameter {i}[{e}]"), v));
                }
            }
        }
    }
    out
}

/// The same outputs of a primal run (for finite differences).
fn primal_outputs(o: &Outcome, leaves: &[Kind], acts: &[Act]) -> Vec<f64> {
    let mut out = Vec::new();
    for (j, &k) in leaves.iter().enumerate() {
        if k.is_float() {
            out.push(o.leaves[j]);
        }
    }
    for (i, a) in acts.iter().enumerate() {
        if *a != Act::Dual {
            continue;
        }
        if let Some(b) = &o.bufs[i] {
            if b.elem.is_float() {
                out.extend(&b.vals);
            }
        }
    }
    out
}

fn uses_f32(point: &[Arg], leaves: &[Kind], params: &[Kind]) -> bool {
    leaves.contains(&Kind::F32)
        || params.contains(&Kind::F32)
        || point
            .iter()
            .any(|a| matches!(a, Arg::Buf(b) if b.elem == Elem::F32))
}

/// Checks one request at one point: primal part, every lane against finite differences, and
/// (width > 1) every lane against the width-1 derivative.
fn check_request(
    c: &mut Ctx,
    key: &ReqKey,
    point: &Point,
    primal: &Callable,
    deriv: &Callable,
    narrow: Option<&Callable>,
) -> Result<(), String> {
    let (func, acts, width) = key;
    let what = format!(
        "@{func} width={width} args={acts:?} at {} (AT line {})",
        fmt_point(&point.args),
        point.line
    );
    if point.args.len() != acts.len() {
        return Err(format!(
            "{what}: {} arguments for {} activities",
            point.args.len(),
            acts.len()
        ));
    }
    let base = c
        .run_primal(primal, &point.args)
        .map_err(|e| format!("{what}: primal: {e}"))?;
    let seeds: Vec<LaneSeeds> = (0..*width as usize)
        .map(|k| lane_seeds(acts, &point.args, k))
        .collect();
    let d = c
        .run_derivative(deriv, acts, &point.args, &seeds)
        .map_err(|e| format!("{what}: derivative: {e}"))?;
    check_primal(c, &what, &base, &d, &primal.leaves);

    let f32_mode = uses_f32(&point.args, &primal.leaves, &primal.params);
    let (hrel, rtol) = if f32_mode {
        (2f64.powi(-9), 5e-3)
    } else {
        (2f64.powi(-20), 1e-6)
    };
    let scale = point
        .args
        .iter()
        .zip(acts)
        .filter(|(_, a)| **a == Act::Dual)
        .flat_map(|(p, _)| match p {
            Arg::Num(x) => vec![x.abs()],
            Arg::Buf(b) if b.elem.is_float() => b.vals.iter().map(|x| x.abs()).collect(),
            _ => vec![],
        })
        .fold(1.0f64, f64::max);
    let h = hrel * scale;
    let ymag = primal_outputs(&base, &primal.leaves, acts)
        .iter()
        .fold(1.0f64, |m, y| m.max(y.abs()));

    for (k, lane) in seeds.iter().enumerate() {
        let plus = c
            .run_primal(primal, &perturb(&point.args, lane, h))
            .map_err(|e| format!("{what}: FD+: {e}"))?;
        let minus = c
            .run_primal(primal, &perturb(&point.args, lane, -h))
            .map_err(|e| format!("{what}: FD-: {e}"))?;
        let (yp, ym) = (
            primal_outputs(&plus, &primal.leaves, acts),
            primal_outputs(&minus, &primal.leaves, acts),
        );
        let ad = tangents(&d, k, &primal.leaves, acts);
        if ad.len() != yp.len() {
            return Err(format!(
                "{what}: lane {k}: {} tangent outputs but {} primal outputs",
                ad.len(),
                yp.len()
            ));
        }
        for ((label, a), (p, m)) in ad.iter().zip(yp.iter().zip(&ym)) {
            let fd = (p - m) / (2.0 * h);
            let tol = rtol * (a.abs().max(fd.abs()) + ymag);
            let ok = (a - fd).abs() <= tol; // false for NaN
            if !ok {
                c.failures.push(format!(
                    "{what}: lane {k}, {label}: AD {a:e} vs finite difference {fd:e}"
                ));
            }
        }
        if let Some(n) = narrow {
            let one = c
                .run_derivative(n, acts, &point.args, std::slice::from_ref(lane))
                .map_err(|e| format!("{what}: width-1 derivative: {e}"))?;
            for ((label, a), (_, b)) in ad.iter().zip(tangents(&one, 0, &primal.leaves, acts)) {
                if !same(*a, b, 1e-12) {
                    c.failures.push(format!(
                        "{what}: lane {k}, {label}: width {width} gives {a:e}, width 1 gives {b:e}"
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_expect(
    c: &mut Ctx,
    e: &Expect,
    primal: &Callable,
    deriv: &Callable,
) -> Result<(), String> {
    let what = format!(
        "EXPECT line {}: @{} args={:?} at {}",
        e.line,
        e.func,
        e.acts,
        fmt_point(&e.args)
    );
    if e.args.len() != e.acts.len() {
        return Err(format!(
            "{what}: {} arguments for {} activities",
            e.args.len(),
            e.acts.len()
        ));
    }
    let mut seeds = e.seeds.iter();
    let lane: LaneSeeds = e
        .acts
        .iter()
        .map(|a| {
            if *a == Act::Dual {
                seeds.next().cloned()
            } else {
                None
            }
        })
        .collect();
    if lane
        .iter()
        .zip(&e.acts)
        .any(|(s, a)| *a == Act::Dual && s.is_none())
        || seeds.next().is_some()
    {
        return Err(format!("{what}: give one seed per Dual parameter"));
    }
    let d = c
        .run_derivative(deriv, &e.acts, &e.args, &[lane])
        .map_err(|x| format!("{what}: {x}"))?;
    let got = tangents(&d, 0, &primal.leaves, &e.acts);
    if got.len() != e.values.len() {
        return Err(format!(
            "{what}: {} values expected, derivative has {} tangent outputs: {got:?}",
            e.values.len(),
            got.len()
        ));
    }
    let rtol = if uses_f32(&e.args, &primal.leaves, &primal.params) {
        1e-5
    } else {
        1e-9
    };
    for ((label, a), &x) in got.iter().zip(&e.values) {
        let ok = (a - x).abs() <= rtol * x.abs().max(1e-3); // false for NaN
        if !ok {
            c.failures
                .push(format!("{what}: {label}: got {a:e}, expected {x:e}"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------

fn ir_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ir")
}

fn filecheck(check_file: &Path, input: &str) -> Result<(), String> {
    let bin = std::env::var("FILECHECK").unwrap_or_else(|_| FILECHECK.to_string());
    if !Path::new(&bin).exists() {
        return Err(format!(
            "{bin} not found: run `cargo xtask setup` to install the LLVM 22 tools"
        ));
    }
    let mut child = Command::new(&bin)
        .arg(check_file)
        .arg("--dump-input=fail")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {bin}: {e}"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "FileCheck failed:\n{}{}\n--- module ---\n{input}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn forward_key(m: LLVMModuleRef, key: &ReqKey) -> Result<ForwardKey, String> {
    let (func, acts, width) = key;
    let f = module::get_function(m, func).ok_or_else(|| format!("no function @{func}"))?;
    let args = acts
        .iter()
        .map(|a| {
            Ok(match a {
                Act::Const => ArgActivity::Const,
                Act::Dual => ArgActivity::Dual,
                Act::Func(g) => ArgActivity::Constant(
                    module::get_function(m, g).ok_or_else(|| format!("no function @{g}"))?,
                ),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(ForwardKey {
        function: f,
        args,
        width: *width,
        runtime_activity: false,
    })
}

fn run_file(file: &str) {
    let path = ir_dir().join(file); // `file` may also be an absolute path
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = parse_spec(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(
        !spec.requests.is_empty() || !spec.errors.is_empty(),
        "{file}: no `; FWD:` or `; FWD-ERROR:` directive"
    );

    let ctx = Context::new();
    let owned = ctx
        .parse_ir(&text, file)
        .unwrap_or_else(|e| panic!("{file}: parse error: {e}"));
    let m = owned.raw();
    module::verify_module(m).unwrap_or_else(|e| panic!("{file}: the input does not verify: {e}"));
    let primal_text: Vec<(Value, String)> = module::functions(m)
        .into_iter()
        .map(|f| (f, f.print()))
        .collect();
    let mut engine = Engine::new(m, Options::default());

    // Requests in file order (CHECK lines follow it), then what the checks need besides.
    let mut keys: Vec<ReqKey> = spec.requests.iter().map(|r| r.key.clone()).collect();
    for r in &spec.requests {
        let (f, a, w) = &r.key;
        if *w > 1 {
            keys.push((f.clone(), a.clone(), 1));
        }
    }
    for e in &spec.expects {
        keys.push((e.func.clone(), e.acts.clone(), 1));
    }
    let mut derivs: HashMap<ReqKey, Value> = HashMap::new();
    let mut failures = Vec::new();
    let mut tried = std::collections::HashSet::new();
    for key in &keys {
        if !tried.insert(key.clone()) {
            continue;
        }
        let fk = forward_key(m, key).unwrap_or_else(|e| panic!("{file}: {key:?}: {e}"));
        match engine.forward(&fk) {
            Ok(df) => {
                derivs.insert(key.clone(), df);
            }
            Err(errs) => {
                let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
                failures.push(format!("forward {key:?} failed:\n{}", msgs.join("\n")));
            }
        }
    }

    for ec in &spec.errors {
        let fk = forward_key(m, &ec.key).unwrap_or_else(|e| panic!("{file}: {:?}: {e}", ec.key));
        match engine.forward(&fk) {
            Ok(df) => failures.push(format!(
                "FWD-ERROR line {}: {:?} succeeded (generated @{}) but an error was expected",
                ec.line,
                ec.key,
                df.name()
            )),
            Err(errs) => {
                let texts: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
                if !texts
                    .iter()
                    .any(|t| ec.needles.iter().all(|n| t.contains(n.as_str())))
                {
                    failures.push(format!(
                        "FWD-ERROR line {}: no error mentions all of {:?}; got:\n{}",
                        ec.line,
                        ec.needles,
                        texts.join("\n")
                    ));
                }
            }
        }
    }

    for (f, before) in &primal_text {
        if f.print() != *before {
            failures.push(format!(
                "differentiation changed the primal function @{}:\n{before}\n--- now ---\n{}",
                f.name(),
                f.print()
            ));
        }
    }
    let printed = module::print_module(m);
    if std::env::var_os("OXIDASE_TEST_DUMP").is_some() {
        eprintln!("--- {file} after differentiation ---\n{printed}");
    }
    if let Err(e) = module::verify_module(m) {
        panic!("{file}: the module does not verify after differentiation:\n{e}\n--- module ---\n{printed}");
    }
    if spec.has_checks {
        if let Err(e) = filecheck(&path, &printed) {
            failures.push(e);
        }
    }

    // Wrappers, then the JIT.
    let mut primals: HashMap<String, Callable> = HashMap::new();
    let mut wrapped: HashMap<ReqKey, Callable> = HashMap::new();
    let mut n = 0;
    let mut wrapper_name = || {
        n += 1;
        format!("__oxidase_test_wrapper.{n}")
    };
    let funcs_used: Vec<String> = spec
        .points
        .iter()
        .map(|p| p.func.clone())
        .chain(spec.expects.iter().map(|e| e.func.clone()))
        .collect();
    for f in &funcs_used {
        if !primals.contains_key(f) {
            let fv =
                module::get_function(m, f).unwrap_or_else(|| panic!("{file}: no function @{f}"));
            primals.insert(f.clone(), build_wrapper(m, fv, &wrapper_name()));
        }
    }
    for (key, df) in &derivs {
        wrapped.insert(key.clone(), build_wrapper(m, *df, &wrapper_name()));
    }
    let mut fn_names: Vec<String> = Vec::new();
    for args in spec
        .points
        .iter()
        .map(|p| &p.args)
        .chain(spec.expects.iter().map(|e| &e.args))
    {
        for a in args {
            if let Arg::Func(g) = a {
                fn_names.push(g.clone());
            }
        }
    }
    if let Err(e) = module::verify_module(m) {
        panic!("{file}: the module with test wrappers does not verify:\n{e}");
    }
    drop(engine);

    if !spec.points.is_empty() || !spec.expects.is_empty() {
        let jit = Jit::new(ctx, owned).unwrap_or_else(|e| panic!("{file}: JIT: {e}"));
        for c in primals.values_mut().chain(wrapped.values_mut()) {
            c.addr = jit
                .lookup(&c.name)
                .unwrap_or_else(|e| panic!("{file}: JIT lookup of {}: {e}", c.name));
        }
        let mut funcs = HashMap::new();
        for g in fn_names {
            let a = jit
                .lookup(&g)
                .unwrap_or_else(|e| panic!("{file}: JIT lookup of @{g}: {e}"));
            funcs.insert(g, a);
        }
        let mut c = Ctx {
            file,
            funcs: &funcs,
            failures,
        };
        let mut ran = 0;
        for r in &spec.requests {
            let (f, acts, w) = &r.key;
            let narrow_key = (f.clone(), acts.clone(), 1);
            if !wrapped.contains_key(&r.key) || (*w > 1 && !wrapped.contains_key(&narrow_key)) {
                continue; // generation failed: reported above
            }
            let narrow = if *w > 1 {
                Some(&wrapped[&narrow_key])
            } else {
                None
            };
            // A point passing another function than the one a `Constant` activity names is
            // for another request.
            let matches = |p: &&Point| {
                p.args.iter().zip(acts).all(|(a, act)| match (a, act) {
                    (Arg::Func(h), Act::Func(g)) => h == g,
                    _ => true,
                })
            };
            for p in spec.points.iter().filter(|p| &p.func == f).filter(matches) {
                ran += 1;
                if let Err(e) =
                    check_request(&mut c, &r.key, p, &primals[f], &wrapped[&r.key], narrow)
                {
                    c.failures.push(format!("FWD line {}: {e}", r.line));
                }
            }
        }
        for e in &spec.expects {
            ran += 1;
            let key = (e.func.clone(), e.acts.clone(), 1);
            if !wrapped.contains_key(&key) {
                continue; // generation failed: reported above
            }
            if let Err(x) = check_expect(&mut c, e, &primals[&e.func], &wrapped[&key]) {
                c.failures.push(x);
            }
        }
        assert!(
            ran > 0 || !c.failures.is_empty(),
            "{}: AT/EXPECT lines name no requested function",
            c.file
        );
        failures = c.failures;
        drop(jit);
    } else {
        drop(owned);
        drop(ctx);
    }

    if !failures.is_empty() {
        let mut msg = format!("{file}: {} failure(s)\n", failures.len());
        for f in &failures {
            let _ = writeln!(msg, "- {f}");
        }
        panic!("{msg}");
    }
}

macro_rules! ir_tests {
    ($($(#[$attr:meta])* $name:ident => $file:literal,)*) => {
        $(
            #[test]
            $(#[$attr])*
            fn $name() {
                run_isolated(stringify!($name), $file);
            }
        )*

        /// Every `.ll` file in `tests/ir` has a test above.
        #[test]
        fn every_ir_file_has_a_test() {
            let listed = [$($file),*];
            for entry in std::fs::read_dir(ir_dir()).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                if name.ends_with(".ll") {
                    assert!(listed.contains(&name.as_str()), "tests/ir/{name} has no test in forward_ir.rs");
                }
            }
        }
    };
}

/// Runs `file` in a child process (this test binary, filtered to `test`), so that a derivative
/// that crashes when called fails this test only, with a readable message.
fn run_isolated(test: &str, file: &str) {
    if std::env::var_os(CHILD_ENV).is_some() {
        run_file(file);
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            test,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap_or_else(|e| panic!("{file}: cannot re-run the test binary: {e}"));
    if !out.status.success() {
        use std::os::unix::process::ExitStatusExt;
        let how = match out.status.signal() {
            Some(sig) => format!("killed by signal {sig} (a generated function crashed?)"),
            None => format!("exit status {:?}", out.status.code()),
        };
        panic!(
            "{file}: {how}\n--- child stdout ---\n{}\n--- child stderr ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

const CHILD_ENV: &str = "OXIDASE_FORWARD_IR_CHILD";

/// `OXIDASE_IR_PROBE=/path/to/file.ll cargo test -p oxidase-engine --test forward_ir probe -- --ignored`
/// runs the harness on any file (to minimize a failure without adding it to `tests/ir`).
#[test]
#[ignore = "runs the file named by OXIDASE_IR_PROBE"]
fn probe() {
    let file = std::env::var("OXIDASE_IR_PROBE").expect("set OXIDASE_IR_PROBE to a .ll file");
    run_isolated("probe", &file);
}

ir_tests! {
    arith => "arith.ll",
    select => "select.ll",
    loops => "loops.ll",
    branches => "branches.ll",
    memory => "memory.ll",
    aggregates => "aggregates.ll",
    vector => "vector.ll",
    calls => "calls.ll",
    math_intrinsics => "math.ll",
    libm => "libm.ll",
    f32_arith => "f32.ll",
    alloc => "alloc.ll",
    rustlike => "rustlike.ll",
    invoke => "invoke.ll",
    errors => "errors.ll",
    atomics => "atomics.ll",
    vector_powi => "vector_powi.ll",
    int_operand_from_memory => "int_operand_from_memory.ll",
    float_to_int => "float_to_int.ll",
    params => "params.ll",

    // Engine bugs: each file's header comment describes the bug (expected vs got).
    #[ignore = "engine bug: a callee returning a pointer to a constant global returns a null shadow; the caller's derivative segfaults"]
    bug_const_global_return => "bug_const_global_return.ll",
    #[ignore = "engine bug: a constant GEP expression into a constant global merged with a Dual pointer is rejected (plain globals work)"]
    bug_const_gep_global => "bug_const_gep_global.ll",
}
