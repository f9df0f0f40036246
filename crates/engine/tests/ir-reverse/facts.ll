; What reverse mode tells the optimizer about its own code.
;
; * Parameters: a `noalias` primal pointer stays `noalias` (and `readonly`); the shadow of a
;   writable `noalias` one (a `&mut`) is `noalias`; the shadow of a read-only one is not, since
;   adjoints are written into it and two shared references to one slice share its shadow.
; * Adjoint sums may be reassociated: the order in which contributions to one adjoint are added
;   is the derivative's choice, and a free order lets a sum over a loop be vectorized.
;
; REV: @scale args=dup,dup,active,const ret=active
; AT: @scale [0.0, 0.0, 0.0], [1.0, 2.0, 3.0], 0.5, 3
; AT: @scale [0.0], [-1.5], 2.0, 1
; REV: @shared args=dup,dup,const ret=active
; AT: @shared [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 3

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; y[i] = a·x[i]; returns Σ y[i]²: the adjoint of a gathers one term per iteration.
define double @scale(ptr noalias %y, ptr noalias readonly %x, double %a, i64 %n) {
entry:
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %s = phi double [ 0.0, %entry ], [ %s1, %loop ]
  %px = getelementptr double, ptr %x, i64 %i
  %py = getelementptr double, ptr %y, i64 %i
  %xi = load double, ptr %px
  %v = fmul double %a, %xi
  store double %v, ptr %py
  %v2 = fmul double %v, %v
  %s1 = fadd double %s, %v2
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  %r = phi double [ 0.0, %entry ], [ %s1, %loop ]
  ret double %r
}

; Σ u[i]·v[i] with u and v read-only: called with the same slice twice (and the same shadow),
; the adjoints of both land in one buffer, so neither shadow may be `noalias`.
define double @shared(ptr noalias readonly %u, ptr noalias readonly %v, i64 %n) {
entry:
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %s = phi double [ 0.0, %entry ], [ %s1, %loop ]
  %pu = getelementptr double, ptr %u, i64 %i
  %pv = getelementptr double, ptr %v, i64 %i
  %ui = load double, ptr %pu
  %vi = load double, ptr %pv
  %p = fmul double %ui, %vi
  %s1 = fadd double %s, %p
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  %r = phi double [ 0.0, %entry ], [ %s1, %loop ]
  ret double %r
}

; CHECK-LABEL: define internal {{.*}} @scale.oxidase.rev{{[0-9]+}}(ptr noalias %0, ptr noalias %1, ptr noalias readonly %2, ptr %3, double %4, i64 %5, double %6)
; CHECK: {{^}}loop.rev:
; CHECK: fadd reassoc nsz double
; CHECK-LABEL: define internal {{.*}} @shared.oxidase.rev{{[0-9]+}}(ptr noalias readonly %0, ptr %1, ptr noalias readonly %2, ptr %3, i64 %4, double %5)
