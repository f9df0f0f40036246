//! Issue 12's silent wrong gradient: a `Result<f64, E>` whose error variant carries a payload,
//! unwrapped with `match` (release builds move the float through an integer phi; dev builds copy
//! the enum through generic `?` helpers).
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};

#[derive(Debug)]
#[allow(dead_code)]
enum FitError {
    Empty,
    Mismatch(usize, usize),
}

fn residuals(rows: &[f64], y: &[f64]) -> Result<Vec<f64>, FitError> {
    if rows.is_empty() {
        return Err(FitError::Empty);
    }
    if rows.len() != y.len() {
        return Err(FitError::Mismatch(rows.len(), y.len()));
    }
    Ok(vec![0.0; y.len()])
}

fn objective(p: &[f64], rows: &[f64], y: &[f64]) -> Result<f64, FitError> {
    let r = residuals(rows, y)?;
    Ok(r[0] + p.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum::<f64>())
}

#[autodiff_reverse(grad_loss, Duplicated, Const, Const, Active)]
fn loss(p: &[f64], rows: &[f64], y: &[f64]) -> f64 {
    match objective(p, rows, y) {
        Ok(v) => v,
        Err(e) => panic!("bad data: {e:?}"),
    }
}

/// The same with a payload-carrying error kept in a `Result` across a loop.
fn checked_sqrt(x: f64) -> Result<f64, (usize, f64)> {
    if x < 0.0 { Err((7, x)) } else { Ok(x.sqrt()) }
}

#[autodiff_reverse(grad_norms, Duplicated, Active)]
fn norms(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for w in v.chunks(2) {
        match checked_sqrt(w[0] * w[0] + w[1] * w[1]) {
            Ok(r) => s += r * w[0],
            Err((code, x)) => panic!("negative {x} ({code})"),
        }
    }
    s
}

pub fn run() {
    let p = [0.4, -0.3, 0.25, 0.6, -0.1];
    let (rows, y) = ([1.0; 4], [2.0; 4]);
    let mut dp = [0.0; 5];
    let v = grad_loss(&p, &mut dp, &rows, &y, 1.0);
    assert_close("fit_result value", &[v], &[loss(&p, &rows, &y)], 1e-14);
    assert_close("fit_result closed form", &dp, &[1.4, -2.5, 0.4, 2.1, -1.4], 1e-12);
    assert_close("fit_result fd", &dp, &fd_gradient(|q| loss(q, &rows, &y), &p), 1e-6);

    let v = [0.3, -1.2, 2.0, 0.5, -0.7, 0.1];
    let mut dv = [0.0; 6];
    grad_norms(&v, &mut dv, 1.0);
    assert_close("fit_result norms fd", &dv, &fd_gradient(norms, &v), 1e-6);
}
