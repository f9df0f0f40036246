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

/// The (primal, derivative) function names of a module.
pub fn functions(module: &str) -> Option<(&'static str, &'static str)> {
    Some(match module {
        "hello" => ("square", "double"),
        "gmm" | "ba" | "lstm" => ("objective", "jacobian"),
        "ode" | "lse" | "llsq" | "det" => ("primal", "gradient"),
        "kmeans" => ("cost", "dir"),
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
        _ => return None,
    }
    out.truncate(max);
    Some(out)
}
