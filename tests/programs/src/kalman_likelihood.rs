//! The log-likelihood of a constant-velocity Kalman filter (state: position and velocity, noisy
//! position measurements) as a function of the log process and log measurement noise; 2×2
//! matrices as nested arrays with small helper functions. The gradient (reverse) is checked
//! against finite differences and forward mode; for a filter observing one measurement with
//! known prior the closed form is checked too.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

type M2 = [[f64; 2]; 2];

fn mat_mul(a: &M2, b: &M2) -> M2 {
    let mut c = [[0.0; 2]; 2];
    for i in 0..2 {
        for j in 0..2 {
            c[i][j] = (0..2).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    c
}

fn transpose(a: &M2) -> M2 {
    [[a[0][0], a[1][0]], [a[0][1], a[1][1]]]
}

pub struct Model {
    pub dt: f64,
    pub x0: [f64; 2],
    pub p0: M2,
}

#[autodiff_reverse(d_log_likelihood, Duplicated, Const, Const, Active)]
#[autodiff_forward(t_log_likelihood, Dual, Const, Const, Dual)]
fn log_likelihood(log_noise: &[f64], measurements: &[f64], model: &Model) -> f64 {
    let (q, r) = (log_noise[0].exp(), log_noise[1].exp());
    let dt = model.dt;
    let f: M2 = [[1.0, dt], [0.0, 1.0]];
    let process: M2 = [[q * dt.powi(3) / 3.0, q * dt * dt / 2.0], [q * dt * dt / 2.0, q * dt]];
    let (mut x, mut p) = (model.x0, model.p0);
    let mut ll = 0.0;
    for &z in measurements {
        // predict
        x = [x[0] + dt * x[1], x[1]];
        p = mat_mul(&mat_mul(&f, &p), &transpose(&f));
        for i in 0..2 {
            for j in 0..2 {
                p[i][j] += process[i][j];
            }
        }
        // update with H = [1, 0]
        let innovation = z - x[0];
        let s = p[0][0] + r;
        let k = [p[0][0] / s, p[1][0] / s];
        ll -= 0.5 * ((2.0 * std::f64::consts::PI * s).ln() + innovation * innovation / s);
        x = [x[0] + k[0] * innovation, x[1] + k[1] * innovation];
        let row0 = p[0];
        for i in 0..2 {
            for j in 0..2 {
                p[i][j] -= k[i] * row0[j];
            }
        }
    }
    ll
}

pub fn run() {
    let model = Model { dt: 0.5, x0: [0.0, 1.0], p0: [[1.0, 0.0], [0.0, 1.0]] };
    let measurements: Vec<f64> = (1..=20).map(|i| { let t = 0.5 * i as f64; 0.9 * t + 0.3 * (1.7 * t).sin() }).collect();
    let theta = [-1.2, -2.0];
    let mut g = [0.0; 2];
    let ll = d_log_likelihood(&theta, &mut g, &measurements, &model, 1.0);
    assert_close("kalman value", &[ll], &[log_likelihood(&theta, &measurements, &model)], 1e-13);
    assert_close("kalman fd", &g, &fd_gradient(|t| log_likelihood(t, &measurements, &model), &theta), 1e-5);
    for i in 0..2 {
        let mut e = [0.0; 2];
        e[i] = 1.0;
        let (_, d) = t_log_likelihood(&theta, &e, &measurements, &model);
        assert_close("kalman forward vs reverse", &[d], &[g[i]], 1e-10);
    }

    // One measurement: z ~ N(x0 + dt v0, s) with s = P00' + r, P00' = p00 + dt² p11 + q dt³/3.
    let z = [1.3];
    let mut g1 = [0.0; 2];
    d_log_likelihood(&theta, &mut g1, &z, &model, 1.0);
    let (q, r, dt) = (theta[0].exp(), theta[1].exp(), model.dt);
    let s = 1.0 + dt * dt + q * dt.powi(3) / 3.0 + r;
    let e = z[0] - (model.x0[0] + dt * model.x0[1]);
    let dll_ds = -0.5 / s + 0.5 * e * e / (s * s);
    assert_close("kalman closed form", &g1, &[dll_ds * q * dt.powi(3) / 3.0, dll_ds * r], 1e-12);
}
