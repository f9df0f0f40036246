//! Differentiates functions of the `physics` crate from a binary.
use oxidase::autodiff::{autodiff_forward, autodiff_reverse};

/// Total energy: springs (defined in `physics`) plus a harmonic trap.
#[autodiff_reverse(grad_total, Duplicated, Const, Active)]
fn total(x: &[f64], k: f64) -> f64 {
    physics::spring_energy(x, k) + 0.05 * x.iter().map(|v| v * v).sum::<f64>()
}

/// Directional derivative of the spring energy alone.
#[autodiff_forward(d_springs, Dual, Const, Dual)]
fn springs(x: &[f64], k: f64) -> f64 {
    physics::spring_energy(x, k)
}

fn main() {
    let x = [0.0, 1.5, 2.2, 4.0];
    let mut g = [0.0; 4];
    let e = grad_total(&x, &mut g, 3.0, 1.0);
    let mut gp = [0.0; 4];
    physics::grad_potential(&x, &mut gp, 1.0);
    println!("energy {e:.6}, gradient {g:?}, potential gradient {gp:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn central(f: impl Fn(&[f64]) -> f64, x: &[f64], i: usize) -> f64 {
        let h = 1e-6;
        let (mut p, mut m) = (x.to_vec(), x.to_vec());
        p[i] += h;
        m[i] -= h;
        (f(&p) - f(&m)) / (2.0 * h)
    }

    const X: [f64; 4] = [0.0, 1.5, 2.2, 4.0];

    #[test]
    fn gradient_through_a_dependency_matches_finite_differences() {
        let mut g = [0.0; 4];
        let e = grad_total(&X, &mut g, 3.0, 1.0);
        assert!((e - total(&X, 3.0)).abs() < 1e-14);
        for i in 0..4 {
            let fd = central(|x| total(x, 3.0), &X, i);
            assert!((g[i] - fd).abs() < 1e-6, "g[{i}] = {}, finite differences {fd}", g[i]);
        }
    }

    #[test]
    fn forward_and_reverse_agree() {
        let mut g = [0.0; 4];
        grad_total(&X, &mut g, 3.0, 1.0);
        for i in 0..4 {
            let mut dir = [0.0; 4];
            dir[i] = 1.0;
            let (_, d) = d_springs(&X, &dir, 3.0);
            // total = springs + 0.05 |x|^2
            assert!((d + 0.1 * X[i] - g[i]).abs() < 1e-12, "direction {i}: {d} vs {}", g[i]);
        }
    }

    #[test]
    fn derivative_generated_in_the_dependency() {
        let mut gp = [0.0; 4];
        physics::grad_potential(&X, &mut gp, 2.0);
        for i in 0..4 {
            let fd = 2.0 * central(physics::potential, &X, i);
            assert!((gp[i] - fd).abs() < 1e-6, "gp[{i}] = {}, finite differences {fd}", gp[i]);
        }
    }

    #[test]
    #[should_panic(expected = "shadow `dx_0` has length 2, shorter than `x` (length 4)")]
    fn short_shadow_panics_instead_of_corrupting_memory() {
        let mut g = [0.0; 2];
        grad_total(&X, &mut g, 3.0, 1.0);
    }
}
