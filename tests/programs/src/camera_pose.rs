//! Pinhole camera pose refinement with nalgebra: the pose is an axis-angle vector
//! (`Rotation3::new`) and a translation, the intrinsics a `Matrix3`, world points `Point3`s and
//! their observed pixels `Point2`s passed `Const`. The reprojection error's gradient with respect
//! to the pose and focal length is checked against finite differences and forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};
use nalgebra::{Matrix3, Point2, Point3, Rotation3, Vector3};

fn intrinsics(focal: f64, cx: f64, cy: f64) -> Matrix3<f64> {
    Matrix3::new(focal, 0.0, cx, 0.0, focal, cy, 0.0, 0.0, 1.0)
}

fn project(k: &Matrix3<f64>, r: &Rotation3<f64>, t: &Vector3<f64>, p: &Point3<f64>) -> Point2<f64> {
    let pc = r * p.coords + t;
    let h = k * pc;
    Point2::new(h.x / h.z, h.y / h.z)
}

/// `pose` = [rx, ry, rz, tx, ty, tz, focal].
#[autodiff_reverse(d_reprojection, Duplicated, Const, Const, Active)]
#[autodiff_forward(t_reprojection, Dual, Const, Const, Dual)]
fn reprojection(pose: &[f64], world: &[Point3<f64>], pixels: &[Point2<f64>]) -> f64 {
    let r = Rotation3::new(Vector3::new(pose[0], pose[1], pose[2]));
    let t = Vector3::new(pose[3], pose[4], pose[5]);
    let k = intrinsics(pose[6], 320.0, 240.0);
    world.iter().zip(pixels).map(|(p, uv)| (project(&k, &r, &t, p) - uv).norm_squared()).sum::<f64>() / world.len() as f64
}

pub fn run() {
    let world: Vec<Point3<f64>> = (0..8)
        .map(|i| {
            let a = i as f64;
            Point3::new((0.7 * a).sin(), (1.3 * a).cos() * 0.8, 4.0 + 0.3 * a)
        })
        .collect();
    let true_pose = [0.05, -0.1, 0.02, 0.1, -0.2, 0.3, 500.0];
    let r = Rotation3::new(Vector3::new(true_pose[0], true_pose[1], true_pose[2]));
    let t = Vector3::new(true_pose[3], true_pose[4], true_pose[5]);
    let k = intrinsics(true_pose[6], 320.0, 240.0);
    let pixels: Vec<Point2<f64>> =
        world.iter().enumerate().map(|(i, p)| project(&k, &r, &t, p) + nalgebra::Vector2::new(0.3 * (i as f64).sin(), -0.2)).collect();

    let pose = [0.07, -0.12, 0.0, 0.15, -0.18, 0.25, 520.0];
    let mut g = [0.0; 7];
    d_reprojection(&pose, &mut g, &world, &pixels, 1.0);
    assert_close("camera_pose fd", &g, &fd_gradient(|p| reprojection(p, &world, &pixels), &pose), 1e-5);
    for i in 0..7 {
        let mut e = [0.0; 7];
        e[i] = 1.0;
        let (_, d) = t_reprojection(&pose, &e, &world, &pixels);
        assert_close("camera_pose forward vs reverse", &[d], &[g[i]], 1e-9);
    }
}
