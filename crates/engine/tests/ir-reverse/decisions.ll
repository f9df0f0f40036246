; Which predecessor a join was entered from, when it follows from the last runs of branches
; on values the reversal has: here a `switch` on `n` with early returns, then a loop guard
; (`n == 0`, tested in a block that does not dominate the join, and computed again there).
; No choice is kept: the reversal recomputes it from `n`, an argument (and in the split
; derivative, one its caller passes again).
;
; REV: @outer args=dup,const ret=active
; AT: @outer [0.3, -0.2, 0.9, 0.4], 1
; AT: @outer [0.3, -0.2, 0.9, 0.4], 2
; AT: @outer [0.3, -0.2, 0.9, 0.4], 4
; AT: @outer [0.3, -0.2, 0.9, 0.4], 0

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare double @llvm.sin.f64(double)

define internal double @early(ptr noalias readonly %a, i64 %n) noinline {
entry:
  switch i64 %n, label %other [ i64 1, label %one
                                i64 2, label %two ]
one:
  %x1 = load double, ptr %a
  %s1 = call double @llvm.sin.f64(double %x1)
  br label %done
two:
  %p2 = getelementptr double, ptr %a, i64 1
  %x2 = load double, ptr %p2
  %y2 = load double, ptr %a
  %m2 = fmul double %x2, %y2
  br label %done
other:
  %z = icmp eq i64 %n, 0
  br i1 %z, label %done, label %loop
loop:
  %i = phi i64 [ 0, %other ], [ %i1, %loop ]
  %s = phi double [ 1.0, %other ], [ %s2, %loop ]
  %p = getelementptr double, ptr %a, i64 %i
  %x = load double, ptr %p
  %s2 = fmul double %s, %x
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  %r = phi double [ %s1, %one ], [ %m2, %two ], [ 0.0, %other ], [ %s2, %loop ]
  ret double %r
}

; Called three times, from a loop: `early` gets its split derivative.
define double @outer(ptr noalias readonly %a, i64 %n) {
entry:
  br label %loop
loop:
  %j = phi i64 [ 0, %entry ], [ %j1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %e = call double @early(ptr %a, i64 %n)
  %t = fmul double %e, %acc
  %acc1 = fadd double %t, %e
  %j1 = add nuw i64 %j, 1
  %more = icmp ult i64 %j1, 3
  br i1 %more, label %loop, label %done
done:
  ret double %acc1
}

; The choice, computed where the join is: the loop guard again, then the switch's cases.
; CHECK-LABEL: define internal { double } @early.oxidase.aug
; CHECK: {{^}}done:
; CHECK-NEXT: phi double
; CHECK-NEXT: [[Z:%[0-9]+]] = icmp eq i64 %2, 0
; CHECK-NEXT: [[G:%[0-9]+]] = select i1 [[Z]], i32 {{[0-3]}}, i32 {{[0-3]}}
; CHECK-NEXT: [[C2:%[0-9]+]] = icmp eq i64 %2, 2
; CHECK-NEXT: [[T:%[0-9]+]] = select i1 [[C2]], i32 {{[0-3]}}, i32 [[G]]
; CHECK-NEXT: [[C1:%[0-9]+]] = icmp eq i64 %2, 1
; CHECK-NEXT: select i1 [[C1]], i32 {{[0-3]}}, i32 [[T]]
; The reversal computes it again from `n`: nothing kept for it.
; CHECK: oxidase: reverse derivative of early (Split): 0 values kept in stack slots, {{.*}} 0 on the tape
