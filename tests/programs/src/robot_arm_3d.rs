//! A spatial serial arm with nalgebra: each joint a `Rotation3::from_axis_angle` about its own
//! axis followed by a link offset (`Vector3`), frames composed in a loop. The reaching error's
//! gradient (reverse mode) is checked against finite differences and against Jᵀ·2(p − target)
//! with the Jacobian columns computed by forward mode on the tip position.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};
use nalgebra::{Rotation3, Unit, Vector3};

pub struct Joint {
    pub axis: Unit<Vector3<f64>>,
    pub offset: Vector3<f64>,
}

fn tip_position(arm: &[Joint], q: &[f64]) -> Vector3<f64> {
    let mut frame = Rotation3::identity();
    let mut p = Vector3::zeros();
    for (joint, &angle) in arm.iter().zip(q) {
        frame = frame * Rotation3::from_axis_angle(&joint.axis, angle);
        p += frame * joint.offset;
    }
    p
}

#[autodiff_reverse(d_reach_error, Duplicated, Const, Const, Active)]
fn reach_error(q: &[f64], arm: &[Joint], target: &Vector3<f64>) -> f64 {
    let effort: f64 = q.iter().map(|a| a * a).sum();
    (tip_position(arm, q) - target).norm_squared() + 1e-2 * effort
}

#[autodiff_forward(t_tip, Dual, Const, Dual)]
fn tip(q: &[f64], arm: &[Joint], out: &mut [f64]) {
    out.copy_from_slice(tip_position(arm, q).as_slice());
}

pub fn run() {
    let arm = vec![
        Joint { axis: Vector3::z_axis(), offset: Vector3::new(0.0, 0.0, 0.3) },
        Joint { axis: Vector3::y_axis(), offset: Vector3::new(0.5, 0.0, 0.0) },
        Joint { axis: Vector3::y_axis(), offset: Vector3::new(0.4, 0.0, 0.0) },
        Joint { axis: Unit::new_normalize(Vector3::new(1.0, 0.2, 0.1)), offset: Vector3::new(0.1, 0.05, 0.0) },
    ];
    let q = [0.3, -0.5, 0.8, 0.2];
    let target = Vector3::new(0.4, 0.3, 0.5);
    let mut g = [0.0; 4];
    let v = d_reach_error(&q, &mut g, &arm, &target, 1.0);
    assert_close("robot_arm_3d value", &[v], &[reach_error(&q, &arm, &target)], 1e-14);
    assert_close("robot_arm_3d fd", &g, &fd_gradient(|p| reach_error(p, &arm, &target), &q), 1e-5);

    let p = tip_position(&arm, &q);
    let mut want = [0.0; 4];
    for j in 0..4 {
        let mut e = [0.0; 4];
        e[j] = 1.0;
        let (mut out, mut col) = ([0.0; 3], [0.0; 3]);
        t_tip(&q, &e, &arm, &mut out, &mut col);
        assert_close("robot_arm_3d tip", &out, p.as_slice(), 1e-14);
        let fd: Vec<f64> = (0..3).map(|k| fd_gradient(|x| tip_position(&arm, x)[k], &q)[j]).collect();
        assert_close("robot_arm_3d jacobian fd", &col, &fd, 1e-5);
        want[j] = 2.0 * Vector3::from_column_slice(&col).dot(&(p - target)) + 2e-2 * q[j];
    }
    assert_close("robot_arm_3d reverse vs J^T r", &g, &want, 1e-10);
}
