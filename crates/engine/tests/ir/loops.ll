; phi nodes and loops with data-dependent trip counts.
;
; FWD: @sumsq width=1 args=dual,const
; FWD: @sumsq width=2 args=dual,const
; AT: @sumsq [1.0, 2.0, 3.0], 3
; AT: @sumsq [0.5, -1.5, 2.25, 4.0, -3.0], 5
; AT: @sumsq [1.0, 2.0, 3.0, 4.0], 2
; AT: @sumsq [0.0; 0], 0
; EXPECT: @sumsq args=dual,const at [1.0, 2.0, 3.0], 3 seed [1.0, 1.0, 1.0] => 12.0, 1.0, 1.0, 1.0
;
; FWD: @horner width=1 args=dual,const,dual
; FWD: @horner width=1 args=const,const,dual
; FWD: @horner width=3 args=dual,const,dual
; AT: @horner [1.0, -2.0, 0.5, 3.0], 4, 1.25
; AT: @horner [2.0], 1, -0.5
; EXPECT: @horner args=const,const,dual at [1.0, -2.0, 0.5, 3.0], 4, 2.0 seed 1.0 => 4.5
;
; FWD: @powloop width=1 args=dual,const
; AT: @powloop 2.0, 5
; AT: @powloop -1.3, 3
; AT: @powloop 0.7, 0
; EXPECT: @powloop args=dual,const at 2.0, 5 seed 1.0 => 80.0
;
; FWD: @halve width=1 args=dual
; AT: @halve 10.0
; AT: @halve 0.3
; AT: @halve 1000.0
; EXPECT: @halve args=dual at 10.0 seed 1.0 => 0.3125
;
; FWD: @nested width=1 args=dual,const
; AT: @nested 0.9, 4

; FWD: @ptr_walk width=1 args=dual,const,dual
; FWD: @ptr_walk width=2 args=dual,const,dual
; AT: @ptr_walk [1.0, 2.0, -3.0, 0.5], 4, 1.5
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; sum of a[i]^2 for i < n
define double @sumsq(ptr %a, i64 %n) {
entry:
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %exit, label %loop

loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc.next, %loop ]
  %p = getelementptr inbounds double, ptr %a, i64 %i
  %v = load double, ptr %p, align 8
  %sq = fmul double %v, %v
  %acc.next = fadd double %acc, %sq
  %i.next = add nuw i64 %i, 1
  %done = icmp eq i64 %i.next, %n
  br i1 %done, label %exit, label %loop

exit:
  %r = phi double [ 0.0, %entry ], [ %acc.next, %loop ]
  ret double %r
}

; Horner evaluation of c[0] x^(n-1) + ... + c[n-1]
define double @horner(ptr %c, i64 %n, double %x) {
entry:
  br label %head

head:
  %i = phi i64 [ 0, %entry ], [ %i.next, %body ]
  %p = phi double [ 0.0, %entry ], [ %p.next, %body ]
  %more = icmp slt i64 %i, %n
  br i1 %more, label %body, label %exit

body:
  %pc = getelementptr inbounds double, ptr %c, i64 %i
  %ci = load double, ptr %pc, align 8
  %px = fmul double %p, %x
  %p.next = fadd double %px, %ci
  %i.next = add nsw i64 %i, 1
  br label %head

exit:
  ret double %p
}

; x^n by repeated multiplication
define double @powloop(double %x, i32 %n) {
entry:
  br label %head

head:
  %i = phi i32 [ 0, %entry ], [ %i1, %body ]
  %acc = phi double [ 1.0, %entry ], [ %acc1, %body ]
  %c = icmp slt i32 %i, %n
  br i1 %c, label %body, label %exit

body:
  %acc1 = fmul double %acc, %x
  %i1 = add i32 %i, 1
  br label %head

exit:
  ret double %acc
}

; Halves x until it is at most 1 (a trip count that depends on a float); returns v * steps.
; The counter k is inactive: no tangent phi for it.
define double @halve(double %x) {
entry:
  br label %head

head:
  %v = phi double [ %x, %entry ], [ %h, %body ]
  %k = phi double [ 1.0, %entry ], [ %k2, %body ]
  %c = fcmp ogt double %v, 1.0
  br i1 %c, label %body, label %exit

body:
  %h = fmul double %v, 5.000000e-01
  %k2 = fadd double %k, 1.0
  br label %head

exit:
  %r = fmul double %v, %k
  ret double %r
}
; CHECK-LABEL: define internal { double, double } @halve.oxidase.fwd{{[0-9]+}}(
; CHECK: head:
; CHECK-COUNT-3: phi double
; CHECK-NOT: phi
; CHECK: br i1

; Two nested loops: sum over i < n, j <= i of x^j / (i + 1)
define double @nested(double %x, i32 %n) {
entry:
  br label %outer

outer:
  %i = phi i32 [ 0, %entry ], [ %i1, %outer.latch ]
  %s = phi double [ 0.0, %entry ], [ %s2, %outer.latch ]
  %oc = icmp slt i32 %i, %n
  br i1 %oc, label %inner, label %exit

inner:
  %j = phi i32 [ 0, %outer ], [ %j1, %inner ]
  %t = phi double [ 1.0, %outer ], [ %t1, %inner ]
  %s1 = phi double [ %s, %outer ], [ %s3, %inner ]
  %ip1 = add i32 %i, 1
  %den = sitofp i32 %ip1 to double
  %term = fdiv double %t, %den
  %s3 = fadd double %s1, %term
  %t1 = fmul double %t, %x
  %j1 = add i32 %j, 1
  %ic = icmp sle i32 %j1, %i
  br i1 %ic, label %inner, label %outer.latch

outer.latch:
  %s2 = phi double [ %s3, %inner ]
  %i1 = add i32 %i, 1
  br label %outer

exit:
  ret double %s
}

; a pointer induction variable: for p in a..a+n: *p = *p * x + 1 (n >= 1)
define void @ptr_walk(ptr %a, i64 %n, double %x) {
entry:
  %end = getelementptr inbounds double, ptr %a, i64 %n
  br label %loop

loop:
  %p = phi ptr [ %a, %entry ], [ %p.next, %loop ]
  %v = load double, ptr %p, align 8
  %m = fmul double %v, %x
  %w = fadd double %m, 1.0
  store double %w, ptr %p, align 8
  %p.next = getelementptr inbounds double, ptr %p, i64 1
  %c = icmp ne ptr %p.next, %end
  br i1 %c, label %loop, label %exit

exit:
  ret void
}
