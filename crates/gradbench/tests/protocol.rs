//! Drives the built binary with recorded sessions (`tests/sessions/*.jsonl`, one eval message
//! per line, shaped like the Python evals' traffic, shared/docs/GRADBENCH.md §1) and checks the
//! protocol rules on every response.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_oxidase-gradbench");

/// Functions per implemented module.
const FUNCTIONS: &[(&str, &[&str])] = &[
    ("hello", &["square", "double"]),
    ("lse", &["primal", "gradient"]),
    ("llsq", &["primal", "gradient"]),
    ("det", &["primal", "gradient"]),
    ("ode", &["primal", "gradient"]),
    ("kmeans", &["cost", "dir"]),
    ("gmm", &["objective", "jacobian"]),
    ("lstm", &["objective", "jacobian"]),
    ("ba", &["objective", "jacobian"]),
    ("ht", &["objective", "jacobian"]),
    ("particle", &["rr", "ff", "fr", "rf"]),
    ("saddle", &["rr", "ff", "fr", "rf"]),
];

fn functions(module: &str) -> Option<&'static [&'static str]> {
    FUNCTIONS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

fn session_lines(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sessions").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

/// Send every message at once, close stdin, collect stdout: (responses, exit status).
fn run_session(lines: &[String]) -> Vec<Value> {
    let mut child = Command::new(BIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the tool");
    {
        let mut stdin = child.stdin.take().unwrap();
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
    } // EOF
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit status {:?}, stderr: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    assert!(stdout.is_empty() || stdout.ends_with('\n'), "last response not newline-terminated");
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}")))
        .collect()
}

/// The protocol rules of §1.3–§1.5 for one message/response pair.
fn check_pair(msg: &Value, resp: &Value) {
    let obj = resp.as_object().unwrap_or_else(|| panic!("response is not an object: {resp}"));
    assert_eq!(resp["id"], msg["id"], "id must echo: {msg} -> {resp}");
    let success = obj.get("success");
    match msg["kind"].as_str().unwrap() {
        "start" => assert!(success.is_none()),
        "define" => {
            let known = functions(msg["module"].as_str().unwrap()).is_some();
            assert_eq!(success, Some(&Value::Bool(known)), "define {msg} -> {resp}");
            if known {
                assert!(obj.get("error").is_none(), "error together with success: {resp}");
            } else {
                assert!(obj["error"].as_str().unwrap().contains("unknown module"), "{resp}");
            }
        }
        "evaluate" => {
            let module = msg["module"].as_str().unwrap();
            let function = msg["function"].as_str().unwrap();
            let known = functions(module).is_some_and(|f| f.contains(&function));
            assert_eq!(success, Some(&Value::Bool(known)), "evaluate {module}.{function} -> {resp}");
            if known {
                assert!(obj.contains_key("output"), "success requires output: {resp}");
                assert!(!obj.contains_key("error"), "success forbids error: {resp}");
                let timings = obj["timings"].as_array().expect("timings");
                let min_runs = msg["input"].get("min_runs").and_then(Value::as_u64).unwrap_or(1);
                assert!(timings.len() as u64 >= min_runs, "{} timings < min_runs {min_runs}", timings.len());
                for t in timings {
                    assert_eq!(t["name"], "evaluate");
                    assert!(t["nanoseconds"].is_u64(), "nanoseconds must be a non-negative integer: {t}");
                }
                assert_no_null(&obj["output"]);
            } else {
                assert!(!obj.contains_key("output"), "{resp}");
                assert!(obj["error"].is_string(), "{resp}");
            }
        }
        _ => assert_eq!(obj.len(), 1, "only the id is expected: {resp}"),
    }
}

/// NaN and ±∞ would have been written as `null`.
fn assert_no_null(v: &Value) {
    match v {
        Value::Null => panic!("null in output"),
        Value::Array(a) => a.iter().for_each(assert_no_null),
        Value::Object(o) => o.values().for_each(assert_no_null),
        _ => {}
    }
}

fn check_session(name: &str) -> Vec<(Value, Value)> {
    let lines = session_lines(name);
    let msgs: Vec<Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m["id"], i, "{name}: recorded ids go up from 0");
    }
    let resps = run_session(&lines);
    assert_eq!(resps.len(), msgs.len(), "{name}: one response per message");
    for (m, r) in msgs.iter().zip(&resps) {
        check_pair(m, r);
    }
    msgs.into_iter().zip(resps).collect()
}

