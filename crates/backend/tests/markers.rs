//! The adapter end to end on small modules shaped like rustc's output (shared/docs/IR-SHAPES.md):
//! marker calls are lowered, the module verifies, and the JIT-compiled result has the expected
//! values.

use oxidase_enzyme::adapter;
use oxidase_enzyme::flags::Flags;
use oxidase_llvm::jit::Jit;
use oxidase_llvm::module::{self, Context};

const MARKERS: &str = r#"
@enzyme_primal_return = external global ptr
@enzyme_width = external global ptr
@enzyme_const = external global ptr
@enzyme_out = external global ptr
@enzyme_dup = external global ptr
@enzyme_dupnoneed = external global ptr
"#;

/// Lowers the markers of `ir` and compiles the result.
fn lower(ir: &str) -> Result<Jit, Vec<String>> {
    let ctx = Context::new();
    let m = ctx.parse_ir(&format!("{MARKERS}\n{ir}"), "test").unwrap_or_else(|e| panic!("bad test IR: {e}"));
    adapter::run(m.raw(), &Flags::default())?;
    module::verify_module(m.raw()).unwrap_or_else(|e| panic!("lowered module does not verify: {e}\n{}", module::print_module(m.raw())));
    let text = module::print_module(m.raw());
    assert!(!text.contains("__enzyme_"), "a marker is left:\n{text}");
    assert!(!text.contains("@enzyme_"), "a marker global is left:\n{text}");
    Ok(Jit::new(ctx, m).expect("JIT"))
}

fn lookup<F: Copy>(jit: &Jit, name: &str) -> F {
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<u64>());
    let addr = jit.lookup(name).expect("lookup");
    unsafe { std::mem::transmute_copy(&addr) }
}

fn close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "got {got:?}, want {want:?}");
    }
}

type Fn1 = extern "C" fn(*mut f64, f64);
type Fn2 = extern "C" fn(*mut f64, f64, f64);
type FnP = extern "C" fn(*mut f64, *const f64, *mut f64);

#[test]
fn forward_scalar_dual() {
    let jit = lower(
        r#"
define internal double @cubic(double %x) {
  %a = fmul double %x, %x
  %b = fmul double %a, %x
  ret double %b
}
declare { double, double } @__enzyme_fwddiff_d_cubic(...)
define void @t(ptr %out, double %x) {
  %r = call { double, double } (...) @__enzyme_fwddiff_d_cubic(ptr @cubic, ptr @enzyme_primal_return, ptr @enzyme_dup, double %x, double 1.0)
  store { double, double } %r, ptr %out
  ret void
}
"#,
    )
    .unwrap();
    let mut out = [0.0; 2];
    lookup::<Fn1>(&jit, "t")(out.as_mut_ptr(), 2.0);
    close(&out, &[8.0, 12.0]);
}

#[test]
fn forward_sret_primal() {
    // x03: the primal's sret pointer is not passed; R holds the values.
    let jit = lower(
        r#"
define internal void @arr(ptr sret([2 x double]) %r, double %x) {
  %a = fmul double %x, %x
  store double %a, ptr %r
  %p = getelementptr inbounds double, ptr %r, i64 1
  %b = fmul double %x, 3.0
  store double %b, ptr %p
  ret void
}
declare { [2 x double], [2 x double] } @__enzyme_fwddiff_d_arr(...)
define void @t(ptr %out, double %x) {
  %r = call { [2 x double], [2 x double] } (...) @__enzyme_fwddiff_d_arr(ptr @arr, ptr @enzyme_primal_return, ptr @enzyme_dup, double %x, double 1.0)
  store { [2 x double], [2 x double] } %r, ptr %out
  ret void
}
"#,
    )
    .unwrap();
    let mut out = [0.0; 4];
    lookup::<Fn1>(&jit, "t")(out.as_mut_ptr(), 2.0);
    close(&out, &[4.0, 6.0, 4.0, 3.0]);
}

#[test]
fn forward_rejects_active() {
    let e = lower(
        r#"
define internal double @sq(double %x) {
  %a = fmul double %x, %x
  ret double %a
}
declare double @__enzyme_fwddiff_d_sq(...)
define double @t(double %x) {
  %r = call double (...) @__enzyme_fwddiff_d_sq(ptr @sq, ptr @enzyme_out, double %x)
  ret double %r
}
"#,
    )
    .err()
    .expect("an error");
    assert!(e[0].contains("Active can not be used in Forward Mode"), "{e:?}");
}

