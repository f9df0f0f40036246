; Conditional branches, switch, phis merging active and constant values, unreachable blocks,
; several returns.
;
; FWD: @piecewise width=1 args=dual,const
; FWD: @piecewise width=2 args=dual,const
; AT: @piecewise 1.5, 0
; AT: @piecewise 1.5, 1
; AT: @piecewise 1.5, 2
; AT: @piecewise 1.5, 7
; AT: @piecewise -2.0, 0
; EXPECT: @piecewise args=dual,const at 2.0, 0 seed 1.0 => 12.0
; EXPECT: @piecewise args=dual,const at 2.0, 1 seed 1.0 => 13.0
; EXPECT: @piecewise args=dual,const at 2.0, 5 seed 1.0 => 0.0
;
; FWD: @abs_branch width=1 args=dual,dual
; FWD: @abs_branch width=1 args=const,dual
; AT: @abs_branch -1.5, 2.5
; AT: @abs_branch 0.75, 2.5
; EXPECT: @abs_branch args=dual,dual at -1.5, 2.5 seed 1.0, 0.0 => -2.5
; EXPECT: @abs_branch args=dual,dual at -1.5, 2.5 seed 0.0, 1.0 => 1.5
;
; FWD: @early width=1 args=dual
; FWD: @early width=4 args=dual
; AT: @early 7.0
; AT: @early 3.0
; AT: @early -3.0
; EXPECT: @early args=dual at 7.0 seed 1.0 => 2.0
; EXPECT: @early args=dual at 3.0 seed 1.0 => 6.0

;
; FWD: @switch_direct width=1 args=dual,const
; AT: @switch_direct 1.5, 1
; AT: @switch_direct 1.5, 2
; AT: @switch_direct 1.5, 3
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; k = 0: x^3; k = 1, 2: 3x^2 + x; otherwise 1.
define double @piecewise(double %x, i32 %k) {
entry:
  switch i32 %k, label %other [
    i32 0, label %zero
    i32 1, label %one
    i32 2, label %one
  ]

zero:
  %a = fmul double %x, %x
  br label %join

one:
  %b = fmul double %x, 3.0
  %b2 = fadd double %b, 1.0
  br label %join

other:
  %c = fdiv double 1.0, %x
  br label %join

join:
  %r = phi double [ %a, %zero ], [ %b2, %one ], [ %c, %other ]
  %s = fmul double %r, %x
  ret double %s
}
; CHECK-LABEL: define internal { double, double } @piecewise.oxidase.fwd{{[0-9]+}}(
; CHECK: switch i32 %{{[0-9]+}}, label %other [
; CHECK-NEXT: i32 0, label %zero
; CHECK-NEXT: i32 1, label %one
; CHECK-NEXT: i32 2, label %one
; CHECK: join:
; CHECK-COUNT-2: phi double

; x < 0: -x*y + 2; else: x + y. Has a block unreachable from the entry.
define double @abs_branch(double %x, double %y) {
entry:
  %neg = fcmp olt double %x, 0.0
  br i1 %neg, label %flip, label %keep

flip:
  %nx = fneg double %x
  %m = fmul double %nx, %y
  br label %join

keep:
  br label %join

dead:
  %z = fmul double %x, 5.0
  br label %join

join:
  %v = phi double [ %m, %flip ], [ %x, %keep ], [ %z, %dead ]
  %w = phi double [ 2.0, %flip ], [ %y, %keep ], [ 1.0, %dead ]
  %r = fadd double %v, %w
  ret double %r
}
; CHECK-LABEL: define internal { double, double } @abs_branch.oxidase.fwd{{[0-9]+}}(
; CHECK-NOT: dead:
; CHECK: ret { double, double }

; x > 5: 2x; x > 0: x^2; else: returns the constant 4.
define double @early(double %x) {
entry:
  %big = fcmp ogt double %x, 5.0
  br i1 %big, label %ret.big, label %small

ret.big:
  %d = fmul double %x, 2.0
  ret double %d

small:
  %pos = fcmp ogt double %x, 0.0
  br i1 %pos, label %ret.sq, label %ret.const

ret.sq:
  %s = fmul double %x, %x
  ret double %s

ret.const:
  ret double 4.0
}

; a switch with two cases going straight to the join block (duplicate phi entries)
define double @switch_direct(double %x, i32 %k) {
entry:
  %xx = fmul double %x, %x
  switch i32 %k, label %other [
    i32 1, label %join
    i32 2, label %join
  ]

other:
  %t = fmul double %x, 4.0
  br label %join

join:
  %r = phi double [ %xx, %entry ], [ %xx, %entry ], [ %t, %other ]
  %s = fadd double %r, %x
  ret double %s
}
