//! An LSTM cell unrolled over a short sequence (parameters in a struct of fixed-size arrays,
//! state in arrays returned by value), loss on the final hidden state; forward mode on one
//! parameter direction checked against reverse.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

const H: usize = 3;

#[derive(Clone, Copy)]
pub struct Cell {
    pub wx: [[f64; H]; 4], // input weight per gate and unit (scalar input)
    pub wh: [[f64; H]; 4], // recurrent weight (diagonal)
    pub b: [[f64; H]; 4],
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

fn step(c: &Cell, x: f64, h: [f64; H], s: [f64; H]) -> ([f64; H], [f64; H]) {
    let gate = |g: usize, u: usize| c.wx[g][u] * x + c.wh[g][u] * h[u] + c.b[g][u];
    let mut nh = [0.0; H];
    let mut ns = [0.0; H];
    for u in 0..H {
        let (i, f, o, cand) = (sigmoid(gate(0, u)), sigmoid(gate(1, u)), sigmoid(gate(2, u)), gate(3, u).tanh());
        ns[u] = f * s[u] + i * cand;
        nh[u] = o * ns[u].tanh();
    }
    (nh, ns)
}

#[autodiff_reverse(d_seq_loss, Duplicated, Const, Active)]
fn seq_loss(c: &Cell, xs: &[f64]) -> f64 {
    let (mut h, mut s) = ([0.0; H], [0.0; H]);
    for &x in xs {
        (h, s) = step(c, x, h, s);
    }
    h.iter().enumerate().map(|(u, v)| (v - 0.1 * u as f64).powi(2)).sum()
}

#[autodiff_forward(t_seq_loss, Dual, Const, Dual)]
fn seq_loss_fwd(c: &Cell, xs: &[f64]) -> f64 {
    seq_loss(c, xs)
}

fn to_flat(c: &Cell) -> Vec<f64> {
    [c.wx, c.wh, c.b].iter().flat_map(|m| m.iter().flat_map(|r| r.iter().copied())).collect()
}

fn from_flat(p: &[f64]) -> Cell {
    let m = |k: usize| {
        let mut a = [[0.0; H]; 4];
        for g in 0..4 {
            for u in 0..H {
                a[g][u] = p[k * 4 * H + g * H + u];
            }
        }
        a
    };
    Cell { wx: m(0), wh: m(1), b: m(2) }
}

pub fn run() {
    let p: Vec<f64> = (0..3 * 4 * H).map(|i| 0.4 * (((i * 5) % 13) as f64 / 13.0 - 0.5)).collect();
    let cell = from_flat(&p);
    let xs = [0.5, -0.3, 0.8, 0.1, -0.6];
    let mut d = from_flat(&vec![0.0; p.len()]);
    d_seq_loss(&cell, &mut d, &xs, 1.0);
    let g = to_flat(&d);
    assert_close("lstm fd", &g, &fd_gradient(|q| seq_loss(&from_flat(q), &xs), &p), 1e-6);
    let dir: Vec<f64> = (0..p.len()).map(|i| if i % 3 == 0 { 1.0 } else { -0.5 }).collect();
    let (_, t) = t_seq_loss(&cell, &from_flat(&dir), &xs);
    let want: f64 = g.iter().zip(&dir).map(|(a, b)| a * b).sum();
    assert_close("lstm forward vs reverse", &[t], &[want], 1e-10);
}
