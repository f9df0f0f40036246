//! Reverse mode on hand-written IR: gradients checked against analytic values and central finite
//! differences of the primal, through the ORC JIT.
//!
//! Every function is called through a generated wrapper `void @<f>.wrap(ptr %in, ptr %out)` that
//! loads the arguments from 8-byte slots of `%in` and stores the result's fields into `%out`,
//! which sidesteps the native ABI of aggregate returns.

use oxidase_engine::{Engine, Options, RevArg, RevRet, ReverseKey};
use oxidase_llvm::jit::Jit;
use oxidase_llvm::module::{self, Context};
use oxidase_llvm::{Block, Builder, Type, Value};

const HEADER: &str = "target datalayout = \"e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128\"\ntarget triple = \"x86_64-unknown-linux-gnu\"\n";

/// Adds `void @<f>.wrap(ptr in, ptr out)` around `f`.
fn wrap(m: oxidase_llvm::llvm_sys::prelude::LLVMModuleRef, f: Value) -> String {
    let ctx = module::context_of(m);
    let name = format!("{}.wrap", f.name());
    let p = Type::ptr(ctx);
    let w = module::add_function(m, &name, Type::function(Type::void(ctx), &[p, p], false));
    let b = Builder::new(ctx);
    b.position_at_end(Block::append(ctx, w, "entry"));
    let (inp, out) = (w.param(0), w.param(1));
    let i64t = Type::i64(ctx);
    let args: Vec<Value> = f
        .function_type()
        .param_types()
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let at = b.gep(i64t, inp, &[i64t.const_int(i as u64)]);
            b.load(t, at)
        })
        .collect();
    let r = b.call(f.function_type(), f, &args);
    let rty = r.ty();
    if rty.is_struct() {
        for i in 0..rty.aggregate_len() {
            let v = b.extract_value(r, i);
            let at = b.gep(i64t, out, &[i64t.const_int(i as u64)]);
            b.store(v, at);
        }
    } else if !rty.is_void() {
        b.store(r, out);
    }
    b.ret_void();
    name
}

/// A JIT-compiled wrapper (see [`wrap`]).
type Entry = extern "C" fn(*const u64, *mut u64);

/// The function a request generated, or a panic listing its errors.
fn generated(r: Result<Value, Vec<oxidase_engine::AdError>>) -> Value {
    r.unwrap_or_else(|e| panic!("{}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")))
}

/// Wraps each of `fs`, verifies the module and JIT-compiles it (`OXIDASE_DUMP` prints it): the
/// JIT, which must outlive them, and the wrappers' entry points in the order of `fs`.
fn jit_wrapped(ctx: Context, owned: oxidase_llvm::module::OwnedModule, fs: &[Value]) -> (Jit, Vec<Entry>) {
    let m = owned.raw();
    let names: Vec<String> = fs.iter().map(|&f| wrap(m, f)).collect();
    module::verify_module(m).unwrap();
    if std::env::var_os("OXIDASE_DUMP").is_some() {
        eprintln!("{}", module::print_module(m));
    }
    let jit = Jit::new(ctx, owned).unwrap();
    let entries = names.iter().map(|n| unsafe { std::mem::transmute::<u64, Entry>(jit.lookup(n).unwrap()) }).collect();
    (jit, entries)
}

struct Compiled {
    jit: Jit,
    /// The derivative's name (its arena bound is `<name>.tape_bytes`).
    grad_name: String,
    primal: extern "C" fn(*const u64, *mut u64),
    grad: extern "C" fn(*const u64, *mut u64),
}

fn compile(ir: &str, f: &str, args: Vec<RevArg>, ret: RevRet, width: u32) -> Result<Compiled, String> {
    compile_with(ir, f, |engine, function| engine.reverse(&ReverseKey { function, args, ret, width, runtime_activity: false, preserved: Vec::new(), repeated: false }))
}

/// Parses `ir`, asks the engine for a derivative of `f` with `request`, and JIT-compiles the
/// primal and the derivative behind their wrappers.
fn compile_with(
    ir: &str,
    f: &str,
    request: impl FnOnce(&mut Engine, Value) -> Result<Value, Vec<oxidase_engine::AdError>>,
) -> Result<Compiled, String> {
    compile_opts(ir, f, Options::default(), request)
}

/// [`compile_with`] with engine options.
fn compile_opts(
    ir: &str,
    f: &str,
    options: Options,
    request: impl FnOnce(&mut Engine, Value) -> Result<Value, Vec<oxidase_engine::AdError>>,
) -> Result<Compiled, String> {
    oxidase_llvm::jit::initialize_native_target();
    let ctx = Context::new();
    let owned = ctx.parse_ir(&format!("{HEADER}{ir}"), "test").map_err(|e| format!("parse: {e}"))?;
    let m = owned.raw();
    let function = module::get_function(m, f).ok_or("no such function")?;
    let mut engine = Engine::new(m, options);
    let df = request(&mut engine, function).map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))?;
    drop(engine);
    let pw = wrap(m, function);
    let gw = wrap(m, df);
    let df_name = df.name();
    module::verify_module(m).map_err(|e| format!("verify: {e}\n{}", module::print_module(m)))?;
    if std::env::var_os("OXIDASE_OPT").is_some() {
        let opts = oxidase_llvm::passes::PipelineOptions { vectorize: std::env::var("OXIDASE_LV").map_or(true, |v| v != "0"), slp: std::env::var("OXIDASE_SLP").map_or(true, |v| v != "0"), unroll: true, verify_each: false };
        oxidase_llvm::passes::run_on_module(m, "default<O3>", opts)?;
    }
    if std::env::var_os("OXIDASE_DUMP").is_some() {
        eprintln!("{}", module::print_module(m));
    }
    let jit = Jit::new(ctx, owned)?;
    let primal = unsafe { std::mem::transmute::<u64, extern "C" fn(*const u64, *mut u64)>(jit.lookup(&pw)?) };
    let grad = unsafe { std::mem::transmute::<u64, extern "C" fn(*const u64, *mut u64)>(jit.lookup(&gw)?) };
    Ok(Compiled { jit, grad_name: df_name, primal, grad })
}

fn f(x: f64) -> u64 {
    x.to_bits()
}
fn p(x: &mut [f64]) -> u64 {
    x.as_mut_ptr() as u64
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn scalar_active() {
    // f(x, y) = sin(x)·y + x/y
    let ir = r#"
declare double @llvm.sin.f64(double)
define double @f(double %x, double %y) {
  %s = call double @llvm.sin.f64(double %x)
  %a = fmul double %s, %y
  %b = fdiv double %x, %y
  %r = fadd double %a, %b
  ret double %r
}"#;
    let c = compile(ir, "f", vec![RevArg::Active, RevArg::Active], RevRet::Active, 1).unwrap();
    let (x, y) = (0.7, 1.3);
    let mut out = [0u64; 3];
    (c.grad)([f(x), f(y), f(2.0)].as_ptr(), out.as_mut_ptr());
    let got: Vec<f64> = out.iter().map(|&b| f64::from_bits(b)).collect();
    assert!(close(got[0], x.sin() * y + x / y, 1e-14));
    assert!(close(got[1], 2.0 * (x.cos() * y + 1.0 / y), 1e-14), "{got:?}");
    assert!(close(got[2], 2.0 * (x.sin() - x / (y * y)), 1e-14), "{got:?}");
    let mut po = [0u64; 1];
    (c.primal)([f(x), f(y)].as_ptr(), po.as_mut_ptr());
    assert_eq!(po[0], out[0]);
}

/// Rosenbrock over a slice: loop, loads, phis.
const ROSENBROCK: &str = r#"
define double @rosen(ptr noalias readonly %x, i64 %n) {
entry:
  %m = sub i64 %n, 1
  %empty = icmp sle i64 %m, 0
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %pi = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %pi
  %i1 = add i64 %i, 1
  %pj = getelementptr double, ptr %x, i64 %i1
  %xj = load double, ptr %pj
  %a = fsub double 1.0, %xi
  %a2 = fmul double %a, %a
  %sq = fmul double %xi, %xi
  %b = fsub double %xj, %sq
  %b2 = fmul double %b, %b
  %b3 = fmul double 100.0, %b2
  %t = fadd double %a2, %b3
  %acc1 = fadd double %acc, %t
  %more = icmp slt i64 %i1, %m
  br i1 %more, label %loop, label %done
done:
  %r = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  ret double %r
}"#;

fn rosen(x: &[f64]) -> f64 {
    x.windows(2).map(|w| (1.0 - w[0]).powi(2) + 100.0 * (w[1] - w[0] * w[0]).powi(2)).sum()
}

#[test]
fn rosenbrock_gradient() {
    let c = compile(ROSENBROCK, "rosen", vec![RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();
    for n in [1usize, 2, 5, 100] {
        let mut x: Vec<f64> = (0..n).map(|i| 0.5 + 0.01 * i as f64).collect();
        let mut dx = vec![0.25; n]; // accumulates
        let mut out = [0u64; 1];
        (c.grad)([p(&mut x), p(&mut dx), n as u64, f(1.0)].as_ptr(), out.as_mut_ptr());
        assert!(close(f64::from_bits(out[0]), rosen(&x), 1e-13));
        for i in 0..n {
            let h = 1e-6;
            let mut xp = x.clone();
            xp[i] += h;
            let mut xm = x.clone();
            xm[i] -= h;
            let fd = (rosen(&xp) - rosen(&xm)) / (2.0 * h);
            assert!(close(dx[i] - 0.25, fd, 1e-6), "n={n} i={i}: {} vs {fd}", dx[i] - 0.25);
        }
    }
}

#[test]
fn inplace_output_seed_is_consumed() {
    // y[0] = y[0]·y[0] + x   (x by value)
    let ir = r#"
define void @f(ptr %y, double %x) {
  %v = load double, ptr %y
  %s = fmul double %v, %v
  %t = fadd double %s, %x
  store double %t, ptr %y
  ret void
}"#;
    let c = compile(ir, "f", vec![RevArg::Duplicated, RevArg::Active], RevRet::Const, 1).unwrap();
    let mut y = [3.0];
    let mut dy = [2.0];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut y), p(&mut dy), f(0.5)].as_ptr(), out.as_mut_ptr());
    assert_eq!(y[0], 9.5);
    assert_eq!(dy[0], 2.0 * 3.0 * 2.0); // adjoint of the original value
    assert_eq!(f64::from_bits(out[0]), 2.0); // dx
}

#[test]
fn helper_calls_and_branches() {
    let ir = r#"
declare double @llvm.exp.f64(double)
define internal double @h(double %a, ptr %p) {
  %v = load double, ptr %p
  %c = fcmp ogt double %a, 0.0
  br i1 %c, label %pos, label %neg
pos:
  %e = call double @llvm.exp.f64(double %a)
  %m = fmul double %e, %v
  br label %join
neg:
  %q = fmul double %a, %a
  br label %join
join:
  %r = phi double [ %m, %pos ], [ %q, %neg ]
  ret double %r
}
define double @g(ptr %x, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %pi = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %pi
  %y = call double @h(double %xi, ptr %x)
  %acc1 = fadd double %acc, %y
  %i1 = add i64 %i, 1
  %more = icmp slt i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  ret double %acc1
}"#;
    let c = compile(ir, "g", vec![RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();
    let prim = |x: &[f64]| -> f64 { x.iter().map(|&a| if a > 0.0 { a.exp() * x[0] } else { a * a }).sum() };
    let mut x = vec![0.3, -0.4, 0.9, -1.2];
    let mut dx = vec![0.0; 4];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), 4, f(1.0)].as_ptr(), out.as_mut_ptr());
    assert!(close(f64::from_bits(out[0]), prim(&x), 1e-14));
    for i in 0..4 {
        let h = 1e-6;
        let mut xp = x.clone();
        xp[i] += h;
        let mut xm = x.clone();
        xm[i] -= h;
        let fd = (prim(&xp) - prim(&xm)) / (2.0 * h);
        assert!(close(dx[i], fd, 1e-6), "i={i}: {} vs {fd}", dx[i]);
    }
}

