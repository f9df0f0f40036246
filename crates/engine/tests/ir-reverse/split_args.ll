; A split derivative's reverse function takes the primal arguments again, after the tape: its
; caller has them or recomputes them where it calls it, so the callee keeps none of them. A
; recursion (`rec`, like det's minors) then keeps per call only its callee's result and the
; return it took. A callee whose body is complete when its caller's reversal is made tells
; which arguments it reads: `lin` reads none, and gets poison for both.
;
; REV: @top args=dup,const ret=active
; AT: @top [0.3, -0.2, 0.9, 0.4], 4
; AT: @top [1.5, 0.7], 2

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; a[n] · a[n−1] · … · a[1] · a[0]².
define internal double @rec(ptr noalias readonly %a, i64 %n) noinline {
entry:
  %p = getelementptr double, ptr %a, i64 %n
  %x = load double, ptr %p
  %z = icmp eq i64 %n, 0
  br i1 %z, label %leaf, label %more
leaf:
  %sq = fmul double %x, %x
  ret double %sq
more:
  %n1 = sub i64 %n, 1
  %r = call double @rec(ptr %a, i64 %n1)
  %m = fmul double %x, %r
  ret double %m
}

; Linear in `v`: its reversal reads no argument.
define internal double @lin(double %v, i64 %k) noinline {
entry:
  %f = sitofp i64 %k to double
  %w = fmul double %v, 0.75
  %y = fadd double %w, %f
  ret double %y
}

define double @top(ptr noalias readonly %a, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %s = phi double [ 0.0, %entry ], [ %s2, %loop ]
  %r = call double @rec(ptr %a, i64 %i)
  %s1 = fadd double %s, %r
  %s2 = call double @lin(double %s1, i64 %i)
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  ret double %s2
}

; The caller passes the arguments again: `rec`'s (the loop's variable is counted, nothing is
; kept for it), and poison for `lin`, which reads none.
; CHECK-LABEL: define {{.*}} @top.oxidase.rev
; CHECK-DAG: call { double } @lin.oxidase.rrev{{[0-9]+}}(ptr {{%[0-9]+}}, double poison, i64 poison, double
; CHECK-DAG: call void @rec.oxidase.rrev{{[0-9]+}}(ptr {{%[0-9]+}}, ptr %0, ptr %1, i64 {{%[.0-9]+}}, double
; The reverse functions' parameters: the tape, the primal arguments (shadows after Duplicated
; ones), the seed. The recursive call gets them again (`n − 1` recomputed).
; CHECK-LABEL: define internal { double } @rec.oxidase.aug{{[0-9]+}}(ptr noalias readonly %0, ptr %1, i64 %2, ptr %3)
; CHECK-LABEL: define internal void @rec.oxidase.rrev{{[0-9]+}}(ptr %0, ptr %1, ptr %2, i64 %3, double %4)
; CHECK: call void @rec.oxidase.rrev{{[0-9]+}}(ptr %0, ptr %1, ptr %2, i64 {{%[0-9]+}}, double
; CHECK-LABEL: define internal { double } @lin.oxidase.rrev{{[0-9]+}}(ptr %0, double %1, i64 %2, double %3)

; `lin` keeps nothing; per call `rec` keeps its callee's result (and which return it took);
; `top` keeps nothing per iteration.
; CHECK: oxidase: reverse derivative of lin (Split): {{.*}} 0 on the tape
; CHECK: oxidase: reverse derivative of rec (Split): {{.*}} 1 on the tape
; CHECK: oxidase: reverse derivative of top (Combined): {{.*}} 0 on the tape (0 bytes per pass through the loops)
