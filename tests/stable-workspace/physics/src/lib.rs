//! A chain of springs between neighbouring points, and a smooth external potential.
use oxidase::autodiff::autodiff_reverse;

/// Elastic energy of springs of stiffness `k` and rest length 1 between neighbours.
#[inline(never)]
pub fn spring_energy(x: &[f64], k: f64) -> f64 {
    let mut e = 0.0;
    for w in x.windows(2) {
        let stretch = (w[1] - w[0]).abs() - 1.0;
        e += 0.5 * k * stretch * stretch;
    }
    e
}

/// An external potential; its gradient is generated here and called from other crates.
#[autodiff_reverse(grad_potential, Duplicated, Active)]
pub fn potential(x: &[f64]) -> f64 {
    x.iter().map(|v| v.sin() * v.exp().sqrt()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn potential_gradient_is_analytic() {
        let x = [0.3, -1.2, 2.0];
        let mut dx = [0.0; 3];
        let v = grad_potential(&x, &mut dx, 1.0);
        assert!((v - potential(&x)).abs() < 1e-15);
        for i in 0..3 {
            // d/dv sin(v) e^(v/2) = e^(v/2) (cos v + sin v / 2)
            let want = (x[i] / 2.0).exp() * (x[i].cos() + 0.5 * x[i].sin());
            assert!((dx[i] - want).abs() < 1e-12, "dx[{i}] = {}, want {want}", dx[i]);
        }
    }
}
