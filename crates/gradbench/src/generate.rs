//! Deterministic inputs of the shapes and default workload sizes of shared/docs/GRADBENCH.md §3,
//! as the JSON an eval would send (without the Runs fields). The data only has the documented
//! distribution (uniform, normal, bits); numpy's exact streams are not reproduced.

use serde_json::{json, Value};

/// SplitMix64: small, fast, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    pub fn uniforms(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.uniform()).collect()
    }
    pub fn normals(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.normal()).collect()
    }
    pub fn uniform_rows(&mut self, r: usize, c: usize) -> Vec<Vec<f64>> {
        (0..r).map(|_| self.uniforms(c)).collect()
    }
    pub fn normal_rows(&mut self, r: usize, c: usize) -> Vec<Vec<f64>> {
        (0..r).map(|_| self.normals(c)).collect()
    }
}

pub fn lse(rng: &mut Rng, n: usize) -> Value {
    json!({"x": rng.uniforms(n)})
}

pub fn llsq(rng: &mut Rng, m: usize, n: usize) -> Value {
    json!({"x": rng.uniforms(m), "n": n})
}

pub fn det(rng: &mut Rng, ell: usize) -> Value {
    json!({"A": rng.uniforms(ell * ell), "ell": ell})
}

pub fn ode(rng: &mut Rng, n: usize, s: usize) -> Value {
    json!({"x": rng.uniforms(n), "s": s})
}

/// Points uniform in [0,1)ᵈ; the centroids are the last k points, so no cluster is empty.
pub fn kmeans(rng: &mut Rng, k: usize, n: usize, d: usize) -> Value {
    let points = rng.uniform_rows(n, d);
    let centroids = points[n - k..].to_vec();
    json!({"points": points, "centroids": centroids})
}

pub fn gmm(rng: &mut Rng, d: usize, k: usize, n: usize) -> Value {
    let x = rng.normal_rows(n, d);
    let alpha = rng.normals(k);
    let mu = rng.uniform_rows(k, d);
    let q = rng.normal_rows(k, d);
    let l = rng.normal_rows(k, d * (d - 1) / 2);
    json!({"d": d, "k": k, "n": n, "x": x, "m": 0, "gamma": 1.0, "alpha": alpha, "mu": mu, "q": q, "l": l})
}

/// Parameters uniform in [0,1), the sequence random bits (b bits per character).
pub fn lstm(rng: &mut Rng, l: usize, c: usize, b: usize) -> Value {
    let main = rng.uniform_rows(2 * l, 4 * b);
    let extra = rng.uniform_rows(3, b);
    let state = rng.uniform_rows(2 * l, b);
    let seq: Vec<Vec<f64>> =
        (0..c).map(|_| (0..b).map(|_| (rng.next_u64() >> 63) as f64).collect()).collect();
    json!({"main_params": main, "extra_params": extra, "state": state, "sequence": seq})
}

/// The constants every ADBench ba file shares (§3.3).
pub fn ba(n: usize, m: usize, p: usize) -> Value {
    json!({
        "n": n, "m": m, "p": p,
        "cam": [-0.758453, -1.109613, -0.845551, 34.556073, 39.676747, 53.881673, 419.194514, 5.864426, -8.518870, 0.087812, 0.002739],
        "x": [7.203245, 0.001144, 3.023326],
        "w": 0.417022,
        "feat": [271.760969, 834.209256],
    })
}

/// Parents of the 22 hand bones (§3.10): the wrist is the root, each finger's first bone hangs
/// from the wrist and every further one from the previous, the forearm from the wrist.
pub const HT_PARENTS: [i64; 22] = [-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19, 0];

/// A random rigid transform (rotation from a random angle-axis vector, translation), row-major 4×4.
fn rigid(rng: &mut Rng, scale: f64) -> [f64; 16] {
    let r = [rng.normal(), rng.normal(), rng.normal()];
    let a = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
    let (x, y, z) = (r[0] / a, r[1] / a, r[2] / a);
    let (s, c) = (a.sin(), a.cos());
    let t = [scale * rng.normal(), scale * rng.normal(), scale * rng.normal()];
    [
        x * x + (1.0 - x * x) * c, x * y * (1.0 - c) - z * s, x * z * (1.0 - c) + y * s, t[0],
        x * y * (1.0 - c) + z * s, y * y + (1.0 - y * y) * c, y * z * (1.0 - c) - x * s, t[1],
        x * z * (1.0 - c) - y * s, z * y * (1.0 - c) + x * s, z * z + (1.0 - z * z) * c, t[2],
        0.0, 0.0, 0.0, 1.0,
    ]
}

