//! Finite differences and comparisons shared by the programs.

/// Central finite-difference gradient of `f` at `x`.
pub fn fd_gradient(f: impl Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    let mut g = vec![0.0; x.len()];
    let mut xp = x.to_vec();
    for i in 0..x.len() {
        let h = 1e-6 * x[i].abs().max(1.0);
        xp[i] = x[i] + h;
        let fp = f(&xp);
        xp[i] = x[i] - h;
        let fm = f(&xp);
        xp[i] = x[i];
        g[i] = (fp - fm) / (2.0 * h);
    }
    g
}

/// Panics (naming the program and entry) unless `got` matches `want` to a relative `tol`.
pub fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let scale = 1.0 + g.abs().max(w.abs());
        assert!((g - w).abs() <= tol * scale, "{what}[{i}]: got {g}, want {w} (all: {got:?} vs {want:?})");
    }
}