const POLY: &str = r#"
define internal double @p(double %x, double %y) {
  %xx = fmul double %x, %x
  %r = fmul double %xx, %y
  ret double %r
}
"#;

#[test]
fn reverse_active_scalars() {
    // 04 / 73: p = x^2 y at (3, 2): 18, grad (12, 9).
    let jit = lower(&format!(
        r#"{POLY}
declare {{ double, double, double }} @__enzyme_autodiff_d_p(...)
declare {{ double, double }} @__enzyme_autodiff_d_p_only(...)
declare {{ double, double }} @__enzyme_autodiff_d_px(...)
define void @all(ptr %out, double %x, double %y) {{
  %r = call {{ double, double, double }} (...) @__enzyme_autodiff_d_p(ptr @p, ptr @enzyme_primal_return, ptr @enzyme_out, double %x, ptr @enzyme_out, double %y)
  store {{ double, double, double }} %r, ptr %out
  ret void
}}
define void @only(ptr %out, double %x, double %y) {{
  %r = call {{ double, double }} (...) @__enzyme_autodiff_d_p_only(ptr @p, ptr @enzyme_out, double %x, ptr @enzyme_out, double %y)
  store {{ double, double }} %r, ptr %out
  ret void
}}
define void @constret(ptr %out, double %x, double %y) {{
  %r = call {{ double, double }} (...) @__enzyme_autodiff_d_px(ptr @p, ptr @enzyme_out, double %x, ptr @enzyme_const, double %y)
  store {{ double, double }} %r, ptr %out
  ret void
}}
"#
    ))
    .unwrap();
    let mut out = [0.0; 3];
    lookup::<Fn2>(&jit, "all")(out.as_mut_ptr(), 3.0, 2.0);
    close(&out, &[18.0, 12.0, 9.0]);
    let mut out = [0.0; 2];
    lookup::<Fn2>(&jit, "only")(out.as_mut_ptr(), 3.0, 2.0);
    close(&out, &[12.0, 9.0]);
    // (Active, Const, Const return): {primal, dx}; a Const return is not seeded.
    let mut out = [0.0; 2];
    lookup::<Fn2>(&jit, "constret")(out.as_mut_ptr(), 3.0, 2.0);
    close(&out, &[18.0, 0.0]);
}

#[test]
fn reverse_by_value_pair() {
    // 25: `out a, out b` of one by-value struct, nested in R: { double, { double, double } }.
    let jit = lower(
        r#"
define internal double @f(double %a, double %b) {
  %ab = fmul double %a, %b
  %r = fadd double %ab, %a
  ret double %r
}
declare { double, { double, double } } @__enzyme_autodiff_d_f(...)
define void @t(ptr %out, double %a, double %b) {
  %r = call { double, { double, double } } (...) @__enzyme_autodiff_d_f(ptr @f, ptr @enzyme_primal_return, ptr @enzyme_out, double %a, ptr @enzyme_out, double %b)
  store { double, { double, double } } %r, ptr %out
  ret void
}
"#,
    )
    .unwrap();
    let mut out = [0.0; 3];
    lookup::<Fn2>(&jit, "t")(out.as_mut_ptr(), 3.0, 4.0);
    close(&out, &[15.0, 5.0, 3.0]);
}

#[test]
fn reverse_large_struct_by_pointer() {
    // x04: an Active struct passed indirectly arrives as `out ptr`; its adjoint is a field of R.
    let jit = lower(
        r#"
define internal double @g(ptr noalias readonly dereferenceable(24) %v) {
  %a = load double, ptr %v
  %pb = getelementptr inbounds i8, ptr %v, i64 8
  %b = load double, ptr %pb
  %pc = getelementptr inbounds i8, ptr %v, i64 16
  %c = load double, ptr %pc
  %ab = fmul double %a, %b
  %r = fmul double %ab, %c
  ret double %r
}
declare { double, { double, double, double } } @__enzyme_autodiff_d_g(...)
define void @t(ptr %out, double %a, double %b) {
  %v = alloca { double, double, double }
  store double %a, ptr %v
  %pb = getelementptr inbounds i8, ptr %v, i64 8
  store double %b, ptr %pb
  %pc = getelementptr inbounds i8, ptr %v, i64 16
  store double 5.0, ptr %pc
  %r = call { double, { double, double, double } } (...) @__enzyme_autodiff_d_g(ptr @g, ptr @enzyme_primal_return, ptr @enzyme_out, ptr %v)
  store { double, { double, double, double } } %r, ptr %out
  ret void
}
"#,
    )
    .unwrap();
    let mut out = [0.0; 4];
    lookup::<Fn2>(&jit, "t")(out.as_mut_ptr(), 2.0, 3.0);
    close(&out, &[30.0, 15.0, 10.0, 6.0]);
}