fn mul4(a: &[f64; 16], b: &[f64; 16]) -> [f64; 16] {
    let mut c = [0.0; 16];
    for i in 0..4 {
        for j in 0..4 {
            c[4 * i + j] = (0..4).map(|k| a[4 * i + k] * b[4 * k + j]).sum();
        }
    }
    c
}

/// The inverse of a rigid transform: [Rᵀ, −Rᵀt].
fn rigid_inverse(m: &[f64; 16]) -> [f64; 16] {
    let mut o = [0.0; 16];
    for i in 0..3 {
        for j in 0..3 {
            o[4 * i + j] = m[4 * j + i];
        }
        o[4 * i + 3] = -(0..3).map(|k| m[4 * k + i] * m[4 * k + 3]).sum::<f64>();
    }
    o[15] = 1.0;
    o
}

fn rows4(m: &[f64; 16]) -> Value {
    json!([m[0..4], m[4..8], m[8..12], m[12..16]])
}

/// A synthetic hand model of the documented shape (22 bones, `v` vertices, `t` triangles) with
/// `npts` correspondences: rigid base transforms, inverse base absolutes consistent with them
/// (so a zero pose is the bind pose), dense random weights normalized per vertex, θ with
/// moderate angles. `complicated` gives random barycentric us (u0 + u1 < 1).
pub fn ht(rng: &mut Rng, v: usize, t: usize, npts: usize, complicated: bool) -> Value {
    let rel: Vec<[f64; 16]> = (0..22).map(|_| rigid(rng, 0.5)).collect();
    let mut abs: Vec<[f64; 16]> = Vec::new();
    for b in 0..22 {
        let p = HT_PARENTS[b];
        abs.push(if p < 0 { rel[b] } else { mul4(&abs[p as usize], &rel[b]) });
    }
    let inv: Vec<Value> = abs.iter().map(|m| rows4(&rigid_inverse(m))).collect();
    let positions: Vec<Vec<f64>> = (0..v).map(|_| vec![rng.normal(), rng.normal(), rng.normal(), 1.0]).collect();
    let weights: Vec<Vec<f64>> = (0..v)
        .map(|_| {
            let w = rng.uniforms(22);
            let s: f64 = w.iter().sum();
            w.iter().map(|x| x / s).collect()
        })
        .collect();
    let triangles: Vec<Vec<usize>> =
        (0..t).map(|_| (0..3).map(|_| (rng.next_u64() % v as u64) as usize).collect()).collect();
    let range = if complicated { t } else { v } as u64;
    let corr: Vec<usize> = (0..npts).map(|_| (rng.next_u64() % range) as usize).collect();
    let points = rng.normal_rows(npts, 3);
    let us: Vec<Vec<f64>> = if complicated {
        (0..npts).map(|_| { let (a, b) = (rng.uniform(), rng.uniform()); vec![0.5 * a, 0.5 * b] }).collect()
    } else {
        Vec::new()
    };
    let theta: Vec<f64> = (0..26).map(|i| if (3..6).contains(&i) { rng.normal() } else { 0.4 * rng.normal() }).collect();
    json!({
        "theta": theta,
        "us": us,
        "data": {
            "correspondences": corr,
            "points": points,
            "model": {
                "bone_count": 22,
                "bone_names": (0..22).map(|b| format!("bone{b}")).collect::<Vec<_>>(),
                "parents": HT_PARENTS,
                "base_relatives": rel.iter().map(rows4).collect::<Vec<_>>(),
                "inverse_base_absolutes": inv,
                "base_positions": positions,
                "weights": weights,
                "triangles": triangles,
                "is_mirrored": false,
            }
        }
    })
}

/// The (primal, derivative) function names of a module.
pub fn functions(module: &str) -> Option<(&'static str, &'static str)> {
    Some(match module {
        "hello" => ("square", "double"),
        "gmm" | "ba" | "lstm" | "ht" => ("objective", "jacobian"),
        "ode" | "lse" | "llsq" | "det" => ("primal", "gradient"),
        "kmeans" => ("cost", "dir"),
        // Reverse over reverse beside forward over reverse (the nestings' target).
        "particle" | "saddle" => ("fr", "rr"),
        _ => return None,
    })
}

