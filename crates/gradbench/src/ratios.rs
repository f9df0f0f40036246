//! `oxidase-gradbench ratios <module> [--max-workloads N] [--min-seconds S] [--workload NAME] [--list] [--side primal|derivative]`: runs primal and
//! derivative of every default workload through the protocol's evaluate path and prints a
//! markdown table of mean times and derivative ÷ primal ratios, then their geometric mean.
//! Not part of the GradBench protocol.

use crate::generate;
use crate::modules;
use crate::protocol::Timing;
use serde_json::Value;

fn mean_seconds(t: &[Timing]) -> f64 {
    t.iter().map(|t| t.nanoseconds as f64).sum::<f64>() / t.len().max(1) as f64 * 1e-9
}

/// Format a duration in a unit that keeps ~3 significant digits readable.
fn fmt_time(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{:.3} µs", s * 1e6)
    }
}

/// A workload's input with one run at least and `min_seconds` of runs.
fn timed_input(make: &dyn Fn() -> Value, min_seconds: f64) -> Value {
    let mut input = make();
    if let Value::Object(map) = &mut input {
        map.insert("min_runs".into(), Value::from(1));
        map.insert("min_seconds".into(), Value::from(min_seconds));
    }
    input
}

pub fn main(args: &[String]) -> Result<(), String> {
    let mut module = None;
    let mut max = usize::MAX;
    let mut min_seconds = 0.5;
    let mut only: Option<String> = None;
    let mut list = false;
    let mut side: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--max-workloads" => {
                max = it.next().and_then(|v| v.parse().ok()).ok_or("--max-workloads needs an integer")?
            }
            "--min-seconds" => {
                min_seconds = it.next().and_then(|v| v.parse().ok()).ok_or("--min-seconds needs a number")?
            }
            "--list" => list = true,
            "--side" => side = Some(it.next().ok_or("--side needs primal or derivative")?.clone()),
            "--workload" => only = Some(it.next().ok_or("--workload needs a workload name")?.clone()),
            m if module.is_none() && !m.starts_with('-') => module = Some(m.to_string()),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    let module = module.ok_or("usage: oxidase-gradbench ratios <module> [--max-workloads N] [--min-seconds S] [--workload NAME] [--list] [--side primal|derivative]")?;
    let (primal, derivative) = generate::functions(&module).ok_or(format!("unknown module {module}"))?;
    let mut workloads = generate::default_workloads(&module, max).ok_or(format!("unknown module {module}"))?;
    if let Some(o) = &only {
        workloads.retain(|(desc, _)| desc == o);
    }
    if list {
        for (desc, _) in &workloads {
            println!("{desc}");
        }
        return Ok(());
    }
    if let Some(side) = side {
        // One function alone (its process's peak memory is its own): each workload's time.
        let function = match side.as_str() {
            "primal" => primal,
            "derivative" => derivative,
            other => return Err(format!("--side {other}: expected primal or derivative")),
        };
        for (desc, make) in workloads {
            let input = timed_input(&*make, min_seconds);
            let (_, t) = modules::evaluate(&module, function, &input).map_err(|e| format!("{desc} {function}: {e}"))?;
            let first = t.first().map_or(0.0, |t| t.nanoseconds as f64 * 1e-9);
            // Later calls: every run after the first (the first alone when there is one).
            let later = if t.len() > 1 { mean_seconds(&t[1..]) } else { first };
            println!("| {desc} | {function} | first call {} | later calls {} | {:.2} |", fmt_time(first), fmt_time(later), first / later);
        }
        return Ok(());
    }
    println!("### {module}: {derivative} ÷ {primal} (min_seconds {min_seconds})\n");
    println!("| workload | {primal} | {derivative} | ratio |");
    println!("|---|---:|---:|---:|");
    let mut log_sum = 0.0;
    let mut count = 0;
    for (desc, make) in workloads {
        let input = timed_input(&*make, min_seconds);
        let (_, tp) = modules::evaluate(&module, primal, &input).map_err(|e| format!("{desc} {primal}: {e}"))?;
        let (_, td) = modules::evaluate(&module, derivative, &input).map_err(|e| format!("{desc} {derivative}: {e}"))?;
        let (p, d) = (mean_seconds(&tp), mean_seconds(&td));
        let ratio = d / p;
        log_sum += ratio.ln();
        count += 1;
        println!("| {desc} | {} | {} | {ratio:.2} |", fmt_time(p), fmt_time(d));
    }
    if count > 0 {
        println!("\ngeometric mean of ratios: {:.2} over {count} workloads", (log_sum / count as f64).exp());
    }
    Ok(())
}
