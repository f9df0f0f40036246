//! FileCheck + JIT tests of reverse mode over the `.ll` files of `tests/ir-reverse`.
//!
//! For each file the harness parses the module, asks the engine for every `; REV:` request
//! (combined derivatives, reports on: `PrintAA` and `PrintPerf`), verifies the module, and runs
//! `FileCheck` with the file as the check file on the printed module followed by the engine's
//! report (activity of each differentiated function, then one `oxidase: reverse derivative of …`
//! line per derivative: values kept in stack slots, taped, bytes per pass through the loops,
//! recomputed). Then it JIT-compiles the module and, at every `; AT:` point, compares each
//! derivative with central finite differences of the primal: the adjoint returned for every
//! `active` parameter and the adjoint accumulated into every `dup` buffer.
//!
//! ```text
//! ; REV: @f args=dup,const,active ret=active      a request (the result must be Active); tol=1e-3 widens
//!                                                 the finite-difference tolerance (f32 code)
//! ; AT: @f [1.5, 2, 3], 3, 0.25                    a point: number (typed by the parameter) or f64 buffer
//! ```
//!
//! Derivatives are named `<f>.oxidase.revN`; CHECK lines should match `N` with a regex.
//! `OXIDASE_TEST_DUMP=1` prints what FileCheck reads.

use oxidase_engine::{Engine, Options, RevArg, RevRet, ReverseKey};
use oxidase_llvm::jit::Jit;
use oxidase_llvm::module::{self, Context};
use oxidase_llvm::{Block, Builder, Type, Value};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const FILECHECK: &str = "/usr/lib/llvm-22/bin/FileCheck";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    Const,
    Active,
    Dup,
}

#[derive(Clone, Debug)]
enum Arg {
    Num(f64),
    Buf(Vec<f64>),
}

struct Request {
    func: String,
    acts: Vec<Act>,
    /// Relative tolerance against central differences (`tol=`; default 1e-6).
    tol: f64,
    line: usize,
}

struct Point {
    func: String,
    args: Vec<Arg>,
    line: usize,
}

fn ir_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ir-reverse")
}

fn parse_args(s: &str) -> Result<Vec<Arg>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or("unclosed [")?;
            let vals = r[..end]
                .split(',')
                .filter(|x| !x.trim().is_empty())
                .map(|x| x.trim().parse::<f64>().map_err(|e| format!("{x}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Arg::Buf(vals));
            rest = r[end + 1..].trim_start().trim_start_matches(',').trim_start();
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let x = rest[..end].trim();
            out.push(Arg::Num(x.parse::<f64>().map_err(|e| format!("{x}: {e}"))?));
            rest = rest[end..].trim_start_matches(',').trim_start();
        }
    }
    Ok(out)
}

fn parse(text: &str) -> Result<(Vec<Request>, Vec<Point>), String> {
    let (mut reqs, mut points) = (Vec::new(), Vec::new());
    for (i, l) in text.lines().enumerate() {
        let line = i + 1;
        if let Some(r) = l.strip_prefix("; REV:") {
            let mut words = r.split_whitespace();
            let func = words.next().ok_or("REV without function")?.trim_start_matches('@').to_string();
            let (mut acts, mut tol) = (Vec::new(), 1e-6);
            for w in words {
                if let Some(x) = w.strip_prefix("tol=") {
                    tol = x.parse().map_err(|e| format!("line {line}: {e}"))?;
                    continue;
                }
                if let Some(a) = w.strip_prefix("args=") {
                    for a in a.split(',') {
                        acts.push(match a {
                            "const" => Act::Const,
                            "active" => Act::Active,
                            "dup" => Act::Dup,
                            _ => return Err(format!("line {line}: unknown activity {a}")),
                        });
                    }
                } else if w != "ret=active" {
                    return Err(format!("line {line}: unknown word {w} (only ret=active is supported)"));
                }
            }
            reqs.push(Request { func, acts, tol, line });
        } else if let Some(r) = l.strip_prefix("; AT:") {
            let r = r.trim();
            let (f, rest) = r.split_once(' ').ok_or(format!("line {line}: AT without arguments"))?;
            points.push(Point { func: f.trim_start_matches('@').to_string(), args: parse_args(rest).map_err(|e| format!("line {line}: {e}"))?, line });
        }
    }
    Ok((reqs, points))
}

