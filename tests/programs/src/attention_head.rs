//! One causal self-attention head over a short sequence: Q, K, V projections stored in a struct
//! of `Vec`s (row-major), scaled dot-product scores with a causal mask (−∞ above the diagonal),
//! a stable softmax per row, an output projection and a squared error against targets passed
//! `Const`. The reverse gradient is checked against finite differences and forward mode along a
//! random direction.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

const D_MODEL: usize = 4;
const D_HEAD: usize = 3;

#[derive(Clone)]
pub struct Head {
    pub wq: Vec<f64>, // D_MODEL × D_HEAD
    pub wk: Vec<f64>,
    pub wv: Vec<f64>,
    pub wo: Vec<f64>, // D_HEAD × D_MODEL
}

fn matmul(a: &[f64], b: &[f64], inner: usize, cols: usize) -> Vec<f64> {
    a.chunks(inner)
        .flat_map(|row| (0..cols).map(move |j| row.iter().enumerate().map(|(k, x)| x * b[k * cols + j]).sum::<f64>()))
        .collect()
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

fn attend(head: &Head, x: &[f64]) -> Vec<f64> {
    let q = matmul(x, &head.wq, D_MODEL, D_HEAD);
    let k = matmul(x, &head.wk, D_MODEL, D_HEAD);
    let v = matmul(x, &head.wv, D_MODEL, D_HEAD);
    let scale = 1.0 / (D_HEAD as f64).sqrt();
    let mut context = Vec::with_capacity(q.len());
    for (i, qi) in q.chunks(D_HEAD).enumerate() {
        let scores: Vec<f64> = k
            .chunks(D_HEAD)
            .enumerate()
            .map(|(j, kj)| if j > i { f64::NEG_INFINITY } else { scale * qi.iter().zip(kj).map(|(a, b)| a * b).sum::<f64>() })
            .collect();
        let w = softmax(&scores);
        for c in 0..D_HEAD {
            context.push(w.iter().zip(v.chunks(D_HEAD)).map(|(wj, vj)| wj * vj[c]).sum::<f64>());
        }
    }
    matmul(&context, &head.wo, D_HEAD, D_MODEL)
}

#[autodiff_reverse(d_loss, Duplicated, Const, Const, Active)]
#[autodiff_forward(t_loss, Dual, Const, Const, Dual)]
fn loss(head: &Head, x: &[f64], target: &[f64]) -> f64 {
    attend(head, x).iter().zip(target).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / target.len() as f64
}

fn flat(h: &Head) -> Vec<f64> {
    [&h.wq[..], &h.wk, &h.wv, &h.wo].concat()
}

fn unflat(p: &[f64]) -> Head {
    let n = D_MODEL * D_HEAD;
    Head { wq: p[..n].to_vec(), wk: p[n..2 * n].to_vec(), wv: p[2 * n..3 * n].to_vec(), wo: p[3 * n..].to_vec() }
}

pub fn run() {
    let seq = 5;
    let n = 4 * D_MODEL * D_HEAD;
    let p: Vec<f64> = (0..n).map(|i| 0.6 * (((i * 13 + 5) % 17) as f64 / 17.0 - 0.5)).collect();
    let head = unflat(&p);
    let x: Vec<f64> = (0..seq * D_MODEL).map(|i| ((i * 7) % 10) as f64 / 5.0 - 0.9).collect();
    let target: Vec<f64> = (0..seq * D_MODEL).map(|i| (i as f64 * 0.37).sin()).collect();
    let mut d = unflat(&vec![0.0; n]);
    d_loss(&head, &mut d, &x, &target, 1.0);
    let g = flat(&d);
    assert_close("attention_head fd", &g, &fd_gradient(|q| loss(&unflat(q), &x, &target), &p), 1e-5);
    let dir: Vec<f64> = (0..n).map(|i| ((i * 29 % 11) as f64 - 5.0) / 5.0).collect();
    let (_, t) = t_loss(&head, &unflat(&dir), &x, &target);
    assert_close("attention_head forward vs reverse", &[t], &[g.iter().zip(&dir).map(|(a, b)| a * b).sum::<f64>()], 1e-10);
}
