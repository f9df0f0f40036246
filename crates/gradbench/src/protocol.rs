//! GradBench protocol types (shared/docs/GRADBENCH.md §1): responses, timings, and the `Runs`
//! loop every eval except `hello` asks for (§1.4).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Instant;

/// One entry of a response's `timings`. `nanoseconds` must be a non-negative JSON integer
/// (the intermediary reads it as `u128`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Timing {
    pub name: &'static str,
    pub nanoseconds: u128,
}

/// `min_runs` / `min_seconds`, read from the evaluate input next to the real data (§1.4).
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct Runs {
    #[serde(default = "default_min_runs")]
    pub min_runs: u64,
    #[serde(default = "default_min_seconds")]
    pub min_seconds: f64,
}

fn default_min_runs() -> u64 {
    1
}
fn default_min_seconds() -> f64 {
    1.0
}

impl Default for Runs {
    fn default() -> Self {
        Runs { min_runs: 1, min_seconds: 1.0 }
    }
}

impl Runs {
    /// The Runs fields of an evaluate input; defaults where absent (or where the input is not
    /// an object, as for `hello`).
    pub fn from_input(input: &Value) -> Result<Runs, String> {
        if input.is_object() {
            Runs::deserialize(input).map_err(|e| format!("bad min_runs/min_seconds: {e}"))
        } else {
            Ok(Runs::default())
        }
    }

    /// Run `f` until at least `min_runs` runs were made **and** the summed run times reach
    /// `min_seconds`; one `"evaluate"` timing per run. Only the call of `f` is timed, so `f`
    /// must contain exactly the computation (re-zeroing of gradient buffers included, which is
    /// part of the honest cost of a derivative).
    pub fn repeat(&self, mut f: impl FnMut()) -> Vec<Timing> {
        let mut timings = Vec::new();
        let mut total = 0u128;
        let min_ns = if self.min_seconds.is_finite() && self.min_seconds > 0.0 {
            (self.min_seconds * 1e9) as u128
        } else {
            0
        };
        while (timings.len() as u64) < self.min_runs || total < min_ns {
            let start = Instant::now();
            f();
            let ns = start.elapsed().as_nanos();
            total += ns;
            timings.push(Timing { name: "evaluate", nanoseconds: ns });
        }
        timings
    }
}

/// Result of one evaluate: the output JSON and the timings of the runs.
pub type Evaluation = Result<(Value, Vec<Timing>), String>;

/// Deserialize a module's input struct straight from the parsed JSON (no copy of the tree).
pub fn parse<'a, T: Deserialize<'a>>(input: &'a Value) -> Result<T, String> {
    T::deserialize(input).map_err(|e| format!("bad input: {e}"))
}

/// A float as JSON, refusing NaN and ±∞ (serde_json would write `null`, a type mismatch for
/// the validator; §1.6).
pub fn num(x: f64) -> Result<Value, String> {
    if x.is_finite() {
        Ok(Value::from(x))
    } else {
        Err(format!("non-finite result {x}"))
    }
}

/// A float slice as a JSON array, refusing NaN and ±∞.
pub fn nums(xs: &[f64]) -> Result<Value, String> {
    if let Some(bad) = xs.iter().find(|x| !x.is_finite()) {
        return Err(format!("non-finite result {bad}"));
    }
    Ok(Value::Array(xs.iter().map(|&x| Value::from(x)).collect()))
}

/// A flat row-major buffer as a JSON list of rows of length `cols`, refusing NaN and ±∞.
pub fn rows(xs: &[f64], cols: usize) -> Result<Value, String> {
    if cols == 0 {
        return Ok(Value::Array(Vec::new()));
    }
    xs.chunks(cols).map(nums).collect::<Result<Vec<_>, _>>().map(Value::Array)
}

/// Flatten a list of equally long rows into one row-major buffer; `what` names the field.
pub fn flatten(rows: &[Vec<f64>], cols: usize, what: &str) -> Result<Vec<f64>, String> {
    let mut out = Vec::with_capacity(rows.len() * cols);
    for (i, r) in rows.iter().enumerate() {
        if r.len() != cols {
            return Err(format!("{what}[{i}] has length {}, expected {cols}", r.len()));
        }
        out.extend_from_slice(r);
    }
    Ok(out)
}

/// Response to one message, as one JSON line.
pub fn response(msg: &Value) -> Value {
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let kind = msg.get("kind").and_then(Value::as_str).unwrap_or("");
    let mut out = serde_json::Map::new();
    out.insert("id".into(), id);
    match kind {
        "start" => {
            out.insert("tool".into(), Value::from("oxidase"));
        }
        "define" => {
            let module = msg.get("module").and_then(Value::as_str).unwrap_or("");
            if crate::modules::defined(module) {
                out.insert("success".into(), Value::Bool(true));
            } else {
                out.insert("success".into(), Value::Bool(false));
                out.insert("error".into(), Value::from(format!("unknown module {module}")));
            }
        }
        "evaluate" => {
            let module = msg.get("module").and_then(Value::as_str).unwrap_or("");
            let function = msg.get("function").and_then(Value::as_str).unwrap_or("");
            let input = msg.get("input").unwrap_or(&Value::Null);
            match crate::modules::evaluate(module, function, input) {
                Ok((output, timings)) => {
                    out.insert("success".into(), Value::Bool(true));
                    out.insert("output".into(), output);
                    out.insert("timings".into(), serde_json::to_value(timings).unwrap());
                }
                Err(e) => {
                    out.insert("success".into(), Value::Bool(false));
                    out.insert("error".into(), Value::from(e));
                }
            }
        }
        "analysis" => {
            if msg.get("valid") == Some(&Value::Bool(false)) {
                let of = msg.get("of").cloned().unwrap_or(Value::Null);
                let err = msg.get("error").and_then(Value::as_str).unwrap_or("");
                eprintln!("oxidase-gradbench: evaluate {of} was judged invalid: {err}");
            }
        }
        _ => {}
    }
    Value::Object(out)
}
