//! Logistic regression the way a statistician writes it: the design matrix and labels passed
//! `Const`, validation through a helper returning `Result<_, DataError>` (an enum with payloads)
//! propagated with `?`, a penalty chosen by an enum, and a numerically stable log-loss. The
//! gradient is checked against finite differences and the closed form Xᵀ(σ(Xw + b) − y)/n + ∇penalty.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};

#[derive(Debug)]
#[allow(dead_code)]
pub enum DataError {
    Empty,
    Shape { rows: usize, cols: usize, len: usize },
    Label { row: usize, value: f64 },
}

pub enum Penalty {
    None,
    Ridge(f64),
    PseudoHuber { weight: f64, delta: f64 },
}

impl Penalty {
    fn value(&self, w: &[f64]) -> f64 {
        match self {
            Penalty::None => 0.0,
            Penalty::Ridge(l) => 0.5 * l * w.iter().map(|v| v * v).sum::<f64>(),
            Penalty::PseudoHuber { weight, delta } => {
                weight * w.iter().map(|v| delta * delta * ((1.0 + (v / delta).powi(2)).sqrt() - 1.0)).sum::<f64>()
            }
        }
    }
}

fn validate(x: &[f64], y: &[f64], cols: usize) -> Result<usize, DataError> {
    if y.is_empty() {
        return Err(DataError::Empty);
    }
    if x.len() != y.len() * cols {
        return Err(DataError::Shape { rows: y.len(), cols, len: x.len() });
    }
    if let Some((row, &value)) = y.iter().enumerate().find(|(_, v)| **v != 0.0 && **v != 1.0) {
        return Err(DataError::Label { row, value });
    }
    Ok(y.len())
}

fn log1p_exp(z: f64) -> f64 {
    if z > 0.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() }
}

fn negative_log_likelihood(params: &[f64], x: &[f64], y: &[f64], penalty: &Penalty) -> Result<f64, DataError> {
    let (w, b) = params.split_at(params.len() - 1);
    let n = validate(x, y, w.len())?;
    let nll: f64 = x
        .chunks(w.len())
        .zip(y)
        .map(|(row, &yi)| {
            let z = row.iter().zip(w).map(|(a, c)| a * c).sum::<f64>() + b[0];
            log1p_exp(z) - yi * z
        })
        .sum();
    Ok(nll / n as f64 + penalty.value(w))
}

#[autodiff_reverse(d_loss, Duplicated, Const, Const, Const, Active)]
fn loss(params: &[f64], x: &[f64], y: &[f64], penalty: &Penalty) -> f64 {
    match negative_log_likelihood(params, x, y, penalty) {
        Ok(v) => v,
        Err(e) => panic!("invalid data: {e:?}"),
    }
}

pub fn run() {
    let (n, d) = (10, 3);
    let x: Vec<f64> = (0..n * d).map(|i| ((i * 7 + 1) % 11) as f64 / 5.0 - 1.0).collect();
    let y: Vec<f64> = (0..n).map(|i| if (i * 3) % 4 < 2 { 1.0 } else { 0.0 }).collect();
    let params = [0.5, -1.2, 2.5, 0.1];
    let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
    for penalty in [Penalty::None, Penalty::Ridge(0.3), Penalty::PseudoHuber { weight: 0.2, delta: 0.5 }] {
        let mut g = [0.0; 4];
        d_loss(&params, &mut g, &x, &y, &penalty, 1.0);
        assert_close("logistic_regression fd", &g, &fd_gradient(|p| loss(p, &x, &y, &penalty), &params), 1e-5);
        let mut want = [0.0; 4];
        for (row, yi) in x.chunks(d).zip(&y) {
            let z = row.iter().zip(&params).map(|(a, c)| a * c).sum::<f64>() + params[3];
            let r = (sigmoid(z) - yi) / n as f64;
            for j in 0..d {
                want[j] += r * row[j];
            }
            want[3] += r;
        }
        for j in 0..d {
            want[j] += match penalty {
                Penalty::None => 0.0,
                Penalty::Ridge(l) => l * params[j],
                Penalty::PseudoHuber { weight, delta } => weight * params[j] / (1.0 + (params[j] / delta).powi(2)).sqrt(),
            };
        }
        assert_close("logistic_regression closed form", &g, &want, 1e-10);
    }
}
