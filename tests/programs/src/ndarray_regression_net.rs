//! A one-hidden-layer regression network written with ndarray: parameters arrive as one flat
//! slice and are viewed as matrices (`ArrayView2::from_shape`), the batch is an `Array2` built with
//! `from_shape_vec`, layers are `dot` products with broadcast bias and `mapv(tanh)`, and the loss
//! is a `mean`. Reverse gradient checked against finite differences and against the hand-written
//! backpropagation in ndarray.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

const D: usize = 3;
const H: usize = 5;

struct Params<'a> {
    w1: ArrayView2<'a, f64>,
    b1: ArrayView1<'a, f64>,
    w2: ArrayView2<'a, f64>,
    b2: f64,
}

fn split(p: &[f64]) -> Params<'_> {
    let (w1, rest) = p.split_at(D * H);
    let (b1, rest) = rest.split_at(H);
    let (w2, b2) = rest.split_at(H);
    Params {
        w1: ArrayView2::from_shape((D, H), w1).unwrap(),
        b1: ArrayView1::from(b1),
        w2: ArrayView2::from_shape((H, 1), w2).unwrap(),
        b2: b2[0],
    }
}

#[autodiff_reverse(d_mse, Duplicated, Const, Const, Active)]
fn mse(p: &[f64], xs: &[f64], ys: &[f64]) -> f64 {
    let net = split(p);
    let x = Array2::from_shape_vec((ys.len(), D), xs.to_vec()).expect("batch shape");
    let hidden = (x.dot(&net.w1) + &net.b1).mapv(f64::tanh);
    let out = hidden.dot(&net.w2) + net.b2;
    let err = &out.column(0) - &ArrayView1::from(ys);
    err.mapv(|e| e * e).mean().unwrap()
}

pub fn run() {
    let n = 6;
    let np = D * H + H + H + 1;
    let p: Vec<f64> = (0..np).map(|i| 0.5 * (((i * 7 + 3) % 11) as f64 / 11.0 - 0.5)).collect();
    let xs: Vec<f64> = (0..n * D).map(|i| ((i * 5) % 9) as f64 / 4.0 - 1.0).collect();
    let ys: Vec<f64> = (0..n).map(|i| (i as f64 * 0.9).sin()).collect();
    let mut g = vec![0.0; np];
    d_mse(&p, &mut g, &xs, &ys, 1.0);
    assert_close("ndarray_regression_net fd", &g, &fd_gradient(|q| mse(q, &xs, &ys), &p), 1e-5);

    // Backpropagation by hand.
    let net = split(&p);
    let x = Array2::from_shape_vec((n, D), xs.clone()).unwrap();
    let hidden = (x.dot(&net.w1) + &net.b1).mapv(f64::tanh);
    let out = hidden.dot(&net.w2) + net.b2;
    let dout: Array2<f64> = (&out - &Array1::from(ys.clone()).insert_axis(Axis(1))) * (2.0 / n as f64);
    let dw2 = hidden.t().dot(&dout);
    let db2 = dout.sum();
    let dpre = dout.dot(&net.w2.t()) * hidden.mapv(|h| 1.0 - h * h);
    let dw1 = x.t().dot(&dpre);
    let db1 = dpre.sum_axis(Axis(0));
    let want: Vec<f64> = dw1.iter().chain(db1.iter()).chain(dw2.iter()).copied().chain([db2]).collect();
    assert_close("ndarray_regression_net backprop", &g, &want, 1e-10);
}