/// Forward over reverse: the Hessian-vector product of Rosenbrock, checked against finite
/// differences of the reverse-mode gradient.
#[test]
fn hessian_vector_product_forward_over_reverse() {
    use oxidase_engine::{ArgActivity, ForwardKey};
    oxidase_llvm::jit::initialize_native_target();
    let ctx = Context::new();
    let owned = ctx.parse_ir(&format!("{HEADER}{ROSENBROCK}"), "test").unwrap();
    let m = owned.raw();
    let function = module::get_function(m, "rosen").unwrap();
    let mut engine = Engine::new(m, Options::default());
    let key = ReverseKey { function, args: vec![RevArg::Duplicated, RevArg::Const], ret: RevRet::Active, width: 1, runtime_activity: false, preserved: Vec::new(), repeated: false };
    let grad = engine.reverse(&key).unwrap();
    // grad(x, dx, n, dret): x and dx Dual, n Const, dret Const.
    let fkey = ForwardKey {
        function: grad,
        args: vec![ArgActivity::Dual, ArgActivity::Dual, ArgActivity::Const, ArgActivity::Const],
        width: 1,
        runtime_activity: false,
    };
    let hvp = generated(engine.forward(&fkey));
    drop(engine);
    let (_jit, entries) = jit_wrapped(ctx, owned, &[grad, hvp]);
    let (g, h) = (entries[0], entries[1]);
    let n = 6;
    let mut x: Vec<f64> = (0..n).map(|i| 0.5 + 0.1 * i as f64).collect();
    let mut v: Vec<f64> = (0..n).map(|i| 1.0 - 0.3 * i as f64).collect();
    let mut dx = vec![0.0; n];
    let mut ddx = vec![0.0; n];
    let mut out = [0u64; 2];
    h([p(&mut x), p(&mut v), p(&mut dx), p(&mut ddx), n as u64, f(1.0)].as_ptr(), out.as_mut_ptr());
    let eps = 1e-6;
    let gradient_at = |s: f64| {
        let mut xs: Vec<f64> = x.iter().zip(&v).map(|(a, b)| a + s * b).collect();
        let mut d = vec![0.0; n];
        let mut o = [0u64; 1];
        g([p(&mut xs), p(&mut d), n as u64, f(1.0)].as_ptr(), o.as_mut_ptr());
        d
    };
    let (gp, gm) = (gradient_at(eps), gradient_at(-eps));
    for i in 0..n {
        let fd = (gp[i] - gm[i]) / (2.0 * eps);
        assert!(close(ddx[i], fd, 1e-5), "i={i}: Hv {} vs {fd}", ddx[i]);
    }
}

/// Reverse over reverse of dev-build shapes: a local array started from a constant table by
/// `memcpy` and updated in place, and a slice (pointer and length) moved through a stack copy.
/// With the shadow of `dx` seeded by `v`, the outer adjoint of `x` is H·v = 2·w·v for
/// f = Σ w_i·x_i² (the sinks and recorded copy contents such code needs in a real dev build
/// are exercised end to end by the `rigid_fit` program on the stable route).
#[test]
fn reverse_over_reverse_through_sinks_and_copies() {
    oxidase_llvm::jit::initialize_native_target();
    let ir = r#"
@w = private unnamed_addr constant [3 x double] [double 1.5, double -0.5, double 2.0]
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
define double @f(ptr %x, i64 %n) {
entry:
  %s = alloca { ptr, i64 }, align 8
  %t = alloca { ptr, i64 }, align 8
  %ws = alloca [3 x double], align 8
  call void @llvm.memcpy.p0.p0.i64(ptr align 8 %ws, ptr align 8 @w, i64 24, i1 false)
  store ptr %x, ptr %s, align 8
  %s1 = getelementptr inbounds i8, ptr %s, i64 8
  store i64 %n, ptr %s1, align 8
  call void @llvm.memcpy.p0.p0.i64(ptr align 8 %t, ptr align 8 %s, i64 16, i1 false)
  %xp = load ptr, ptr %t, align 8
  %t1 = getelementptr inbounds i8, ptr %t, i64 8
  %len = load i64, ptr %t1, align 8
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %px = getelementptr inbounds double, ptr %xp, i64 %i
  %xi = load double, ptr %px, align 8
  %pw = getelementptr inbounds double, ptr %ws, i64 %i
  %w0 = load double, ptr %pw, align 8
  %wi = fmul double %w0, %xi
  store double %wi, ptr %pw, align 8
  %term = fmul double %wi, %xi
  %acc1 = fadd double %acc, %term
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %len
  br i1 %more, label %loop, label %done
done:
  ret double %acc1
}"#;
    let ctx = Context::new();
    let owned = ctx.parse_ir(&format!("{HEADER}{ir}"), "test").unwrap();
    let m = owned.raw();
    let function = module::get_function(m, "f").unwrap();
    let mut engine = Engine::new(m, Options::default());
    let key = ReverseKey { function, args: vec![RevArg::Duplicated, RevArg::Const], ret: RevRet::Active, width: 1, runtime_activity: false, preserved: Vec::new(), repeated: false };
    let grad = engine.reverse(&key).unwrap();
    // grad(x, dx, n, dret): x and dx Duplicated (dx's shadow is the seed v), n and dret Const.
    let outer = ReverseKey {
        function: grad,
        args: vec![RevArg::Duplicated, RevArg::Duplicated, RevArg::Const, RevArg::Const],
        ret: RevRet::Const,
        width: 1,
        runtime_activity: false,
        preserved: Vec::new(),
        repeated: false,
    };
    let hvp = generated(engine.reverse(&outer));
    drop(engine);
    let (_jit, entries) = jit_wrapped(ctx, owned, &[hvp]);
    let h = entries[0];
    let w = [1.5, -0.5, 2.0];
    let mut x = vec![0.7, -1.1, 0.4];
    let mut xbar = vec![0.0; 3];
    let mut dx = vec![0.0; 3];
    let seed = [0.3, 1.0, -0.6];
    let mut v = seed.to_vec();
    let mut out = [0u64; 4];
    h([p(&mut x), p(&mut xbar), p(&mut dx), p(&mut v), 3, f(1.0)].as_ptr(), out.as_mut_ptr());
    for i in 0..3 {
        assert!(close(dx[i], 2.0 * w[i] * x[i], 1e-14), "gradient {i}: {} vs {}", dx[i], 2.0 * w[i] * x[i]);
        let want = 2.0 * w[i] * seed[i];
        assert!(close(xbar[i], want, 1e-14), "H·v {i}: {} vs {want}", xbar[i]);
    }
}

/// f(x, s) = s · Σ x_i², with `s` read from memory: at s = 0 the gradient skips the loop's
/// reversal (its adjoint is zero, [`oxidase_engine::zero_test`]).
const SCALED: &str = r#"
define double @scaled(ptr noalias readonly %x, i64 %n, ptr noalias readonly %sp) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %px = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %px
  %sq = fmul double %xi, %xi
  %acc1 = fadd double %acc, %sq
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  %s = load double, ptr %sp
  %r = fmul double %acc1, %s
  ret double %r
}"#;

/// The gradient of [`SCALED`] (x and s Duplicated, n Const, result Active) in a fresh module,
/// with the engine still open for a derivative of it.
fn scaled_gradient(ctx: &Context) -> (oxidase_llvm::module::OwnedModule, Engine, Value) {
    let owned = ctx.parse_ir(&format!("{HEADER}{SCALED}"), "test").unwrap();
    let m = owned.raw();
    let function = module::get_function(m, "scaled").unwrap();
    let mut engine = Engine::new(m, Options::default());
    let args = vec![RevArg::Duplicated, RevArg::Const, RevArg::Duplicated];
    let key = ReverseKey { function, args, ret: RevRet::Active, width: 1, runtime_activity: false, preserved: Vec::new(), repeated: false };
    let grad = engine.reverse(&key).unwrap();
    (owned, engine, grad)
}

/// Forward over reverse where the gradient skips a loop's reversal at a zero adjoint whose
/// tangent is not zero: the skip must test the tangent too. At s = 0 with direction (v, 1):
/// the tangent of x̄ = 2s·x is 2(v·s + x) = 2x, that of s̄ = Σ x_i² is 2 Σ x_i v_i.
#[test]
fn forward_over_reverse_at_a_zero_adjoint() {
    use oxidase_engine::{ArgActivity, ForwardKey};
    oxidase_llvm::jit::initialize_native_target();
    let ctx = Context::new();
    let (owned, mut engine, grad) = scaled_gradient(&ctx);
    // grad(x, dx, n, s, ds, dret)
    let dual = ArgActivity::Dual;
    let fkey = ForwardKey { function: grad, args: vec![dual, dual, ArgActivity::Const, dual, dual, ArgActivity::Const], width: 1, runtime_activity: false };
    let tangent = generated(engine.forward(&fkey));
    drop(engine);
    let (_jit, entries) = jit_wrapped(ctx, owned, &[tangent]);
    let t = entries[0];
    let (mut x, mut v) = (vec![0.7, -1.1, 0.4], vec![0.3, 1.0, -0.6]);
    let (mut dx, mut ddx) = (vec![0.0; 3], vec![0.0; 3]);
    let (mut s, mut vs, mut ds, mut dds) = ([0.0], [1.0], [0.0], [0.0]);
    let mut out = [0u64; 2];
    t([p(&mut x), p(&mut v), p(&mut dx), p(&mut ddx), 3, p(&mut s), p(&mut vs), p(&mut ds), p(&mut dds), f(1.0)].as_ptr(), out.as_mut_ptr());
    let sum_sq: f64 = x.iter().map(|a| a * a).sum();
    let xv: f64 = x.iter().zip(&v).map(|(a, b)| a * b).sum();
    assert!(close(ds[0], sum_sq, 1e-14), "s̄ {} vs {sum_sq}", ds[0]);
    assert!(close(dds[0], 2.0 * xv, 1e-14), "tangent of s̄ {} vs {}", dds[0], 2.0 * xv);
    for i in 0..3 {
        assert_eq!(dx[i], 0.0, "x̄ {i} at s = 0");
        assert!(close(ddx[i], 2.0 * x[i], 1e-14), "tangent of x̄ {i}: {} vs {}", ddx[i], 2.0 * x[i]);
    }
}

/// Reverse over reverse where the gradient skips a loop's reversal at a zero adjoint: the outer
/// derivative needs what the skipped work computes, so it never skips. With the shadows of x̄
/// and s̄ seeded by v and w, at s = 0 the outer adjoints are x̄̄ = 2s·v + 2w·x = 2w·x and
/// s̄̄ = 2 Σ x_i v_i.
#[test]
fn reverse_over_reverse_at_a_zero_adjoint() {
    oxidase_llvm::jit::initialize_native_target();
    let ctx = Context::new();
    let (owned, mut engine, grad) = scaled_gradient(&ctx);
    // grad(x, dx, n, s, ds, dret)
    let dup = RevArg::Duplicated;
    let outer = ReverseKey {
        function: grad,
        args: vec![dup, dup, RevArg::Const, dup, dup, RevArg::Const],
        ret: RevRet::Const,
        width: 1,
        runtime_activity: false,
        preserved: Vec::new(),
        repeated: false,
    };
    let hvp = generated(engine.reverse(&outer));
    drop(engine);
    let (_jit, entries) = jit_wrapped(ctx, owned, &[hvp]);
    let h = entries[0];
    let mut x = vec![0.7, -1.1, 0.4];
    let seed = [0.3, 1.0, -0.6];
    let (mut xbar, mut dx, mut v) = (vec![0.0; 3], vec![0.0; 3], seed.to_vec());
    let w = 0.75;
    let (mut s, mut sbar, mut ds, mut dsbar) = ([0.0], [0.0], [0.0], [w]);
    let mut out = [0u64; 2];
    h([p(&mut x), p(&mut xbar), p(&mut dx), p(&mut v), 3, p(&mut s), p(&mut sbar), p(&mut ds), p(&mut dsbar), f(1.0)].as_ptr(), out.as_mut_ptr());
    let xv: f64 = x.iter().zip(&seed).map(|(a, b)| a * b).sum();
    assert!(close(sbar[0], 2.0 * xv, 1e-14), "s̄̄ {} vs {}", sbar[0], 2.0 * xv);
    for i in 0..3 {
        assert!(close(xbar[i], 2.0 * w * x[i], 1e-14), "x̄̄ {i}: {} vs {}", xbar[i], 2.0 * w * x[i]);
    }
}

/// A heap buffer allocated, filled, read and freed inside the function: its shadow lives until
/// the reverse sweep is done.
#[test]
fn heap_buffer_inside() {
    let ir = r#"
declare ptr @malloc(i64)
declare void @free(ptr)
define double @buf(ptr %x, i64 %n) {
entry:
  %bytes = mul i64 %n, 8
  %t = call ptr @malloc(i64 %bytes)
  br label %fill
fill:
  %i = phi i64 [ 0, %entry ], [ %i1, %fill ]
  %px = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %px
  %sq = fmul double %xi, %xi
  %pt = getelementptr double, ptr %t, i64 %i
  store double %sq, ptr %pt
  %i1 = add i64 %i, 1
  %more = icmp slt i64 %i1, %n
  br i1 %more, label %fill, label %sum
sum:
  %j = phi i64 [ 0, %fill ], [ %j1, %sum ]
  %acc = phi double [ 0.0, %fill ], [ %acc1, %sum ]
  %qt = getelementptr double, ptr %t, i64 %j
  %v = load double, ptr %qt
  %qx = getelementptr double, ptr %x, i64 %j
  %w = load double, ptr %qx
  %vw = fmul double %v, %w
  %acc1 = fadd double %acc, %vw
  %j1 = add i64 %j, 1
  %more2 = icmp slt i64 %j1, %n
  br i1 %more2, label %sum, label %done
done:
  call void @free(ptr %t)
  ret double %acc1
}"#;
    let c = compile(ir, "buf", vec![RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();
    let mut x = vec![0.5, -1.5, 2.0];
    let mut dx = vec![0.0; 3];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), 3, f(1.0)].as_ptr(), out.as_mut_ptr());
    assert_eq!(f64::from_bits(out[0]), x.iter().map(|a| a * a * a).sum::<f64>());
    for i in 0..3 {
        assert!(close(dx[i], 3.0 * x[i] * x[i], 1e-15), "{dx:?}");
    }
}

