//! A stiff ODE integrated by implicit Euler, each step solved by Newton's method until the
//! residual is tiny: y' = −k·y³ + a·sin(ω·t), loss = h·Σ yₙ². The number of Newton iterations
//! depends on the data, so the reverse sweep keeps every iterate on the tape (megabytes over
//! 20,000 steps: the tape crosses many chunks) while the counted step loop keeps its own values
//! in a loop buffer. Gradient with respect to (k, a, ω, y₀) against central differences, a
//! second call (which reuses the first one's chunks), and forward mode.
use crate::ad::{autodiff_forward, autodiff_reverse};
use crate::check::{assert_close, fd_gradient};

const STEPS: usize = 20_000;

#[autodiff_reverse(d_loss, Duplicated, Active)]
#[autodiff_forward(t_loss, Dual, Dual)]
fn loss(p: &[f64]) -> f64 {
    let (k, a, w, y0) = (p[0], p[1], p[2], p[3]);
    let h = 2.0 / STEPS as f64;
    let mut y = y0;
    let mut total = 0.0;
    for n in 0..STEPS {
        let t = (n + 1) as f64 * h;
        let forcing = a * (w * t).sin();
        // Newton on g(z) = z − y − h·(−k·z³ + forcing), from z = y.
        let mut z = y;
        let mut iterations = 0;
        loop {
            let g = z - y - h * (forcing - k * z * z * z);
            if g.abs() < 1e-13 || iterations == 30 {
                break;
            }
            z -= g / (1.0 + 3.0 * h * k * z * z);
            iterations += 1;
        }
        y = z;
        total += h * y * y;
    }
    total
}

pub fn run() {
    let p = [40.0, 3.0, 7.0, 1.2];
    let mut dp = [0.0; 4];
    let v = d_loss(&p, &mut dp, 1.0);
    assert_close("implicit_euler value", &[v], &[loss(&p)], 1e-13);
    assert_close("implicit_euler fd", &dp, &fd_gradient(loss, &p), 1e-5);
    let mut again = [0.0; 4];
    d_loss(&p, &mut again, 1.0);
    assert_close("implicit_euler second call", &again, &dp, 0.0);
    let dir = [0.5, -1.0, 0.25, 2.0];
    let (_, t) = t_loss(&p, &dir);
    let want: f64 = dp.iter().zip(&dir).map(|(g, d)| g * d).sum();
    assert_close("implicit_euler forward vs reverse", &[t], &[want], 1e-9);
}
