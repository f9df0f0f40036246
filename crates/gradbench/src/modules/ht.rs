//! `ht` (§3.10): hand tracking (ADBench). Pose θ (26) → 22 bone rotations (Euler angles,
//! R = Rz·Ry·Rx) → relative, absolute and skinning transforms → linear-blend skinning → global
//! angle-axis rotation (identity below norm 1e-4) and translation → residuals against the
//! observed points (simple: a vertex per point; complicated: a barycentric point of a triangle).
//!
//! The objective skins exactly the vertices the residuals read (the others cannot influence the
//! output); the list of those vertices is built inside the timed region of both functions.
//!
//! The dense Jacobian comes from one batched forward-mode derivative of the residual function:
//! width 28 for the complicated variant (`Dualv`: direction 0 seeds every u_i0 at once and
//! direction 1 every u_i1 — the us-part is block-diagonal, so this is the compression to two
//! columns; directions 2…27 seed θ₀…θ₂₅), width 26 for the simple one.

use crate::protocol::{flatten, nums, parse, rows, Evaluation, Runs};
#[cfg(not(feature = "nightly"))]
use oxidase::autodiff::autodiff_forward;
#[cfg(feature = "nightly")]
use std::autodiff::autodiff_forward;
use serde::Deserialize;
use serde_json::Value;
use std::hint::black_box;

/// Bones of the ADBench hand model (the pose mapping of §3.10 is defined for these).
pub const BONES: usize = 22;
/// Pose parameters.
pub const THETA: usize = 26;

#[derive(Deserialize)]
pub struct ModelIn {
    pub bone_count: usize,
    pub parents: Vec<i64>,
    pub base_relatives: Vec<Vec<Vec<f64>>>,
    pub inverse_base_absolutes: Vec<Vec<Vec<f64>>>,
    pub base_positions: Vec<Vec<f64>>,
    pub weights: Vec<Vec<f64>>,
    pub triangles: Vec<Vec<usize>>,
    pub is_mirrored: bool,
}

#[derive(Deserialize)]
pub struct DataIn {
    pub correspondences: Vec<usize>,
    pub points: Vec<Vec<f64>>,
    pub model: ModelIn,
}

#[derive(Deserialize)]
pub struct Input {
    pub theta: Vec<f64>,
    pub us: Vec<Vec<f64>>,
    pub data: DataIn,
}

/// Model and observations, flattened (Const for the derivative).
pub struct Problem {
    /// Parent of each bone, −1 for a root; parents precede children.
    pub parents: Vec<i64>,
    /// 22 row-major 4×4 matrices each.
    pub base_relatives: Vec<f64>,
    pub inverse_base_absolutes: Vec<f64>,
    /// V×4 homogeneous positions.
    pub base_positions: Vec<f64>,
    /// V×22 skinning weights.
    pub weights: Vec<f64>,
    /// T×3 vertex indices.
    pub triangles: Vec<usize>,
    pub is_mirrored: bool,
    /// npts vertex (simple) or triangle (complicated) indices.
    pub correspondences: Vec<usize>,
    /// npts×3 observed points.
    pub points: Vec<f64>,
    /// Whether correspondences index triangles (a non-empty `us`).
    pub complicated: bool,
}

impl Problem {
    pub fn vertices(&self) -> usize {
        self.base_positions.len() / 4
    }
    pub fn npts(&self) -> usize {
        self.correspondences.len()
    }
}

fn matrices(m: &[Vec<Vec<f64>>], what: &str) -> Result<Vec<f64>, String> {
    if m.len() != BONES {
        return Err(format!("ht: {what} must hold {BONES} matrices"));
    }
    let mut out = Vec::with_capacity(16 * BONES);
    for (b, rows) in m.iter().enumerate() {
        if rows.len() != 4 {
            return Err(format!("ht: {what}[{b}] must have 4 rows"));
        }
        out.extend(flatten(rows, 4, &format!("{what}[{b}]"))?);
    }
    Ok(out)
}