/// `invoke` of a helper (dev builds with unwinding), a `switch`, and a loop with an early exit.
#[test]
fn invoke_switch_early_exit() {
    let ir = r#"
declare i32 @__gxx_personality_v0(...)
define internal double @h(ptr %x, i64 %k) {
  %p = getelementptr double, ptr %x, i64 %k
  %v = load double, ptr %p
  %e = fmul double %v, 3.0
  ret double %e
}
define double @inv(ptr %x, i64 %n, i32 %mode) personality ptr @__gxx_personality_v0 {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %next ]
  %acc = phi double [ 1.0, %entry ], [ %acc2, %next ]
  %r = invoke double @h(ptr %x, i64 %i) to label %ok unwind label %lp
ok:
  %big = fcmp ogt double %acc, 100.0
  br i1 %big, label %out, label %sw
sw:
  switch i32 %mode, label %mul [ i32 1, label %add
                                 i32 2, label %add ]
add:
  %a1 = fadd double %acc, %r
  br label %next
mul:
  %m1 = fmul double %acc, %r
  br label %next
next:
  %acc2 = phi double [ %a1, %add ], [ %m1, %mul ]
  %i1 = add i64 %i, 1
  %more = icmp slt i64 %i1, %n
  br i1 %more, label %loop, label %out
out:
  %res = phi double [ %acc, %ok ], [ %acc2, %next ]
  ret double %res
lp:
  %l = landingpad { ptr, i32 } cleanup
  resume { ptr, i32 } %l
}"#;
    let c = compile(ir, "inv", vec![RevArg::Duplicated, RevArg::Const, RevArg::Const], RevRet::Active, 1).unwrap();
    let prim = |x: &[f64], mode: i32| -> f64 {
        let mut acc = 1.0;
        for &xi in x {
            let r = 3.0 * xi;
            if acc > 100.0 {
                return acc;
            }
            acc = if mode == 1 || mode == 2 { acc + r } else { acc * r };
        }
        acc
    };
    for (mode, xs) in [(1, vec![0.5, 1.5, -2.0]), (0, vec![1.1, 2.0, 1.7]), (0, vec![5.0, 4.0, 3.0, 2.0, 1.0])] {
        let mut x = xs.clone();
        let n = x.len();
        let mut dx = vec![0.0; n];
        let mut out = [0u64; 1];
        (c.grad)([p(&mut x), p(&mut dx), n as u64, mode as u64, f(1.0)].as_ptr(), out.as_mut_ptr());
        assert_eq!(f64::from_bits(out[0]), prim(&x, mode));
        for i in 0..n {
            let h = 1e-6;
            let mut xp = x.clone();
            xp[i] += h;
            let mut xm = x.clone();
            xm[i] -= h;
            let fd = (prim(&xp, mode) - prim(&xm, mode)) / (2.0 * h);
            assert!(close(dx[i], fd, 1e-6), "mode {mode} i={i}: {} vs {fd}", dx[i]);
        }
    }
}

/// Width 2: two adjoint lanes in one sweep give two rows of the Jacobian.
#[test]
fn width_two_jacobian_rows() {
    let ir = r#"
declare double @llvm.sin.f64(double)
define void @f(ptr %x, ptr %y) {
  %p1 = getelementptr double, ptr %x, i64 1
  %x0 = load double, ptr %x
  %x1 = load double, ptr %p1
  %a = fmul double %x0, %x1
  store double %a, ptr %y
  %s = call double @llvm.sin.f64(double %x0)
  %q1 = getelementptr double, ptr %y, i64 1
  store double %s, ptr %q1
  ret void
}"#;
    let c = compile(ir, "f", vec![RevArg::Duplicated, RevArg::Duplicated], RevRet::Const, 2).unwrap();
    let mut x = [0.3, -1.2];
    let mut y = [0.0; 2];
    let (mut dx1, mut dx2) = ([0.0; 2], [0.0; 2]);
    let (mut dy1, mut dy2) = ([1.0, 0.0], [0.0, 1.0]);
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx1), p(&mut dx2), p(&mut y), p(&mut dy1), p(&mut dy2)].as_ptr(), out.as_mut_ptr());
    assert_eq!(y, [x[0] * x[1], x[0].sin()]);
    assert_eq!(dx1, [x[1], x[0]]);
    assert_eq!(dx2, [x[0].cos(), 0.0]);
    assert_eq!((dy1, dy2), ([0.0; 2], [0.0; 2]));
}

/// A buffer grown by `__rust_realloc` while it is filled (what `Vec::push` does), then read and
/// freed: the shadow moves with the data and the adjoints find their way back.
#[test]
fn vec_growth_with_rust_realloc() {
    let ir = r#"
declare ptr @malloc(i64)
declare ptr @calloc(i64, i64)
declare ptr @realloc(ptr, i64)
declare void @free(ptr)
define ptr @__rust_alloc(i64 %s, i64 %a) {
  %p = call ptr @malloc(i64 %s)
  ret ptr %p
}
define ptr @__rust_alloc_zeroed(i64 %s, i64 %a) {
  %p = call ptr @calloc(i64 %s, i64 1)
  ret ptr %p
}
define ptr @__rust_realloc(ptr %p, i64 %o, i64 %a, i64 %n) {
  %q = call ptr @realloc(ptr %p, i64 %n)
  ret ptr %q
}
define void @__rust_dealloc(ptr %p, i64 %s, i64 %a) {
  call void @free(ptr %p)
  ret void
}
define double @grow(ptr %x, i64 %n) {
entry:
  %buf0 = call ptr @__rust_alloc(i64 8, i64 8)
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %cont ]
  %buf = phi ptr [ %buf0, %entry ], [ %buf2, %cont ]
  %cap = phi i64 [ 1, %entry ], [ %cap2, %cont ]
  %full = icmp eq i64 %i, %cap
  br i1 %full, label %growbb, label %cont
growbb:
  %newcap = mul i64 %cap, 2
  %oldb = mul i64 %cap, 8
  %newb = mul i64 %newcap, 8
  %nb = call ptr @__rust_realloc(ptr %buf, i64 %oldb, i64 8, i64 %newb)
  br label %cont
cont:
  %buf2 = phi ptr [ %buf, %loop ], [ %nb, %growbb ]
  %cap2 = phi i64 [ %cap, %loop ], [ %newcap, %growbb ]
  %px = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %px
  %sq = fmul double %xi, %xi
  %pb = getelementptr double, ptr %buf2, i64 %i
  store double %sq, ptr %pb
  %i1 = add i64 %i, 1
  %more = icmp slt i64 %i1, %n
  br i1 %more, label %loop, label %sum
sum:
  %j = phi i64 [ 0, %cont ], [ %j1, %sum ]
  %acc = phi double [ 0.0, %cont ], [ %acc1, %sum ]
  %qb = getelementptr double, ptr %buf2, i64 %j
  %v = load double, ptr %qb
  %qx = getelementptr double, ptr %x, i64 %j
  %w = load double, ptr %qx
  %vw = fmul double %v, %w
  %acc1 = fadd double %acc, %vw
  %j1 = add i64 %j, 1
  %more2 = icmp slt i64 %j1, %n
  br i1 %more2, label %sum, label %done
done:
  %bytes = mul i64 %cap2, 8
  call void @__rust_dealloc(ptr %buf2, i64 %bytes, i64 8)
  ret double %acc1
}"#;
    let c = compile(ir, "grow", vec![RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();
    let mut x = vec![0.5, -1.5, 2.0, 1.25, -0.75];
    let mut dx = vec![0.0; 5];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), 5, f(1.0)].as_ptr(), out.as_mut_ptr());
    assert!(close(f64::from_bits(out[0]), x.iter().map(|a| a * a * a).sum::<f64>(), 1e-15));
    for i in 0..5 {
        assert!(close(dx[i], 3.0 * x[i] * x[i], 1e-15), "{dx:?}");
    }
}

/// The shape rustc gives `match objective(..) { Ok(v) => v, Err(e) => panic!() }` with a
/// `Result<f64, E>` whose payload shares a register with an integer: the float travels as
/// `i64` bits through a phi (the silent zero gradient of issue 12).
const FLOAT_BITS_PHI: &str = r#"
define double @f(double %x, i64 %k) {
entry:
  %c = icmp eq i64 %k, 0
  br i1 %c, label %a, label %b
a:
  %s = fmul double %x, %x
  %bits = bitcast double %s to i64
  br label %join
b:
  br label %join
join:
  %m = phi i64 [ %bits, %a ], [ %k, %b ]
  %sel = select i1 %c, i64 %m, i64 0
  %fr = freeze i64 %sel
  %r = bitcast i64 %fr to double
  %t = fmul double %r, %x
  ret double %t
}"#;

#[test]
fn float_bits_through_integer_phi() {
    let c = compile(FLOAT_BITS_PHI, "f", vec![RevArg::Active, RevArg::Const], RevRet::Active, 1).unwrap();
    let x = 1.5;
    let mut out = [0u64; 2];
    (c.grad)([f(x), 0, f(1.0)].as_ptr(), out.as_mut_ptr());
    assert!(close(f64::from_bits(out[0]), x * x * x, 1e-15));
    // d(x^3)/dx = 3x^2
    assert!(close(f64::from_bits(out[1]), 3.0 * x * x, 1e-15), "got {}", f64::from_bits(out[1]));
}

/// Float bits stored to memory as an integer and read back as a float.
#[test]
fn float_bits_through_integer_memory() {
    let ir = r#"
define double @f(double %x) {
  %slot = alloca i64
  %s = fmul double %x, %x
  %bits = bitcast double %s to i64
  store i64 %bits, ptr %slot
  %back = load i64, ptr %slot
  %r = bitcast i64 %back to double
  %t = fmul double %r, %x
  ret double %t
}"#;
    let c = compile(ir, "f", vec![RevArg::Active], RevRet::Active, 1).unwrap();
    let mut out = [0u64; 2];
    (c.grad)([f(2.0), f(1.0)].as_ptr(), out.as_mut_ptr());
    assert!(close(f64::from_bits(out[1]), 12.0, 1e-15), "got {}", f64::from_bits(out[1]));
}

/// Integer arithmetic on float bits that are read back as a float is refused, never dropped.
#[test]
fn float_bits_changed_by_integer_arithmetic_are_refused() {
    let ir = r#"
define double @f(double %x) {
  %bits = bitcast double %x to i64
  %abs = and i64 %bits, 9223372036854775807
  %r = bitcast i64 %abs to double
  ret double %r
}"#;
    let e = compile(ir, "f", vec![RevArg::Active], RevRet::Active, 1).err().expect("must be refused");
    assert!(e.contains("integer arithmetic"), "{e}");
    // Bits only inspected (a sign test) need no derivative.
    let ir = r#"
define double @f(double %x) {
  %bits = bitcast double %x to i64
  %neg = icmp slt i64 %bits, 0
  %y = fmul double %x, %x
  %r = select i1 %neg, double %y, double %x
  ret double %r
}"#;
    let c = compile(ir, "f", vec![RevArg::Active], RevRet::Active, 1).unwrap();
    let mut out = [0u64; 2];
    (c.grad)([f(-3.0), f(1.0)].as_ptr(), out.as_mut_ptr());
    assert_eq!(f64::from_bits(out[1]), -6.0);
}

/// An integer constant (the bits of 1.0) stored over differentiated float memory: the shadow
/// there holds adjoints, so the integer is not mirrored into it, and the store's reversal
/// clears it (the overwritten value's adjoint must not receive what was read after the store).
#[test]
fn integer_store_over_float_memory_clears_the_adjoint() {
    let ir = r#"
define double @f(ptr %p) {
  %a = load double, ptr %p
  store i64 4607182418800017408, ptr %p
  %b = load double, ptr %p
  %bb = fmul double %b, %b
  %a3 = fmul double %a, 3.0
  %r = fadd double %a3, %bb
  ret double %r
}"#;
    let c = compile(ir, "f", vec![RevArg::Duplicated], RevRet::Active, 1).unwrap();
    let mut x = [5.0];
    let mut dx = [0.5];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), f(1.0)].as_ptr(), out.as_mut_ptr());
    assert_eq!(f64::from_bits(out[0]), 16.0);
    assert_eq!(x[0], 1.0);
    // The 0.5 already in the shadow seeds the final x0, a constant (SEMANTICS §5: overwritten
    // memory's shadow is consumed); d/dx0 of 3·x0 + 1 is 3. Mirroring the integer's bits, or
    // not clearing, gave 6.0 (the previous engine).
    assert_eq!(dx[0], 3.0);
}

/// An integer that is a `double` on one path and a `<2 x float>` on another, stored over float
/// memory: its adjoint has no one type, so the derivative is refused, never dropped.
#[test]
fn float_bits_of_two_types_through_memory_are_refused() {
    let ir = r#"
define double @f(double %x, <2 x float> %y, i1 %c, ptr %p) {
  %a = bitcast double %x to i64
  %b = bitcast <2 x float> %y to i64
  %m = select i1 %c, i64 %a, i64 %b
  store i64 %m, ptr %p
  %l = load double, ptr %p
  ret double %l
}"#;
    let args = vec![RevArg::Active, RevArg::Const, RevArg::Const, RevArg::Duplicated];
    let e = compile(ir, "f", args, RevRet::Active, 1).err().expect("must be refused");
    assert!(e.contains("different types"), "{e}");
}