/// `void @<name>(ptr in, ptr out)` calling `f` with parameter `i` loaded from the 8-byte slot
/// `in[i]` and the result's leaves stored to `out[0..]`.
fn wrap(m: oxidase_llvm::llvm_sys::prelude::LLVMModuleRef, f: Value, name: &str) {
    let ctx = module::context_of(m);
    let p = Type::ptr(ctx);
    let w = module::add_function(m, name, Type::function(Type::void(ctx), &[p, p], false));
    let b = Builder::new(ctx);
    b.position_at_end(Block::append(ctx, w, "entry"));
    let i64t = Type::i64(ctx);
    let args: Vec<Value> = f
        .function_type()
        .param_types()
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let at = b.gep(i64t, w.param(0), &[i64t.const_int(i as u64)]);
            b.load(t, at)
        })
        .collect();
    let r = b.call(f.function_type(), f, &args);
    let rty = r.ty();
    let fields: Vec<Value> = if rty.is_struct() { (0..rty.aggregate_len()).map(|i| b.extract_value(r, i)).collect() } else if rty.is_void() { vec![] } else { vec![r] };
    for (i, v) in fields.into_iter().enumerate() {
        let at = b.gep(i64t, w.param(1), &[i64t.const_int(i as u64)]);
        b.store(v, at);
    }
    b.ret_void();
}

type Entry = extern "C" fn(*const u64, *mut u64);

/// How a parameter or result travels through a 64-bit slot of the wrappers. Read from the
/// module's types before the JIT takes the module (its types are not to be touched after).
#[derive(Clone, Copy, Debug)]
enum Kind {
    Int,
    F32,
    /// `double` or a pointer (buffers are passed by address).
    Other,
}

fn kind_of(ty: Type) -> Kind {
    if ty.is_int() {
        Kind::Int
    } else if ty.kind() == oxidase_llvm::TypeKind::LLVMFloatTypeKind {
        Kind::F32
    } else {
        Kind::Other
    }
}

/// Slot value of a number for a parameter of kind `ty`.
fn slot(x: f64, ty: Kind) -> u64 {
    match ty {
        Kind::Int => x as i64 as u64,
        Kind::F32 => u64::from((x as f32).to_bits()),
        Kind::Other => x.to_bits(),
    }
}

fn result_f64(bits: u64, ty: Kind) -> f64 {
    match ty {
        Kind::F32 => f64::from(f32::from_bits(bits as u32)),
        _ => f64::from_bits(bits),
    }
}

