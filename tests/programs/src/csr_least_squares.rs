//! Sparse least squares with a smoothed L1 penalty: the matrix is in CSR form (`Vec<usize>` row
//! pointers and column indices, `Vec<f64>` values, all `Const`), the residual is built with
//! `windows` over the row pointers and a `zip` of indices and values, and the penalty with
//! `step_by`/`chunks_exact`. Reverse mode is checked against the closed form `Aᵀ r + λ x/√(x²+ε)`
//! and finite differences, forward mode against reverse.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

pub struct Csr {
    pub row_ptr: Vec<usize>,
    pub cols: Vec<usize>,
    pub vals: Vec<f64>,
}

impl Csr {
    fn mul(&self, x: &[f64]) -> Vec<f64> {
        self.row_ptr
            .windows(2)
            .map(|w| self.cols[w[0]..w[1]].iter().zip(&self.vals[w[0]..w[1]]).map(|(&j, a)| a * x[j]).sum())
            .collect()
    }
}

const EPS: f64 = 1e-3;

#[autodiff_reverse(d_objective, Duplicated, Const, Const, Const, Active)]
#[autodiff_forward(t_objective, Dual, Const, Const, Const, Dual)]
fn objective(x: &[f64], a: &Csr, b: &[f64], lambda: f64) -> f64 {
    let r: Vec<f64> = a.mul(x).iter().zip(b).map(|(ax, bi)| ax - bi).collect();
    let fit = 0.5 * r.iter().map(|t| t * t).sum::<f64>();
    // Even and odd entries penalized alike, through two strided passes.
    let smooth_abs = |t: f64| (t * t + EPS).sqrt();
    let even: f64 = x.iter().step_by(2).map(|&t| smooth_abs(t)).sum();
    let odd: f64 = x.chunks_exact(2).map(|c| smooth_abs(c[1])).sum();
    fit + lambda * (even + odd)
}

pub fn run() {
    // A 5×4 matrix with 11 nonzeros.
    let a = Csr {
        row_ptr: vec![0, 2, 5, 6, 9, 11],
        cols: vec![0, 2, 0, 1, 3, 2, 0, 1, 3, 1, 2],
        vals: vec![1.0, -2.0, 0.5, 3.0, 1.0, 4.0, -1.0, 2.0, 0.5, 1.5, -0.5],
    };
    let b = [1.0, -0.5, 2.0, 0.25, 1.0];
    let x = [0.3, -0.8, 0.45, 1.2];
    let lambda = 0.1;
    let mut dx = [0.0; 4];
    let v = d_objective(&x, &mut dx, &a, &b, lambda, 1.0);
    assert_close("csr_least_squares value", &[v], &[objective(&x, &a, &b, lambda)], 1e-14);
    let r: Vec<f64> = a.mul(&x).iter().zip(&b).map(|(ax, bi)| ax - bi).collect();
    let mut closed: Vec<f64> = x.iter().map(|t| lambda * t / (t * t + EPS).sqrt()).collect();
    for (i, w) in a.row_ptr.windows(2).enumerate() {
        for k in w[0]..w[1] {
            closed[a.cols[k]] += a.vals[k] * r[i];
        }
    }
    assert_close("csr_least_squares closed form", &dx, &closed, 1e-13);
    assert_close("csr_least_squares fd", &dx, &fd_gradient(|x| objective(x, &a, &b, lambda), &x), 1e-6);
    let tx = [1.0, 0.5, -0.25, 2.0];
    let (_, t) = t_objective(&x, &tx, &a, &b, lambda);
    let dot: f64 = dx.iter().zip(&tx).map(|(p, q)| p * q).sum();
    assert_close("csr_least_squares forward vs reverse", &[t], &[dot], 1e-12);
}
