//! A least-squares fit whose parameters live in a struct with a `Vec` inside, data passed as
//! `Const` slices beside them, and an iterator chain with `zip`.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};

pub struct Model {
    pub weights: Vec<f64>,
    pub bias: f64,
}

impl Model {
    fn predict(&self, x: &[f64]) -> f64 {
        self.weights.iter().zip(x).map(|(w, xi)| w * xi).sum::<f64>() + self.bias
    }
}

#[autodiff_reverse(d_sse, Duplicated, Const, Const, Active)]
fn sse(m: &Model, xs: &[f64], ys: &[f64]) -> f64 {
    let d = m.weights.len();
    xs.chunks(d).zip(ys).map(|(x, y)| (m.predict(x) - y).powi(2)).sum()
}

pub fn run() {
    let m = Model { weights: vec![0.5, -0.25, 1.5], bias: 0.1 };
    let xs = [1.0, 2.0, 0.5, -1.0, 0.0, 2.0, 0.3, 0.3, 0.3, 2.0, -1.0, 1.0];
    let ys = [1.0, 2.5, 0.2, -0.4];
    let mut dm = Model { weights: vec![0.0; 3], bias: 0.0 };
    d_sse(&m, &mut dm, &xs, &ys, 1.0);
    let f = |p: &[f64]| sse(&Model { weights: p[..3].to_vec(), bias: p[3] }, &xs, &ys);
    let mut got = dm.weights.clone();
    got.push(dm.bias);
    assert_close("struct_params fd", &got, &fd_gradient(f, &[0.5, -0.25, 1.5, 0.1]), 1e-6);
}