/// Check and flatten an input; returns (θ, us flattened (2·npts or empty), problem).
pub fn problem(inp: &Input) -> Result<(Vec<f64>, Vec<f64>, Problem), String> {
    let m = &inp.data.model;
    if inp.theta.len() != THETA {
        return Err(format!("ht: theta must have {THETA} numbers"));
    }
    if m.bone_count != BONES || m.parents.len() != BONES {
        return Err(format!("ht: the model must have {BONES} bones"));
    }
    for (b, &p) in m.parents.iter().enumerate() {
        if p >= b as i64 || p < -1 {
            return Err(format!("ht: parent {p} of bone {b} does not precede it"));
        }
    }
    let v = m.base_positions.len();
    if v == 0 || m.weights.len() != v {
        return Err("ht: base_positions and weights must have one row per vertex".into());
    }
    let npts = inp.data.correspondences.len();
    if inp.data.points.len() != npts {
        return Err("ht: one point per correspondence expected".into());
    }
    let complicated = !inp.us.is_empty();
    if complicated && inp.us.len() != npts {
        return Err("ht: us must be empty or have one pair per correspondence".into());
    }
    let mut triangles = Vec::with_capacity(3 * m.triangles.len());
    for (t, tri) in m.triangles.iter().enumerate() {
        if tri.len() != 3 {
            return Err(format!("ht: triangles[{t}] must have 3 vertices"));
        }
        triangles.extend_from_slice(tri);
    }
    if triangles.iter().any(|&i| i >= v) {
        return Err("ht: a triangle names a vertex out of range".into());
    }
    let limit = if complicated { m.triangles.len() } else { v };
    if inp.data.correspondences.iter().any(|&c| c >= limit) {
        return Err("ht: a correspondence is out of range".into());
    }
    let us = if complicated { flatten(&inp.us, 2, "us")? } else { Vec::new() };
    let pb = Problem {
        parents: m.parents.clone(),
        base_relatives: matrices(&m.base_relatives, "base_relatives")?,
        inverse_base_absolutes: matrices(&m.inverse_base_absolutes, "inverse_base_absolutes")?,
        base_positions: flatten(&m.base_positions, 4, "base_positions")?,
        weights: flatten(&m.weights, BONES, "weights")?,
        triangles,
        is_mirrored: m.is_mirrored,
        correspondences: inp.data.correspondences.clone(),
        points: flatten(&inp.data.points, 3, "points")?,
        complicated,
    };
    Ok((inp.theta.clone(), us, pb))
}

/// The pose vector of bone `b` (§3.10).
#[inline(always)]
fn pose(theta: &[f64], b: usize) -> [f64; 3] {
    if (1..=20).contains(&b) {
        let (f, k) = ((b - 1) / 4, (b - 1) % 4);
        match k {
            1 => return [theta[6 + 4 * f], theta[7 + 4 * f], 0.0],
            2 => return [theta[8 + 4 * f], 0.0, 0.0],
            3 => return [theta[9 + 4 * f], 0.0, 0.0],
            _ => {}
        }
    }
    [0.0; 3]
}

/// R = Rz(v1)·Ry(v2)·Rx(v0), row-major.
#[inline(always)]
fn euler_rotation(v: [f64; 3]) -> [f64; 9] {
    let (tx, ty, tz) = (v[0], v[2], v[1]);
    let (sx, cx) = (tx.sin(), tx.cos());
    let (sy, cy) = (ty.sin(), ty.cos());
    let (sz, cz) = (tz.sin(), tz.cos());
    [
        cz * cy,
        cz * sy * sx - sz * cx,
        cz * sy * cx + sz * sx,
        sz * cy,
        sz * sy * sx + cz * cx,
        sz * sy * cx - cz * sx,
        -sy,
        cy * sx,
        cy * cx,
    ]
}

#[inline(always)]
fn mul4(a: &[f64], b: &[f64]) -> [f64; 16] {
    let mut c = [0.0; 16];
    for i in 0..4 {
        for j in 0..4 {
            c[4 * i + j] = a[4 * i] * b[j] + a[4 * i + 1] * b[4 + j] + a[4 * i + 2] * b[8 + j] + a[4 * i + 3] * b[12 + j];
        }
    }
    c
}

