//! A smoothing fit that uses the standard containers the way users do: `collect`, `vec!`,
//! `to_vec`, `extend`, `Box<[f64]>`, a `VecDeque` sliding window, with `Const` observations
//! zipped beside the differentiated parameters; forward mode checked against reverse.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};
use std::collections::VecDeque;

fn smooth(signal: &[f64], width: usize) -> Vec<f64> {
    let mut window: VecDeque<f64> = VecDeque::with_capacity(width);
    let mut out = Vec::new();
    let mut sum = 0.0;
    for &s in signal {
        if window.len() == width {
            sum -= window.pop_front().unwrap();
        }
        window.push_back(s);
        sum += s;
        out.push(sum / window.len() as f64);
    }
    out
}

#[autodiff_reverse(d_misfit, Duplicated, Const, Active)]
fn misfit(params: &[f64], observed: &[f64]) -> f64 {
    // A signal built from the parameters: collect, then extended with its own mirror image.
    let mut signal: Vec<f64> = params.iter().map(|p| p.sin() + 0.5 * p).collect();
    let tail = signal.to_vec();
    signal.extend(tail.iter().rev().map(|v| 0.25 * v * v));
    let smoothed: Box<[f64]> = smooth(&signal, 3).into_boxed_slice();
    let mut weights = vec![1.0; smoothed.len()];
    for (i, w) in weights.iter_mut().enumerate() {
        *w += 0.1 * i as f64;
    }
    smoothed.iter().zip(observed).zip(&weights).map(|((s, o), w)| w * (s - o) * (s - o)).sum()
}

#[autodiff_forward(t_misfit, Dual, Const, Dual)]
fn misfit_fwd(params: &[f64], observed: &[f64]) -> f64 {
    misfit(params, observed)
}

pub fn run() {
    let params = [0.3, -0.8, 1.2, 0.05, -0.4];
    let observed: Vec<f64> = (0..10).map(|i| 0.1 * i as f64 - 0.3).collect();
    let mut g = [0.0; 5];
    d_misfit(&params, &mut g, &observed, 1.0);
    assert_close("containers fd", &g, &fd_gradient(|p| misfit(p, &observed), &params), 1e-6);
    for i in 0..5 {
        let mut e = [0.0; 5];
        e[i] = 1.0;
        let (_, t) = t_misfit(&params, &e, &observed);
        assert_close("containers forward vs reverse", &[t], &[g[i]], 1e-10);
    }
}
