//! Order of requests: the markers (declarations whose calls ask for derivatives) of both routes.

use oxidase_llvm::{Opcode, Value};
use std::collections::{HashMap, HashSet};

/// Orders markers so that a marker whose primal (transitively) contains calls of another marker
/// comes after it: inner derivatives are generated first, and the outer derivative then
/// differentiates the generated code like any other code (higher order).
pub fn order_inner_first(markers: &[Value], function_of: impl Fn(Value) -> Option<Value>) -> Vec<Value> {
    let marker_set: HashSet<Value> = markers.iter().copied().collect();
    // For each marker, the markers whose calls are reachable from its primals.
    let mut deps: HashMap<Value, HashSet<Value>> = HashMap::new();
    for &m in markers {
        let mut reached = HashSet::new();
        let mut stack: Vec<Value> = m
            .users()
            .into_iter()
            .filter(|c| matches!(c.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke))
            .filter_map(&function_of)
            .filter(|f| f.is_function())
            .collect();
        let mut found = HashSet::new();
        while let Some(f) = stack.pop() {
            if !reached.insert(f) || f.is_declaration() {
                continue;
            }
            for b in f.blocks() {
                for i in b.instructions() {
                    if !matches!(i.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke) {
                        continue;
                    }
                    if let Some(callee) = i.called_function() {
                        if marker_set.contains(&callee) && callee != m {
                            found.insert(callee);
                        }
                        stack.push(callee);
                    }
                    // Function pointers passed as arguments may be called too.
                    for a in i.call_args() {
                        if a.is_function() {
                            stack.push(a);
                        }
                    }
                }
            }
        }
        deps.insert(m, found);
    }
    let mut done: Vec<Value> = Vec::new();
    let mut left: Vec<Value> = markers.to_vec();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|m| {
            if deps[m].iter().all(|d| done.contains(d)) {
                done.push(*m);
                false
            } else {
                true
            }
        });
        if left.len() == before {
            // A cycle (mutually higher-order derivatives): keep module order.
            done.append(&mut left);
        }
    }
    done
}

