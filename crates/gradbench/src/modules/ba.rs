//! `ba` (§3.3): bundle adjustment (ADBench). The input is expanded into the full problem (n
//! cameras, m points, p weights and features; observation i uses camera i mod n and point
//! i mod m) and nothing exploits the duplication.
//!
//! The Jacobian is sparse: each reprojection residual pair depends on 15 parameters (11 camera,
//! 3 point, 1 weight). Its 2×15 block comes from one forward-mode derivative of width 15
//! (`Dualv`: the 15 tangent directions are the unit vectors, direction-major in one slice),
//! and each w_err row from a width-1 forward derivative. The full CSR of all 3p rows is built
//! in the timed region; the output is the truncated form of §3.3.

use crate::protocol::{num, nums, parse, Evaluation, Runs};
#[cfg(not(feature = "nightly"))]
use oxidase::autodiff::autodiff_forward;
#[cfg(feature = "nightly")]
use std::autodiff::autodiff_forward;
use serde::Deserialize;
use serde_json::{json, Value};
use std::hint::black_box;

#[derive(Deserialize)]
pub struct Input {
    pub n: usize,
    pub m: usize,
    pub p: usize,
    pub cam: Vec<f64>,
    pub x: Vec<f64>,
    pub w: f64,
    pub feat: Vec<f64>,
}

/// The expanded problem.
pub struct Problem {
    pub n: usize,
    pub m: usize,
    pub p: usize,
    /// n×11 cameras.
    pub cams: Vec<f64>,
    /// m×3 points.
    pub points: Vec<f64>,
    /// p weights.
    pub weights: Vec<f64>,
    /// p×2 features.
    pub feats: Vec<f64>,
    /// p×2 (camera, point) of each observation.
    pub obs: Vec<usize>,
}

impl Problem {
    pub fn expand(inp: &Input) -> Result<Problem, String> {
        if inp.cam.len() != 11 || inp.x.len() != 3 || inp.feat.len() != 2 {
            return Err("ba: cam must have 11 numbers, x 3 and feat 2".into());
        }
        if inp.n == 0 || inp.m == 0 || inp.p == 0 {
            return Err("ba: n, m and p must be positive".into());
        }
        let (n, m, p) = (inp.n, inp.m, inp.p);
        let mut obs = Vec::with_capacity(2 * p);
        for i in 0..p {
            obs.push(i % n);
            obs.push(i % m);
        }
        Ok(Problem {
            n,
            m,
            p,
            cams: inp.cam.repeat(n),
            points: inp.x.repeat(m),
            weights: vec![inp.w; p],
            feats: inp.feat.repeat(p),
            obs,
        })
    }
}

/// Weighted reprojection residual of point `x` (3) seen by camera `cam` (11: angle-axis r,
/// centre C, f, u0 v0, k1 k2) against feature `feat` (2), into `out` (2).
#[inline(always)]
fn reproj(cam: &[f64], x: &[f64], w: f64, feat: &[f64], out: &mut [f64]) {
    let y = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let r = [cam[0], cam[1], cam[2]];
    let theta2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
    let z = if theta2 != 0.0 {
        // Rodrigues.
        let theta = theta2.sqrt();
        let (s, c) = (theta.sin(), theta.cos());
        let o = [r[0] / theta, r[1] / theta, r[2] / theta];
        let oxy = [o[1] * y[2] - o[2] * y[1], o[2] * y[0] - o[0] * y[2], o[0] * y[1] - o[1] * y[0]];
        let oy = (o[0] * y[0] + o[1] * y[1] + o[2] * y[2]) * (1.0 - c);
        [y[0] * c + oxy[0] * s + o[0] * oy, y[1] * c + oxy[1] * s + o[1] * oy, y[2] * c + oxy[2] * s + o[2] * oy]
    } else {
        // First order at r = 0: Y + r × Y.
        [y[0] + r[1] * y[2] - r[2] * y[1], y[1] + r[2] * y[0] - r[0] * y[2], y[2] + r[0] * y[1] - r[1] * y[0]]
    };
    let (px, py) = (z[0] / z[2], z[1] / z[2]);
    let rho = px * px + py * py;
    let dist = 1.0 + cam[9] * rho + cam[10] * rho * rho;
    out[0] = w * (cam[6] * px * dist + cam[7] - feat[0]);
    out[1] = w * (cam[6] * py * dist + cam[8] - feat[1]);
}

/// `reproj` with its 15 differentiated parameters packed: camera (11), point (3), weight.
/// `d_reproj_packed(p, bp, feat, out, bout)`: `bp` holds 15 directions of 15 (direction-major),
/// `bout` receives 15 directions of 2, i.e. the 2×15 Jacobian block column by column.
#[autodiff_forward(d_reproj_packed, 15, Dualv, Const, Dualv)]
pub fn reproj_packed(p: &[f64], feat: &[f64], out: &mut [f64]) {
    reproj(&p[0..11], &p[11..14], p[14], feat, out);
}

