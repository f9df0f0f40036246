; Loops in reverse mode and what they keep for the reversal (the report's last line per
; derivative: stack slots, tape, bytes per pass through the loops, recomputed).
;
; REV: @rosen args=dup,const ret=active
; AT: @rosen [0.5, 0.7, -0.3, 1.2, 0.9], 5
; AT: @rosen [2.0], 1
; REV: @mixture args=dup,dup,const,const ret=active
; AT: @mixture [0.1, -0.4, 0.8], [0.0, 0.5], 3, 2

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; Σ (1 - xᵢ)² + 100 (xᵢ₊₁ - xᵢ²)²: a counted loop over read-only memory needs no tape.
define double @rosen(ptr noalias readonly %x, i64 %n) {
entry:
  %m = sub i64 %n, 1
  %empty = icmp sle i64 %m, 0
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %pi = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %pi
  %i1 = add i64 %i, 1
  %pj = getelementptr double, ptr %x, i64 %i1
  %xj = load double, ptr %pj
  %a = fsub double 1.0, %xi
  %a2 = fmul double %a, %a
  %sq = fmul double %xi, %xi
  %b = fsub double %xj, %sq
  %b2 = fmul double %b, %b
  %b3 = fmul double 100.0, %b2
  %t = fadd double %a2, %b3
  %acc1 = fadd double %acc, %t
  %more = icmp slt i64 %i1, %m
  br i1 %more, label %loop, label %done
done:
  %r = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  ret double %r
}

; Σᵢ log Σⱼ exp(-(xᵢ - μⱼ)²): a gmm-like nest over read-only inputs.
define double @mixture(ptr noalias readonly %x, ptr noalias readonly %mu, i64 %n, i64 %k) {
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i1, %outer.end ]
  %tot = phi double [ 0.0, %entry ], [ %tot1, %outer.end ]
  %px = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %px
  br label %inner
inner:
  %j = phi i64 [ 0, %outer ], [ %j1, %inner ]
  %s = phi double [ 0.0, %outer ], [ %s1, %inner ]
  %pm = getelementptr double, ptr %mu, i64 %j
  %mj = load double, ptr %pm
  %d = fsub double %xi, %mj
  %d2 = fmul double %d, %d
  %nd = fneg double %d2
  %e = call double @llvm.exp.f64(double %nd)
  %s1 = fadd double %s, %e
  %j1 = add i64 %j, 1
  %jm = icmp slt i64 %j1, %k
  br i1 %jm, label %inner, label %outer.end
outer.end:
  %l = call double @llvm.log.f64(double %s1)
  %tot1 = fadd double %tot, %l
  %i1 = add i64 %i, 1
  %im = icmp slt i64 %i1, %n
  br i1 %im, label %outer, label %done
done:
  ret double %tot1
}
declare double @llvm.exp.f64(double)
declare double @llvm.log.f64(double)

; ---- report ----
; CHECK: oxidase: reverse derivative of rosen (Combined): 0 values kept in stack slots, 0 kept once per loop execution, 0 in buffers of 0 loops sized by their trip counts, 0 on the tape (0 bytes per pass through the loops), 13 recomputed
; exp's result (per inner iteration) and the sum log reads (per outer iteration) are kept in
; buffers sized by the trip counts (`slt` against `%k` and `%n`); the tape takes only the inner
; buffer's address, once per outer iteration, and the inner loop's end follows from its test.
; CHECK: oxidase: reverse derivative of mixture (Combined): 0 values kept in stack slots, 0 kept once per loop execution, 2 in buffers of 2 loops sized by their trip counts, 0 on the tape (8 bytes per pass through the loops), 7 recomputed; 0 blocks with nothing to reverse skipped; 1 loop reversals skipped when the adjoints they receive are zero; 1 loop exits whose induction variable comes from the exit test's bound (nothing kept)
; CHECK-NEXT: loop at depth 1: 8 bytes per iteration in a buffer sized by its trip count, 8 bytes taped per iteration
; CHECK-NEXT: buffered per iteration: {{.*}} = fadd double
; CHECK-NEXT: taped per pass through a loop: on leaving it, a loop buffer's address
; CHECK-NEXT: loop at depth 2: 8 bytes per iteration in a buffer sized by its trip count, 0 bytes taped per iteration
; CHECK-NEXT: buffered per iteration: {{.*}} = call double @llvm.exp.f64
