//! Bundle-adjustment style reprojection error in plain Rust: cameras are structs with a rotation
//! matrix, translation, focal length, principal point and two radial distortion coefficients;
//! observations link a camera and a point to a pixel, with a Cauchy robust loss. Differentiated
//! with respect to the 3-D points (slice `Duplicated`, cameras `Const`) and with respect to the
//! cameras (a slice of structs `Duplicated`, points `Const`); both checked against finite
//! differences.
use crate::ad::autodiff_reverse;
use crate::check::{assert_close, fd_gradient};

#[derive(Clone, Default)]
pub struct Camera {
    pub rotation: [[f64; 3]; 3],
    pub translation: [f64; 3],
    pub focal: f64,
    pub principal: [f64; 2],
    pub k1: f64,
    pub k2: f64,
}

pub struct Observation {
    pub camera: usize,
    pub point: usize,
    pub pixel: [f64; 2],
}

impl Camera {
    fn project(&self, p: &[f64]) -> [f64; 2] {
        let mut pc = self.translation;
        for (r, row) in self.rotation.iter().enumerate() {
            pc[r] += row.iter().zip(p).map(|(a, b)| a * b).sum::<f64>();
        }
        let (x, y) = (pc[0] / pc[2], pc[1] / pc[2]);
        let r2 = x * x + y * y;
        let distortion = 1.0 + self.k1 * r2 + self.k2 * r2 * r2;
        [self.focal * distortion * x + self.principal[0], self.focal * distortion * y + self.principal[1]]
    }
}

fn cauchy(r2: f64, scale: f64) -> f64 {
    scale * scale * (1.0 + r2 / (scale * scale)).ln()
}

#[autodiff_reverse(d_cost_points, Duplicated, Const, Const, Active)]
#[autodiff_reverse(d_cost_cameras, Const, Duplicated, Const, Active)]
fn cost(points: &[f64], cameras: &[Camera], observations: &[Observation]) -> f64 {
    observations
        .iter()
        .map(|o| {
            let uv = cameras[o.camera].project(&points[3 * o.point..3 * o.point + 3]);
            cauchy((uv[0] - o.pixel[0]).powi(2) + (uv[1] - o.pixel[1]).powi(2), 2.0)
        })
        .sum()
}

fn rotation_z_then_x(a: f64, b: f64) -> [[f64; 3]; 3] {
    let (sa, ca, sb, cb) = (a.sin(), a.cos(), b.sin(), b.cos());
    [[ca, -sa, 0.0], [cb * sa, cb * ca, -sb], [sb * sa, sb * ca, cb]]
}

fn flatten(cams: &[Camera]) -> Vec<f64> {
    cams.iter()
        .flat_map(|c| {
            let mut v: Vec<f64> = c.rotation.iter().flatten().copied().collect();
            v.extend(c.translation);
            v.extend([c.focal, c.principal[0], c.principal[1], c.k1, c.k2]);
            v
        })
        .collect()
}

fn unflatten(v: &[f64]) -> Vec<Camera> {
    v.chunks(17)
        .map(|c| Camera {
            rotation: [[c[0], c[1], c[2]], [c[3], c[4], c[5]], [c[6], c[7], c[8]]],
            translation: [c[9], c[10], c[11]],
            focal: c[12],
            principal: [c[13], c[14]],
            k1: c[15],
            k2: c[16],
        })
        .collect()
}

pub fn run() {
    let cameras = vec![
        Camera { rotation: rotation_z_then_x(0.1, -0.05), translation: [0.1, 0.0, 5.0], focal: 400.0, principal: [320.0, 240.0], k1: -0.1, k2: 0.01 },
        Camera { rotation: rotation_z_then_x(-0.2, 0.1), translation: [-0.5, 0.2, 5.5], focal: 420.0, principal: [310.0, 250.0], k1: -0.05, k2: 0.0 },
    ];
    let points: Vec<f64> = (0..5).flat_map(|i| { let a = i as f64; [0.4 * a.sin(), 0.3 * a.cos(), 0.2 * a - 0.4] }).collect();
    let observations: Vec<Observation> = (0..5)
        .flat_map(|p| (0..2).map(move |c| (c, p)))
        .map(|(c, p)| {
            let uv = cameras[c].project(&points[3 * p..3 * p + 3]);
            Observation { camera: c, point: p, pixel: [uv[0] + 1.5 * ((p + c) as f64).sin(), uv[1] - 1.0 + 0.5 * p as f64] }
        })
        .collect();

    let mut dp = vec![0.0; points.len()];
    d_cost_points(&points, &mut dp, &cameras, &observations, 1.0);
    assert_close("reprojection d/dpoints fd", &dp, &fd_gradient(|p| cost(p, &cameras, &observations), &points), 1e-5);

    let mut dc = vec![Camera::default(); cameras.len()];
    d_cost_cameras(&points, &cameras, &mut dc, &observations, 1.0);
    let fd = fd_gradient(|v| cost(&points, &unflatten(v), &observations), &flatten(&cameras));
    assert_close("reprojection d/dcameras fd", &flatten(&dc), &fd, 1e-5);
}