#[test]
fn hello_session() {
    let pairs = check_session("hello.jsonl");
    let outputs: Vec<f64> = pairs
        .iter()
        .filter(|(m, _)| m["kind"] == "evaluate")
        .map(|(_, r)| r["output"].as_f64().unwrap())
        .collect();
    assert_eq!(outputs, [1.0, 2.0, 4.0, 8.0, 64.0, 128.0, 16384.0, 32768.0]);
}

#[test]
fn module_sessions() {
    for m in ["lse", "llsq", "det", "ode", "kmeans", "gmm", "lstm", "ba", "ht", "particle", "saddle"] {
        let pairs = check_session(&format!("{m}.jsonl"));
        assert!(pairs.iter().any(|(m, _)| m["kind"] == "evaluate"), "{m}: no evaluate recorded");
    }
}

/// The nested-AD modules answer the published constants through the protocol.
#[test]
fn nested_sessions() {
    for (m, expect) in [("particle", 0.2071918746486116), ("saddle", 8.246324826140356e-06)] {
        let pairs = check_session(&format!("{m}.jsonl"));
        let outputs: Vec<&Value> = pairs.iter().filter(|(m, _)| m["kind"] == "evaluate").map(|(_, r)| &r["output"]).collect();
        assert_eq!(outputs.len(), 4, "{m}: rr, ff, fr, rf");
        for o in outputs {
            let vals: Vec<f64> = match o {
                Value::Array(a) => a.iter().map(|v| v.as_f64().unwrap()).collect(),
                v => vec![v.as_f64().unwrap()],
            };
            for v in vals {
                assert!((v - expect).abs() < 1e-12, "{m}: {v} vs {expect}");
            }
        }
    }
}

#[test]
fn unknown_module() {
    let pairs = check_session("unknown_module.jsonl");
    assert_eq!(pairs[1].1["success"], false);
}

#[test]
fn unknown_function() {
    let pairs = check_session("unknown_function.jsonl");
    assert_eq!(pairs[2].1["success"], false);
    assert_eq!(pairs[3].1["success"], true);
}

/// Answers arrive one at a time while stdin stays open (each response is flushed), and the
/// tool exits 0 with nothing more on stdout once stdin closes.
#[test]
fn interactive_and_clean_eof() {
    let mut child = Command::new(BIN).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for l in session_lines("lse.jsonl") {
        writeln!(stdin, "{l}").unwrap();
        stdin.flush().unwrap();
        let mut resp = String::new();
        stdout.read_line(&mut resp).unwrap();
        let msg: Value = serde_json::from_str(&l).unwrap();
        check_pair(&msg, &serde_json::from_str(&resp).unwrap());
    }
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "", "no stdout noise after the last response");
    assert!(child.wait().unwrap().success());
}

/// Runs with `min_seconds` keep going until the summed timings reach it.
#[test]
fn min_seconds_is_honoured() {
    let line = r#"{"id":0,"kind":"evaluate","module":"lse","function":"primal","input":{"x":[1.0,2.0],"min_runs":1,"min_seconds":0.05}}"#;
    let resps = run_session(&[line.to_string()]);
    let total: u64 = resps[0]["timings"].as_array().unwrap().iter().map(|t| t["nanoseconds"].as_u64().unwrap()).sum();
    assert!(total >= 50_000_000, "total {total} ns < min_seconds");
}

/// Empty stdin: exit 0, no output.
#[test]
fn eof_at_once() {
    assert!(run_session(&[]).is_empty());
}
