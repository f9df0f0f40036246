//! Loop shapes whose per-iteration values the reverse sweep keeps: ranges up and down
//! (`rev()`), `step_by`, an `i32` counter in a `while`, zipped slice iterators, a triangular
//! nest (the inner bound is the outer variable), an early `break`, and a helper that is not
//! inlined, runs a data-dependent `while` and keeps its own values while the caller's loop is
//! running (its values go on the tape above the caller's loop buffer). Chunk boundaries are
//! crossed in the engine's own tests (`reverse_ir::chunked_tape_across_many_chunks`). Checked
//! against finite differences and forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

/// A few damped steps, as many as `k` or until the state is small.
#[inline(never)]
fn damped(x: f64, k: usize) -> f64 {
    let mut y = x;
    let mut i = 0;
    while i < k && y.abs() > 1e-3 {
        y = (0.9 * y).sin() + 0.01 * y * y;
        i += 1;
    }
    y
}

#[autodiff_reverse(d_energy, Duplicated, Active)]
#[autodiff_forward(t_energy, Dual, Dual)]
fn energy(x: &[f64]) -> f64 {
    let n = x.len();
    let mut e = 0.0;
    for i in 0..n {
        e += (x[i] * x[i]).sin();
    }
    let mut acc: f64 = 0.5;
    for i in (0..n).rev() {
        acc = (0.5 * acc + x[i] * acc.cos()).tanh();
    }
    e += acc;
    for i in (0..n).step_by(3) {
        e += (1.0 + x[i] * x[i]).ln() * x[(i + 1) % n];
    }
    let (m, mut j, mut s) = (n as i32, 0i32, 0.0);
    while j < m {
        s = 0.9 * s + (x[j as usize] * s).sin() + 0.1 * x[j as usize];
        j += 2;
    }
    for (a, b) in x.iter().zip(&x[1..]) {
        e += (a * b).atan();
    }
    for i in 0..n.min(40) {
        for j in 0..i {
            e += 0.01 * (x[i] - x[j]).tanh() * x[j];
        }
    }
    let mut t = 0.0;
    for &xi in x {
        t = (t + xi).sin();
        if t > 0.995 {
            break;
        }
    }
    for i in 0..n.min(60) {
        let d = damped(x[i], 3 + i % 5);
        e += d * d;
    }
    e + t + s
}

pub fn run() {
    let n = 700;
    let x: Vec<f64> = (0..n).map(|i| 0.3 * ((i as f64) * 0.37).sin() + 0.05).collect();
    let mut dx = vec![0.0; n];
    let v = d_energy(&x, &mut dx, 1.0);
    assert_close("loop_shapes value", &[v], &[energy(&x)], 1e-13);
    assert_close("loop_shapes fd", &dx, &fd_gradient(energy, &x), 1e-6);
    // A second call reuses the tape the first one left.
    let mut again = vec![0.0; n];
    d_energy(&x, &mut again, 1.0);
    assert_close("loop_shapes second call", &again, &dx, 0.0);
    let dir: Vec<f64> = (0..n).map(|i| if i % 2 == 0 { 1.0 } else { -0.5 }).collect();
    let (_, t) = t_energy(&x, &dir);
    let want: f64 = dx.iter().zip(&dir).map(|(g, d)| g * d).sum();
    assert_close("loop_shapes forward vs reverse", &[t], &[want], 1e-10);
}
