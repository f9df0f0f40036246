//! A small network layer stored in `f32` (weights and inputs), evaluated in `f32` with `tanh`,
//! its loss accumulated in `f64` through `as f64`, and a running statistic kept in a
//! `RefCell` shared by a closure. Reverse mode with respect to the `f32` weights is checked
//! against the closed form evaluated in `f64` (to `f32` precision) and against forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::assert_close;
use std::cell::RefCell;

#[autodiff_reverse(d_loss, Duplicated, Const, Const, Active)]
#[autodiff_forward(t_loss, Dual, Const, Const, Dual)]
fn loss(w: &[f32], x: &[f32], targets: &[f64]) -> f64 {
    let n_in = x.len() / targets.len();
    let worst = RefCell::new(0.0f64);
    let total: f64 = x
        .chunks(n_in)
        .zip(targets)
        .map(|(row, &t)| {
            let z: f32 = row.iter().zip(w).map(|(a, b)| a * b).sum();
            let e = z.tanh() as f64 - t;
            let mut m = worst.borrow_mut();
            if e.abs() > *m {
                *m = e.abs();
            }
            e * e
        })
        .sum();
    total + worst.into_inner()
}

pub fn run() {
    let w: [f32; 3] = [0.4, -0.25, 0.8];
    let x: [f32; 12] = [0.5, 1.0, -0.3, 0.2, -0.7, 0.9, 1.1, 0.4, 0.0, -0.6, 0.3, 0.75];
    let targets = [0.2, -0.1, 0.6, 0.3];
    let mut dw = [0.0f32; 3];
    let v = d_loss(&w, &mut dw, &x, &targets, 1.0);
    // To f32 precision: a release build may fold `loss` at compile time, with a `tanhf` more
    // accurate than the library's.
    assert_close("mixed_precision value", &[v], &[loss(&w, &x, &targets)], 1e-6);
    // Closed form in f64: Σ 2e·(1 - tanh²z)·row + sign(e*)·(1 - tanh²z*)·row* for the worst row.
    let mut closed = [0.0f64; 3];
    let mut worst = (0.0f64, 0usize, 0.0f64);
    for (r, (row, &t)) in x.chunks(3).zip(&targets).enumerate() {
        let z: f32 = row.iter().zip(&w).map(|(a, b)| a * b).sum();
        let th = z.tanh() as f64;
        let e = th - t;
        for i in 0..3 {
            closed[i] += 2.0 * e * (1.0 - th * th) * row[i] as f64;
        }
        if e.abs() > worst.0 {
            worst = (e.abs(), r, e.signum() * (1.0 - th * th));
        }
    }
    for i in 0..3 {
        closed[i] += worst.2 * x[worst.1 * 3 + i] as f64;
    }
    let got: Vec<f64> = dw.iter().map(|&d| d as f64).collect();
    assert_close("mixed_precision closed form", &got, &closed, 1e-5);
    let tw = [1.0f32, -0.5, 0.25];
    let (_, t) = t_loss(&w, &tw, &x, &targets);
    let dot: f64 = dw.iter().zip(&tw).map(|(a, b)| (a * b) as f64).sum();
    assert_close("mixed_precision forward vs reverse", &[t], &[dot], 1e-5);
}
