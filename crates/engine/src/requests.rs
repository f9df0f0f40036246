//! Order of requests: the marker calls (calls asking for a derivative) of both routes.

use oxidase_llvm::module::context_of;
use oxidase_llvm::{Builder, Opcode, Value};
use std::collections::{HashMap, HashSet};

/// Orders marker calls so that a call whose function to differentiate (`function_of(call)`)
/// transitively contains another marker call comes after that call: inner derivatives are
/// generated first, and the outer derivative then differentiates the generated code like any
/// other code (higher order). Calls in a cycle keep their given order.
pub fn order_inner_first(calls: &[Value], function_of: impl Fn(Value) -> Option<Value>) -> Vec<Value> {
    let call_set: HashSet<Value> = calls.iter().copied().collect();
    let mut deps: HashMap<Value, HashSet<Value>> = HashMap::new();
    for &c in calls {
        let mut reached = HashSet::new();
        let mut stack: Vec<Value> = function_of(c).filter(|f| f.is_function()).into_iter().collect();
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
                    if call_set.contains(&i) && i != c {
                        found.insert(i);
                    }
                    if let Some(callee) = i.called_function() {
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
        deps.insert(c, found);
    }
    let mut done: Vec<Value> = Vec::new();
    let mut left: Vec<Value> = calls.to_vec();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|c| {
            if deps[c].iter().all(|d| done.contains(d)) {
                done.push(*c);
                false
            } else {
                true
            }
        });
        if left.len() == before {
            done.append(&mut left);
        }
    }
    done
}

/// The call and invoke instructions of `marker`.
pub fn calls_of(marker: Value) -> Vec<Value> {
    marker.users().into_iter().filter(|c| matches!(c.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke)).collect()
}

/// Removes a (void or unused) marker call; an `invoke` continues to its normal destination.
pub fn erase_call(call: Value) {
    if call.opcode() == Opcode::LLVMInvoke {
        let b = Builder::new(context_of(call.parent_block().parent().global_parent()));
        b.position_before(call);
        b.br(call.normal_dest());
    }
    call.erase();
}
