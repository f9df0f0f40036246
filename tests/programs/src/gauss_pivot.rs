//! A dense linear solve written the textbook way: the matrix as `Vec<Vec<f64>>` copied from
//! the input, Gaussian elimination with partial pivoting (`rows.swap`, `max_by` on absolute
//! values), back substitution; the objective is a weighted sum of the solution. Differentiated
//! with respect to the matrix and the right-hand side, checked against the closed form
//! `∂(wᵀx)/∂b = λ`, `∂/∂A = -λ xᵀ` with `Aᵀλ = w`, finite differences, and forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

fn solve(a: &[f64], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut rows: Vec<Vec<f64>> = (0..n).map(|i| a[i * n..(i + 1) * n].to_vec()).collect();
    let mut rhs = b.to_vec();
    for k in 0..n {
        let p = (k..n).max_by(|&i, &j| rows[i][k].abs().partial_cmp(&rows[j][k].abs()).unwrap()).unwrap();
        rows.swap(k, p);
        rhs.swap(k, p);
        for i in k + 1..n {
            let f = rows[i][k] / rows[k][k];
            for j in k..n {
                let t = rows[k][j];
                rows[i][j] -= f * t;
            }
            rhs[i] -= f * rhs[k];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|j| rows[i][j] * x[j]).sum();
        x[i] = (rhs[i] - s) / rows[i][i];
    }
    x
}

#[autodiff_reverse(d_response, Duplicated, Duplicated, Const, Active)]
#[autodiff_forward(t_response, Dual, Dual, Const, Dual)]
fn response(a: &[f64], b: &[f64], w: &[f64]) -> f64 {
    solve(a, b).iter().zip(w).map(|(x, w)| x * w).sum()
}

pub fn run() {
    let a = [1.0, 4.0, -2.0, 0.5, 3.0, 1.0, 2.0, 0.0, 0.25, 7.0, -1.0, 2.0, 1.5, -3.0, 0.5, 5.0];
    let b = [1.0, -2.0, 0.5, 3.0];
    let w = [0.3, -1.0, 2.0, 0.7];
    let (mut da, mut db) = ([0.0; 16], [0.0; 4]);
    let v = d_response(&a, &mut da, &b, &mut db, &w, 1.0);
    assert_close("gauss_pivot value", &[v], &[response(&a, &b, &w)], 1e-13);
    // λ solves Aᵀλ = w.
    let at: Vec<f64> = (0..16).map(|k| a[(k % 4) * 4 + k / 4]).collect();
    let lambda = solve(&at, &w);
    let x = solve(&a, &b);
    assert_close("gauss_pivot d/db closed form", &db, &lambda, 1e-12);
    let da_closed: Vec<f64> = (0..16).map(|k| -lambda[k / 4] * x[k % 4]).collect();
    assert_close("gauss_pivot d/dA closed form", &da, &da_closed, 1e-12);
    assert_close("gauss_pivot d/dA fd", &da, &fd_gradient(|a| response(a, &b, &w), &a), 1e-6);
    let (ta, tb) = ([0.1; 16], [1.0, 0.0, -1.0, 0.5]);
    let (_, t) = t_response(&a, &ta, &b, &tb, &w);
    let dot: f64 = da.iter().zip(&ta).map(|(p, q)| p * q).sum::<f64>() + db.iter().zip(&tb).map(|(p, q)| p * q).sum::<f64>();
    assert_close("gauss_pivot forward vs reverse", &[t], &[dot], 1e-11);
}
