//! Multinomial logistic regression with ndarray: weights viewed as a (features × classes)
//! `Array2` via `from_shape_vec`, logits `X·W` plus bias, a numerically stable log-softmax taken
//! row by row (`rows()` zipped with the labels), and a per-class group penalty using `sum_axis`.
//! The gradient is checked against finite differences and the closed form Xᵀ(P − Y)/n + penalty.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};
use ndarray::{Array1, Array2, ArrayView1, Axis};

pub struct Dataset {
    pub x: Array2<f64>,
    pub labels: Vec<usize>,
    pub classes: usize,
}

fn log_softmax(z: ArrayView1<f64>) -> Array1<f64> {
    let m = z.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let lse = m + z.mapv(|v| (v - m).exp()).sum().ln();
    z.mapv(|v| v - lse)
}

#[autodiff_reverse(d_objective, Duplicated, Const, Const, Active)]
fn objective(params: &[f64], data: &Dataset, penalty: f64) -> f64 {
    let (d, k) = (data.x.ncols(), data.classes);
    let w = Array2::from_shape_vec((d, k), params[..d * k].to_vec()).expect("weight shape");
    let b = Array1::from(params[d * k..].to_vec());
    let logits = data.x.dot(&w) + &b;
    let nll: f64 = logits.rows().into_iter().zip(&data.labels).map(|(row, &y)| -log_softmax(row)[y]).sum();
    let class_norms = w.mapv(|v| v * v).sum_axis(Axis(0));
    nll / data.labels.len() as f64 + 0.5 * penalty * class_norms.sum()
}

pub fn run() {
    let (n, d, k) = (8, 3, 4);
    let x = Array2::from_shape_fn((n, d), |(i, j)| ((i * 5 + j * 3) % 7) as f64 / 3.0 - 1.0);
    let labels: Vec<usize> = (0..n).map(|i| (i * 3 + 1) % k).collect();
    let data = Dataset { x, labels, classes: k };
    let params: Vec<f64> = (0..d * k + k).map(|i| 0.4 * (((i * 7) % 9) as f64 / 9.0 - 0.5)).collect();
    let penalty = 0.1;
    let mut g = vec![0.0; params.len()];
    d_objective(&params, &mut g, &data, penalty, 1.0);
    assert_close("softmax_regression_ndarray fd", &g, &fd_gradient(|p| objective(p, &data, penalty), &params), 1e-5);

    let w = Array2::from_shape_vec((d, k), params[..d * k].to_vec()).unwrap();
    let logits = data.x.dot(&w) + &Array1::from(params[d * k..].to_vec());
    let mut resid = logits.mapv(f64::exp);
    for (mut row, &y) in resid.rows_mut().into_iter().zip(&data.labels) {
        let s = row.sum();
        row /= s;
        row[y] -= 1.0;
    }
    resid /= n as f64;
    let dw = data.x.t().dot(&resid) + &w * penalty;
    let db = resid.sum_axis(Axis(0));
    let want: Vec<f64> = dw.iter().chain(db.iter()).copied().collect();
    assert_close("softmax_regression_ndarray closed form", &g, &want, 1e-10);
}
