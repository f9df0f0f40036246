//! Automatic differentiation with `std::autodiff`, checked against finite differences: forward
//! mode here, reverse mode and higher order in `reverse.rs`.
//!
//! `#[autodiff_forward(NAME, [WIDTH,] ACTIVITY...)]` generates a function `NAME` next to the
//! primal. Every `Dual` argument gets a shadow of the same type right after it (the tangent
//! `ẋ`); a `Dual` return makes `NAME` return `(f(x), f'(x)·ẋ)`. Each example below calls the
//! generated function, computes a central finite difference of the primal, prints both and
//! checks that they agree. The process exits with status 1 if any derivative disagrees.
//!
//! Build (after `cargo xtask setup`):
//! `RUSTFLAGS=-Zautodiff=Enable cargo +enzyme run --release --target x86_64-unknown-linux-gnu`

#![cfg_attr(not(feature = "stable"), feature(autodiff))]

mod reverse;

#[cfg(feature = "stable")]
use oxidase::autodiff::autodiff_forward;
#[cfg(not(feature = "stable"))]
use std::autodiff::autodiff_forward;
use std::ops::{Add, Mul, Sub};
use std::process::ExitCode;

// =============================================================================================
// Checking against finite differences
// =============================================================================================

/// Finite-difference step, relative to the magnitude of the point.
const FD_STEP: f64 = 1e-6;
/// Tolerance for f64 derivatives (the finite difference itself is good to ~1e-10).
const TOL_F64: f64 = 1e-6;
/// Tolerance for f32 derivatives: f32 carries only ~7 significant digits.
const TOL_F32: f64 = 1e-5;

/// Collects the comparisons; `finish` turns them into the exit status.
#[derive(Default)]
struct Checks {
    count: usize,
    failures: Vec<String>,
}

impl Checks {
    /// Print and check one derivative. The error is relative to `max(|fd|, 1)`, so derivatives
    /// close to zero are judged by their absolute error.
    fn compare(&mut self, name: &str, what: &str, ad: f64, fd: f64, tol: f64) {
        let err = (ad - fd).abs() / fd.abs().max(1.0);
        println!("{name:<14} {what:<5} = {ad:>13.9}  fd = {fd:>13.9}  rel.err {err:.1e}");
        self.count += 1;
        // A NaN counts as a failure.
        if err.is_nan() || err >= tol {
            self.failures.push(format!(
                "{name} {what}: autodiff {ad}, finite difference {fd}"
            ));
        }
    }

    fn finish(self) -> ExitCode {
        if self.failures.is_empty() {
            println!(
                "all {} derivatives agree with finite differences",
                self.count
            );
            ExitCode::SUCCESS
        } else {
            for f in &self.failures {
                eprintln!("MISMATCH {f}");
            }
            eprintln!(
                "{} of {} derivatives disagree",
                self.failures.len(),
                self.count
            );
            ExitCode::FAILURE
        }
    }
}

/// `(f(x + h) − f(x − h)) / 2h` with `h = FD_STEP · max(|x|, 1)`.
fn central_difference(f: impl Fn(f64) -> f64, x: f64) -> f64 {
    let h = FD_STEP * x.abs().max(1.0);
    (f(x + h) - f(x - h)) / (2.0 * h)
}

/// Central difference of a vector function along the direction `v`: one value per output.
fn directional_difference(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], v: &[f64]) -> Vec<f64> {
    let h = FD_STEP * x.iter().fold(1.0_f64, |m, xi| m.max(xi.abs()));
    let shifted = |s: f64| -> Vec<f64> { x.iter().zip(v).map(|(xi, vi)| xi + s * vi).collect() };
    let (plus, minus) = (f(&shifted(h)), f(&shifted(-h)));
    plus.iter()
        .zip(&minus)
        .map(|(p, m)| (p - m) / (2.0 * h))
        .collect()
}

// =============================================================================================
// 1. Scalar polynomial
// =============================================================================================