#[test]
fn reverse_duplicated_const_return() {
    // 05: Duplicated inputs, Const return: R is the primal; shadows get nothing from the return.
    // 08: the same with `enzyme_primal_return`: seeded with 1.0, the gradient accumulates.
    let jit = lower(
        r#"
define internal double @h(ptr %x) {
  %a = load double, ptr %x
  %r = fmul double %a, %a
  ret double %r
}
declare double @__enzyme_autodiff_d_hc(...)
declare double @__enzyme_autodiff_d_ha(...)
define void @c(ptr %out, ptr %x, ptr %dx) {
  %r = call double (...) @__enzyme_autodiff_d_hc(ptr @h, ptr @enzyme_dup, ptr %x, ptr %dx)
  store double %r, ptr %out
  ret void
}
define void @a(ptr %out, ptr %x, ptr %dx) {
  %r = call double (...) @__enzyme_autodiff_d_ha(ptr @h, ptr @enzyme_primal_return, ptr @enzyme_dup, ptr %x, ptr %dx)
  store double %r, ptr %out
  ret void
}
"#,
    )
    .unwrap();
    let x = 3.0;
    let mut dx = 0.5;
    let mut out = 0.0;
    lookup::<FnP>(&jit, "c")(&mut out, &x, &mut dx);
    close(&[out, dx], &[9.0, 0.5]);
    lookup::<FnP>(&jit, "a")(&mut out, &x, &mut dx);
    close(&[out, dx], &[9.0, 6.5]);
}

#[test]
fn reverse_sret_primal() {
    // x05: a primal returning `[2 x double]` through sret, Const return, then Active return.
    let jit = lower(
        r#"
define internal void @arr(ptr sret([2 x double]) %r, ptr %x) {
  %a = load double, ptr %x
  %sq = fmul double %a, %a
  store double %sq, ptr %r
  %p = getelementptr inbounds double, ptr %r, i64 1
  %b = fmul double %a, 3.0
  store double %b, ptr %p
  ret void
}
declare [2 x double] @__enzyme_autodiff_d_c(...)
declare [2 x double] @__enzyme_autodiff_d_a(...)
define void @c(ptr %out, ptr %x, ptr %dx) {
  %r = call [2 x double] (...) @__enzyme_autodiff_d_c(ptr @arr, ptr @enzyme_dup, ptr %x, ptr %dx)
  store [2 x double] %r, ptr %out
  ret void
}
define void @a(ptr %out, ptr %x, ptr %dx) {
  %r = call [2 x double] (...) @__enzyme_autodiff_d_a(ptr @arr, ptr @enzyme_primal_return, ptr @enzyme_dup, ptr %x, ptr %dx)
  store [2 x double] %r, ptr %out
  ret void
}
"#,
    )
    .unwrap();
    let x = 2.0;
    let mut dx = 0.0;
    let mut out = [0.0; 2];
    lookup::<FnP>(&jit, "c")(out.as_mut_ptr(), &x, &mut dx);
    close(&[out[0], out[1], dx], &[4.0, 6.0, 0.0]);
    // Seed 1.0 on both elements: dx = 2x + 3.
    lookup::<FnP>(&jit, "a")(out.as_mut_ptr(), &x, &mut dx);
    close(&[out[0], out[1], dx], &[4.0, 6.0, 7.0]);
}

#[test]
fn reverse_mut_output_width_2() {
    // 52: width 2, Duplicated in and out, unit return `{}`: per lane dx_k += 2x * dy_k, dy_k = 0.
    let jit = lower(
        r#"
define internal void @sq(ptr %x, ptr %y) {
  %a = load double, ptr %x
  %r = fmul double %a, %a
  store double %r, ptr %y
  ret void
}
declare {} @__enzyme_autodiff_d_sq(...)
define void @t(ptr %x, ptr %dx, ptr %y, ptr %dy) {
  %dx1 = getelementptr inbounds double, ptr %dx, i64 1
  %dy1 = getelementptr inbounds double, ptr %dy, i64 1
  %r = call {} (...) @__enzyme_autodiff_d_sq(ptr @sq, ptr @enzyme_width, i64 2, ptr @enzyme_dup, ptr %x, ptr %dx, ptr %dx1, ptr @enzyme_dup, ptr %y, ptr %dy, ptr %dy1)
  ret void
}
"#,
    )
    .unwrap();
    let x = 3.0;
    let mut dx = [0.0, 1.0];
    let mut y = 0.0;
    let mut dy = [1.0, 2.0];
    let t: extern "C" fn(*const f64, *mut f64, *mut f64, *mut f64) = lookup(&jit, "t");
    t(&x, dx.as_mut_ptr(), &mut y, dy.as_mut_ptr());
    close(&[y, dx[0], dx[1], dy[0], dy[1]], &[9.0, 6.0, 13.0, 0.0, 0.0]);
}

