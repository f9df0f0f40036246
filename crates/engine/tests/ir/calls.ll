; Calls to defined functions (differentiated recursively), recursion, helpers writing through
; pointers, and a function pointer argument the derivative is specialized on.
;
; FWD: @two_calls width=1 args=dual,dual
; FWD: @two_calls width=1 args=const,dual
; FWD: @two_calls width=2 args=dual,dual
; AT: @two_calls 1.5, -2.0
; EXPECT: @two_calls args=dual,const at 3.0, 2.0 seed 1.0 => 12.0
;
; FWD: @rpow width=1 args=dual,const
; FWD: @rpow width=2 args=dual,const
; AT: @rpow 1.5, 4
; AT: @rpow -0.8, 7
; AT: @rpow 3.0, 0
; EXPECT: @rpow args=dual,const at 1.5, 4 seed 1.0 => 13.5
;
; FWD: @tree width=1 args=dual,const
; AT: @tree 0.9, 5
;
; FWD: @outer width=1 args=dual,dual
; FWD: @outer width=2 args=dual,dual
; AT: @outer [0.0, 0.0], 1.25
; EXPECT: @outer args=dual,dual at [0.0, 0.0], 1.5 seed [0.0, 0.0], 1.0 => 3.0, 12.0
;
; FWD: @via_helper width=1 args=dual
; AT: @via_helper -0.6
; EXPECT: @via_helper args=dual at 2.0 seed 1.0 => 5.0
;
; FWD: @apply width=1 args=@sq,dual
; FWD: @apply width=1 args=@cube,dual
; FWD: @apply width=2 args=@cube,dual
; AT: @apply @sq, 1.5
; AT: @apply @cube, -0.5
;
; FWD: @const_helper width=1 args=dual,const
; AT: @const_helper 1.5, 2.0

;
; FWD: @reset_first width=1 args=dual,dual
; AT: @reset_first [1.0, 2.0], 1.5
; EXPECT: @reset_first args=dual,dual at [1.0, 2.0], 1.5 seed [1.0, 1.0], 1.0 => 0.0, 3.0
;
; FWD: @even width=1 args=dual,const
; AT: @even 1.1, 6
; AT: @even 0.7, 3
;
; FWD: @apply_twice width=1 args=@sq,dual
; FWD: @apply_twice width=2 args=@cube,dual
; AT: @apply_twice @sq, 1.1
; AT: @apply_twice @cube, 0.9
;
; FWD: @swapper width=1 args=dual,const,const
; FWD: @swapper width=1 args=const,dual,const
; FWD: @swapper width=2 args=dual,dual,const
; AT: @swapper 1.3, 0.7, 3
; AT: @swapper -0.4, 2.0, 4
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

define double @sq(double %x) {
  %r = fmul double %x, %x
  ret double %r
}

define double @cube(double %x) {
  %s = call double @sq(double %x)
  %r = fmul double %s, %x
  ret double %r
}

