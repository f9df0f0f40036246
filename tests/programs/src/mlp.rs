//! A two-layer perceptron with tanh, softmax and cross-entropy over a small batch: weights in a
//! struct of `Vec`s, inputs and integer labels passed `Const`, iterator chains with closures.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};

pub struct Mlp {
    pub w1: Vec<f64>, // hidden × inputs
    pub b1: Vec<f64>,
    pub w2: Vec<f64>, // classes × hidden
    pub b2: Vec<f64>,
}

const INPUTS: usize = 3;
const HIDDEN: usize = 4;
const CLASSES: usize = 3;

fn dense(w: &[f64], b: &[f64], x: &[f64], act: impl Fn(f64) -> f64) -> Vec<f64> {
    w.chunks(x.len()).zip(b).map(|(row, bi)| act(row.iter().zip(x).map(|(a, c)| a * c).sum::<f64>() + bi)).collect()
}

fn log_softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
    z.iter().map(|v| v - lse).collect()
}

#[autodiff_reverse(d_loss, Duplicated, Const, Const, Active)]
fn loss(net: &Mlp, xs: &[f64], labels: &[usize]) -> f64 {
    let mut total = 0.0;
    for (x, &label) in xs.chunks(INPUTS).zip(labels) {
        let h = dense(&net.w1, &net.b1, x, f64::tanh);
        let z = dense(&net.w2, &net.b2, &h, |v| v);
        total -= log_softmax(&z)[label];
    }
    total / labels.len() as f64
}

fn flat(net: &Mlp) -> Vec<f64> {
    [&net.w1[..], &net.b1, &net.w2, &net.b2].concat()
}

fn unflat(p: &[f64]) -> Mlp {
    let (w1, rest) = p.split_at(HIDDEN * INPUTS);
    let (b1, rest) = rest.split_at(HIDDEN);
    let (w2, b2) = rest.split_at(CLASSES * HIDDEN);
    Mlp { w1: w1.to_vec(), b1: b1.to_vec(), w2: w2.to_vec(), b2: b2.to_vec() }
}

pub fn run() {
    let n = HIDDEN * INPUTS + HIDDEN + CLASSES * HIDDEN + CLASSES;
    let p: Vec<f64> = (0..n).map(|i| 0.3 * ((i * 7 % 11) as f64 / 11.0 - 0.5)).collect();
    let net = unflat(&p);
    let xs = [0.5, -1.0, 0.25, 1.5, 0.3, -0.7, -0.2, 0.9, 1.1, 0.0, -1.3, 0.4];
    let labels = [0usize, 2, 1, 2];
    let mut d = unflat(&vec![0.0; n]);
    d_loss(&net, &mut d, &xs, &labels, 1.0);
    let fd = fd_gradient(|q| loss(&unflat(q), &xs, &labels), &p);
    assert_close("mlp fd", &flat(&d), &fd, 1e-6);
}