/// `1 − w²`; `d_w_err(w, 1)` = (value, derivative).
#[autodiff_forward(d_w_err, Dual, Dual)]
pub fn w_err(w: f64) -> f64 {
    1.0 - w * w
}

/// All residuals: `reproj_err` (2p) and `w_err` (p).
pub fn objective(pb: &Problem, reproj_err: &mut [f64], werr: &mut [f64]) {
    for i in 0..pb.p {
        let (c, j) = (pb.obs[2 * i], pb.obs[2 * i + 1]);
        reproj(
            &pb.cams[11 * c..11 * c + 11],
            &pb.points[3 * j..3 * j + 3],
            pb.weights[i],
            &pb.feats[2 * i..2 * i + 2],
            &mut reproj_err[2 * i..2 * i + 2],
        );
        werr[i] = w_err(pb.weights[i]);
    }
}

/// The full Jacobian in CSR form.
pub struct Csr {
    pub rows: Vec<usize>,
    pub cols: Vec<usize>,
    pub vals: Vec<f64>,
}

impl Csr {
    pub fn with_size(p: usize) -> Csr {
        Csr { rows: vec![0; 3 * p + 1], cols: vec![0; 31 * p], vals: vec![0.0; 31 * p] }
    }
}

/// The identity seed of `d_reproj_packed`: direction k is the k-th unit vector.
pub fn identity_seed() -> Vec<f64> {
    let mut seed = vec![0.0; 15 * 15];
    for k in 0..15 {
        seed[15 * k + k] = 1.0;
    }
    seed
}

/// Fill `j` (sized by `Csr::with_size(p)`) with the Jacobian of all 3p residuals.
pub fn jacobian(pb: &Problem, seed: &[f64], j: &mut Csr) {
    let (n, m, p) = (pb.n, pb.m, pb.p);
    let mut params = [0.0; 15];
    let mut out = [0.0; 2];
    let mut dout = [0.0; 30];
    for i in 0..p {
        let (c, pt) = (pb.obs[2 * i], pb.obs[2 * i + 1]);
        params[..11].copy_from_slice(&pb.cams[11 * c..11 * c + 11]);
        params[11..14].copy_from_slice(&pb.points[3 * pt..3 * pt + 3]);
        params[14] = pb.weights[i];
        d_reproj_packed(&params, seed, &pb.feats[2 * i..2 * i + 2], &mut out, &mut dout);
        for r in 0..2 {
            let row = 2 * i + r;
            let at = 15 * row;
            j.rows[row] = at;
            for k in 0..11 {
                j.cols[at + k] = 11 * c + k;
            }
            for k in 0..3 {
                j.cols[at + 11 + k] = 11 * n + 3 * pt + k;
            }
            j.cols[at + 14] = 11 * n + 3 * m + i;
            for k in 0..15 {
                j.vals[at + k] = dout[2 * k + r];
            }
        }
    }
    for i in 0..p {
        let at = 30 * p + i;
        j.rows[2 * p + i] = at;
        j.cols[at] = 11 * n + 3 * m + i;
        j.vals[at] = d_w_err(pb.weights[i], 1.0).1;
    }
    j.rows[3 * p] = 31 * p;
}

/// The first 30 entries followed by the last one (§3.3), as Python's `a[:30] + [a[-1]]`.
fn truncated<T: Copy>(a: &[T]) -> Vec<T> {
    let mut v: Vec<T> = a.iter().take(30).copied().collect();
    v.push(a[a.len() - 1]);
    v
}

pub fn evaluate(function: &str, input: &Value) -> Evaluation {
    let runs = Runs::from_input(input)?;
    let inp: Input = parse(input)?;
    let pb = Problem::expand(&inp)?;
    match function {
        "objective" => {
            let (mut re, mut we) = (vec![0.0; 2 * pb.p], vec![0.0; pb.p]);
            let t = runs.repeat(|| objective(black_box(&pb), &mut re, &mut we));
            nums(&re)?;
            nums(&we)?;
            let out = json!({
                "reproj_error": {"elements": [num(re[0])?, num(re[1])?], "repeated": pb.p},
                "w_err": {"element": num(we[0])?, "repeated": pb.p},
            });
            Ok((out, t))
        }
        "jacobian" => {
            let seed = identity_seed();
            let mut j = Csr::with_size(pb.p);
            let t = runs.repeat(|| jacobian(black_box(&pb), &seed, &mut j));
            nums(&j.vals)?;
            let out = json!({
                "rows": truncated(&j.rows),
                "cols": truncated(&j.cols),
                "vals": nums(&truncated(&j.vals))?,
            });
            Ok((out, t))
        }
        _ => Err(super::unknown_function("ba", function)),
    }
}