// ---- run-time activity: `Const` memory kept beside differentiated memory ----

/// The shape of `u.iter().zip(c).map(|(a, b)| a * b).sum()` in a dev build: a `Zip` struct on
/// the stack holds both slice pointers, built and read by helpers that are not inlined.
const ZIP_DOT: &str = r#"
define internal void @zip_new(ptr %z, ptr %a, ptr %b) {
  store ptr %a, ptr %z
  %f1 = getelementptr inbounds i8, ptr %z, i64 8
  store ptr %b, ptr %f1
  ret void
}
define internal ptr @zip_get(ptr %z, i64 %field, i64 %i) {
  %f = getelementptr inbounds ptr, ptr %z, i64 %field
  %base = load ptr, ptr %f
  %p = getelementptr inbounds double, ptr %base, i64 %i
  ret ptr %p
}
define double @dot(ptr %u, ptr %c, i64 %n) {
entry:
  %z = alloca { ptr, ptr }
  call void @zip_new(ptr %z, ptr %u, ptr %c)
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %pa = call ptr @zip_get(ptr %z, i64 0, i64 %i)
  %pb = call ptr @zip_get(ptr %z, i64 1, i64 %i)
  %a = load double, ptr %pa
  %b = load double, ptr %pb
  %ab = fmul double %a, %b
  %aab = fmul double %ab, %a
  %acc1 = fadd double %acc, %aab
  %i1 = add i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  %r = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  ret double %r
}"#;

/// Constant data for the zip tests, in read-only memory: a derivative that wrote into its own
/// "shadow" would crash here.
static ZIP_C: [f64; 4] = [0.5, -1.5, 2.0, 0.25];

#[test]
fn const_slice_zipped_with_a_differentiated_one() {
    let c = compile(ZIP_DOT, "dot", vec![RevArg::Duplicated, RevArg::Const, RevArg::Const], RevRet::Active, 1).unwrap();
    let mut u = [1.0, 2.0, -0.5, 3.0];
    let mut du = [0.0; 4];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut u), p(&mut du), ZIP_C.as_ptr() as u64, 4, f(1.0)].as_ptr(), out.as_mut_ptr());
    let want: f64 = u.iter().zip(&ZIP_C).map(|(a, b)| a * b * a).sum();
    assert!(close(f64::from_bits(out[0]), want, 1e-15));
    for i in 0..4 {
        assert!(close(du[i], 2.0 * u[i] * ZIP_C[i], 1e-15), "{du:?}");
    }
    // Both slices differentiated: the same derivative for `u`, and `c`'s own.
    let c2 = compile(ZIP_DOT, "dot", vec![RevArg::Duplicated, RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();
    let mut cc = ZIP_C;
    let (mut du2, mut dc) = ([0.0; 4], [0.0; 4]);
    (c2.grad)([p(&mut u), p(&mut du2), p(&mut cc), p(&mut dc), 4, f(1.0)].as_ptr(), out.as_mut_ptr());
    assert_eq!(du, du2);
    for i in 0..4 {
        assert!(close(dc[i], u[i] * u[i], 1e-15), "{dc:?}");
    }
}

/// Compiles the forward derivative of `f` (see `compile`).
fn compile_forward(ir: &str, f: &str, args: Vec<oxidase_engine::ArgActivity>, width: u32) -> Result<Compiled, String> {
    compile_with(ir, f, |engine, function| engine.forward(&oxidase_engine::ForwardKey { function, args, width, runtime_activity: false }))
}

#[test]
fn const_slice_zipped_with_a_dual_one_in_forward_mode() {
    use oxidase_engine::ArgActivity::{Const, Dual};
    let c = compile_forward(ZIP_DOT, "dot", vec![Dual, Const, Const], 2).unwrap();
    let mut u = [1.0, 2.0, -0.5, 3.0];
    let mut t1 = [1.0, 0.0, 0.5, -1.0];
    let mut t2 = [0.0, 0.0, 0.0, 1.0];
    let mut out = [0u64; 3];
    (c.grad)([p(&mut u), p(&mut t1), p(&mut t2), ZIP_C.as_ptr() as u64, 4].as_ptr(), out.as_mut_ptr());
    let tangent = |t: &[f64]| -> f64 { (0..4).map(|i| 2.0 * u[i] * ZIP_C[i] * t[i]).sum() };
    assert!(close(f64::from_bits(out[1]), tangent(&t1), 1e-15));
    assert!(close(f64::from_bits(out[2]), tangent(&t2), 1e-15));
}

/// A differentiated value written straight into a `Const` argument's memory is refused, naming
/// the argument.
#[test]
fn derivative_data_written_into_const_memory_is_refused() {
    let ir = r#"
define void @f(ptr %x, ptr %out) {
  %a = load double, ptr %x
  %s = fmul double %a, %a
  store double %s, ptr %out
  ret void
}"#;
    let e = compile(ir, "f", vec![RevArg::Duplicated, RevArg::Const], RevRet::Const, 1).err().expect("must be refused");
    assert!(e.contains("written into the memory of argument `out`"), "{e}");
}

/// The same write, reached only through a struct that also holds a differentiated pointer, can
/// only be seen at run time: the derivative stops with a message instead of losing it.
const ZIP_WRITE: &str = r#"
define internal ptr @zip_get(ptr %z, i64 %field) {
  %f = getelementptr inbounds ptr, ptr %z, i64 %field
  %base = load ptr, ptr %f
  ret ptr %base
}
define double @f(ptr %x, ptr %out) {
  %z = alloca { ptr, ptr }
  store ptr %x, ptr %z
  %f1 = getelementptr inbounds i8, ptr %z, i64 8
  store ptr %out, ptr %f1
  %px = call ptr @zip_get(ptr %z, i64 0)
  %po = call ptr @zip_get(ptr %z, i64 1)
  %a = load double, ptr %px
  %s = fmul double %a, %a
  store double %s, ptr %po
  %back = load double, ptr %po
  ret double %back
}"#;

#[test]
fn derivative_data_written_into_const_memory_through_a_struct_stops_the_program() {
    let run = || {
        let c = compile(ZIP_WRITE, "f", vec![RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();
        let (mut x, mut dx, mut o) = ([3.0], [0.0], [0.0]);
        let mut out = [0u64; 1];
        (c.grad)([p(&mut x), p(&mut dx), p(&mut o), f(1.0)].as_ptr(), out.as_mut_ptr());
        dx[0]
    };
    if std::env::var_os("OXIDASE_RA_CHILD").is_some() {
        let d = run();
        println!("derivative returned {d}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let child = std::process::Command::new(exe)
        .args(["--exact", "derivative_data_written_into_const_memory_through_a_struct_stops_the_program", "--nocapture", "--test-threads=1"])
        .env("OXIDASE_RA_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert!(!child.status.success(), "the derivative returned: {}", String::from_utf8_lossy(&child.stdout));
    assert!(stderr.contains("writes a differentiated value into memory of a `Const` argument"), "{stderr}");
    assert!(stderr.contains("stopped in the derivative of `"), "{stderr}");
}

// ---- C's allocator, as release builds inline std's `__rdl_*` into `RawVec` ----

/// `buf = malloc(8)` (or `posix_memalign`), `buf[0] = x0²`, `buf = realloc(buf, 8n)`,
/// `buf[i] = x[i]·buf[i-1]`, result `Σ buf[i]`, `free(buf)`: the grown shadow keeps the old
/// adjoint storage (C's `realloc` never says the old size).
const C_HEAP: &str = r#"
declare ptr @malloc(i64)
declare ptr @realloc(ptr, i64)
declare i32 @posix_memalign(ptr, i64, i64)
declare void @free(ptr)
define double @f(ptr %x, i64 %n, i1 %aligned) {
entry:
  %slot = alloca ptr
  br i1 %aligned, label %pm, label %ma
pm:
  %rc = call i32 @posix_memalign(ptr %slot, i64 64, i64 8)
  %b1 = load ptr, ptr %slot
  br label %start
ma:
  %b2 = call ptr @malloc(i64 8)
  br label %start
start:
  %buf0 = phi ptr [ %b1, %pm ], [ %b2, %ma ]
  %x0 = load double, ptr %x
  %sq = fmul double %x0, %x0
  store double %sq, ptr %buf0
  %bytes = mul i64 %n, 8
  %buf = call ptr @realloc(ptr %buf0, i64 %bytes)
  br label %loop
loop:
  %i = phi i64 [ 1, %start ], [ %i1, %loop ]
  %acc = phi double [ %sq, %start ], [ %acc1, %loop ]
  %pp = getelementptr double, ptr %buf, i64 %i
  %im = sub i64 %i, 1
  %pq = getelementptr double, ptr %buf, i64 %im
  %prev = load double, ptr %pq
  %px = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %px
  %v = fmul double %xi, %prev
  store double %v, ptr %pp
  %acc1 = fadd double %acc, %v
  %i1 = add i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  call void @free(ptr %buf)
  ret double %acc1
}"#;

fn c_heap_value(x: &[f64]) -> f64 {
    let mut prev = x[0] * x[0];
    let mut acc = prev;
    for &xi in &x[1..] {
        prev *= xi;
        acc += prev;
    }
    acc
}

#[test]
fn c_allocator_malloc_realloc_posix_memalign_free() {
    let x0 = [0.9, 1.1, -0.7, 1.3, 0.8, -1.2, 1.05, 0.6, 1.4, -0.95];
    let n = x0.len();
    for aligned in [0u64, 1] {
        let c = compile(C_HEAP, "f", vec![RevArg::Duplicated, RevArg::Const, RevArg::Const], RevRet::Active, 1).unwrap();
        let mut x = x0;
        let mut dx = [0.0; 10];
        let mut out = [0u64; 1];
        (c.grad)([p(&mut x), p(&mut dx), n as u64, aligned, f(1.0)].as_ptr(), out.as_mut_ptr());
        assert!(close(f64::from_bits(out[0]), c_heap_value(&x0), 1e-14));
        for i in 0..n {
            let h = 1e-6;
            let (mut a, mut b) = (x0, x0);
            a[i] += h;
            b[i] -= h;
            let fd = (c_heap_value(&a) - c_heap_value(&b)) / (2.0 * h);
            assert!(close(dx[i], fd, 1e-7), "aligned={aligned} i={i}: {} vs {fd}", dx[i]);
        }
        // Forward mode: one directional derivative against the gradient.
        use oxidase_engine::ArgActivity::{Const, Dual};
        let fc = compile_forward(C_HEAP, "f", vec![Dual, Const, Const], 1).unwrap();
        let mut t: Vec<f64> = (0..n).map(|i| 0.3 - 0.1 * i as f64).collect();
        let mut x = x0;
        let mut fo = [0u64; 2];
        (fc.grad)([p(&mut x), p(&mut t), n as u64, aligned].as_ptr(), fo.as_mut_ptr());
        let want: f64 = (0..n).map(|i| dx[i] * t[i]).sum();
        assert!(close(f64::from_bits(fo[1]), want, 1e-13), "aligned={aligned}: {} vs {want}", f64::from_bits(fo[1]));
    }
}

// ---- pointers and floats moved as integers ----

/// Release builds keep `Vec`'s buffer as an integer where its dangling pointer (the alignment,
/// here 8) and a fresh allocation meet: `phi i64 [8, empty], [ptrtoint buf, allocated]`.
const POINTER_AS_INTEGER: &str = r#"
declare ptr @malloc(i64)
declare void @free(ptr)
define double @f(ptr %x, i64 %n) {
entry:
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %join, label %alloc
alloc:
  %bytes = shl i64 %n, 3
  %buf = call ptr @malloc(i64 %bytes)
  %bi = ptrtoint ptr %buf to i64
  br label %join
join:
  %pi = phi i64 [ 8, %entry ], [ %bi, %alloc ]
  %p = inttoptr i64 %pi to ptr
  br i1 %empty, label %done, label %fill
fill:
  %i = phi i64 [ 0, %join ], [ %i1, %fill ]
  %px = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %px
  %sq = fmul double %xi, %xi
  %pp = getelementptr double, ptr %p, i64 %i
  store double %sq, ptr %pp
  %i1 = add i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %fill, label %sum
sum:
  %j = phi i64 [ 0, %fill ], [ %j1, %sum ]
  %acc = phi double [ 0.0, %fill ], [ %acc1, %sum ]
  %qx = getelementptr double, ptr %x, i64 %j
  %xj = load double, ptr %qx
  %qp = getelementptr double, ptr %p, i64 %j
  %pj = load double, ptr %qp
  %t = fmul double %pj, %xj
  %acc1 = fadd double %acc, %t
  %j1 = add i64 %j, 1
  %more2 = icmp ult i64 %j1, %n
  br i1 %more2, label %sum, label %release
release:
  call void @free(ptr %p)
  br label %done
done:
  %r = phi double [ 0.0, %join ], [ %acc1, %release ]
  ret double %r
}"#;

#[test]
fn pointer_carried_as_an_integer() {
    let x0 = [0.5, -1.25, 2.0, 0.75];
    let c = compile(POINTER_AS_INTEGER, "f", vec![RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();
    let mut x = x0;
    let mut dx = [0.0; 4];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), 4, f(1.0)].as_ptr(), out.as_mut_ptr());
    assert!(close(f64::from_bits(out[0]), x0.iter().map(|v| v * v * v).sum::<f64>(), 1e-15));
    for i in 0..4 {
        assert!(close(dx[i], 3.0 * x0[i] * x0[i], 1e-15), "{dx:?}");
    }
    use oxidase_engine::ArgActivity::{Const, Dual};
    let fc = compile_forward(POINTER_AS_INTEGER, "f", vec![Dual, Const], 1).unwrap();
    let mut t = [1.0, -0.5, 0.25, 2.0];
    let mut fo = [0u64; 2];
    (fc.grad)([p(&mut x), p(&mut t), 4].as_ptr(), fo.as_mut_ptr());
    let want: f64 = (0..4).map(|i| dx[i] * t[i]).sum();
    assert!(close(f64::from_bits(fo[1]), want, 1e-14));
}

/// Floats swapped as `i64` (how LLVM moves `f64` elements in a sort), then read as floats.
#[test]
fn floats_moved_through_memory_as_integers() {
    let ir = r#"
define double @f(ptr %x) {
  %p1 = getelementptr double, ptr %x, i64 1
  %a = load i64, ptr %x
  %b = load i64, ptr %p1
  store i64 %b, ptr %x
  store i64 %a, ptr %p1
  %x0 = load double, ptr %x
  %x1 = load double, ptr %p1
  %sq = fmul double %x0, %x0
  %s3 = fmul double %sq, 3.0
  %r = fadd double %s3, %x1
  ret double %r
}"#;
    let c = compile(ir, "f", vec![RevArg::Duplicated], RevRet::Active, 1).unwrap();
    let mut x = [1.5, -2.0];
    let mut dx = [0.0; 2];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), f(1.0)].as_ptr(), out.as_mut_ptr());
    // f = 3·x1² + x0 (of the values before the swap).
    assert_eq!(f64::from_bits(out[0]), 3.0 * 4.0 + 1.5);
    assert_eq!(dx, [1.0, -12.0]);
}

/// Floats that the function only moves as integers, copied with `memcpy` into the output: the
/// copy moves adjoints (its bytes may be floats; integers have no derivative anyway).
#[test]
fn memcpy_of_floats_seen_only_as_integers() {
    let ir = r#"
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
define void @f(ptr %x, ptr %out) {
  %tmp = alloca [2 x i64]
  %t1 = getelementptr i64, ptr %tmp, i64 1
  %p1 = getelementptr i64, ptr %x, i64 1
  %a = load i64, ptr %x
  %b = load i64, ptr %p1
  store i64 %b, ptr %tmp
  store i64 %a, ptr %t1
  call void @llvm.memcpy.p0.p0.i64(ptr %out, ptr %tmp, i64 16, i1 false)
  ret void
}"#;
    let c = compile(ir, "f", vec![RevArg::Duplicated, RevArg::Duplicated], RevRet::Const, 1).unwrap();
    let mut x = [1.5, -2.0];
    let mut dx = [0.0; 2];
    let mut o = [0.0; 2];
    let mut dout = [0.25, 4.0];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), p(&mut o), p(&mut dout)].as_ptr(), out.as_mut_ptr());
    assert_eq!(o, [-2.0, 1.5]);
    assert_eq!(dx, [4.0, 0.25]);
    assert_eq!(dout, [0.0, 0.0]);
}

