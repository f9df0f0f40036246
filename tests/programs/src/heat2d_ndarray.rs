//! Explicit 2-D heat diffusion on an ndarray grid: the five-point Laplacian is assembled from
//! shifted `s![..]` slices of an `Array2`, the interior updated with `scaled_add`, the boundary
//! held at zero. The mismatch to probe readings is differentiated with respect to the initial
//! field (`Duplicated`) and the diffusivity (`Active`), checked against finite differences and,
//! for the diffusivity, against forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};
use ndarray::{s, Array2};

pub struct Probe {
    pub at: (usize, usize),
    pub reading: f64,
}

fn diffuse(u: &mut Array2<f64>, alpha: f64, dt: f64, steps: usize) {
    for _ in 0..steps {
        let lap = &u.slice(s![..-2, 1..-1]) + &u.slice(s![2.., 1..-1]) + &u.slice(s![1..-1, ..-2]) + &u.slice(s![1..-1, 2..])
            - &u.slice(s![1..-1, 1..-1]) * 4.0;
        u.slice_mut(s![1..-1, 1..-1]).scaled_add(alpha * dt, &lap);
    }
}

#[autodiff_reverse(d_mismatch, Duplicated, Active, Const, Active)]
#[autodiff_forward(t_mismatch, Const, Dual, Const, Dual)]
fn mismatch(u0: &[f64], alpha: f64, probes: &[Probe]) -> f64 {
    let n = (u0.len() as f64).sqrt() as usize;
    let mut u = Array2::from_shape_vec((n, n), u0.to_vec()).expect("square grid");
    diffuse(&mut u, alpha, 0.1, 12);
    probes.iter().map(|p| (u[p.at] - p.reading).powi(2)).sum()
}

pub fn run() {
    let n = 8;
    let u0: Vec<f64> = (0..n * n)
        .map(|k| {
            let (i, j) = (k / n, k % n);
            if i == 0 || j == 0 || i == n - 1 || j == n - 1 { 0.0 } else { 1.0 + 0.2 * ((i * 3 + j * 5) % 7) as f64 }
        })
        .collect();
    let probes = vec![
        Probe { at: (2, 3), reading: 0.7 },
        Probe { at: (4, 4), reading: 1.1 },
        Probe { at: (5, 2), reading: 0.5 },
        Probe { at: (6, 6), reading: 0.2 },
    ];
    let alpha = 0.8;
    let mut du = vec![0.0; n * n];
    let (v, dalpha) = d_mismatch(&u0, &mut du, alpha, &probes, 1.0);
    assert_close("heat2d_ndarray value", &[v], &[mismatch(&u0, alpha, &probes)], 1e-13);
    assert_close("heat2d_ndarray d/du0 fd", &du, &fd_gradient(|u| mismatch(u, alpha, &probes), &u0), 1e-5);
    assert_close("heat2d_ndarray d/dalpha fd", &[dalpha], &fd_gradient(|a| mismatch(&u0, a[0], &probes), &[alpha]), 1e-5);
    let (_, t) = t_mismatch(&u0, alpha, 1.0, &probes);
    assert_close("heat2d_ndarray forward vs reverse", &[t], &[dalpha], 1e-10);
}
