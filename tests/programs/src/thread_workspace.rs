//! A Gauss–Seidel smoother whose scratch row lives in a thread-local buffer, the way numerical
//! libraries keep per-thread workspaces (`matrixmultiply`'s mask buffer is one). The buffer
//! receives values computed from the differentiated inputs, so the derivative needs a shadow
//! of the thread-local; calling the derivative repeatedly must not carry derivative data from
//! one call into the next. Checked against finite differences, forward against reverse, and
//! by calling each derivative twice.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};
use std::cell::UnsafeCell;

const N: usize = 6;

thread_local! {
    static SCRATCH: UnsafeCell<[f64; 16]> = const { UnsafeCell::new([0.0; 16]) };
}

/// Three sweeps of a damped Gauss–Seidel smoother for `(2 + k) u_i - u_{i-1} - u_{i+1} = f_i`,
/// writing each sweep's result into the thread-local scratch row first.
fn smooth(f: &[f64], k: f64) -> f64 {
    SCRATCH.with(|s| {
        // SAFETY: the buffer is only used inside this closure, on this thread.
        let w = unsafe { &mut *s.get() };
        let mut u = [0.0; N];
        for _ in 0..3 {
            for i in 0..N {
                let left = if i > 0 { u[i - 1] } else { 0.0 };
                let right = if i + 1 < N { u[i + 1] } else { 0.0 };
                w[i] = (f[i] + left + right) / (2.0 + k);
                u[i] = 0.7 * w[i] + 0.3 * u[i];
            }
        }
        u.iter().map(|v| v * v).sum::<f64>() + w[..N].iter().sum::<f64>()
    })
}

#[autodiff_reverse(d_smooth, Duplicated, Active, Active)]
#[autodiff_forward(t_smooth, Dual, Dual, Dual)]
fn smoothed_energy(f: &[f64], k: f64) -> f64 {
    smooth(f, k)
}

pub fn run() {
    let f = [0.5, -0.2, 0.8, 0.1, -0.4, 0.3];
    let k = 0.6;
    let fd_f = fd_gradient(|p| smoothed_energy(p, k), &f);
    let fd_k = fd_gradient(|p| smoothed_energy(&f, p[0]), &[k])[0];
    for call in 0..2 {
        let mut g = [0.0; N];
        let (_, gk) = d_smooth(&f, &mut g, k, 1.0);
        assert_close(&format!("thread_workspace df (call {call})"), &g, &fd_f, 1e-7);
        assert_close(&format!("thread_workspace dk (call {call})"), &[gk], &[fd_k], 1e-7);
        let dir = [1.0, 0.5, -0.5, 0.25, 0.0, -1.0];
        let (_, t) = t_smooth(&f, &dir, k, 0.5);
        let want: f64 = g.iter().zip(&dir).map(|(a, b)| a * b).sum::<f64>() + 0.5 * gk;
        assert_close(&format!("thread_workspace forward vs reverse (call {call})"), &[t], &[want], 1e-10);
    }
}
