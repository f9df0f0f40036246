; Shapes rustc emits: slices as (ptr, len), length checks and bounds checks branching to
; `core::panicking` functions (inert for differentiation), overflow intrinsics, llvm.assume,
; noalias scopes, !noundef / !range metadata, fast-math flags, sret results, f64::mul_add /
; powi / max.
;
; FWD: @axpy width=1 args=dual,const,dual,const,dual
; FWD: @axpy width=1 args=const,const,dual,const,dual
; FWD: @axpy width=2 args=dual,const,dual,const,dual
; AT: @axpy [1.0, 2.0, 3.0], 3, [0.5, -0.5, 4.0], 3, 1.5
; EXPECT: @axpy args=const,const,dual,const,dual at [1.0, 2.0, 3.0], 3, [0.5, -0.5, 4.0], 3, 1.5 seed [0.0, 0.0, 0.0], 1.0 => 1.0, 2.0, 3.0
;
; FWD: @norm width=1 args=dual,const
; FWD: @norm width=3 args=dual,const
; AT: @norm [3.0, 4.0], 2
; AT: @norm [0.5, -1.5, 2.0, 0.25, 1.0], 5
; EXPECT: @norm args=dual,const at [3.0, 4.0], 2 seed [1.0, 0.0] => 0.6, 1.0, 0.0
;
; FWD: @midpoint width=1 args=dual,dual,dual
; FWD: @midpoint width=1 args=dual,dual,const
; AT: @midpoint [0.0, 0.0], [1.0, 2.0], [3.0, -4.0]
; EXPECT: @midpoint args=dual,dual,const at [0.0, 0.0], [1.0, 2.0], [3.0, -4.0] seed [0.0, 0.0], [1.0, 1.0] => 0.5, 0.5, 1.0, 1.0
;
; FWD: @methods width=1 args=dual,dual
; FWD: @methods width=2 args=dual,dual
; AT: @methods 1.25, -0.5
; AT: @methods -2.0, 3.0
;
; FWD: @checked_index width=1 args=dual,const,const,dual
; AT: @checked_index [1.0, 2.0, 3.0], 3, 1, 2.5
; AT: @checked_index [1.0, 2.0, 3.0], 3, 2, -0.5

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

@alloc_msg = private unnamed_addr constant [13 x i8] c"len mismatch\00", align 1
@loc = private unnamed_addr constant <{ ptr, [16 x i8] }> <{ ptr @alloc_msg, [16 x i8] c"\0C\00\00\00\00\00\00\00\05\00\00\00\09\00\00\00" }>, align 8

declare void @abort() noreturn nounwind
declare void @llvm.assume(i1 noundef)
declare void @llvm.experimental.noalias.scope.decl(metadata)
declare { i64, i1 } @llvm.uadd.with.overflow.i64(i64, i64)
declare i64 @llvm.umin.i64(i64, i64)
declare double @llvm.sqrt.f64(double)
declare double @llvm.fma.f64(double, double, double)
declare double @llvm.powi.f64.i32(double, i32)
declare double @llvm.maxnum.f64(double, double)

; core::panicking::panic_fmt and core::panicking::panic_bounds_check: defined so the JIT links,
; classified by name as inert.
define void @_ZN4core9panicking9panic_fmt17h0123456789abcdefE(ptr %args, ptr %loc) noreturn nounwind {
  call void @abort()
  unreachable
}

define void @_ZN4core9panicking18panic_bounds_check17hfedcba9876543210E(i64 %i, i64 %len, ptr %loc) noreturn nounwind {
  call void @abort()
  unreachable
}

; fn axpy(x: &[f64], y: &mut [f64], a: f64) { assert_eq!(x.len(), y.len()); for i in 0..x.len() { y[i] += a * x[i] } }
define void @axpy(ptr noalias noundef nonnull readonly align 8 %x.0, i64 noundef %x.1, ptr noalias noundef nonnull align 8 %y.0, i64 noundef %y.1, double noundef %a) unnamed_addr {
start:
  %same = icmp eq i64 %x.1, %y.1
  br i1 %same, label %pre, label %mismatch

mismatch:
  tail call void @_ZN4core9panicking9panic_fmt17h0123456789abcdefE(ptr @alloc_msg, ptr @loc)
  unreachable

pre:
  call void @llvm.experimental.noalias.scope.decl(metadata !0)
  %empty = icmp eq i64 %x.1, 0
  br i1 %empty, label %done, label %body

body:
  %i = phi i64 [ 0, %pre ], [ %i.next, %cont ]
  %ok = icmp ult i64 %i, %y.1
  br i1 %ok, label %cont, label %oob

oob:
  tail call void @_ZN4core9panicking18panic_bounds_check17hfedcba9876543210E(i64 %i, i64 %y.1, ptr @loc)
  unreachable

cont:
  %px = getelementptr inbounds nuw double, ptr %x.0, i64 %i
  %xv = load double, ptr %px, align 8, !noundef !5, !noalias !0
  %py = getelementptr inbounds nuw double, ptr %y.0, i64 %i
  %yv = load double, ptr %py, align 8, !noundef !5, !alias.scope !0
  %ax = fmul double %a, %xv
  %s = fadd double %yv, %ax
  store double %s, ptr %py, align 8, !alias.scope !0
  %ov = call { i64, i1 } @llvm.uadd.with.overflow.i64(i64 %i, i64 1)
  %i.next = extractvalue { i64, i1 } %ov, 0
  %end = icmp eq i64 %i.next, %x.1
  br i1 %end, label %done, label %body

done:
  ret void
}