/// p(x) = 2x³ − 3x² + x/2 − 7 by Horner's rule; p'(x) = 6x² − 6x + 1/2.
///
/// Generates `fn d_poly(x: f64, bx_0: f64) -> (f64, f64)` = `(p(x), p'(x)·bx_0)`.
#[autodiff_forward(d_poly, Dual, Dual)]
fn poly(x: f64) -> f64 {
    ((2.0 * x - 3.0) * x + 0.5) * x - 7.0
}

fn example_poly(checks: &mut Checks) {
    let x = 1.5;
    let (_p, dp) = d_poly(x, 1.0);
    checks.compare("poly", "d/dx", dp, central_difference(poly, x), TOL_F64);
}

// =============================================================================================
// 2. Physics: sensitivity of a damped oscillator to its spring constant (exp, sin, cos, sqrt)
// =============================================================================================

/// Position at time `t` of an underdamped mass–spring–damper released at rest from x = 1:
/// x(t) = e^(−γt) (cos ωt + γ/ω sin ωt), with γ = c/2m and ω = √(k/m − γ²).
///
/// `k` is differentiated (`Dual`), `t` is a parameter (`Const`, no shadow), so this generates
/// `fn d_displacement(k: f64, bk_0: f64, t: f64) -> (f64, f64)`.
#[autodiff_forward(d_displacement, Dual, Const, Dual)]
fn displacement(k: f64, t: f64) -> f64 {
    const MASS: f64 = 0.5;
    const DAMPING: f64 = 0.3;
    let gamma = DAMPING / (2.0 * MASS);
    let omega = (k / MASS - gamma * gamma).sqrt();
    (-gamma * t).exp() * ((omega * t).cos() + gamma / omega * (omega * t).sin())
}

fn example_oscillator(checks: &mut Checks) {
    let (k, t) = (8.0, 2.5);
    let (_x, dx_dk) = d_displacement(k, 1.0, t);
    let fd = central_difference(|k| displacement(k, t), k);
    checks.compare("oscillator", "d/dk", dx_dk, fd, TOL_F64);
}

// =============================================================================================
// 3. Euclidean norm of a slice: the shadow of `&[f64]` is a `&[f64]` of the same length
// =============================================================================================

/// ‖x‖₂. Generates `fn d_norm(x: &[f64], bx_0: &[f64]) -> (f64, f64)`: the second value is the
/// derivative along the direction `bx_0`, ⟨x, bx_0⟩ / ‖x‖.
#[autodiff_forward(d_norm, Dual, Dual)]
fn norm(x: &[f64]) -> f64 {
    x.iter().map(|xi| xi * xi).sum::<f64>().sqrt()
}

fn example_norm(checks: &mut Checks) {
    let x = [3.0, -1.0, 2.0, 0.5, -4.0];
    let v = [1.0, 0.5, -2.0, 1.0, 0.25];
    let (_n, dn) = d_norm(&x, &v);
    let fd = directional_difference(|p| vec![norm(p)], &x, &v)[0];
    checks.compare("norm", "d/dv", dn, fd, TOL_F64);
}

// =============================================================================================
// 4. Lennard-Jones energy of a particle at `&[f64; 3]`, through a helper function
// =============================================================================================

/// Fixed atoms the particle interacts with (a square in the z = 0 plane).
const SITES: [[f64; 3]; 4] = [
    [0.6, 0.6, 0.0],
    [-0.6, 0.6, 0.0],
    [-0.6, -0.6, 0.0],
    [0.6, -0.6, 0.0],
];

/// Pair potential 4ε((σ²/r²)⁶ − (σ²/r²)³) as a function of the squared distance (σ = ε = 1).
/// Kept out of line so that the derivative really goes through a call.
#[inline(never)]
fn lj_pair(r2: f64) -> f64 {
    let s2 = 1.0 / r2;
    let s6 = s2 * s2 * s2;
    4.0 * (s6 * s6 - s6)
}

