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

/// The loop clean-up [`clean_loops`] runs on the functions a derivative differentiates.
pub const LOOP_CLEANUP: &str =
    "loop(loop-unroll-full),sroa,instcombine<no-verify-fixpoint>,simplifycfg,loop-mssa(licm,simple-loop-unswitch<nontrivial>),simplifycfg,instcombine<no-verify-fixpoint>,indvars,loop-mssa(simple-loop-unswitch),instcombine<no-verify-fixpoint>,simplifycfg";

/// Runs [`LOOP_CLEANUP`] on `root` (a function a request differentiates) and every function it
/// may call directly, once each (`cleaned`), skipping declarations, generated derivatives and
/// the functions `skip` names (a route's markers). Both routes call it in optimized builds.
///
/// rustc's pipelines leave loops in shapes a derivative pays for: the stable route's pre-link
/// pipeline (`-Clinker-plugin-lto`) leaves bounds checks whose test does not change in a loop
/// inside it (`for i in 0..x.len() - 1` reading `x[i + 1]`), each an exit to a panic. A
/// derivative differentiates the loop as it finds it and keeps the checks in its forward
/// sweep, where the optimizer that runs afterwards no longer removes them; and a forward sweep
/// whose values are all dead (a Hessian-vector product discards the gradient's value) stays an
/// empty loop, which may panic. Unswitching the invariant tests out of the loop (after
/// `indvars` has made the second one invariant) leaves loops with one exit, and invariant
/// loads and computations hoisted out of loops are kept once instead of per iteration. The
/// nightly route's pre-AD pipeline runs without unrolling: a loop over a `[f64; 2]` stays a
/// loop over a stack array, whose values a reverse-over-reverse derivative keeps per pass;
/// full unrolling of loops with a small constant trip count and `sroa` first turn such arrays
/// into scalars. The user's functions change in form only, as the optimizer running later
/// would change them.
pub fn clean_loops(root: Value, cleaned: &mut HashSet<Value>, skip: impl Fn(Value) -> bool) -> Result<(), String> {
    let mut work = vec![root];
    while let Some(f) = work.pop() {
        if f.is_declaration() || crate::types::is_generated(f) || skip(f) || !cleaned.insert(f) {
            continue;
        }
        oxidase_llvm::passes::run_on_function(f, LOOP_CLEANUP, Default::default())?;
        for b in f.blocks() {
            for i in b.instructions() {
                if matches!(i.opcode(), Opcode::LLVMCall | Opcode::LLVMInvoke) {
                    if let Some(callee) = i.called_function() {
                        work.push(callee);
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxidase_llvm::module;

    /// rustc's pre-link output for `for i in 0..x.len() - 1 { s += f(x[i], x[i + 1]) }`: two
    /// bounds checks inside the loop, one invariant, one that `indvars` makes invariant. After
    /// `clean_loops` the loop has one exit, its latch's, and no panic inside.
    #[test]
    fn invariant_bounds_checks_leave_the_loop() {
        let ctx = module::Context::new();
        let m = ctx
            .parse_ir(
                r#"
declare void @panic_bounds_check(i64, i64) noreturn
define double @f(ptr noalias readonly %x, i64 range(i64 0, 1152921504606846976) %n) {
  %last = add nsw i64 %n, -1
  %empty = icmp eq i64 %last, 0
  br i1 %empty, label %done, label %pre
pre:
  %sat = tail call i64 @llvm.usub.sat.i64(i64 %n, i64 1)
  %n2 = add nsw i64 %n, -2
  %min = call i64 @llvm.umin.i64(i64 %sat, i64 %n2)
  %never = icmp eq i64 %n, %min
  br label %head
done:
  %r = phi double [ 0.0, %0 ], [ %s1, %body ]
  ret double %r
head:
  %s = phi double [ %s1, %body ], [ 0.0, %pre ]
  %i = phi i64 [ %i1, %body ], [ 0, %pre ]
  %i1 = add nuw nsw i64 %i, 1
  br i1 %never, label %oob, label %check
check:
  %at_end = icmp eq i64 %i, %sat
  br i1 %at_end, label %oob2, label %body
oob:
  tail call void @panic_bounds_check(i64 %n, i64 %n)
  unreachable
oob2:
  tail call void @panic_bounds_check(i64 %i1, i64 %n)
  unreachable
body:
  %p = getelementptr inbounds nuw double, ptr %x, i64 %i
  %a = load double, ptr %p
  %q = getelementptr inbounds nuw double, ptr %x, i64 %i1
  %b = load double, ptr %q
  %t = fmul double %a, %b
  %s1 = fadd double %s, %t
  %more = icmp eq i64 %i1, %last
  br i1 %more, label %done, label %head
}
"#,
                "loops",
            )
            .unwrap();
        let f = module::get_function(m.raw(), "f").unwrap();
        clean_loops(f, &mut HashSet::new(), |_| false).unwrap();
        // The loop: one block branching to itself (its latch's exit the only other way out).
        let text = module::print_module(m.raw());
        let looping: Vec<_> = f.blocks().into_iter().filter(|b| b.successors().contains(b)).collect();
        assert_eq!(looping.len(), 1, "one single-block loop:\n{text}");
        assert_eq!(looping[0].successors().len(), 2, "{text}");
        let in_loop_calls = looping[0].instructions().into_iter().filter(|i| i.opcode() == Opcode::LLVMCall).count();
        assert_eq!(in_loop_calls, 0, "{text}");
    }


    /// rustc's pre-AD output on the nightly route (no unrolling) for `let mut g = [a, b];
    /// for v in &mut g { *v = -*v }; g[0] * g[1]`: a loop over a stack array. After
    /// `clean_loops` there is neither a loop nor the array.
    #[test]
    fn loops_over_small_arrays_become_scalars() {
        let ctx = module::Context::new();
        let m = ctx
            .parse_ir(
                r#"
define double @f(double %a, double %b) {
  %g = alloca [16 x i8], align 8
  store double %a, ptr %g, align 8
  %g1 = getelementptr inbounds nuw i8, ptr %g, i64 8
  store double %b, ptr %g1, align 8
  br label %loop
loop:
  %i = phi i64 [ 0, %0 ], [ %i1, %loop ]
  %p = getelementptr inbounds nuw i8, ptr %g, i64 %i
  %i1 = add nuw nsw i64 %i, 8
  %v = load double, ptr %p, align 8
  %n = fneg double %v
  store double %n, ptr %p, align 8
  %more = icmp eq i64 %i1, 16
  br i1 %more, label %done, label %loop
done:
  %x = load double, ptr %g, align 8
  %y = load double, ptr %g1, align 8
  %r = fmul double %x, %y
  ret double %r
}
"#,
                "arrays",
            )
            .unwrap();
        let f = module::get_function(m.raw(), "f").unwrap();
        clean_loops(f, &mut HashSet::new(), |_| false).unwrap();
        let text = module::print_module(m.raw());
        assert_eq!(f.blocks().len(), 1, "straight-line code:\n{text}");
        let memory = f.blocks()[0].instructions().into_iter().filter(|i| matches!(i.opcode(), Opcode::LLVMAlloca | Opcode::LLVMLoad | Opcode::LLVMStore)).count();
        assert_eq!(memory, 0, "{text}");
    }
}