fn primal_at(primal: Entry, tys: &[Kind], ret: Kind, args: &[Arg]) -> f64 {
    let mut bufs: Vec<Vec<f64>> = args.iter().map(|a| if let Arg::Buf(v) = a { v.clone() } else { vec![] }).collect();
    let slots: Vec<u64> = args
        .iter()
        .zip(tys)
        .zip(bufs.iter_mut())
        .map(|((a, &t), buf)| match a {
            Arg::Num(x) => slot(*x, t),
            Arg::Buf(_) => buf.as_mut_ptr() as u64,
        })
        .collect();
    let mut out = [0u64; 1];
    primal(slots.as_ptr(), out.as_mut_ptr());
    result_f64(out[0], ret)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

fn check_point(req: &Request, p: &Point, primal: Entry, grad: Entry, tys: &[Kind], ret: Kind, tol: f64) -> Result<(), String> {
    if p.args.len() != tys.len() {
        return Err(format!("AT line {}: {} arguments for {} parameters", p.line, p.args.len(), tys.len()));
    }
    let mut bufs: Vec<Vec<f64>> = Vec::new();
    let mut shadows: Vec<Vec<f64>> = Vec::new();
    for a in &p.args {
        let v = if let Arg::Buf(v) = a { v.clone() } else { vec![] };
        shadows.push(vec![0.0; v.len()]);
        bufs.push(v);
    }
    let mut slots = Vec::new();
    for (i, ((a, &t), act)) in p.args.iter().zip(tys).zip(&req.acts).enumerate() {
        match a {
            Arg::Num(x) => slots.push(slot(*x, t)),
            Arg::Buf(_) => slots.push(bufs[i].as_mut_ptr() as u64),
        }
        if *act == Act::Dup {
            slots.push(shadows[i].as_mut_ptr() as u64);
        }
    }
    slots.push(slot(1.0, ret));
    let mut out = vec![0u64; 1 + req.acts.len()];
    grad(slots.as_ptr(), out.as_mut_ptr());
    let value = result_f64(out[0], ret);
    let expected = primal_at(primal, tys, ret, &p.args);
    if !close(value, expected, 1e-12) && !(value.is_nan() && expected.is_nan()) {
        return Err(format!("AT line {}: the derivative's primal result {value} differs from the primal's {expected}", p.line));
    }
    let h = 1e-6;
    let fd = |i: usize, j: Option<usize>| {
        let mut plus = p.args.clone();
        let mut minus = p.args.clone();
        let scale = match (&mut plus[i], &mut minus[i], j) {
            (Arg::Num(a), Arg::Num(b), None) => {
                let s = h * (1.0 + a.abs());
                *a += s;
                *b -= s;
                s
            }
            (Arg::Buf(a), Arg::Buf(b), Some(j)) => {
                let s = h * (1.0 + a[j].abs());
                a[j] += s;
                b[j] -= s;
                s
            }
            _ => unreachable!(),
        };
        (primal_at(primal, tys, ret, &plus) - primal_at(primal, tys, ret, &minus)) / (2.0 * scale)
    };
    let mut next = 1;
    for (i, act) in req.acts.iter().enumerate() {
        match act {
            Act::Active => {
                let got = result_f64(out[next], tys[i]);
                next += 1;
                let want = fd(i, None);
                if !close(got, want, tol) {
                    return Err(format!("AT line {}: adjoint of parameter {i}: {got}, central differences {want}", p.line));
                }
            }
            Act::Dup => {
                for j in 0..shadows[i].len() {
                    let (got, want) = (shadows[i][j], fd(i, Some(j)));
                    if !close(got, want, tol) {
                        return Err(format!("AT line {}: adjoint of parameter {i}[{j}]: {got}, central differences {want}", p.line));
                    }
                }
            }
            Act::Const => {}
        }
    }
    Ok(())
}

fn filecheck(check_file: &Path, input: &str) -> Result<(), String> {
    let bin = std::env::var("FILECHECK").unwrap_or_else(|_| FILECHECK.to_string());
    if !Path::new(&bin).exists() {
        return Err(format!("{bin} not found: run `cargo xtask setup` to install the LLVM 22 tools"));
    }
    let mut child = Command::new(&bin)
        .arg(check_file)
        .arg("--dump-input=fail")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {bin}: {e}"))?;
    child.stdin.take().unwrap().write_all(input.as_bytes()).map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("FileCheck failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

fn run_file(file: &str) {
    oxidase_llvm::jit::initialize_native_target();
    let path = ir_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (reqs, points) = parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(!reqs.is_empty(), "{file}: no `; REV:` directive");
    let ctx = Context::new();
    let owned = ctx.parse_ir(&text, file).unwrap_or_else(|e| panic!("{file}: parse error: {e}"));
    let m = owned.raw();
    let options = Options { print_activity: true, print_perf: true, ..Options::default() };
    let mut engine = Engine::new(m, options);
    let mut failures = Vec::new();
    let mut derivs = Vec::new();
    for r in &reqs {
        let f = module::get_function(m, &r.func).unwrap_or_else(|| panic!("{file}: no function @{}", r.func));
        let args = r
            .acts
            .iter()
            .map(|a| match a {
                Act::Const => RevArg::Const,
                Act::Active => RevArg::Active,
                Act::Dup => RevArg::Duplicated,
            })
            .collect();
        match engine.reverse(&ReverseKey { function: f, args, ret: RevRet::Active, width: 1, runtime_activity: false, preserved: Vec::new(), repeated: false }) {
            Ok(df) => derivs.push((r, f, df)),
            Err(e) => failures.push(format!("REV line {}: {}", r.line, e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))),
        }
    }
    let report = engine.report.join("\n");
    drop(engine);
    if let Err(e) = module::verify_module(m) {
        panic!("{file}: the module does not verify after differentiation:\n{e}");
    }
    let input = format!("{}\n; ---- report ----\n{report}\n", module::print_module(m));
    if std::env::var_os("OXIDASE_TEST_DUMP").is_some() {
        eprintln!("--- {file} ---\n{input}");
    }
    if text.contains("; CHECK") {
        if let Err(e) = filecheck(&path, &input) {
            failures.push(e);
        }
    }
    // Wrappers, and the primal's types (read before the JIT takes the module).
    let mut names = Vec::new();
    for (k, (_, f, df)) in derivs.iter().enumerate() {
        let (pw, gw) = (format!("__test.primal.{k}"), format!("__test.grad.{k}"));
        wrap(m, *f, &pw);
        wrap(m, *df, &gw);
        names.push((pw, gw, f.function_type().param_types().into_iter().map(kind_of).collect::<Vec<_>>(), kind_of(f.function_type().return_type())));
    }
    module::verify_module(m).unwrap_or_else(|e| panic!("{file}: wrappers: {e}"));
    let mut ran = 0;
    let jit = Jit::new(ctx, owned).unwrap_or_else(|e| panic!("{file}: JIT: {e}"));
    for ((r, _, _), (pw, gw, tys, ret)) in derivs.iter().zip(&names) {
        let primal: Entry = unsafe { std::mem::transmute::<u64, Entry>(jit.lookup(pw).unwrap()) };
        let grad: Entry = unsafe { std::mem::transmute::<u64, Entry>(jit.lookup(gw).unwrap()) };
        let (tys, ret) = (tys.as_slice(), *ret);
        for p in points.iter().filter(|p| p.func == r.func) {
            ran += 1;
            if let Err(e) = check_point(r, p, primal, grad, tys, ret, r.tol) {
                failures.push(format!("REV line {}: {e}", r.line));
            }
        }
    }
    assert!(ran > 0 || !failures.is_empty(), "{file}: no `; AT:` point for a requested function");
    if !failures.is_empty() {
        panic!("{file}: {} failure(s)\n- {}", failures.len(), failures.join("\n- "));
    }
}

macro_rules! ir_tests {
    ($($name:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $name() {
                run_file($file);
            }
        )*

        /// Every `.ll` file in `tests/ir-reverse` has a test above.
        #[test]
        fn every_file_has_a_test() {
            let listed = [$($file),*];
            for entry in std::fs::read_dir(ir_dir()).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                if name.ends_with(".ll") {
                    assert!(listed.contains(&name.as_str()), "tests/ir-reverse/{name} has no test");
                }
            }
        }
    };
}

ir_tests! {
    instructions => "instructions.ll",
    gmm => "gmm.ll",
    loops => "loops.ll",
    modref => "modref.ll",
    buffers => "buffers.ll",
    skip => "skip.ll",
    facts => "facts.ll",
    fused => "fused.ll",
    exits => "exits.ll",
    carried => "carried.ll",
    split_args => "split_args.ll",
    decisions => "decisions.ll",
    flips => "flips.ll",
    zero_skip => "zero_skip.ll",
}
