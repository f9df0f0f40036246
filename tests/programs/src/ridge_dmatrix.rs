//! Ridge regression solved with nalgebra's `DMatrix`/`DVector` and a Cholesky factorization
//! inside the differentiated function; the validation error is differentiated with respect to
//! the log regularization weight (`Active`) and the training targets (`Duplicated`), design
//! matrices `Const`. Checked against finite differences and the closed form through A⁻¹.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};
use nalgebra::{DMatrix, DVector};

pub struct Split {
    pub x_train: DMatrix<f64>,
    pub x_val: DMatrix<f64>,
    pub y_val: DVector<f64>,
}

fn normal_matrix(x: &DMatrix<f64>, lambda: f64) -> DMatrix<f64> {
    x.transpose() * x + DMatrix::identity(x.ncols(), x.ncols()) * lambda
}

fn fit(x: &DMatrix<f64>, y: &DVector<f64>, lambda: f64) -> DVector<f64> {
    let chol = normal_matrix(x, lambda).cholesky().expect("normal matrix is positive definite");
    chol.solve(&(x.transpose() * y))
}

#[autodiff_reverse(d_validation_error, Active, Duplicated, Const, Active)]
fn validation_error(log_lambda: f64, y_train: &[f64], split: &Split) -> f64 {
    let w = fit(&split.x_train, &DVector::from_column_slice(y_train), log_lambda.exp());
    let r = &split.x_val * w - &split.y_val;
    r.norm_squared() / r.len() as f64
}

pub fn run() {
    let (n, m, d) = (9, 5, 3);
    let x_train = DMatrix::from_fn(n, d, |i, j| ((i * 3 + j * 7) % 5) as f64 / 2.0 - 1.0 + 0.1 * j as f64);
    let x_val = DMatrix::from_fn(m, d, |i, j| ((i * 2 + j * 5 + 1) % 7) as f64 / 3.0 - 1.0);
    let truth = DVector::from_column_slice(&[0.8, -0.5, 0.3]);
    let y_train: Vec<f64> = (&x_train * &truth).iter().enumerate().map(|(i, v)| v + 0.1 * (i as f64 * 1.7).sin()).collect();
    let y_val = &x_val * &truth + DVector::from_fn(m, |i, _| 0.05 * i as f64 - 0.1);
    let split = Split { x_train, x_val, y_val };
    let log_lambda = -0.7;

    let mut dy = vec![0.0; n];
    let (v, dll) = d_validation_error(log_lambda, &y_train, &mut dy, &split, 1.0);
    assert_close("ridge_dmatrix value", &[v], &[validation_error(log_lambda, &y_train, &split)], 1e-13);
    let fd_ll = fd_gradient(|p| validation_error(p[0], &y_train, &split), &[log_lambda]);
    assert_close("ridge_dmatrix d/dloglambda fd", &[dll], &fd_ll, 1e-5);
    assert_close("ridge_dmatrix d/dy fd", &dy, &fd_gradient(|y| validation_error(log_lambda, y, &split), &y_train), 1e-5);

    // Closed form: w = A⁻¹Xᵀy, L = |Xv w − yv|²/m; u = A⁻¹ (2/m) Xvᵀ r;
    // dL/dy = X u, dL/dλ = −u·w.
    let lambda = log_lambda.exp();
    let a_inv = normal_matrix(&split.x_train, lambda).try_inverse().unwrap();
    let w = &a_inv * split.x_train.transpose() * DVector::from_column_slice(&y_train);
    let r = &split.x_val * &w - &split.y_val;
    let u = &a_inv * split.x_val.transpose() * r * (2.0 / m as f64);
    assert_close("ridge_dmatrix d/dy closed form", &dy, (&split.x_train * &u).as_slice(), 1e-10);
    assert_close("ridge_dmatrix d/dloglambda closed form", &[dll], &[-lambda * u.dot(&w)], 1e-10);
}
