//! Reverse-mode examples (`#[autodiff_reverse]`): gradients checked against finite differences.
//!
//! `#[autodiff_reverse(NAME, ACTIVITY...)]` generates `NAME`, which runs the primal and then
//! propagates adjoints backwards. A `Duplicated` argument gets a shadow right after it into which
//! the gradient is *accumulated*; the shadow of a `&mut` output is the seed on entry and is reset
//! to zero; an `Active` argument's adjoint is returned; an `Active` return takes the seed `dret`
//! as the last argument (this nightly does not pass it on: it acts as 1.0).

use crate::{central_difference, Checks, TOL_F64};
#[cfg(feature = "stable")]
use oxidase::autodiff::{autodiff_forward, autodiff_reverse};
#[cfg(not(feature = "stable"))]
use std::autodiff::{autodiff_forward, autodiff_reverse};

/// Gradient of `f` at `x` by central differences, one coordinate at a time.
fn fd_gradient(f: impl Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            central_difference(
                |t| {
                    let mut y = x.to_vec();
                    y[i] = t;
                    f(&y)
                },
                x[i],
            )
        })
        .collect()
}

// ---- 1. Rosenbrock through an iterator chain ----

#[autodiff_reverse(grad_rosenbrock, Duplicated, Active)]
fn rosenbrock(x: &[f64]) -> f64 {
    x.windows(2).map(|w| (1.0 - w[0]).powi(2) + 100.0 * (w[1] - w[0] * w[0]).powi(2)).sum()
}

fn example_rosenbrock(checks: &mut Checks) {
    let x: Vec<f64> = (0..6).map(|i| 0.5 + 0.1 * i as f64).collect();
    let mut dx = vec![0.0; x.len()];
    let y = grad_rosenbrock(&x, &mut dx, 1.0);
    checks.compare("rev rosen", "f", y, rosenbrock(&x), 1e-14);
    let fd = fd_gradient(rosenbrock, &x);
    for i in 0..x.len() {
        checks.compare("rev rosen", &format!("d{i}"), dx[i], fd[i], TOL_F64);
    }
}

// ---- 2. A model in a struct, data as Const ----

pub struct Model {
    w: [f64; 3],
    b: f64,
}

/// Mean squared error of `w·x + b` against targets.
#[autodiff_reverse(grad_mse, Duplicated, Const, Const, Active)]
fn mse(m: &Model, xs: &[[f64; 3]], ts: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..ts.len() {
        let x = &xs[i];
        let p = m.w[0] * x[0] + m.w[1] * x[1] + m.w[2] * x[2] + m.b;
        s += (p - ts[i]) * (p - ts[i]);
    }
    s / ts.len() as f64
}

fn example_mse(checks: &mut Checks) {
    let m = Model { w: [0.5, -0.25, 2.0], b: 0.1 };
    let xs = [[1.0, 2.0, 3.0], [-1.0, 0.5, 0.25], [2.0, -3.0, 1.0], [0.0, 1.0, -1.0]];
    let ts = [1.0, -2.0, 0.5, 3.0];
    let mut dm = Model { w: [0.0; 3], b: 0.0 };
    grad_mse(&m, &mut dm, &xs, &ts, 1.0);
    let as_vec = |m: &Model| vec![m.w[0], m.w[1], m.w[2], m.b];
    let fd = fd_gradient(|p| mse(&Model { w: [p[0], p[1], p[2]], b: p[3] }, &xs, &ts), &as_vec(&m));
    for (i, (ad, fd)) in as_vec(&dm).into_iter().zip(fd).enumerate() {
        checks.compare("rev mse", &format!("d{i}"), ad, fd, TOL_F64);
    }
}

// ---- 3. An in-place integrator step: &mut output seeded, Active step size ----

/// One explicit midpoint step of the pendulum y'' = -sin(y), in place.
#[autodiff_reverse(grad_step, Duplicated, Active)]
fn pendulum_step(y: &mut [f64; 2], h: f64) {
    let (q, p) = (y[0], y[1]);
    let (qm, pm) = (q + 0.5 * h * p, p - 0.5 * h * q.sin());
    y[0] = q + h * pm;
    y[1] = p - h * qm.sin();
}

fn example_pendulum(checks: &mut Checks) {
    let (y0, h) = ([0.8, -0.3], 0.1);
    // Seed: L = y_new[0] + 2·y_new[1].
    let loss = |y: [f64; 2], h: f64| {
        let mut y = y;
        pendulum_step(&mut y, h);
        y[0] + 2.0 * y[1]
    };
    let mut y = y0;
    let mut dy = [1.0, 2.0];
    let dh = grad_step(&mut y, &mut dy, h);
    checks.compare("rev step", "dL/dh", dh, central_difference(|t| loss(y0, t), h), TOL_F64);
    checks.compare("rev step", "dL/dq", dy[0], central_difference(|t| loss([t, y0[1]], h), y0[0]), TOL_F64);
    checks.compare("rev step", "dL/dp", dy[1], central_difference(|t| loss([y0[0], t], h), y0[1]), TOL_F64);
}

// ---- 4. A Vec built and dropped inside ----

#[autodiff_reverse(grad_softplus_sum, Duplicated, Active)]
fn softplus_sum(x: &[f64]) -> f64 {
    let v: Vec<f64> = x.iter().map(|a| (1.0 + a.exp()).ln()).collect();
    v.iter().sum::<f64>() * v[0]
}

fn example_vec_inside(checks: &mut Checks) {
    let x = [0.3, -1.2, 2.0, 0.7];
    let mut dx = [0.0; 4];
    grad_softplus_sum(&x, &mut dx, 1.0);
    let fd = fd_gradient(softplus_sum, &x);
    for i in 0..4 {
        checks.compare("rev vec", &format!("d{i}"), dx[i], fd[i], TOL_F64);
    }
}

// ---- 5. Hessian-vector product: forward over reverse ----

fn energy(x: &[f64; 2]) -> f64 {
    x[0] * x[0] * x[1] + x[1].sin() * x[0]
}

#[autodiff_reverse(grad_energy, Duplicated, Active)]
fn energy_rev(x: &[f64; 2]) -> f64 {
    energy(x)
}

/// ∇E(x) written into `g` (zeroed first).
#[autodiff_forward(hvp_energy, Dual, Dual)]
fn gradient(x: &[f64; 2], g: &mut [f64; 2]) {
    *g = [0.0; 2];
    grad_energy(x, g, 1.0);
}

fn example_hvp(checks: &mut Checks) {
    let (x, v) = ([0.7, -0.4], [1.0, 0.5]);
    let mut g = [0.0; 2];
    let mut hv = [0.0; 2];
    hvp_energy(&x, &v, &mut g, &mut hv);
    for i in 0..2 {
        let fd = central_difference(
            |s| {
                let mut gs = [0.0; 2];
                gradient(&[x[0] + s * v[0], x[1] + s * v[1]], &mut gs);
                gs[i]
            },
            0.0,
        );
        checks.compare("fwd∘rev hvp", &format!("Hv{i}"), hv[i], fd, TOL_F64);
    }
}

pub fn run(checks: &mut Checks) {
    example_rosenbrock(checks);
    example_mse(checks);
    example_pendulum(checks);
    example_vec_inside(checks);
    example_hvp(checks);
}