/// A helper with no differentiated argument returning a fresh block (`RawVec::with_capacity_in`
/// in a dev build): its forward derivative must return the block's shadow, never a null one.
#[test]
fn returned_fresh_block_of_a_call_without_active_arguments() {
    let ir = r#"
declare ptr @malloc(i64)
declare void @free(ptr)
define internal { i64, ptr } @make(i64 %n) {
  %bytes = shl i64 %n, 3
  %b = call ptr @malloc(i64 %bytes)
  %r0 = insertvalue { i64, ptr } undef, i64 %n, 0
  %r1 = insertvalue { i64, ptr } %r0, ptr %b, 1
  ret { i64, ptr } %r1
}
define double @f(ptr %x, i64 %n) {
  %r = call { i64, ptr } @make(i64 %n)
  %buf = extractvalue { i64, ptr } %r, 1
  %x0 = load double, ptr %x
  %sq = fmul double %x0, %x0
  store double %sq, ptr %buf
  %back = load double, ptr %buf
  %y = fmul double %back, %x0
  call void @free(ptr %buf)
  ret double %y
}"#;
    use oxidase_engine::ArgActivity::{Const, Dual};
    let fc = compile_forward(ir, "f", vec![Dual, Const], 1).unwrap();
    let (mut x, mut t) = ([1.5], [2.0]);
    let mut fo = [0u64; 2];
    (fc.grad)([p(&mut x), p(&mut t), 4].as_ptr(), fo.as_mut_ptr());
    assert_eq!(f64::from_bits(fo[0]), 1.5f64.powi(3));
    assert_eq!(f64::from_bits(fo[1]), 3.0 * 1.5 * 1.5 * 2.0);
    let c = compile(ir, "f", vec![RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();
    let mut dx = [0.0];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), 4, f(1.0)].as_ptr(), out.as_mut_ptr());
    assert_eq!(dx[0], 3.0 * 1.5 * 1.5);
}

/// A `dyn` method: the pointer is loaded `!invariant.load` from a vtable kept in a stack slot (as
/// in dev builds). Both vtables' methods are possible targets; `@ext_method` cannot be
/// differentiated (an external call on a differentiated value), which must not refuse the
/// request: only a call that reaches it would stop the program. The size read from the vtable
/// (`!invariant.load`, constant memory) is inactive.
const DYN_IR: &str = r#"
declare double @y0(double)
@vt.sq = private unnamed_addr constant <{ ptr, [16 x i8], ptr }> <{ ptr null, [16 x i8] c"\08\00\00\00\00\00\00\00\08\00\00\00\00\00\00\00", ptr @sq }>
@vt.ext = private unnamed_addr constant <{ ptr, [16 x i8], ptr }> <{ ptr null, [16 x i8] c"\08\00\00\00\00\00\00\00\08\00\00\00\00\00\00\00", ptr @ext_method }>
define internal double @sq(ptr %self, double %x) {
  %s = load double, ptr %self
  %r = fmul double %x, %x
  %r2 = fmul double %r, %s
  ret double %r2
}
define internal double @ext_method(ptr %self, double %x) {
  %r = call double @y0(double %x)
  ret double %r
}
define double @f(ptr %x, i64 %which) {
  %slot = alloca ptr
  %obj = alloca double
  store double 2.0, ptr %obj
  %is0 = icmp eq i64 %which, 0
  %vt = select i1 %is0, ptr @vt.sq, ptr @vt.ext
  store ptr %vt, ptr %slot
  %v = load ptr, ptr %slot
  %sizep = getelementptr inbounds i8, ptr %v, i64 8
  %size = load i64, ptr %sizep, !invariant.load !0
  %mp = getelementptr inbounds i8, ptr %v, i64 24
  %m = load ptr, ptr %mp, !invariant.load !0
  %x0 = load double, ptr %x
  %y = call double %m(ptr %obj, double %x0)
  %z = fmul double %y, %x0
  %sf = uitofp i64 %size to double
  %w = fmul double %z, %sf
  ret double %w
}
!0 = !{}
"#;

#[test]
fn dyn_method_dispatches_on_the_vtable_entry() {
    let c = compile(DYN_IR, "f", vec![RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();
    for x0 in [0.7, -1.3] {
        let mut x = vec![x0];
        let mut dx = vec![0.0];
        let mut out = [0u64; 1];
        (c.grad)([p(&mut x), p(&mut dx), 0, f(1.0)].as_ptr(), out.as_mut_ptr());
        // f = 8 · 2 x³, f' = 48 x².
        assert!(close(f64::from_bits(out[0]), 16.0 * x0 * x0 * x0, 1e-15));
        assert!(close(dx[0], 48.0 * x0 * x0, 1e-15), "{dx:?}");
    }
}

#[test]
fn dyn_method_forward_mode_matches() {
    use oxidase_engine::ArgActivity;
    let c = compile_forward(DYN_IR, "f", vec![ArgActivity::Dual, ArgActivity::Const], 1).unwrap();
    let mut x = vec![0.9];
    let mut tx = vec![1.0];
    let mut out = [0u64; 2];
    (c.grad)([p(&mut x), p(&mut tx), 0].as_ptr(), out.as_mut_ptr());
    assert!(close(f64::from_bits(out[1]), 48.0 * 0.81, 1e-15), "{}", f64::from_bits(out[1]));
}

/// A constant global reached through memory (a slice of `static` coefficients kept beside a
/// differentiated slice): loads through it are active, and their reversals add adjoints into
/// the global's shadow, which must be writable (a constant shadow faulted).
#[test]
fn constant_global_reached_through_shadowed_memory() {
    let ir = r#"
@coef = internal constant [2 x double] [double 1.5, double -0.5]
define double @g(ptr %x, i64 %k) {
  %rows = alloca [2 x ptr]
  store ptr @coef, ptr %rows
  %r1 = getelementptr inbounds ptr, ptr %rows, i64 1
  store ptr %x, ptr %r1
  %rk = getelementptr inbounds ptr, ptr %rows, i64 %k
  %row = load ptr, ptr %rk
  %a = load double, ptr %row
  %bp = getelementptr inbounds double, ptr %row, i64 1
  %b = load double, ptr %bp
  %x0 = load double, ptr %x
  %ab = fmul double %a, %b
  %r = fmul double %ab, %x0
  ret double %r
}"#;
    let c = compile(ir, "g", vec![RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();
    let mut x = vec![0.5, 3.0];
    for (k, want) in [(0u64, [-0.75, 0.0]), (1, [3.0 * 0.5 * 2.0, 0.25])] {
        let mut dx = vec![0.0; 2];
        let mut out = [0u64; 1];
        (c.grad)([p(&mut x), p(&mut dx), k, f(1.0)].as_ptr(), out.as_mut_ptr());
        for i in 0..2 {
            assert!(close(dx[i], want[i], 1e-15), "k = {k}: {dx:?}");
        }
    }
}

/// `bcmp` of differentiated memory (a `HashMap` comparing keys, `==` on slices) only reads it:
/// the branch it decides is taken as in the primal, and no derivative is refused.
#[test]
fn byte_comparison_of_differentiated_memory_is_inactive() {
    let ir = r#"
declare i32 @bcmp(ptr, ptr, i64)
define double @h(ptr %x, ptr %key) {
entry:
  %c = call i32 @bcmp(ptr %x, ptr %key, i64 8)
  %same = icmp eq i32 %c, 0
  %x0 = load double, ptr %x
  %sq = fmul double %x0, %x0
  %r = select i1 %same, double %sq, double %x0
  ret double %r
}"#;
    let c = compile(ir, "h", vec![RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();
    for (x0, key, want) in [(1.5, 1.5, 3.0), (1.5, 2.0, 1.0)] {
        let mut x = vec![x0];
        let mut dx = vec![0.0];
        let mut k = vec![key];
        let mut out = [0u64; 1];
        (c.grad)([p(&mut x), p(&mut dx), p(&mut k), f(1.0)].as_ptr(), out.as_mut_ptr());
        assert!(close(dx[0], want, 1e-15), "key {key}: {dx:?}");
    }
}

/// An atomic counter beside differentiated data (an `Arc`'s reference count next to its value)
/// and a one-byte copy (a `bool` flag) of that memory are integer work: copied as primal code.
#[test]
fn atomic_counter_and_byte_copy_beside_differentiated_data() {
    let ir = r#"
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
define double @a(ptr %x) {
  %obj = alloca { double, i64, i8 }
  %flag = alloca i8
  %x0 = load double, ptr %x
  %sq = fmul double %x0, %x0
  store double %sq, ptr %obj
  %cnt = getelementptr inbounds i8, ptr %obj, i64 8
  store i64 1, ptr %cnt
  %old = atomicrmw add ptr %cnt, i64 1 acq_rel
  %b = getelementptr inbounds i8, ptr %obj, i64 16
  store i8 1, ptr %b
  call void @llvm.memcpy.p0.p0.i64(ptr %flag, ptr %b, i64 1, i1 false)
  %prev = cmpxchg ptr %cnt, i64 2, i64 1 acq_rel monotonic
  %v = load double, ptr %obj
  %r = fmul double %v, %x0
  ret double %r
}"#;
    let c = compile(ir, "a", vec![RevArg::Duplicated], RevRet::Active, 1).unwrap();
    let mut x = vec![1.3];
    let mut dx = vec![0.0];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), f(1.0)].as_ptr(), out.as_mut_ptr());
    assert!(close(dx[0], 3.0 * 1.3 * 1.3, 1e-15), "{dx:?}");
}

/// An empty `Vec`'s dangling pointer reaching a join through a loop-closed phi (`phi ptr [
/// inttoptr (i64 8 to ptr), %bb ]`, as LTO leaves it) beside a real buffer: the phi is a
/// sentinel, its own shadow.
#[test]
fn empty_buffer_pointer_through_a_phi() {
    let ir = r#"
declare ptr @calloc(i64, i64)
declare void @free(ptr)
define double @f(ptr %x, i64 %n) {
entry:
  %z = icmp eq i64 %n, 0
  br i1 %z, label %empty, label %alloc
empty:
  %e = phi ptr [ inttoptr (i64 8 to ptr), %entry ]
  br label %join
alloc:
  %bytes = shl i64 %n, 3
  %b = call ptr @calloc(i64 %bytes, i64 1)
  br label %join
join:
  %buf = phi ptr [ %e, %empty ], [ %b, %alloc ]
  br i1 %z, label %done, label %loop
loop:
  %i = phi i64 [ 0, %join ], [ %i1, %loop ]
  %s = phi double [ 0.0, %join ], [ %s1, %loop ]
  %xp = getelementptr double, ptr %x, i64 %i
  %xv = load double, ptr %xp
  %sq = fmul double %xv, %xv
  %bp = getelementptr double, ptr %buf, i64 %i
  store double %sq, ptr %bp
  %bv = load double, ptr %bp
  %t = fmul double %bv, %xv
  %s1 = fadd double %s, %t
  %i1 = add i64 %i, 1
  %c = icmp eq i64 %i1, %n
  br i1 %c, label %release, label %loop
release:
  call void @free(ptr %buf)
  br label %done
done:
  %r = phi double [ 0.0, %join ], [ %s1, %release ]
  ret double %r
}"#;
    let c = compile(ir, "f", vec![RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();
    let x0 = [0.5, -1.5, 2.0];
    let mut x = x0;
    let mut dx = [0.0; 3];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), 3, f(1.0)].as_ptr(), out.as_mut_ptr());
    assert!(close(f64::from_bits(out[0]), x0.iter().map(|v| v * v * v).sum::<f64>(), 1e-15));
    for i in 0..3 {
        assert!(close(dx[i], 3.0 * x0[i] * x0[i], 1e-15), "{dx:?}");
    }
    let mut dx = [0.0; 3];
    (c.grad)([p(&mut x), p(&mut dx), 0, f(1.0)].as_ptr(), out.as_mut_ptr());
    assert_eq!((f64::from_bits(out[0]), dx), (0.0, [0.0; 3]));
}

/// A pair built field by field, `insertvalue { i64, ptr } poison, i64 %n, 0` (no derivative yet)
/// then the differentiated pointer: the shadow pair is rebuilt from the fields' shadows
/// (`ControlFlow<(usize, &f64)>` of an iterator's `find`, in dev builds).
#[test]
fn pair_built_from_an_integer_then_a_pointer() {
    let ir = r#"
define { i64, ptr } @pair(i64 %i, ptr %r) {
  %a = insertvalue { i64, ptr } poison, i64 %i, 0
  %b = insertvalue { i64, ptr } %a, ptr %r, 1
  ret { i64, ptr } %b
}
define double @f(ptr %x) {
  %p1 = getelementptr double, ptr %x, i64 1
  %pr = call { i64, ptr } @pair(i64 1, ptr %p1)
  %k = extractvalue { i64, ptr } %pr, 0
  %q = extractvalue { i64, ptr } %pr, 1
  %v = load double, ptr %q
  %kf = uitofp i64 %k to double
  %x0 = load double, ptr %x
  %m = fmul double %v, %x0
  %r = fmul double %m, %kf
  ret double %r
}"#;
    let c = compile(ir, "f", vec![RevArg::Duplicated], RevRet::Active, 1).unwrap();
    let mut x = [1.5, -2.0];
    let mut dx = [0.0; 2];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), f(1.0)].as_ptr(), out.as_mut_ptr());
    assert_eq!(f64::from_bits(out[0]), -3.0);
    assert_eq!(dx, [-2.0, 1.5]);
}

