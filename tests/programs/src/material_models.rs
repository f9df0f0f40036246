//! A bar of segments with different constitutive laws: an enum of material models with float
//! payloads (one variant a boxed `dyn Fn` softening law, `Const`), matched per segment; the
//! strain energy of prescribed stretches, differentiated with respect to the stretches. A
//! `verbose` flag guards a `println!` that a user leaves in while debugging. Reverse mode is
//! checked against finite differences and forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

pub enum Material {
    Linear { e: f64 },
    Hardening { e: f64, yield_strain: f64, h: f64 },
    Custom(Box<dyn Fn(f64) -> f64>),
}

impl Material {
    fn energy(&self, strain: f64) -> f64 {
        match self {
            Material::Linear { e } => 0.5 * e * strain * strain,
            Material::Hardening { e, yield_strain, h } => {
                if strain.abs() <= *yield_strain {
                    0.5 * e * strain * strain
                } else {
                    let ey = *yield_strain;
                    0.5 * e * ey * ey + e * ey * (strain.abs() - ey) + 0.5 * h * (strain.abs() - ey).powi(2)
                }
            }
            Material::Custom(w) => w(strain),
        }
    }
}

#[autodiff_reverse(d_energy, Duplicated, Const, Const, Active)]
#[autodiff_forward(t_energy, Dual, Const, Const, Dual)]
fn bar_energy(stretch: &[f64], materials: &[Material], verbose: bool) -> f64 {
    let mut total = 0.0;
    for (k, (s, m)) in stretch.iter().zip(materials).enumerate() {
        let strain = s.ln();
        let w = m.energy(strain);
        if verbose {
            println!("segment {k}: strain {strain:.4}, energy {w:.4}");
        }
        total += w;
    }
    total
}

pub fn run() {
    let materials = vec![
        Material::Linear { e: 200.0 },
        Material::Hardening { e: 70.0, yield_strain: 0.05, h: 7.0 },
        Material::Custom(Box::new(|eps: f64| 10.0 * (1.0 - (-eps * eps * 40.0).exp()))),
        Material::Hardening { e: 110.0, yield_strain: 0.2, h: 30.0 },
    ];
    let stretch = [1.02, 1.11, 0.93, 1.05];
    let mut ds = [0.0; 4];
    let v = d_energy(&stretch, &mut ds, &materials, false, 1.0);
    assert_close("material_models value", &[v], &[bar_energy(&stretch, &materials, false)], 1e-14);
    assert_close("material_models fd", &ds, &fd_gradient(|s| bar_energy(s, &materials, false), &stretch), 1e-6);
    let ts = [0.5, -1.0, 2.0, 1.0];
    let (_, t) = t_energy(&stretch, &ts, &materials, false);
    let dot: f64 = ds.iter().zip(&ts).map(|(a, b)| a * b).sum();
    assert_close("material_models forward vs reverse", &[t], &[dot], 1e-12);
}