; sq(x) * y + sq(y)
define double @two_calls(double %x, double %y) {
  %a = call double @sq(double %x)
  %b = fmul double %a, %y
  %c = call double @sq(double %y)
  %r = fadd double %b, %c
  ret double %r
}
; CHECK-LABEL: define internal { double, double } @two_calls.oxidase.fwd{{[0-9]+}}(
; CHECK: call { double, double } @sq.oxidase.fwd[[SQ:[0-9]+]](double
; CHECK: call { double, double } @sq.oxidase.fwd[[SQ]](double

; x^n, recursively
define double @rpow(double %x, i32 %n) {
entry:
  %z = icmp eq i32 %n, 0
  br i1 %z, label %base, label %rec

base:
  ret double 1.0

rec:
  %n1 = sub i32 %n, 1
  %r = call double @rpow(double %x, i32 %n1)
  %m = fmul double %r, %x
  ret double %m
}
; CHECK: define internal { double, double } @rpow.oxidase.fwd[[RP:[0-9]+]](double %0, double %1, i32 %2)
; CHECK: call { double, double } @rpow.oxidase.fwd[[RP]](double %0, double %1, i32

; tree(x, n) = n <= 1 ? x : tree(x*x/2, n-1) + tree(x, n-2)
define double @tree(double %x, i32 %n) {
entry:
  %leaf = icmp sle i32 %n, 1
  br i1 %leaf, label %base, label %rec

base:
  ret double %x

rec:
  %xx = fmul double %x, %x
  %h = fmul double %xx, 5.000000e-01
  %n1 = sub i32 %n, 1
  %a = call double @tree(double %h, i32 %n1)
  %n2 = sub i32 %n, 2
  %b = call double @tree(double %x, i32 %n2)
  %r = fadd double %a, %b
  ret double %r
}

; *p = x*x
define void @write_sq(ptr %p, double %x) {
  %x2 = fmul double %x, %x
  store double %x2, ptr %p, align 8
  ret void
}

; out[0] = x^2; out[1] = (2x)^2
define void @outer(ptr %out, double %x) {
  call void @write_sq(ptr %out, double %x)
  %p1 = getelementptr inbounds double, ptr %out, i64 1
  %x2 = fmul double %x, 2.0
  call void @write_sq(ptr %p1, double %x2)
  ret void
}

; a local slot written by the helper: x^2 + x
define double @via_helper(double %x) {
  %slot = alloca double, align 8
  call void @write_sq(ptr %slot, double %x)
  %v = load double, ptr %slot, align 8
  %r = fadd double %v, %x
  ret double %r
}

; fn(x) * x through a function pointer (specialized on by the derivative)
define double @apply(ptr %fn, double %x) {
  %y = call double %fn(double %x)
  %r = fmul double %y, %x
  ret double %r
}
; CHECK-LABEL: define internal { double, double } @apply.oxidase.fwd{{[0-9]+}}(double %0, double %1)
; CHECK: call { double, double } @sq.oxidase.fwd{{[0-9]+}}(double %0, double %1)

; a call with only constant arguments stays a plain call
define double @const_helper(double %x, double %c) {
  %k = call double @sq(double %c)
  %r = fmul double %k, %x
  ret double %r
}
; CHECK-LABEL: define internal { double, double } @const_helper.oxidase.fwd{{[0-9]+}}(
; CHECK: call double @sq(double %2)

; out[0] = 0 through a helper with only a pointer argument
define void @zero_first(ptr %p) {
  store double 0.0, ptr %p, align 8
  ret void
}

; out[1] = x*x; zero_first(out)
define void @reset_first(ptr %out, double %x) {
  %xx = fmul double %x, %x
  %p1 = getelementptr inbounds double, ptr %out, i64 1
  store double %xx, ptr %p1, align 8
  store double %x, ptr %out, align 8
  call void @zero_first(ptr %out)
  ret void
}

; mutual recursion: even(x, n) = n <= 0 ? x : odd(1.5 x, n - 1); odd(x, n) = even(x*x/4, n - 1) + x
define double @even(double %x, i32 %n) {
entry:
  %z = icmp sle i32 %n, 0
  br i1 %z, label %base, label %rec

base:
  ret double %x

rec:
  %x1 = fmul double %x, 1.5
  %n1 = sub i32 %n, 1
  %r = call double @odd(double %x1, i32 %n1)
  ret double %r
}

define double @odd(double %x, i32 %n) {
  %xx = fmul double %x, %x
  %h = fmul double %xx, 0.25
  %n1 = sub i32 %n, 1
  %r = call double @even(double %h, i32 %n1)
  %s = fadd double %r, %x
  ret double %s
}

; the function pointer is forwarded to a callee: fn(fn(x) x) fn(x) x
define double @apply_twice(ptr %fn, double %x) {
  %a = call double @apply(ptr %fn, double %x)
  %b = call double @apply(ptr %fn, double %a)
  ret double %b
}

; recursion that swaps its arguments, so each level has the other activity pattern:
; swapper(x, y, n) = n <= 0 ? x * y : swapper(y, x, n - 1) + x
define double @swapper(double %x, double %y, i32 %n) {
entry:
  %z = icmp sle i32 %n, 0
  br i1 %z, label %base, label %rec

base:
  %m = fmul double %x, %y
  ret double %m

rec:
  %n1 = sub i32 %n, 1
  %r = call double @swapper(double %y, double %x, i32 %n1)
  %s = fadd double %r, %x
  ret double %s
}