/// A struct of a float beside a pointer copied whole (`memcpy` of a dev build) whose layout the
/// declared type gives: the pointer's shadow is copied forward, the float's adjoint moved back.
#[test]
fn struct_of_a_float_and_a_pointer_copied_whole() {
    let ir = r#"
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
define double @f(ptr %x) !dbg !5 {
  %a = alloca { double, ptr }, align 8
  %b = alloca { double, ptr }, align 8
    #dbg_declare(ptr %a, !10, !DIExpression(), !20)
  %x0 = load double, ptr %x
  %sq = fmul double %x0, %x0
  store double %sq, ptr %a
  %a1 = getelementptr inbounds i8, ptr %a, i64 8
  store ptr %x, ptr %a1
  call void @llvm.memcpy.p0.p0.i64(ptr %b, ptr %a, i64 16, i1 false)
  %v = load double, ptr %b
  %b1 = getelementptr inbounds i8, ptr %b, i64 8
  %p = load ptr, ptr %b1
  %p1 = getelementptr inbounds double, ptr %p, i64 1
  %w = load double, ptr %p1
  %r = fmul double %v, %w
  ret double %r
}
!llvm.module.flags = !{!0, !1}
!llvm.dbg.cu = !{!2}
!0 = !{i32 7, !"Dwarf Version", i32 4}
!1 = !{i32 2, !"Debug Info Version", i32 3}
!2 = distinct !DICompileUnit(language: DW_LANG_Rust, file: !3, producer: "rustc", isOptimized: false, runtimeVersion: 0, emissionKind: FullDebug)
!3 = !DIFile(filename: "src/main.rs", directory: "/tmp")
!5 = distinct !DISubprogram(name: "f", scope: !3, file: !3, line: 1, type: !6, spFlags: DISPFlagDefinition, unit: !2)
!6 = !DISubroutineType(types: !7)
!7 = !{}
!10 = !DILocalVariable(name: "a", scope: !5, file: !3, line: 1, type: !11)
!11 = !DICompositeType(tag: DW_TAG_structure_type, name: "Pair", file: !3, size: 128, align: 64, elements: !12, identifier: "pair")
!12 = !{!13, !15}
!13 = !DIDerivedType(tag: DW_TAG_member, name: "value", scope: !11, file: !3, baseType: !16, size: 64, align: 64)
!15 = !DIDerivedType(tag: DW_TAG_member, name: "data", scope: !11, file: !3, baseType: !14, size: 64, align: 64, offset: 64)
!14 = !DIDerivedType(tag: DW_TAG_pointer_type, name: "*const f64", baseType: !16, size: 64, align: 64, dwarfAddressSpace: 0)
!16 = !DIBasicType(name: "f64", size: 64, encoding: DW_ATE_float)
!20 = !DILocation(line: 1, column: 1, scope: !5)
"#;
    let c = compile(ir, "f", vec![RevArg::Duplicated], RevRet::Active, 1).unwrap();
    let mut x = [1.5, -2.0];
    let mut dx = [0.0; 2];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), f(1.0)].as_ptr(), out.as_mut_ptr());
    // f = x0² · x1
    assert_eq!(f64::from_bits(out[0]), 2.25 * -2.0);
    assert_eq!(dx, [2.0 * 1.5 * -2.0, 2.25]);
    // Without the declared type the layout is unknown: refused, never guessed.
    let bare = ir.replace("    #dbg_declare(ptr %a, !10, !DIExpression(), !20)\n", "");
    let e = compile(&bare, "f", vec![RevArg::Duplicated], RevRet::Active, 1).err().expect("refused");
    assert!(e.contains("cannot deduce"), "{e}");
}

/// Vector shuffles (a splat, lanes of both operands, an undefined lane): each output lane's
/// adjoint goes back to the input lane it was taken from.
#[test]
fn vector_shuffles() {
    let ir = r#"
define double @f(ptr %x) {
  %p1 = getelementptr double, ptr %x, i64 1
  %x0 = load double, ptr %x
  %x1 = load double, ptr %p1
  %v0 = insertelement <2 x double> poison, double %x0, i32 0
  %v = insertelement <2 x double> %v0, double %x1, i32 1
  %s = shufflevector <2 x double> %v, <2 x double> <double 1.0, double 2.0>, <5 x i32> <i32 0, i32 0, i32 1, i32 3, i32 poison>
  %splat = shufflevector <2 x double> %v, <2 x double> poison, <3 x i32> zeroinitializer
  %s0 = extractelement <5 x double> %s, i32 0
  %s1 = extractelement <5 x double> %s, i32 1
  %s2 = extractelement <5 x double> %s, i32 2
  %s3 = extractelement <5 x double> %s, i32 3
  %t2 = extractelement <3 x double> %splat, i32 2
  %a = fmul double %s0, %s1
  %b = fmul double %s2, %s3
  %c = fmul double %t2, %x1
  %ab = fadd double %a, %b
  %r = fadd double %ab, %c
  ret double %r
}"#;
    let c = compile(ir, "f", vec![RevArg::Duplicated], RevRet::Active, 1).unwrap();
    let mut x = [1.5, -2.0];
    let mut dx = [0.0; 2];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), f(1.0)].as_ptr(), out.as_mut_ptr());
    // f = x0² + 2·x1 + x0·x1
    assert_eq!(f64::from_bits(out[0]), 2.25 - 4.0 - 3.0);
    assert_eq!(dx, [2.0 * 1.5 - 2.0, 2.0 + 1.5]);
}

/// A dev build's `_mm256_permute2f128_pd`: `f64` vectors cast to `__m256i` and back through
/// helpers that pass vectors by pointer (`as_i64x4`), lanes of 64-bit integers shuffled in
/// between. The helpers are inlined, and the integers carry the floats' adjoints.
const PERMUTE_THROUGH_INTEGERS: &str = r#"
define internal void @as_i64x4(ptr sret([32 x i8]) %out, ptr %in) {
  %v = load <4 x i64>, ptr %in
  store <4 x i64> %v, ptr %out
  ret void
}
define internal void @permute(ptr sret([32 x i8]) %out, ptr %a, ptr %b, <4 x i32> %unused) {
  %t1 = alloca [32 x i8], align 32
  %t2 = alloca [32 x i8], align 32
  %r1 = alloca [32 x i8], align 32
  %r2 = alloca [32 x i8], align 32
  %s = alloca [32 x i8], align 32
  %x = load FVEC, ptr %a, align 4
  %xi = bitcast FVEC %x to <4 x i64>
  store <4 x i64> %xi, ptr %t1
  %y = load FVEC, ptr %b, align 4
  %yi = bitcast FVEC %y to <4 x i64>
  store <4 x i64> %yi, ptr %t2
  call void @as_i64x4(ptr %r1, ptr %t1)
  %l1 = load <4 x i64>, ptr %r1
  call void @as_i64x4(ptr %r2, ptr %t2)
  %l2 = load <4 x i64>, ptr %r2
  %sh = shufflevector <4 x i64> %l1, <4 x i64> %l2, <4 x i32> <i32 0, i32 1, i32 6, i32 7>
  store <4 x i64> %sh, ptr %s
  %l3 = load <4 x i64>, ptr %s
  %z = shufflevector <4 x i64> %l3, <4 x i64> zeroinitializer, <4 x i32> <i32 0, i32 1, i32 2, i32 3>
  store <4 x i64> %z, ptr %out
  ret void
}
define double @f(ptr %a, ptr %b) {
  %o = alloca [32 x i8], align 32
  call void @permute(ptr %o, ptr %a, ptr %b, <4 x i32> zeroinitializer)
  %v = load FVEC, ptr %o
  %w = fmul FVEC %v, WEIGHTS
  %wd = WIDEN
  %e0 = extractelement <4 x double> %wd, i32 0
  %e1 = extractelement <4 x double> %wd, i32 1
  %e2 = extractelement <4 x double> %wd, i32 2
  %e3 = extractelement <4 x double> %wd, i32 3
  %s01 = fadd double %e0, %e1
  %s23 = fadd double %e2, %e3
  %r = fadd double %s01, %s23
  ret double %r
}"#;

#[test]
fn float_vectors_shuffled_as_integer_vectors_through_cast_helpers() {
    // f64 lanes: the result is [a0, a1, b2, b3], weighted 1, 2, 3, 4.
    let ir = PERMUTE_THROUGH_INTEGERS
        .replace("FVEC", "<4 x double>")
        .replace("WEIGHTS", "<double 1.0, double 2.0, double 3.0, double 4.0>")
        .replace("WIDEN", "fadd <4 x double> %w, zeroinitializer");
    let c = compile(&ir, "f", vec![RevArg::Duplicated, RevArg::Duplicated], RevRet::Active, 1).unwrap();
    let (mut a, mut b) = ([0.5f64, -1.0, 2.0, 3.0], [4.0f64, 5.0, -6.0, 7.0]);
    let (mut da, mut db) = ([0.0f64; 4], [0.0f64; 4]);
    let mut out = [0u64; 1];
    (c.grad)([p(&mut a), p(&mut da), p(&mut b), p(&mut db), f(1.0)].as_ptr(), out.as_mut_ptr());
    assert_eq!(f64::from_bits(out[0]), 0.5 - 2.0 - 18.0 + 28.0);
    assert_eq!(da, [1.0, 2.0, 0.0, 0.0]);
    assert_eq!(db, [0.0, 0.0, 3.0, 4.0]);
}

