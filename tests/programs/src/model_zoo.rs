//! Fitting with a model chosen at run time: `Box<dyn Model>` in a `Vec`, called through the
//! trait object inside the differentiated loss (reverse mode dispatches on the vtable entry),
//! with the model coefficients of a `static` table read beside the parameters.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

/// Weights of the three kinds of model, a constant table.
static PRIOR: [f64; 3] = [0.5, 1.0, 2.0];

trait Model {
    fn eval(&self, p: &[f64], x: f64) -> f64;
    fn penalty(&self, p: &[f64]) -> f64 {
        p.iter().map(|v| v * v).sum::<f64>()
    }
}

struct Poly {
    degree: usize,
}
struct Saturating {
    scale: f64,
}
struct Periodic;

impl Model for Poly {
    fn eval(&self, p: &[f64], x: f64) -> f64 {
        (0..=self.degree).rev().fold(0.0, |acc, k| acc * x + p[k])
    }
}
impl Model for Saturating {
    fn eval(&self, p: &[f64], x: f64) -> f64 {
        self.scale * p[0] * (1.0 - (-p[1] * x).exp()) + p[2]
    }
    fn penalty(&self, p: &[f64]) -> f64 {
        p[0].abs() + p[1] * p[1]
    }
}
impl Model for Periodic {
    fn eval(&self, p: &[f64], x: f64) -> f64 {
        p[0] * (p[1] * x).sin() + p[2] * (p[1] * x).cos()
    }
}

fn models() -> Vec<Box<dyn Model>> {
    vec![Box::new(Poly { degree: 2 }), Box::new(Saturating { scale: 0.8 }), Box::new(Periodic)]
}

#[autodiff_reverse(d_loss, Const, Duplicated, Const, Const, Active)]
fn loss(which: usize, p: &[f64], xs: &[f64], ys: &[f64]) -> f64 {
    let zoo = models();
    let model: &dyn Model = zoo[which].as_ref();
    let misfit: f64 = xs.iter().zip(ys).map(|(&x, &y)| (model.eval(p, x) - y).powi(2)).sum();
    misfit + 1e-2 * PRIOR[which] * model.penalty(p)
}

#[autodiff_forward(t_loss, Const, Dual, Const, Const, Dual)]
fn loss_fwd(which: usize, p: &[f64], xs: &[f64], ys: &[f64]) -> f64 {
    loss(which, p, xs, ys)
}

pub fn run() {
    let xs: Vec<f64> = (0..8).map(|i| 0.25 * i as f64).collect();
    let ys: Vec<f64> = xs.iter().map(|x| 0.3 + 0.9 * x - 0.2 * x * x).collect();
    let p = [0.4, 0.7, -0.3];
    for which in 0..3 {
        let mut g = [0.0; 3];
        let v = d_loss(which, &p, &mut g, &xs, &ys, 1.0);
        assert!((v - loss(which, &p, &xs, &ys)).abs() < 1e-12);
        let fd = fd_gradient(|q| loss(which, q, &xs, &ys), &p);
        assert_close(&format!("model_zoo[{which}] fd"), &g, &fd, 1e-5);
        for i in 0..3 {
            let mut e = [0.0; 3];
            e[i] = 1.0;
            let (_, t) = t_loss(which, &p, &e, &xs, &ys);
            assert_close(&format!("model_zoo[{which}] forward vs reverse"), &[t], &[g[i]], 1e-10);
        }
    }
}
