//! Lennard-Jones energy of a small cluster: forces are minus the gradient; checked against
//! finite differences, and the net force of an isolated cluster is zero.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};

#[derive(Clone, Copy)]
struct Lj {
    epsilon: f64,
    sigma: f64,
}

impl Lj {
    fn pair(&self, r2: f64) -> f64 {
        let s2 = self.sigma * self.sigma / r2;
        let s6 = s2 * s2 * s2;
        4.0 * self.epsilon * (s6 * s6 - s6)
    }
}

#[autodiff_reverse(d_energy, Duplicated, Const, Active)]
fn energy(pos: &[f64], params: &[f64]) -> f64 {
    let lj = Lj { epsilon: params[0], sigma: params[1] };
    let n = pos.len() / 3;
    let mut e = 0.0;
    for i in 0..n {
        for j in (i + 1)..n {
            let d: Vec<f64> = (0..3).map(|k| pos[3 * i + k] - pos[3 * j + k]).collect();
            let r2 = d.iter().map(|x| x * x).sum::<f64>();
            e += lj.pair(r2);
        }
    }
    e
}

pub fn run() {
    let pos = [0.0, 0.0, 0.0, 1.12, 0.05, 0.0, 0.5, 1.0, -0.1, 0.4, 0.3, 0.95];
    let params = [1.0, 1.0];
    let mut g = [0.0; 12];
    d_energy(&pos, &mut g, &params, 1.0);
    assert_close("lennard_jones fd", &g, &fd_gradient(|p| energy(p, &params), &pos), 1e-5);
    for k in 0..3 {
        let net: f64 = (0..4).map(|i| g[3 * i + k]).sum();
        assert!(net.abs() < 1e-9, "net force {k}: {net}");
    }
}
