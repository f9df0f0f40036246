//! Principal-direction fitness with ndarray: the sample covariance of a data matrix (centred with
//! `mean_axis`, then `Xcᵀ·Xc` via `ArrayView2::dot`) and the Rayleigh quotient vᵀCv / vᵀv of a
//! direction. Differentiated with respect to the direction (closed form 2(Cv − ρv)/vᵀv) and with
//! respect to the data themselves (closed form 2/(n−1)·(Xc v)(vᵀ)/vᵀv), both checked against
//! finite differences.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

fn covariance(x: ArrayView2<f64>) -> Array2<f64> {
    let mean = x.mean_axis(Axis(0)).expect("at least one sample");
    let centred = &x - &mean;
    centred.t().dot(&centred) / (x.nrows() - 1) as f64
}

#[autodiff_reverse(d_rayleigh_wrt_v, Duplicated, Const, Const, Active)]
#[autodiff_reverse(d_rayleigh_wrt_data, Const, Duplicated, Const, Active)]
fn rayleigh(v: &[f64], data: &[f64], dim: usize) -> f64 {
    let x = ArrayView2::from_shape((data.len() / dim, dim), data).expect("data shape");
    let c = covariance(x);
    let v = ArrayView1::from(v);
    v.dot(&c.dot(&v)) / v.dot(&v)
}

pub fn run() {
    let (n, dim) = (7, 3);
    let data: Vec<f64> = (0..n * dim).map(|i| ((i * 11 + 2) % 13) as f64 / 6.0 - 1.0 + 0.3 * (i % dim) as f64).collect();
    let v = [0.6, -0.3, 0.9];

    let mut dv = [0.0; 3];
    let rho = d_rayleigh_wrt_v(&v, &mut dv, &data, dim, 1.0);
    assert_close("covariance_rayleigh d/dv fd", &dv, &fd_gradient(|w| rayleigh(w, &data, dim), &v), 1e-5);
    let c = covariance(ArrayView2::from_shape((n, dim), &data[..]).unwrap());
    let va = Array1::from(v.to_vec());
    let vv = va.dot(&va);
    let want = (c.dot(&va) - &va * rho) * (2.0 / vv);
    assert_close("covariance_rayleigh d/dv closed form", &dv, want.as_slice().unwrap(), 1e-10);

    let mut dd = vec![0.0; n * dim];
    d_rayleigh_wrt_data(&v, &data, &mut dd, dim, 1.0);
    assert_close("covariance_rayleigh d/ddata fd", &dd, &fd_gradient(|x| rayleigh(&v, x, dim), &data), 1e-5);
    let x = ArrayView2::from_shape((n, dim), &data[..]).unwrap();
    let centred = &x - &x.mean_axis(Axis(0)).unwrap();
    let proj = centred.dot(&va).insert_axis(Axis(1));
    let want = proj.dot(&va.view().insert_axis(Axis(0))) * (2.0 / ((n - 1) as f64 * vv));
    // Logical (row-major) order: the product of an n×1 and a 1×dim matrix may come back in
    // column-major layout.
    let want: Vec<f64> = want.iter().copied().collect();
    assert_close("covariance_rayleigh d/ddata closed form", &dd, &want, 1e-10);
}
