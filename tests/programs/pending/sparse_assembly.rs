//! Finite-element style assembly into a hash map: element contributions (`f64`) are added into
//! a `HashMap<(usize, usize), f64>` keyed by global node pairs (entry API), then the assembled
//! stiffness is applied to a displacement and an energy taken. Differentiated with respect to
//! the element stiffnesses and the displacements; checked against the closed form, finite
//! differences and forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};
use std::collections::HashMap;

#[autodiff_reverse(d_energy, Duplicated, Duplicated, Const, Active)]
#[autodiff_forward(t_energy, Dual, Dual, Const, Dual)]
fn energy(k: &[f64], u: &[f64], elements: &[(usize, usize)]) -> f64 {
    let mut global: HashMap<(usize, usize), f64> = HashMap::new();
    for (&ke, &(i, j)) in k.iter().zip(elements) {
        for (a, b, s) in [(i, i, 1.0), (j, j, 1.0), (i, j, -1.0), (j, i, -1.0)] {
            *global.entry((a, b)).or_insert(0.0) += s * ke;
        }
    }
    let mut e = 0.0;
    for (&(a, b), &kab) in &global {
        e += 0.5 * u[a] * kab * u[b];
    }
    e
}

pub fn run() {
    let elements = [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3)];
    let k = [3.0, 1.5, 2.0, 0.5, 1.25];
    let u = [0.0, 0.1, -0.05, 0.2];
    let (mut dk, mut du) = ([0.0; 5], [0.0; 4]);
    let v = d_energy(&k, &mut dk, &u, &mut du, &elements, 1.0);
    assert_close("sparse_assembly value", &[v], &[energy(&k, &u, &elements)], 1e-13);
    // E = Σ_e ½ k_e (u_i - u_j)².
    let dk_closed: Vec<f64> = elements.iter().map(|&(i, j)| 0.5 * (u[i] - u[j]).powi(2)).collect();
    assert_close("sparse_assembly d/dk closed form", &dk, &dk_closed, 1e-13);
    assert_close("sparse_assembly d/du fd", &du, &fd_gradient(|u| energy(&k, u, &elements), &u), 1e-6);
    let (tk, tu) = ([1.0, 0.0, -1.0, 0.5, 2.0], [0.0, 1.0, 0.5, -1.0]);
    let (_, t) = t_energy(&k, &tk, &u, &tu, &elements);
    let dot: f64 = dk.iter().zip(&tk).map(|(p, q)| p * q).sum::<f64>() + du.iter().zip(&tu).map(|(p, q)| p * q).sum::<f64>();
    assert_close("sparse_assembly forward vs reverse", &[t], &[dot], 1e-12);
}
