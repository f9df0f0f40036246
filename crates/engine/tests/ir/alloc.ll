; Heap memory inside the differentiated function: __rust_alloc / __rust_alloc_zeroed /
; __rust_realloc / __rust_dealloc (defined here over malloc/calloc/realloc/free; the engine
; recognizes them by name) and malloc/free directly.
;
; FWD: @temp_buffer width=1 args=dual,const,dual
; FWD: @temp_buffer width=2 args=dual,const,dual
; FWD: @temp_buffer width=1 args=const,const,dual
; AT: @temp_buffer [1.0, -2.0, 0.5], 3, 1.5
; AT: @temp_buffer [0.25], 1, -3.0
; EXPECT: @temp_buffer args=const,const,dual at [1.0, 2.0], 2, 1.0 seed 1.0 => 14.0
;
; FWD: @zeroed width=1 args=dual,const
; AT: @zeroed 1.25, 4
; EXPECT: @zeroed args=dual,const at 2.0, 3 seed 1.0 => 12.0
;
; FWD: @grow width=1 args=dual
; FWD: @grow width=2 args=dual
; AT: @grow 0.75
; EXPECT: @grow args=dual at 2.0 seed 1.0 => 17.0
;
; FWD: @with_malloc width=1 args=dual
; AT: @with_malloc -1.5
; EXPECT: @with_malloc args=dual at 3.0 seed 1.0 => 7.0

;
; FWD: @boxed width=1 args=dual
; FWD: @boxed width=2 args=dual
; AT: @boxed 1.25
; EXPECT: @boxed args=dual at 3.0 seed 1.0 => 6.0
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare ptr @malloc(i64)
declare ptr @calloc(i64, i64)
declare ptr @realloc(ptr, i64)
declare void @free(ptr)

define ptr @__rust_alloc(i64 %size, i64 %align) {
  %p = call ptr @malloc(i64 %size)
  ret ptr %p
}

define ptr @__rust_alloc_zeroed(i64 %size, i64 %align) {
  %p = call ptr @calloc(i64 1, i64 %size)
  ret ptr %p
}

define ptr @__rust_realloc(ptr %ptr, i64 %old, i64 %align, i64 %new) {
  %p = call ptr @realloc(ptr %ptr, i64 %new)
  ret ptr %p
}

define void @__rust_dealloc(ptr %p, i64 %size, i64 %align) {
  call void @free(ptr %p)
  ret void
}

; buf[i] = a[i] * x + i; returns sum of buf[i]^2 (n >= 1)
define double @temp_buffer(ptr %a, i64 %n, double %x) {
entry:
  %bytes = shl i64 %n, 3
  %buf = call ptr @__rust_alloc(i64 %bytes, i64 8)
  br label %fill

fill:
  %i = phi i64 [ 0, %entry ], [ %i1, %fill ]
  %pa = getelementptr inbounds double, ptr %a, i64 %i
  %v = load double, ptr %pa, align 8
  %vx = fmul double %v, %x
  %fi = uitofp i64 %i to double
  %w = fadd double %vx, %fi
  %pb = getelementptr inbounds double, ptr %buf, i64 %i
  store double %w, ptr %pb, align 8
  %i1 = add i64 %i, 1
  %c = icmp ult i64 %i1, %n
  br i1 %c, label %fill, label %sum

sum:
  %j = phi i64 [ 0, %fill ], [ %j1, %sum ]
  %acc = phi double [ 0.0, %fill ], [ %acc1, %sum ]
  %pj = getelementptr inbounds double, ptr %buf, i64 %j
  %u = load double, ptr %pj, align 8
  %uu = fmul double %u, %u
  %acc1 = fadd double %acc, %uu
  %j1 = add i64 %j, 1
  %c2 = icmp ult i64 %j1, %n
  br i1 %c2, label %sum, label %exit

exit:
  call void @__rust_dealloc(ptr %buf, i64 %bytes, i64 8)
  ret double %acc1
}
; CHECK-LABEL: define internal { double, double } @temp_buffer.oxidase.fwd{{[0-9]+}}(
; CHECK-COUNT-2: call ptr @__rust_alloc(
; The tangent block is not zeroed: every tangent read from it was written first.
; CHECK-NOT: call void @llvm.memset
; CHECK: exit:
; CHECK-COUNT-2: call void @__rust_dealloc(

; zeroed buffer of n doubles; buf[i] += x * i; returns sum of buf[i] * x
define double @zeroed(double %x, i64 %n) {
entry:
  %bytes = mul i64 %n, 8
  %buf = call ptr @__rust_alloc_zeroed(i64 %bytes, i64 8)
  br label %loop

loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %p = getelementptr inbounds double, ptr %buf, i64 %i
  %old = load double, ptr %p, align 8
  %fi = uitofp i64 %i to double
  %xi = fmul double %x, %fi
  %new = fadd double %old, %xi
  store double %new, ptr %p, align 8
  %t = fmul double %new, %x
  %acc1 = fadd double %acc, %t
  %i1 = add i64 %i, 1
  %c = icmp ult i64 %i1, %n
  br i1 %c, label %loop, label %exit

exit:
  call void @__rust_dealloc(ptr %buf, i64 %bytes, i64 8)
  ret double %acc1
}
; CHECK-LABEL: define internal { double, double } @zeroed.oxidase.fwd{{[0-9]+}}(
; CHECK-COUNT-2: call ptr @__rust_alloc_zeroed(

; [x, x^2] grown by realloc to [x, x^2, x^3, 2]: returns the sum
define double @grow(double %x) {
  %p = call ptr @__rust_alloc(i64 16, i64 8)
  store double %x, ptr %p, align 8
  %p1 = getelementptr inbounds double, ptr %p, i64 1
  %x2 = fmul double %x, %x
  store double %x2, ptr %p1, align 8
  %q = call ptr @__rust_realloc(ptr %p, i64 16, i64 8, i64 32)
  %q2 = getelementptr inbounds double, ptr %q, i64 2
  %x3 = fmul double %x2, %x
  store double %x3, ptr %q2, align 8
  %q3 = getelementptr inbounds double, ptr %q, i64 3
  store double 2.0, ptr %q3, align 8
  %a = load double, ptr %q, align 8
  %q1 = getelementptr inbounds double, ptr %q, i64 1
  %b = load double, ptr %q1, align 8
  %c = load double, ptr %q2, align 8
  %d = load double, ptr %q3, align 8
  %s1 = fadd double %a, %b
  %s2 = fadd double %s1, %c
  %s3 = fadd double %s2, %d
  call void @__rust_dealloc(ptr %q, i64 32, i64 8)
  ret double %s3
}

; malloc'd pair [x, x*x]: returns p[0] + p[1]
define double @with_malloc(double %x) {
  %p = call ptr @malloc(i64 16)
  store double %x, ptr %p, align 8
  %p1 = getelementptr inbounds double, ptr %p, i64 1
  %xx = fmul double %x, %x
  store double %xx, ptr %p1, align 8
  %a = load double, ptr %p, align 8
  %b = load double, ptr %p1, align 8
  %s = fadd double %a, %b
  call void @free(ptr %p)
  ret double %s
}

; a helper returning freshly allocated memory (Box::new)
define ptr @make_box(double %x) {
  %p = call ptr @__rust_alloc(i64 8, i64 8)
  store double %x, ptr %p, align 8
  ret ptr %p
}

; *make_box(x) squared
define double @boxed(double %x) {
  %p = call ptr @make_box(double %x)
  %v = load double, ptr %p, align 8
  %r = fmul double %v, %v
  call void @__rust_dealloc(ptr %p, i64 8, i64 8)
  ret double %r
}