/// The default workloads of a module, in the eval's order (at most `max` of them). Inputs are
/// generated lazily by the returned closures so that big ones do not all live at once.
pub fn default_workloads(module: &str, max: usize) -> Option<Vec<(String, Box<dyn Fn() -> Value>)>> {
    let mut out: Vec<(String, Box<dyn Fn() -> Value>)> = Vec::new();
    let seed = 31337;
    match module {
        "hello" => out.push(("x=1".into(), Box::new(|| json!(1.0)))),
        "particle" => out.push(("w=0".into(), Box::new(|| json!({ "w": 0.0 })))),
        "saddle" => out.push(("start=(1,1)".into(), Box::new(|| json!({ "start": [1.0, 1.0] })))),
        "lse" => {
            for n in [2500, 5000, 10000, 20000, 40000, 80000, 160000, 320000, 640000, 1280000] {
                out.push((format!("n={n}"), Box::new(move || lse(&mut Rng::new(seed + n as u64), n))));
            }
        }
        "llsq" => {
            for n in [16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8196, 16392] {
                out.push((format!("n={n},m=128"), Box::new(move || llsq(&mut Rng::new(seed + n as u64), 128, n))));
            }
        }
        "det" => {
            for ell in 5..=11 {
                out.push((format!("{ell}"), Box::new(move || det(&mut Rng::new(seed + ell as u64), ell))));
            }
        }
        "ode" => {
            for (n, s) in [(1000, 1), (1000, 10), (10000, 1), (1000, 100), (10000, 10), (100000, 1), (10000, 100), (100000, 10), (100000, 100)] {
                out.push((format!("n={n},s={s}"), Box::new(move || ode(&mut Rng::new(seed + (n * s) as u64), n, s))));
            }
        }
        "kmeans" => {
            for (k, n, d) in [
                (10, 1000, 8), (10, 1000, 16), (10, 10000, 8), (100, 1000, 8), (10, 10000, 16), (100, 1000, 16),
                (100, 10000, 8), (1000, 1000, 8), (100, 10000, 16), (1000, 1000, 16), (1000, 10000, 8), (1000, 10000, 16),
            ] {
                out.push((format!("k={k},n={n},d={d}"), Box::new(move || kmeans(&mut Rng::new(seed), k, n, d))));
            }
        }
        "gmm" => {
            for (d, k) in [
                (2, 5), (2, 10), (2, 25), (10, 5), (2, 50), (10, 10), (20, 5), (32, 5), (2, 100), (20, 10), (10, 25), (32, 10), (64, 5),
                (10, 50), (20, 25), (64, 10), (32, 25), (10, 100), (20, 50), (32, 50), (64, 25), (20, 100), (32, 100), (64, 50), (64, 100),
            ] {
                out.push((format!("{d}_{k}_1000"), Box::new(move || gmm(&mut Rng::new(seed), d, k, 1000))));
            }
        }
        "lstm" => {
            for (l, c) in [(2, 1024), (4, 1024), (6, 1024), (2, 4096), (2, 8192), (4, 4096), (6, 4096), (4, 8192), (6, 8192)] {
                out.push((format!("l={l},c={c}"), Box::new(move || lstm(&mut Rng::new(seed), l, c, 14))));
            }
        }
        "ba" => {
            let sizes = [
                (49, 7776, 31843), (21, 11315, 36455), (161, 48126, 182072), (372, 47423, 204472), (257, 65132, 225911),
                (539, 65220, 277273), (93, 61203, 287451), (88, 64298, 383937), (810, 88814, 393775), (1197, 126327, 563734),
                (1723, 156502, 678718), (253, 163691, 899155), (245, 198739, 1091386), (356, 226730, 1255268),
            ];
            for (i, (n, m, p)) in sizes.into_iter().enumerate() {
                out.push((format!("ba{}_n{n}_m{m}_p{p}", i + 1), Box::new(move || ba(n, m, p))));
            }
        }
        "ht" => {
            // The big model (V = 10000, T = 1084); hand12 (npts = 100000) is missing upstream.
            let sizes = [100, 192, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200];
            for (i, npts) in sizes.into_iter().enumerate() {
                out.push((
                    format!("hand{}_t26_c{npts}", i + 1),
                    Box::new(move || ht(&mut Rng::new(seed), 10000, 1084, npts, true)),
                ));
            }
        }
        _ => return None,
    }
    out.truncate(max);
    Some(out)
}
