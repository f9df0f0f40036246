//! A binary with no autodiff attribute of its own: every derivative it calls was generated in
//! its dependency `physics`. Its own objects hold no marker, so the link-time pass finds them
//! only in the rlib and must still put the differentiated module ahead of that rlib (otherwise
//! the linker pulls the rlib's copies first and sees every symbol twice).

fn gradient(x: &[f64]) -> Vec<f64> {
    let mut dx = vec![0.0; x.len()];
    physics::grad_potential(x, &mut dx, 1.0);
    dx
}

fn main() {
    let x = [0.3, -1.2, 2.0];
    println!("∇potential({x:?}) = {:?}", gradient(&x));
}

#[cfg(test)]
mod tests {
    #[test]
    fn gradient_from_a_dependency_matches_central_differences() {
        let x = [0.3, -1.2, 2.0];
        let g = super::gradient(&x);
        for i in 0..x.len() {
            let h = 1e-6;
            let (mut xp, mut xm) = (x, x);
            xp[i] += h;
            xm[i] -= h;
            let fd = (physics::potential(&xp) - physics::potential(&xm)) / (2.0 * h);
            assert!((g[i] - fd).abs() < 1e-7, "dx[{i}] = {}, central difference {fd}", g[i]);
        }
    }
}
