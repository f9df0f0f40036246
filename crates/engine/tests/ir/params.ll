; Memory facts carried to the derivative: a `noalias` pointer parameter stays `noalias` (and
; `readonly` if it was) with every lane of its shadow, so that once the derivative is inlined
; LLVM still knows the lanes apart; a parameter without
; `noalias` gets nothing. Copies of primal loads and stores and the tangent code's are told
; apart by two alias scopes (primal memory, shadow memory) of a domain of the derivative.
;
; FWD: @axpy width=2 args=dual,dual,const,dual
; FWD: @axpy width=1 args=dual,const,const,dual
; AT: @axpy [0.5, -1.0, 2.0], [1.0, 2.0, 3.0], 3, 0.5
; EXPECT: @axpy args=dual,const,const,dual at [0.5, -1.0, 2.0], [1.0, 2.0, 3.0], 3, 0.5 seed [0.0, 0.0, 0.0], 1.0 => 1.0, 2.0, 3.0
;
; FWD: @plain width=2 args=dual,dual,const,dual
; AT: @plain [0.5, -1.0, 2.0], [1.0, 2.0, 3.0], 3, 0.5

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

; y[i] += a·x[i]
define void @axpy(ptr noalias %y, ptr noalias readonly %x, i64 %n, double %a) {
entry:
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %px = getelementptr double, ptr %x, i64 %i
  %py = getelementptr double, ptr %y, i64 %i
  %xi = load double, ptr %px
  %yi = load double, ptr %py
  %m = fmul double %a, %xi
  %s = fadd double %yi, %m
  store double %s, ptr %py
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  ret void
}

; The same without `noalias`: y and x may overlap, and so may their shadows.
define void @plain(ptr %y, ptr readonly %x, i64 %n, double %a) {
entry:
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %done, label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %px = getelementptr double, ptr %x, i64 %i
  %py = getelementptr double, ptr %y, i64 %i
  %xi = load double, ptr %px
  %yi = load double, ptr %py
  %m = fmul double %a, %xi
  %s = fadd double %yi, %m
  store double %s, ptr %py
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  ret void
}

; Width 2: y, its two shadows, x, its two shadows (read only), n, a and its two tangents.
; CHECK-LABEL: define internal void @axpy.oxidase.fwd{{[0-9]+}}(ptr noalias %0, ptr noalias %1, ptr noalias %2, ptr noalias readonly %3, ptr noalias readonly %4, ptr noalias readonly %5, i64 %6, double %7, double %8, double %9)
; Primal memory and shadow memory in scopes of their own: the primal store, then the tangents'.
; CHECK: store double {{.*}}, !alias.scope ![[P:[0-9]+]], !noalias ![[S:[0-9]+]]
; CHECK: store double {{.*}}, !alias.scope ![[S]], !noalias ![[P]]
; CHECK: store double {{.*}}, !alias.scope ![[S]], !noalias ![[P]]
; Width 1, x Const: only the primal parameter.
; CHECK-LABEL: define internal void @axpy.oxidase.fwd{{[0-9]+}}(ptr noalias %0, ptr noalias %1, ptr noalias readonly %2, i64 %3, double %4, double %5)
; CHECK-LABEL: define internal void @plain.oxidase.fwd{{[0-9]+}}(ptr %0, ptr %1, ptr %2, ptr %3, ptr %4, ptr %5, i64 %6, double %7, double %8, double %9)
