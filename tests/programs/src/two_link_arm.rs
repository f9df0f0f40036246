//! Planar two-link arm: the forward kinematics Jacobian by forward mode (`Dual` on the joint
//! angles, tangent of the written tip position), checked against the closed form and finite
//! differences, then used for damped least-squares inverse-kinematics steps that must reach the
//! target; the by-value distance function is differentiated in forward and reverse mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

pub struct Arm {
    pub l1: f64,
    pub l2: f64,
}

#[autodiff_forward(d_forward_kinematics, Dual, Const, Dual)]
fn forward_kinematics(q: &[f64], arm: &Arm, tip: &mut [f64]) {
    let (s1, c1) = q[0].sin_cos();
    let (s12, c12) = (q[0] + q[1]).sin_cos();
    tip[0] = arm.l1 * c1 + arm.l2 * c12;
    tip[1] = arm.l1 * s1 + arm.l2 * s12;
}

fn jacobian(q: &[f64], arm: &Arm) -> ([f64; 2], [[f64; 2]; 2]) {
    let mut tip = [0.0; 2];
    let mut jac = [[0.0; 2]; 2]; // jac[col] = ∂tip/∂q_col
    for (col, jc) in jac.iter_mut().enumerate() {
        let mut dq = [0.0; 2];
        dq[col] = 1.0;
        d_forward_kinematics(q, &dq, arm, &mut tip, jc);
    }
    (tip, jac)
}

#[autodiff_forward(d_distance_fwd, Dual, Dual, Const, Const, Dual)]
#[autodiff_reverse(d_distance_rev, Active, Active, Const, Const, Active)]
fn distance(q1: f64, q2: f64, arm: &Arm, target: &[f64; 2]) -> f64 {
    let mut tip = [0.0; 2];
    forward_kinematics(&[q1, q2], arm, &mut tip);
    ((tip[0] - target[0]).powi(2) + (tip[1] - target[1]).powi(2)).sqrt()
}

pub fn run() {
    let arm = Arm { l1: 1.0, l2: 0.7 };
    let q = [0.4, 0.9];
    let (tip, jac) = jacobian(&q, &arm);
    let (s1, c1, s12, c12) = (q[0].sin(), q[0].cos(), (q[0] + q[1]).sin(), (q[0] + q[1]).cos());
    assert_close("two_link_arm tip", &tip, &[c1 + 0.7 * c12, s1 + 0.7 * s12], 1e-14);
    assert_close("two_link_arm J col 0", &jac[0], &[-s1 - 0.7 * s12, c1 + 0.7 * c12], 1e-12);
    assert_close("two_link_arm J col 1", &jac[1], &[-0.7 * s12, 0.7 * c12], 1e-12);
    for k in 0..2 {
        let fk = |x: &[f64]| {
            let mut t = [0.0; 2];
            forward_kinematics(x, &arm, &mut t);
            t[k]
        };
        let fd = fd_gradient(fk, &q);
        assert_close("two_link_arm J fd", &[jac[0][k], jac[1][k]], &fd, 1e-6);
    }

    let target = [0.3, 1.2];
    let (d, dd1) = d_distance_fwd(q[0], 1.0, q[1], 0.0, &arm, &target);
    let (_, dd2) = d_distance_fwd(q[0], 0.0, q[1], 1.0, &arm, &target);
    let (dr, g1, g2) = d_distance_rev(q[0], q[1], &arm, &target, 1.0);
    assert_close("two_link_arm distance value", &[d, dr], &[distance(q[0], q[1], &arm, &target); 2], 1e-14);
    assert_close("two_link_arm distance forward vs reverse", &[dd1, dd2], &[g1, g2], 1e-12);
    assert_close("two_link_arm distance fd", &[g1, g2], &fd_gradient(|x| distance(x[0], x[1], &arm, &target), &q), 1e-6);

    // Damped least squares: Δq = Jᵀ (J Jᵀ + λ²I)⁻¹ e.
    let mut q = q;
    for _ in 0..50 {
        let (tip, jac) = jacobian(&q, &arm);
        let e = [target[0] - tip[0], target[1] - tip[1]];
        let j = |r: usize, c: usize| jac[c][r];
        let lam2 = 1e-4;
        let a = [
            [j(0, 0) * j(0, 0) + j(0, 1) * j(0, 1) + lam2, j(0, 0) * j(1, 0) + j(0, 1) * j(1, 1)],
            [j(1, 0) * j(0, 0) + j(1, 1) * j(0, 1), j(1, 0) * j(1, 0) + j(1, 1) * j(1, 1) + lam2],
        ];
        let det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
        let y = [(a[1][1] * e[0] - a[0][1] * e[1]) / det, (a[0][0] * e[1] - a[1][0] * e[0]) / det];
        for c in 0..2 {
            q[c] += j(0, c) * y[0] + j(1, c) * y[1];
        }
    }
    assert!(distance(q[0], q[1], &arm, &target) < 1e-8, "two_link_arm: IK did not converge");
}