#[test]
fn f32_pairs_shuffled_as_64_bit_integer_lanes_through_cast_helpers() {
    // f32 lanes, two per 64-bit integer lane: the result is [a0..a3, b4..b7]; the sum of the
    // products with weights 1..8, paired up into doubles.
    let ir = PERMUTE_THROUGH_INTEGERS
        .replace("FVEC", "<8 x float>")
        .replace("WEIGHTS", "<float 1.0, float 2.0, float 3.0, float 4.0, float 5.0, float 6.0, float 7.0, float 8.0>")
        .replace(
            "WIDEN",
            "fpext <4 x float> %wl to <4 x double>\n  %wl0 = shufflevector <8 x float> %w, <8 x float> poison, <4 x i32> <i32 0, i32 2, i32 4, i32 6>\n  %wl1 = shufflevector <8 x float> %w, <8 x float> poison, <4 x i32> <i32 1, i32 3, i32 5, i32 7>\n  %wl = fadd <4 x float> %wl0, %wl1",
        );
    // `%wl` must be defined before its use: move the widening after the two shuffles.
    let ir = ir.replace(
        "  %wd = fpext <4 x float> %wl to <4 x double>\n  %wl0 = shufflevector <8 x float> %w, <8 x float> poison, <4 x i32> <i32 0, i32 2, i32 4, i32 6>\n  %wl1 = shufflevector <8 x float> %w, <8 x float> poison, <4 x i32> <i32 1, i32 3, i32 5, i32 7>\n  %wl = fadd <4 x float> %wl0, %wl1",
        "  %wl0 = shufflevector <8 x float> %w, <8 x float> poison, <4 x i32> <i32 0, i32 2, i32 4, i32 6>\n  %wl1 = shufflevector <8 x float> %w, <8 x float> poison, <4 x i32> <i32 1, i32 3, i32 5, i32 7>\n  %wl = fadd <4 x float> %wl0, %wl1\n  %wd = fpext <4 x float> %wl to <4 x double>",
    );
    let c = compile(&ir, "f", vec![RevArg::Duplicated, RevArg::Duplicated], RevRet::Active, 1).unwrap();
    let mut a: [f32; 8] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    let mut b: [f32; 8] = [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0];
    let (mut da, mut db) = ([0.0f32; 8], [0.0f32; 8]);
    let mut out = [0u64; 1];
    let pf = |x: &mut [f32]| x.as_mut_ptr() as u64;
    (c.grad)([pf(&mut a), pf(&mut da), pf(&mut b), pf(&mut db), f(1.0)].as_ptr(), out.as_mut_ptr());
    assert_eq!(f64::from_bits(out[0]), (1.0 + 4.0 + 9.0 + 16.0) - (25.0 + 36.0 + 49.0 + 64.0));
    assert_eq!(da, [1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(db, [0.0, 0.0, 0.0, 0.0, 5.0, 6.0, 7.0, 8.0]);
}

/// A helper returning a pointer into local memory beside a differentiated float, as one
/// `{ ptr, double }` (`Option<(&mut f64, f64)>`): the float's adjoint goes back into the
/// helper, and the local memory written through the pointer gets a shadow in both modes.
const POINTER_BESIDE_FLOAT: &str = r#"
define internal { ptr, double } @pick(ptr %cells, ptr %xs, i64 %i) {
  %px = getelementptr double, ptr %xs, i64 %i
  %x = load double, ptr %px
  %d = fmul double %x, %x
  %pc = getelementptr double, ptr %cells, i64 %i
  %a = insertvalue { ptr, double } poison, ptr %pc, 0
  %b = insertvalue { ptr, double } %a, double %d, 1
  ret { ptr, double } %b
}
define double @f(ptr %xs, double %w) {
  %cells = alloca [2 x double]
  store double 0.5, ptr %cells
  %c1 = getelementptr double, ptr %cells, i64 1
  store double 0.25, ptr %c1
  %r = call { ptr, double } @pick(ptr %cells, ptr %xs, i64 1)
  %pc = extractvalue { ptr, double } %r, 0
  %d = extractvalue { ptr, double } %r, 1
  %old = load double, ptr %pc
  %wd = fmul double %w, %d
  %new = fadd double %old, %wd
  store double %new, ptr %pc
  %v = load double, ptr %c1
  %res = fmul double %v, %v
  ret double %res
}"#;

#[test]
fn pointer_returned_beside_a_float_in_both_modes() {
    let (x1, w) = (1.5f64, 0.75f64);
    let inner = 0.25 + w * x1 * x1;
    let (dx1, dw) = (2.0 * inner * 2.0 * w * x1, 2.0 * inner * x1 * x1);
    let c = compile(POINTER_BESIDE_FLOAT, "f", vec![RevArg::Duplicated, RevArg::Active], RevRet::Active, 1).unwrap();
    let mut xs = [0.3, x1];
    let mut dxs = [0.0; 2];
    let mut out = [0u64; 2];
    (c.grad)([p(&mut xs), p(&mut dxs), f(w), f(1.0)].as_ptr(), out.as_mut_ptr());
    assert!(close(f64::from_bits(out[0]), inner * inner, 1e-15));
    assert!(close(dxs[1], dx1, 1e-14) && dxs[0] == 0.0, "{dxs:?} vs {dx1}");
    assert!(close(f64::from_bits(out[1]), dw, 1e-14), "{} vs {dw}", f64::from_bits(out[1]));

    use oxidase_engine::ArgActivity::Dual;
    let c = compile_forward(POINTER_BESIDE_FLOAT, "f", vec![Dual, Dual], 1).unwrap();
    let mut txs = [0.0, 1.0];
    let mut out = [0u64; 2];
    (c.grad)([p(&mut xs), p(&mut txs), f(w), f(2.0)].as_ptr(), out.as_mut_ptr());
    assert!(close(f64::from_bits(out[1]), dx1 + 2.0 * dw, 1e-14), "{} vs {}", f64::from_bits(out[1]), dx1 + 2.0 * dw);
}

/// A callee returning float bits as an integer (a dev build returns `Matrix1<f64>` as an `i64`):
/// the tangent travels as bits, the adjoint as the float the caller reads them as.
#[test]
fn float_bits_returned_from_a_call_as_an_integer() {
    let ir = r#"
define internal i64 @sq_bits(double %x) {
  %y = fmul double %x, %x
  %b = bitcast double %y to i64
  ret i64 %b
}
define double @f(double %x) {
  %r = call i64 @sq_bits(double %x)
  %g = bitcast i64 %r to double
  %t = fmul double %g, %x
  ret double %t
}"#;
    let x = 1.5f64;
    let c = compile(ir, "f", vec![RevArg::Active], RevRet::Active, 1).unwrap();
    let mut out = [0u64; 2];
    (c.grad)([f(x), f(1.0)].as_ptr(), out.as_mut_ptr());
    assert!(close(f64::from_bits(out[0]), x * x * x, 1e-15));
    assert!(close(f64::from_bits(out[1]), 3.0 * x * x, 1e-15), "got {}", f64::from_bits(out[1]));

    let c = compile_forward(ir, "f", vec![oxidase_engine::ArgActivity::Dual], 1).unwrap();
    let mut out = [0u64; 2];
    (c.grad)([f(x), f(2.0)].as_ptr(), out.as_mut_ptr());
    assert!(close(f64::from_bits(out[1]), 6.0 * x * x, 1e-15), "got {}", f64::from_bits(out[1]));
}

/// An early exit from an inner counted loop that leaves the outer one too (a search returning
/// from inside nested loops): the edge leaves two loops, and both save their induction variable
/// on it.
#[test]
fn early_exit_leaving_two_counted_loops() {
    let ir = r#"
define double @f(ptr %x, i64 %n) {
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i1, %olatch ]
  %acc = phi double [ 0.0, %entry ], [ %acc2, %olatch ]
  br label %inner
inner:
  %j = phi i64 [ 0, %outer ], [ %j1, %ilatch ]
  %acc1 = phi double [ %acc, %outer ], [ %acc2, %ilatch ]
  %k = add i64 %i, %j
  %p = getelementptr double, ptr %x, i64 %k
  %v = load double, ptr %p
  %sq = fmul double %v, %v
  %acc2 = fadd double %acc1, %sq
  %big = fcmp ogt double %acc2, 100.0
  br i1 %big, label %done, label %ilatch
ilatch:
  %j1 = add i64 %j, 1
  %jc = icmp eq i64 %j1, 2
  br i1 %jc, label %olatch, label %inner
olatch:
  %i1 = add i64 %i, 1
  %ic = icmp eq i64 %i1, %n
  br i1 %ic, label %done, label %outer
done:
  %r = phi double [ %acc2, %inner ], [ %acc2, %olatch ]
  ret double %r
}"#;
    let c = compile(ir, "f", vec![RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();
    // No early exit: x[k]² counted once per (i, j) with i + j = k.
    let mut x = [0.5, -1.0, 1.5, 2.0];
    let mut dx = [0.0; 4];
    let mut out = [0u64; 1];
    (c.grad)([p(&mut x), p(&mut dx), 3, f(1.0)].as_ptr(), out.as_mut_ptr());
    assert_eq!(f64::from_bits(out[0]), 0.25 + 2.0 * 1.0 + 2.0 * 2.25 + 4.0);
    assert_eq!(dx, [1.0, -4.0, 6.0, 4.0]);
    // The early exit at (i, j) = (1, 1), from the inner loop out of both.
    let mut x = [1.0, 2.0, 10.0, 3.0];
    let mut dx = [0.0; 4];
    (c.grad)([p(&mut x), p(&mut dx), 3, f(1.0)].as_ptr(), out.as_mut_ptr());
    assert_eq!(f64::from_bits(out[0]), 109.0);
    assert_eq!(dx, [2.0, 8.0, 20.0, 0.0]);
}

/// `Σ sin(x[i] · x[i+1] + s)` over the pairs up to `bound` (the loop's exit test): `@fixed`
/// with a constant trip count, `@runtime` with one that comes with the call (`%n`).
fn arena_ir() -> String {
    let chain = |name: &str, params: &str, bound: &str| {
        format!(
            "define double @{name}(ptr noalias readonly %x{params}) {{
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %s = phi double [ 0.0, %entry ], [ %s1, %loop ]
  %p = getelementptr double, ptr %x, i64 %i
  %a = load double, ptr %p
  %i1 = add nuw i64 %i, 1
  %q = getelementptr double, ptr %x, i64 %i1
  %b = load double, ptr %q
  %ab = fmul double %a, %b
  %t = fadd double %ab, %s
  %sn = call double @llvm.sin.f64(double %t)
  %s1 = fadd double %s, %sn
  %more = icmp ult i64 %i1, {bound}
  br i1 %more, label %loop, label %done
done:
  ret double %s1
}}
"
        )
    };
    format!("declare double @llvm.sin.f64(double)\n{}{}", chain("fixed", "", "4"), chain("runtime", ", i64 %n", "%n"))
}

fn chain(x: &[f64], pairs: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..pairs {
        s += (x[i] * x[i + 1] + s).sin();
    }
    s
}

/// Arena mode: the caches live in the caller's arena (the derivative's last parameter), the
/// derivative publishes the arena it needs when that is known before the call, and the
/// gradients are those of the default tape.
#[test]
fn arena_mode() {
    let options = Options { tape_arena: true, ..Options::default() };
    let key = |function, args| ReverseKey { function, args, ret: RevRet::Active, width: 1, runtime_activity: false, preserved: Vec::new(), repeated: false };
    let ir = arena_ir();
    let fixed = compile_opts(&ir, "fixed", options.clone(), |e, f| e.reverse(&key(f, vec![RevArg::Duplicated]))).unwrap();
    let bytes = unsafe { *(fixed.jit.lookup(&format!("{}.tape_bytes", fixed.grad_name)).unwrap() as *const u64) };
    assert!(bytes > 0 && bytes < 1024, "a loop of four iterations needs a small arena, got {bytes}");
    let runtime = compile_opts(&ir, "runtime", options, |e, f| e.reverse(&key(f, vec![RevArg::Duplicated, RevArg::Const]))).unwrap();
    let unknown = unsafe { *(runtime.jit.lookup(&format!("{}.tape_bytes", runtime.grad_name)).unwrap() as *const u64) };
    assert_eq!(unknown, u64::MAX, "the trip count comes with the call");
    let plain = compile(&ir, "runtime", vec![RevArg::Duplicated, RevArg::Const], RevRet::Active, 1).unwrap();

    let mut x: Vec<f64> = (0..9).map(|i| 0.3 + 0.1 * i as f64).collect();
    // An arena of exactly the published size: { data, len, cap, frees }.
    let mut arena = vec![0u8; bytes as usize];
    let mut header = [arena.as_mut_ptr() as u64, 0, bytes, 0];
    let mut dx = vec![0.0; 9];
    let mut out = [0u64; 1];
    (fixed.grad)([p(&mut x), p(&mut dx), f(1.0), header.as_mut_ptr() as u64].as_ptr(), out.as_mut_ptr());
    assert!(close(f64::from_bits(out[0]), chain(&x, 4), 1e-14));
    assert_eq!(header[1], 0, "everything the derivative kept is popped again");
    assert!(arena.iter().any(|&b| b != 0), "the caches went into the arena");
    for (n, with_arena) in [(8usize, true), (8, false), (1, true)] {
        let mut dx = vec![0.0; 9];
        let mut big = vec![0u8; 4096];
        let mut header = [big.as_mut_ptr() as u64, 0, 4096, 0];
        if with_arena {
            (runtime.grad)([p(&mut x), p(&mut dx), n as u64, f(1.0), header.as_mut_ptr() as u64].as_ptr(), out.as_mut_ptr());
        } else {
            (plain.grad)([p(&mut x), p(&mut dx), n as u64, f(1.0)].as_ptr(), out.as_mut_ptr());
        }
        assert!(close(f64::from_bits(out[0]), chain(&x, n), 1e-14));
        for i in 0..=n {
            let h = 1e-6;
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += h;
            xm[i] -= h;
            let fd = (chain(&xp, n) - chain(&xm, n)) / (2.0 * h);
            assert!(close(dx[i], fd, 1e-6), "n={n} arena={with_arena} i={i}: {} vs {fd}", dx[i]);
        }
    }
}

/// A counted loop whose iterations each run a loop of unknown length, twice (an outer loop of
/// unknown length, whose values go on the tape too): the inner loop's values go on the tape
/// (megabytes: many chunks, each linked to the last, the reversal going back through them)
/// while the counted loop's buffer stays where it is. Called twice
/// (the second call reuses the first one's chunks), and differentiated again in forward mode
/// (the tape's shadow gets chunks of its own): gradient and Hessian-vector product against
/// central differences.
#[test]
fn chunked_tape_across_many_chunks() {
    use oxidase_engine::{ArgActivity, ForwardKey};
    let ir = r#"
declare double @llvm.sin.f64(double)
define double @grows(ptr noalias readonly %x, i64 %n, i64 %k) {
entry:
  %big = shl i64 %k, 40
  br label %outer
outer:
  %r = phi i64 [ 0, %entry ], [ %r2, %after ]
  %tot = phi double [ 0.0, %entry ], [ %tot1, %after ]
  %rf = uitofp i64 %r to double
  %scale = fadd double %rf, 0.5
  br label %loop
loop:
  %i = phi i64 [ 0, %outer ], [ %i1, %tail ]
  %s = phi double [ 0.0, %outer ], [ %s1, %tail ]
  %p = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %p
  %a = fmul double %xi, %scale
  %s3 = fmul double %s, 0.001
  %a1 = fadd double %a, %s3
  br label %spin
spin:
  %c = phi i64 [ %big, %loop ], [ %c1, %spin ]
  %y = phi double [ %a1, %loop ], [ %y1, %spin ]
  %y1 = call double @llvm.sin.f64(double %y)
  %c1 = lshr i64 %c, 1
  %go = icmp ugt i64 %c, 1
  br i1 %go, label %spin, label %tail
tail:
  %q = fmul double %y1, %y1
  %s1 = fadd double %s, %q
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %after
after:
  %t = fmul double %s1, %tot
  %tot1 = fadd double %t, %s1
  %r1 = shl i64 %r, 1
  %r2 = or i64 %r1, 1
  %again = icmp ult i64 %r2, 3
  br i1 %again, label %outer, label %done
done:
  ret double %tot1
}"#;
    oxidase_llvm::jit::initialize_native_target();
    let ctx = Context::new();
    let owned = ctx.parse_ir(&format!("{HEADER}{ir}"), "test").unwrap();
    let m = owned.raw();
    let function = module::get_function(m, "grows").unwrap();
    let mut engine = Engine::new(m, Options::default());
    let key = ReverseKey { function, args: vec![RevArg::Duplicated, RevArg::Const, RevArg::Const], ret: RevRet::Active, width: 1, runtime_activity: false, preserved: Vec::new(), repeated: false };
    let grad = engine.reverse(&key).unwrap();
    let fkey = ForwardKey { function: grad, args: vec![ArgActivity::Dual, ArgActivity::Dual, ArgActivity::Const, ArgActivity::Const, ArgActivity::Const], width: 1, runtime_activity: false };
    let hvp = generated(engine.forward(&fkey));
    drop(engine);
    let (_jit, entries) = jit_wrapped(ctx, owned, &[function, grad, hvp]);
    let (primal, g, h) = (entries[0], entries[1], entries[2]);
    // 2 × 10,000 iterations × 47 inner ones × at least 8 bytes: more than 7 MB of tape; the
    // counted loop's buffer (at least 80 KB) takes a chunk of its own size, so the reversal leaves
    // the inner loop's last chunk for it where it pops the buffer, and then pops the outer
    // loop's values below it.
    let (n, k) = (10_000usize, 60u64);
    let x: Vec<f64> = (0..n).map(|i| 0.3 + 0.4 * ((i * 7919) % 1000) as f64 / 1000.0).collect();
    let value = |x: &[f64]| {
        let mut x = x.to_vec();
        let mut o = [0u64; 1];
        primal([p(&mut x), n as u64, k].as_ptr(), o.as_mut_ptr());
        f64::from_bits(o[0])
    };
    let gradient = |x: &[f64]| {
        let mut x = x.to_vec();
        let mut d = vec![0.0; n];
        let mut o = [0u64; 1];
        g([p(&mut x), p(&mut d), n as u64, k, f(1.0)].as_ptr(), o.as_mut_ptr());
        (f64::from_bits(o[0]), d)
    };
    let (y, d) = gradient(&x);
    assert_eq!(y.to_bits(), value(&x).to_bits());
    assert_eq!(gradient(&x).1, d, "a second call (reusing the chunks) gives the same gradient");
    let eps = 1e-6;
    for i in [0, 1, n / 2, n - 2, n - 1] {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += eps;
        xm[i] -= eps;
        let fd = (value(&xp) - value(&xm)) / (2.0 * eps);
        assert!(close(d[i], fd, 1e-5), "i={i}: {} vs {fd}", d[i]);
    }
    let v: Vec<f64> = (0..n).map(|i| if i % 3 == 0 { 1.0 } else { -0.5 }).collect();
    let (mut xs, mut vs) = (x.clone(), v.clone());
    let (mut dx, mut ddx) = (vec![0.0; n], vec![0.0; n]);
    let mut out = [0u64; 2];
    h([p(&mut xs), p(&mut vs), p(&mut dx), p(&mut ddx), n as u64, k, f(1.0)].as_ptr(), out.as_mut_ptr());
    assert_eq!(dx, d, "forward over reverse: the primal part is the gradient");
    let shifted = |s: f64| gradient(&x.iter().zip(&v).map(|(a, b)| a + s * b).collect::<Vec<_>>()).1;
    let (gp, gm) = (shifted(eps), shifted(-eps));
    for i in [0, 1, n / 2, n - 2, n - 1] {
        let fd = (gp[i] - gm[i]) / (2.0 * eps);
        assert!(close(ddx[i], fd, 1e-4), "i={i}: Hv {} vs {fd}", ddx[i]);
    }
}

/// Nested counted loops, each with a buffer: the inner loop's block is reserved once per outer
/// iteration (8 KB each, 800 KB in all), so some start a new chunk; the reversal pops each block
/// back (`pop_to`), leaving a chunk that an inner block emptied for the chunk of the block below.
#[test]
fn nested_loop_buffers_across_chunks() {
    let ir = r#"
declare double @llvm.sin.f64(double)
define double @nest(ptr noalias readonly %x, ptr noalias readonly %w, i64 %m, i64 %n) {
entry:
  br label %outer
outer:
  %j = phi i64 [ 0, %entry ], [ %j1, %next ]
  %acc = phi double [ 0.1, %entry ], [ %acc2, %next ]
  %pw = getelementptr double, ptr %w, i64 %j
  %wj = load double, ptr %pw
  br label %inner
inner:
  %i = phi i64 [ 0, %outer ], [ %i1, %inner ]
  %a = phi double [ %acc, %outer ], [ %a1, %inner ]
  %px = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %px
  %t = fmul double %xi, %wj
  %s3 = fmul double %a, 0.001
  %u = fadd double %t, %s3
  %su = call double @llvm.sin.f64(double %u)
  %a1 = fadd double %a, %su
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %inner, label %next
next:
  %acc2 = fmul double %a1, 0.01
  %j1 = add nuw i64 %j, 1
  %again = icmp ult i64 %j1, %m
  br i1 %again, label %outer, label %done
done:
  ret double %acc2
}"#;
    let c = compile(ir, "nest", vec![RevArg::Duplicated, RevArg::Duplicated, RevArg::Const, RevArg::Const], RevRet::Active, 1).unwrap();
    let (m, n) = (100usize, 1000usize);
    let x: Vec<f64> = (0..n).map(|i| 0.001 * ((i * 37) % 100) as f64).collect();
    let w: Vec<f64> = (0..m).map(|j| 0.5 + 0.01 * j as f64).collect();
    let value = |x: &[f64], w: &[f64]| {
        let (mut x, mut w) = (x.to_vec(), w.to_vec());
        let mut o = [0u64; 1];
        (c.primal)([p(&mut x), p(&mut w), m as u64, n as u64].as_ptr(), o.as_mut_ptr());
        f64::from_bits(o[0])
    };
    for _ in 0..2 {
        let (mut xs, mut ws) = (x.clone(), w.clone());
        let (mut dx, mut dw) = (vec![0.0; n], vec![0.0; m]);
        let mut o = [0u64; 1];
        (c.grad)([p(&mut xs), p(&mut dx), p(&mut ws), p(&mut dw), m as u64, n as u64, f(1.0)].as_ptr(), o.as_mut_ptr());
        assert_eq!(f64::from_bits(o[0]).to_bits(), value(&x, &w).to_bits());
        let eps = 1e-6;
        for i in [0, n / 3, n - 1] {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += eps;
            xm[i] -= eps;
            let fd = (value(&xp, &w) - value(&xm, &w)) / (2.0 * eps);
            assert!(fd.abs() > 1e-3 && close(dx[i], fd, 1e-5), "x[{i}]: {} vs {fd}", dx[i]);
        }
        for j in [0, m / 2, m - 1] {
            let (mut wp, mut wm) = (w.clone(), w.clone());
            wp[j] += eps;
            wm[j] -= eps;
            let fd = (value(&x, &wp) - value(&x, &wm)) / (2.0 * eps);
            assert!(close(dw[j], fd, 1e-5), "w[{j}]: {} vs {fd}", dw[j]);
        }
    }
}

/// A `Const` pointer stored into a local object that is only passed to a differentiated call
/// (the stable route's tuple of `Const` arguments handed to a derivative): the callee only
/// reads through it, so neither the object nor the `Const` argument needs a shadow, and the
/// derivative has no run-time activity checks. Forward and reverse mode, against closed forms.
#[test]
fn const_pointer_in_a_local_passed_to_a_call_needs_no_shadow() {
    use oxidase_engine::{ArgActivity, ForwardKey};
    let ir = r#"
define internal void @callee(ptr noalias readonly %consts, ptr %x, ptr %out) {
  %p = load ptr, ptr %consts
  %c = load double, ptr %p
  %xv = load double, ptr %x
  %m = fmul double %c, %xv
  %m2 = fmul double %m, %xv
  store double %m2, ptr %out
  ret void
}
define void @caller(ptr %data, ptr %x, ptr %out) {
  %t = alloca ptr
  store ptr %data, ptr %t
  call void @callee(ptr %t, ptr %x, ptr %out)
  ret void
}"#;
    // No run-time activity in either mode's derivative.
    oxidase_llvm::jit::initialize_native_target();
    let ctx = Context::new();
    let owned = ctx.parse_ir(&format!("{HEADER}{ir}"), "test").unwrap();
    let m = owned.raw();
    let function = module::get_function(m, "caller").unwrap();
    let mut engine = Engine::new(m, Options::default());
    engine.forward(&ForwardKey { function, args: vec![ArgActivity::Const, ArgActivity::Dual, ArgActivity::Dual], width: 1, runtime_activity: false }).unwrap();
    engine
        .reverse(&ReverseKey { function, args: vec![RevArg::Const, RevArg::Duplicated, RevArg::Duplicated], ret: RevRet::Const, width: 1, runtime_activity: false, preserved: Vec::new(), repeated: false })
        .unwrap();
    drop(engine);
    let text = module::print_module(m);
    assert!(!text.contains("oxidase.ra."), "run-time activity in:\n{text}");
    // Forward: out' = 2·c·x·x'.
    let c = compile_forward(ir, "caller", vec![ArgActivity::Const, ArgActivity::Dual, ArgActivity::Dual], 1).unwrap();
    let (mut data, mut x, mut dx, mut out, mut dout) = ([1.5], [0.7], [2.0], [0.0], [0.0]);
    (c.grad)([p(&mut data), p(&mut x), p(&mut dx), p(&mut out), p(&mut dout)].as_ptr(), [0u64; 1].as_mut_ptr());
    assert!(close(out[0], 1.5 * 0.7 * 0.7, 1e-15) && close(dout[0], 2.0 * 1.5 * 0.7 * 2.0, 1e-15), "{out:?} {dout:?}");
    // Reverse: x̄ += 2·c·x·out̄, out̄ consumed.
    let r = compile(ir, "caller", vec![RevArg::Const, RevArg::Duplicated, RevArg::Duplicated], RevRet::Const, 1).unwrap();
    let (mut xb, mut outb) = ([0.25], [3.0]);
    (r.grad)([p(&mut data), p(&mut x), p(&mut xb), p(&mut out), p(&mut outb)].as_ptr(), [0u64; 1].as_mut_ptr());
    assert!(close(xb[0], 0.25 + 2.0 * 1.5 * 0.7 * 3.0, 1e-15), "{xb:?}");
}