#[test]
fn reverse_mixed_seeds() {
    // 71 / 73 d_g: (Active, Duplicated, Active): ret = 3x, *out = x^2; dx = 1 * 3 + dout * 2x.
    let jit = lower(
        r#"
define internal double @g(double %x, ptr %out) {
  %sq = fmul double %x, %x
  store double %sq, ptr %out
  %r = fmul double %x, 3.0
  ret double %r
}
declare { double, double } @__enzyme_autodiff_d_g(...)
define void @t(ptr %res, double %x, ptr %out, ptr %dout) {
  %r = call { double, double } (...) @__enzyme_autodiff_d_g(ptr @g, ptr @enzyme_primal_return, ptr @enzyme_out, double %x, ptr @enzyme_dup, ptr %out, ptr %dout)
  store { double, double } %r, ptr %res
  ret void
}
"#,
    )
    .unwrap();
    let mut res = [0.0; 2];
    let mut out = 0.0;
    let mut dout = 0.5;
    let t: extern "C" fn(*mut f64, f64, *mut f64, *mut f64) = lookup(&jit, "t");
    t(res.as_mut_ptr(), 2.0, &mut out, &mut dout);
    close(&[res[0], res[1], out, dout], &[6.0, 5.0, 4.0, 0.0]);
}

#[test]
fn reverse_active_with_width_is_an_error() {
    // x13: width 2 with an Active input (unfinished upstream).
    let e = lower(&format!(
        r#"{POLY}
declare {{ double, double }} @__enzyme_autodiff_d_p(...)
define {{ double, double }} @t(double %x, double %y) {{
  %r = call {{ double, double }} (...) @__enzyme_autodiff_d_p(ptr @p, ptr @enzyme_primal_return, ptr @enzyme_width, i64 2, ptr @enzyme_out, double %x, ptr @enzyme_const, double %y)
  ret {{ double, double }} %r
}}
"#
    ))
    .err()
    .expect("an error");
    assert!(e[0].contains("`d_p`") && e[0].contains("width 2") && e[0].contains("`p`"), "{e:?}");
}

#[test]
fn reverse_bad_result_type_is_an_error() {
    let e = lower(&format!(
        r#"{POLY}
declare {{ double, float }} @__enzyme_autodiff_d_p(...)
define {{ double, float }} @t(double %x, double %y) {{
  %r = call {{ double, float }} (...) @__enzyme_autodiff_d_p(ptr @p, ptr @enzyme_primal_return, ptr @enzyme_out, double %x, ptr @enzyme_const, double %y)
  ret {{ double, float }} %r
}}
"#
    ))
    .err()
    .expect("an error");
    assert!(e[0].contains("unexpected result type `{ double, float }`"), "{e:?}");
}

#[test]
fn reverse_invoke_marker_call() {
    // A marker call under `invoke` (the caller has cleanups).
    let jit = lower(&format!(
        r#"{POLY}
declare {{ double, double, double }} @__enzyme_autodiff_d_p(...)
declare i32 @__gxx_personality_v0(...)
define void @t(ptr %out, double %x, double %y) personality ptr @__gxx_personality_v0 {{
  %r = invoke {{ double, double, double }} (...) @__enzyme_autodiff_d_p(ptr @p, ptr @enzyme_primal_return, ptr @enzyme_out, double %x, ptr @enzyme_out, double %y)
          to label %ok unwind label %bad
ok:
  store {{ double, double, double }} %r, ptr %out
  ret void
bad:
  %lp = landingpad {{ ptr, i32 }} cleanup
  resume {{ ptr, i32 }} %lp
}}
"#
    ))
    .unwrap();
    let mut out = [0.0; 3];
    lookup::<Fn2>(&jit, "t")(out.as_mut_ptr(), 3.0, 2.0);
    close(&out, &[18.0, 12.0, 9.0]);
}