; fn norm(v: &[f64]) -> f64 { v.iter().map(|x| x * x).sum::<f64>().sqrt() }
define noundef double @norm(ptr noalias noundef nonnull readonly align 8 %v.0, i64 noundef %v.1) unnamed_addr {
start:
  %empty = icmp eq i64 %v.1, 0
  br i1 %empty, label %end, label %loop

loop:
  %p = phi ptr [ %v.0, %start ], [ %p.next, %loop ]
  %acc = phi double [ -0.000000e+00, %start ], [ %acc.next, %loop ]
  %x = load double, ptr %p, align 8, !noundef !5
  %xx = fmul double %x, %x
  %acc.next = fadd double %acc, %xx
  %p.next = getelementptr inbounds nuw i8, ptr %p, i64 8
  %endp = getelementptr inbounds nuw double, ptr %v.0, i64 %v.1
  %fin = icmp eq ptr %p.next, %endp
  br i1 %fin, label %end, label %loop

end:
  %sum = phi double [ -0.000000e+00, %start ], [ %acc.next, %loop ]
  %r = call double @llvm.sqrt.f64(double %sum)
  ret double %r
}

; fn midpoint(a: &[f64; 2], b: &[f64; 2]) -> [f64; 2] (returned through sret)
define void @midpoint(ptr noalias nocapture noundef writeonly sret([2 x double]) align 8 dereferenceable(16) %out, ptr noalias noundef readonly align 8 dereferenceable(16) %a, ptr noalias noundef readonly align 8 dereferenceable(16) %b) unnamed_addr {
start:
  %a0 = load double, ptr %a, align 8
  %b0 = load double, ptr %b, align 8
  %s0 = fadd double %a0, %b0
  %m0 = fmul double %s0, 5.000000e-01
  %a1p = getelementptr inbounds i8, ptr %a, i64 8
  %b1p = getelementptr inbounds i8, ptr %b, i64 8
  %a1 = load double, ptr %a1p, align 8
  %b1 = load double, ptr %b1p, align 8
  %s1 = fadd double %a1, %b1
  %m1 = fmul double %s1, 5.000000e-01
  store double %m0, ptr %out, align 8
  %o1 = getelementptr inbounds i8, ptr %out, i64 8
  store double %m1, ptr %o1, align 8
  ret void
}

; x.mul_add(y, 1.0).powi(3) + x.max(y) * 2.0 with fast-math flags
define double @methods(double %x, double %y) unnamed_addr {
  %f = call double @llvm.fma.f64(double %x, double %y, double 1.0)
  %p = call double @llvm.powi.f64.i32(double %f, i32 3)
  %m = call double @llvm.maxnum.f64(double %x, double %y)
  %m2 = fmul contract double %m, 2.0
  %r = fadd reassoc nsz arcp contract afn double %p, %m2
  ret double %r
}

; v[i] * x with a bounds check and an assumed range on i
define double @checked_index(ptr noalias noundef nonnull readonly align 8 %v.0, i64 noundef %v.1, i64 noundef range(i64 0, 100) %i, double %x) unnamed_addr {
start:
  %small = icmp ult i64 %i, 100
  call void @llvm.assume(i1 %small)
  %n = call i64 @llvm.umin.i64(i64 %v.1, i64 100)
  %ok = icmp ult i64 %i, %n
  br i1 %ok, label %in, label %oob

oob:
  tail call void @_ZN4core9panicking18panic_bounds_check17hfedcba9876543210E(i64 %i, i64 %v.1, ptr @loc)
  unreachable

in:
  %p = getelementptr inbounds nuw double, ptr %v.0, i64 %i
  %e = load double, ptr %p, align 8, !noundef !5
  %r = fmul double %e, %x
  ret double %r
}
; CHECK-LABEL: define internal { double, double } @checked_index.oxidase.fwd{{[0-9]+}}(
; CHECK: call void @_ZN4core9panicking18panic_bounds_check17hfedcba9876543210E(
; CHECK-NOT: panic_bounds_check
; CHECK: ret { double, double }

!0 = !{!1}
!1 = distinct !{!1, !2, !"axpy: %y"}
!2 = distinct !{!2, !"axpy"}
!5 = !{}
