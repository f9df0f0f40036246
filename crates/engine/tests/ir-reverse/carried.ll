; A value the reversal would pop from the tape is recomputed when everything it is computed
; from reaches the reversal anyway. det's minors: per column j, `sign · a[c]` multiplies the
; minor's value (a call whose derivative keeps the tape in every iteration); the reversal needs
; the sign (for a's adjoint) and the column c (for the address of a's shadow; the column list
; is overwritten, so c is carried), and so `sign · a[c]` itself need not be: 24 bytes per
; iteration, not 32. (The factor is scaled as well as negated each column: a sign that only
; flips is computed from the column's index instead, see flips.ll.)
;
; REV: @signs args=dup,const,const ret=active
; AT: @signs [0.3, -0.2, 0.9, 0.4], [2, 0, 3, 1], 4
; AT: @signs [0.7, 1.1], [1, 1], 2

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare double @llvm.sin.f64(double)

; A callee of unknown loop length: its derivative keeps values on the tape.
define internal double @spin(double %v, i64 %k) noinline {
entry:
  br label %loop
loop:
  %c = phi i64 [ %k, %entry ], [ %c1, %loop ]
  %y = phi double [ %v, %entry ], [ %y1, %loop ]
  %y1 = call double @llvm.sin.f64(double %y)
  %c1 = lshr i64 %c, 1
  %go = icmp ugt i64 %c, 1
  br i1 %go, label %loop, label %out
out:
  ret double %y1
}

define double @signs(ptr noalias readonly %a, ptr noalias %colsf, i64 %n) {
entry:
  %bytes = shl i64 %n, 3
  %cols = alloca i64, i64 %bytes
  br label %fill
fill:
  %f = phi i64 [ 0, %entry ], [ %f1, %fill ]
  %fp = getelementptr double, ptr %colsf, i64 %f
  %fv = load double, ptr %fp
  %fi = fptoui double %fv to i64
  %cp0 = getelementptr i64, ptr %cols, i64 %f
  store i64 %fi, ptr %cp0
  %f1 = add nuw i64 %f, 1
  %fmore = icmp ult i64 %f1, %n
  br i1 %fmore, label %fill, label %loop
loop:
  %j = phi i64 [ 0, %fill ], [ %j1, %loop ]
  %sign = phi double [ 1.0, %fill ], [ %nsign, %loop ]
  %sum = phi double [ 0.5, %fill ], [ %sum1, %loop ]
  %cp = getelementptr i64, ptr %cols, i64 %j
  %c = load i64, ptr %cp
  %ap = getelementptr double, ptr %a, i64 %c
  %av = load double, ptr %ap
  %sa = fmul double %sign, %av
  %t = call double @spin(double %sum, i64 4)
  %prod = fmul double %sa, %t
  %sum1 = fadd double %sum, %prod
  %nsign = fmul double %sign, -0.75
  store i64 0, ptr %cp
  %j1 = add nuw i64 %j, 1
  %more = icmp ult i64 %j1, %n
  br i1 %more, label %loop, label %done
done:
  ret double %sum1
}

; CHECK: oxidase: reverse derivative of signs (Combined): {{.*}} on the tape (24 bytes per pass through the loops)
; CHECK-NEXT: loop at depth 1: 0 bytes per iteration in a buffer sized by its trip count, 24 bytes taped per iteration
; CHECK-NOT: taped per pass through a loop: {{.*}} = fmul double