/// The angle-axis matrix of `r` (identity if ‖r‖ < 1e-4), row-major.
#[inline(always)]
fn angle_axis(r: &[f64]) -> [f64; 9] {
    let norm = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
    if norm < 1e-4 {
        return [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    }
    let (x, y, z) = (r[0] / norm, r[1] / norm, r[2] / norm);
    let (s, c) = (norm.sin(), norm.cos());
    [
        x * x + (1.0 - x * x) * c,
        x * y * (1.0 - c) - z * s,
        x * z * (1.0 - c) + y * s,
        x * y * (1.0 - c) + z * s,
        y * y + (1.0 - y * y) * c,
        y * z * (1.0 - c) - x * s,
        x * z * (1.0 - c) - y * s,
        z * y * (1.0 - c) + x * s,
        z * z + (1.0 - z * z) * c,
    ]
}

/// All residuals into `err` (3·npts). `us` is empty for the simple variant; `used` lists the
/// vertices the residuals read (ascending); `pos` (3V) receives their final positions.
#[inline(always)]
fn residuals(theta: &[f64], us: &[f64], pb: &Problem, used: &[usize], pos: &mut [f64], err: &mut [f64]) {
    // Skinning transforms T_b = abs_b · inverse_base_absolutes[b], top three rows.
    let mut abs = [[0.0f64; 16]; BONES];
    let mut tr = [[0.0f64; 12]; BONES];
    for b in 0..BONES {
        let r = euler_rotation(pose(theta, b));
        let br = &pb.base_relatives[16 * b..16 * b + 16];
        let mut rel = [0.0; 16];
        for i in 0..4 {
            for j in 0..3 {
                rel[4 * i + j] = br[4 * i] * r[j] + br[4 * i + 1] * r[3 + j] + br[4 * i + 2] * r[6 + j];
            }
            rel[4 * i + 3] = br[4 * i + 3];
        }
        let p = pb.parents[b];
        abs[b] = if p < 0 { rel } else { mul4(&abs[p as usize], &rel) };
        let t = mul4(&abs[b], &pb.inverse_base_absolutes[16 * b..16 * b + 16]);
        tr[b].copy_from_slice(&t[..12]);
    }
    let g = angle_axis(&theta[0..3]);
    for &v in used {
        let w = &pb.weights[BONES * v..BONES * v + BONES];
        let mut m = [0.0; 12];
        for b in 0..BONES {
            for k in 0..12 {
                m[k] += w[b] * tr[b][k];
            }
        }
        let bp = &pb.base_positions[4 * v..4 * v + 4];
        let mut p = [0.0; 3];
        for i in 0..3 {
            p[i] = m[4 * i] * bp[0] + m[4 * i + 1] * bp[1] + m[4 * i + 2] * bp[2] + m[4 * i + 3] * bp[3];
        }
        if pb.is_mirrored {
            p[0] = -p[0];
        }
        for i in 0..3 {
            pos[3 * v + i] = g[3 * i] * p[0] + g[3 * i + 1] * p[1] + g[3 * i + 2] * p[2] + theta[3 + i];
        }
    }
    let npts = pb.correspondences.len();
    for i in 0..npts {
        let c = pb.correspondences[i];
        if us.is_empty() {
            for j in 0..3 {
                err[3 * i + j] = pb.points[3 * i + j] - pos[3 * c + j];
            }
        } else {
            let (a, b, cc) = (pb.triangles[3 * c], pb.triangles[3 * c + 1], pb.triangles[3 * c + 2]);
            let (u0, u1) = (us[2 * i], us[2 * i + 1]);
            let u2 = 1.0 - u0 - u1;
            for j in 0..3 {
                err[3 * i + j] = pb.points[3 * i + j] - (u0 * pos[3 * a + j] + u1 * pos[3 * b + j] + u2 * pos[3 * cc + j]);
            }
        }
    }
}

/// Complicated variant. `d_residuals_complicated(θ, bθ, us, bus, pb, used, pos, bpos, err, berr)`:
/// 28 directions, direction-major in every shadow.
#[autodiff_forward(d_residuals_complicated, 28, Dualv, Dualv, Const, Const, Dualv, Dualv)]
pub fn residuals_complicated(theta: &[f64], us: &[f64], pb: &Problem, used: &[usize], pos: &mut [f64], err: &mut [f64]) {
    residuals(theta, us, pb, used, pos, err);
}

/// Simple variant (no us). `d_residuals_simple(θ, bθ, pb, used, pos, bpos, err, berr)`: 26
/// directions.
#[autodiff_forward(d_residuals_simple, 26, Dualv, Const, Const, Dualv, Dualv)]
pub fn residuals_simple(theta: &[f64], pb: &Problem, used: &[usize], pos: &mut [f64], err: &mut [f64]) {
    residuals(theta, &[], pb, used, pos, err);
}

/// Buffers of one evaluation.
pub struct Work {
    pub mark: Vec<bool>,
    pub used: Vec<usize>,
    pub pos: Vec<f64>,
    pub err: Vec<f64>,
    /// Forward seeds and tangents (Jacobian only).
    pub seed_theta: Vec<f64>,
    pub seed_us: Vec<f64>,
    pub dpos: Vec<f64>,
    pub derr: Vec<f64>,
}

impl Work {
    pub fn new(pb: &Problem, jacobian: bool) -> Work {
        let (v, npts) = (pb.vertices(), pb.npts());
        let width = columns(pb);
        let mut w = Work {
            mark: vec![false; v],
            used: Vec::with_capacity(v),
            pos: vec![0.0; 3 * v],
            err: vec![0.0; 3 * npts],
            seed_theta: Vec::new(),
            seed_us: Vec::new(),
            dpos: Vec::new(),
            derr: Vec::new(),
        };
        if jacobian {
            let off = width - THETA;
            w.seed_theta = vec![0.0; width * THETA];
            for k in 0..THETA {
                w.seed_theta[(off + k) * THETA + k] = 1.0;
            }
            if pb.complicated {
                w.seed_us = vec![0.0; width * 2 * npts];
                for i in 0..npts {
                    w.seed_us[2 * i] = 1.0; // direction 0: every u_i0
                    w.seed_us[2 * npts + 2 * i + 1] = 1.0; // direction 1: every u_i1
                }
            }
            w.dpos = vec![0.0; width * 3 * v];
            w.derr = vec![0.0; width * 3 * npts];
        }
        w
    }
}

/// Columns of the Jacobian: 28 (complicated) or 26 (simple).
pub fn columns(pb: &Problem) -> usize {
    if pb.complicated {
        THETA + 2
    } else {
        THETA
    }
}

/// The vertices the residuals read, ascending, into `w.used`.
fn mark_used(pb: &Problem, w: &mut Work) {
    w.mark.fill(false);
    for &c in &pb.correspondences {
        if pb.complicated {
            for k in 0..3 {
                w.mark[pb.triangles[3 * c + k]] = true;
            }
        } else {
            w.mark[c] = true;
        }
    }
    w.used.clear();
    w.used.extend(w.mark.iter().enumerate().filter(|(_, &m)| m).map(|(v, _)| v));
}

/// The residuals into `w.err`.
pub fn objective(theta: &[f64], us: &[f64], pb: &Problem, w: &mut Work) {
    mark_used(pb, w);
    if pb.complicated {
        residuals_complicated(theta, us, pb, &w.used, &mut w.pos, &mut w.err);
    } else {
        residuals_simple(theta, pb, &w.used, &mut w.pos, &mut w.err);
    }
}

/// The dense Jacobian, row-major 3·npts × `columns(pb)`, into `jac` (residuals into `w.err`).
pub fn jacobian(theta: &[f64], us: &[f64], pb: &Problem, w: &mut Work, jac: &mut [f64]) {
    mark_used(pb, w);
    if pb.complicated {
        d_residuals_complicated(theta, &w.seed_theta, us, &w.seed_us, pb, &w.used, &mut w.pos, &mut w.dpos, &mut w.err, &mut w.derr);
    } else {
        d_residuals_simple(theta, &w.seed_theta, pb, &w.used, &mut w.pos, &mut w.dpos, &mut w.err, &mut w.derr);
    }
    let (n, cols) = (3 * pb.npts(), columns(pb));
    for r in 0..n {
        for c in 0..cols {
            jac[r * cols + c] = w.derr[c * n + r];
        }
    }
}

pub fn evaluate(function: &str, input: &Value) -> Evaluation {
    let runs = Runs::from_input(input)?;
    let inp: Input = parse(input)?;
    let (theta, us, pb) = problem(&inp)?;
    drop(inp);
    match function {
        "objective" => {
            let mut w = Work::new(&pb, false);
            let t = runs.repeat(|| objective(black_box(&theta), &us, &pb, &mut w));
            Ok((nums(&w.err)?, t))
        }
        "jacobian" => {
            let mut w = Work::new(&pb, true);
            let cols = columns(&pb);
            let mut jac = vec![0.0; 3 * pb.npts() * cols];
            let t = runs.repeat(|| jacobian(black_box(&theta), &us, &pb, &mut w, &mut jac));
            Ok((rows(&jac, cols)?, t))
        }
        _ => Err(super::unknown_function("ht", function)),
    }
}
