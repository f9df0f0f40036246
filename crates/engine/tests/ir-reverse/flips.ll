; A float phi negated each iteration (`sign = -sign`: alternating series, cofactor expansion)
; is not kept: the reversal computes it from its start and the parity of the iterations done,
; exactly. Here Σ sign_i · sin(x_i) · e_i, where e_i is read from memory the loop overwrites (so
; it is kept), and the sign multiplies a differentiated value (so its value is needed).
;
; REV: @alternating args=dup,const,const ret=active
; AT: @alternating [0.3, -0.2, 0.9, 0.4, 1.3], [1.5, 2.0, -0.5, 0.25, 3.0], 5
; AT: @alternating [0.7], [2.0], 1

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare double @llvm.sin.f64(double)

define double @alternating(ptr noalias readonly %x, ptr noalias %e, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %sign = phi double [ -2.0, %entry ], [ %nsign, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %px = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %px
  %s = call double @llvm.sin.f64(double %xi)
  %pe = getelementptr double, ptr %e, i64 %i
  %ei = load double, ptr %pe
  store double 0.0, ptr %pe
  %t = fmul double %s, %ei
  %st = fmul double %sign, %t
  %acc1 = fadd double %acc, %st
  %nsign = fneg double %sign
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  ret double %acc1
}

; The sign: its start, negated when the iteration count is odd.
; CHECK-LABEL: define {{.*}} @alternating.oxidase.rev
; CHECK: [[ODD:%[0-9]+]] = trunc i64 {{%[0-9]+}} to i1
; CHECK-NEXT: select i1 [[ODD]], double 2.000000e+00, double -2.000000e+00
; Only e_i is kept per iteration.
; CHECK: oxidase: reverse derivative of alternating (Combined): {{.*}} 1 in buffers of 1 loops
; CHECK-NEXT: loop at depth 1: 8 bytes per iteration in a buffer sized by its trip count, 0 bytes taped per iteration
; CHECK-NEXT: buffered per iteration: {{%[0-9]+}} = load double