/// Total energy. Generates `fn d_lj_energy(r: &[f64; 3], br_0: &[f64; 3]) -> (f64, f64)`.
#[autodiff_forward(d_lj_energy, Dual, Dual)]
fn lj_energy(r: &[f64; 3]) -> f64 {
    SITES
        .iter()
        .map(|site| {
            let r2: f64 = (0..3).map(|i| (r[i] - site[i]) * (r[i] - site[i])).sum();
            lj_pair(r2)
        })
        .sum()
}

fn example_lennard_jones(checks: &mut Checks) {
    let r = [0.3, 0.4, 1.2];
    // One forward pass per unit direction gives the gradient (the force is its negative).
    for (axis, what) in ["dE/dx", "dE/dy", "dE/dz"].into_iter().enumerate() {
        let mut seed = [0.0; 3];
        seed[axis] = 1.0;
        let (_e, de) = d_lj_energy(&r, &seed);
        let fd = central_difference(
            |s| {
                let mut p = r;
                p[axis] = s;
                lj_energy(&p)
            },
            r[axis],
        );
        checks.compare("lennard_jones", what, de, fd, TOL_F64);
    }
}

// =============================================================================================
// 5. Softmax into `&mut [f64]`: the output's shadow receives the tangent of the output
// =============================================================================================

/// `out = softmax(x)`, shifted by max(x) for numerical stability. Generates
/// `fn d_softmax(x: &[f64], bx_0: &[f64], out: &mut [f64], bout_0: &mut [f64])`; after the call
/// `bout_0` holds J·bx_0 (it is overwritten, not accumulated into).
#[autodiff_forward(d_softmax, Dual, Dual)]
fn softmax(x: &[f64], out: &mut [f64]) {
    let mut max = x[0];
    for &xi in &x[1..] {
        if xi > max {
            max = xi;
        }
    }
    let mut total = 0.0;
    for (o, &xi) in out.iter_mut().zip(x) {
        *o = (xi - max).exp();
        total += *o;
    }
    for o in out.iter_mut() {
        *o /= total;
    }
}

fn example_softmax(checks: &mut Checks) {
    let x = [0.5, -1.0, 2.0, 0.0];
    let v = [1.0, 0.5, -0.5, 2.0];
    let mut out = [0.0; 4];
    let mut tangent = [0.0; 4];
    d_softmax(&x, &v, &mut out, &mut tangent);
    let fd = directional_difference(
        |p| {
            let mut o = vec![0.0; p.len()];
            softmax(p, &mut o);
            o
        },
        &x,
        &v,
    );
    for (i, (ad, fd)) in tangent.iter().zip(&fd).enumerate() {
        checks.compare(&format!("softmax[{i}]"), "d/dv", *ad, *fd, TOL_F64);
    }
}

// =============================================================================================
// 6. Batched (width 2): the whole gradient of Rosenbrock's function in one call
// =============================================================================================

/// f(x, y) = (1 − x)² + 100 (y − x²)². With width 2 every `Dual` argument gets two shadows and a
/// `Dual` return becomes `[f, ḟ₀, ḟ₁]`: generates
/// `fn d_rosenbrock_x2(p: &[f64; 2], bp_0: &[f64; 2], bp_1: &[f64; 2]) -> [f64; 3]`.
#[autodiff_forward(d_rosenbrock_x2, 2, Dual, Dual)]
fn rosenbrock(p: &[f64; 2]) -> f64 {
    let (x, y) = (p[0], p[1]);
    let (a, b) = (1.0 - x, y - x * x);
    a * a + 100.0 * b * b
}

