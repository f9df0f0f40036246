; Mod/ref across calls: a split callee loads its inputs again in the reversal when its caller
; keeps them until then, and carries them when the caller overwrites them after the call.
;
; REV: @kept args=dup,const ret=active
; AT: @kept [0.5, 0.7, -0.3, 1.2, 0.9], 5
; REV: @overwritten args=dup,const ret=active
; AT: @overwritten [0.5, 0.7, -0.3, 1.2, 0.9], 5
; REV: @tuple args=dup,const ret=active
; AT: @tuple [0.5, 0.7, -0.3, 1.2, 0.9], 5

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; Nothing writes `%x` after the call (which is not the last thing done, so it is split: see
; fused.ll).
define double @kept(ptr noalias readonly %x, i64 %n) {
entry:
  %r = call double @rosen(ptr %x, i64 %n)
  %r2 = fmul double %r, 2.0
  ret double %r2
}

; The caller zeroes `x[1]` after the call: the callee's reversal must not read it again.
define double @overwritten(ptr noalias %x, i64 %n) {
entry:
  %r = call double @rosen(ptr %x, i64 %n)
  %p = getelementptr double, ptr %x, i64 1
  store double 0.0, ptr %p
  ret double %r
}

; The stable route's shim: the slice is read from a read-only tuple, the result written
; through a `noalias` pointer.
define double @tuple(ptr noalias %x, i64 %n) {
entry:
  %t = alloca { ptr, i64 }
  store ptr %x, ptr %t
  %tn = getelementptr { ptr, i64 }, ptr %t, i32 0, i32 1
  store i64 %n, ptr %tn
  %out = alloca double
  call void @shim(ptr %t, ptr %out)
  %r = load double, ptr %out
  ret double %r
}

define internal void @shim(ptr noalias readonly %t, ptr noalias %out) noinline {
entry:
  %x = load ptr, ptr %t
  %pn = getelementptr { ptr, i64 }, ptr %t, i32 0, i32 1
  %n = load i64, ptr %pn
  %r = call double @rosen(ptr %x, i64 %n)
  store double %r, ptr %out
  ret void
}

define internal double @rosen(ptr noalias readonly %x, i64 %n) noinline {
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

; ---- report ----
; What mod/ref says of each load is printed with the activity. A callee's derivative is
; complete (and reported) before its caller's reversal passes it its arguments.
; CHECK: mod/ref of rosen:
; CHECK-NEXT: load again: %xi = load double
; CHECK-NEXT: load again: %xj = load double
; The callee's loads are repeated, its arguments passed again: nothing on the tape.
; CHECK: oxidase: reverse derivative of rosen (Split): {{.*}}, 0 on the tape (0 bytes per pass through the loops), 13 recomputed
; CHECK-NEXT: oxidase: reverse derivative of kept (Combined)
; CHECK: mod/ref of rosen:
; CHECK-NEXT: carry: %xi = load double
; CHECK-NEXT: carry: %xj = load double
; CHECK: oxidase: reverse derivative of rosen (Split): {{.*}} 2 in buffers of 1 loops sized by their trip counts, 0 on the tape (0 bytes per pass through the loops)
; CHECK-NEXT: loop at depth 1: 16 bytes per iteration in a buffer sized by its trip count, 0 bytes taped per iteration
; CHECK: buffered per iteration: {{.*}} = load double
; CHECK: oxidase: reverse derivative of overwritten (Combined)
; The shim's tuple is read-only and its result `noalias`: `rosen` gets the derivative of `kept`.
; CHECK: activity of shim
; CHECK: mod/ref of shim:
; CHECK-NEXT: load again: %x = load ptr, ptr %t
; CHECK-NEXT: load again: %n = load i64
; CHECK: oxidase: reverse derivative of tuple (Combined)
; CHECK-NOT: derivative of rosen