fn example_rosenbrock(checks: &mut Checks) {
    let p = [-0.5, 1.2];
    let [_f, df_dx, df_dy] = d_rosenbrock_x2(&p, &[1.0, 0.0], &[0.0, 1.0]);
    let fd_x = central_difference(|x| rosenbrock(&[x, p[1]]), p[0]);
    let fd_y = central_difference(|y| rosenbrock(&[p[0], y]), p[1]);
    checks.compare("rosenbrock x2", "d/dx", df_dx, fd_x, TOL_F64);
    checks.compare("rosenbrock x2", "d/dy", df_dy, fd_y, TOL_F64);
}

// =============================================================================================
// 7. f32: logistic loss, generic so that the reference can be computed in f64
// =============================================================================================

/// The few float operations the generic example needs.
trait Real: Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> {
    fn from_f64(v: f64) -> Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
}

impl Real for f32 {
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    fn exp(self) -> f32 {
        f32::exp(self)
    }
    fn ln(self) -> f32 {
        f32::ln(self)
    }
}

impl Real for f64 {
    fn from_f64(v: f64) -> f64 {
        v
    }
    fn exp(self) -> f64 {
        f64::exp(self)
    }
    fn ln(self) -> f64 {
        f64::ln(self)
    }
}

/// Binary cross-entropy of a logistic unit with logit `z` against the label 1/4:
/// L(z) = ln(1 + eᶻ) − z/4, L'(z) = σ(z) − 1/4. The generated function keeps the generic
/// parameter: `fn d_logistic_loss<T: Real>(z: T, bz_0: T) -> (T, T)`, used here at `T = f32`.
#[autodiff_forward(d_logistic_loss, Dual, Dual)]
fn logistic_loss<T: Real>(z: T) -> T {
    let label = T::from_f64(0.25);
    (T::from_f64(1.0) + z.exp()).ln() - label * z
}

fn example_logistic_f32(checks: &mut Checks) {
    let z = 0.8_f32;
    let (_loss, dloss) = d_logistic_loss::<f32>(z, 1.0);
    // The reference runs the same code in f64, at exactly the f32 input.
    let fd = central_difference(logistic_loss::<f64>, f64::from(z));
    checks.compare("logistic f32", "d/dz", f64::from(dloss), fd, TOL_F32);
}

// =============================================================================================
// 8. Newton's method with a data-dependent number of iterations: Kepler's equation
// =============================================================================================

/// Eccentric anomaly E of an orbit with eccentricity `e` at mean anomaly `m`: the root of
/// Kepler's equation E − e sin E = m, by Newton's method until the step is negligible.
/// Differentiating through the iterations gives dE/dm = 1 / (1 − e cos E).
///
/// Generates `fn d_eccentric_anomaly(m: f64, bm_0: f64, e: f64) -> (f64, f64)`.
#[autodiff_forward(d_eccentric_anomaly, Dual, Const, Dual)]
fn eccentric_anomaly(m: f64, e: f64) -> f64 {
    let mut ecc = if e < 0.8 { m } else { std::f64::consts::PI };
    let mut iterations = 0;
    loop {
        let step = (ecc - e * ecc.sin() - m) / (1.0 - e * ecc.cos());
        ecc -= step;
        iterations += 1;
        if step.abs() <= 1e-15 * (1.0 + ecc.abs()) || iterations == 50 {
            break;
        }
    }
    ecc
}

fn example_kepler(checks: &mut Checks) {
    let (m, e) = (1.3, 0.6);
    let (_ecc, decc_dm) = d_eccentric_anomaly(m, 1.0, e);
    let fd = central_difference(|m| eccentric_anomaly(m, e), m);
    checks.compare("kepler", "dE/dm", decc_dm, fd, TOL_F64);
}

fn main() -> ExitCode {
    let mut checks = Checks::default();
    example_poly(&mut checks);
    example_oscillator(&mut checks);
    example_norm(&mut checks);
    example_lennard_jones(&mut checks);
    example_softmax(&mut checks);
    example_rosenbrock(&mut checks);
    example_logistic_f32(&mut checks);
    example_kepler(&mut checks);
    reverse::run(&mut checks);
    checks.finish()
}
