; Where a counted loop ended, from its exit test: an inner loop left through the test bounding
; it keeps neither its induction variable nor its start (recomputed from the outer variable);
; the reversal computes the variable the loop ended with from the start and the bound. Each
; inner loop below runs from the outer variable (so its start differs per pass) with a
; differently shaped exit test, and carries a value whose derivative depends on the number of
; iterations (a chain of sines), so a wrong count gives a wrong gradient.
;
; REV: @upnext args=dup,const ret=active
; AT: @upnext [0.3, -0.2, 0.9, 0.4], 5
; AT: @upnext [0.3, -0.2, 0.9, 0.4], 0
; AT: @upnext [0.3, -0.2, 0.9, 0.4], 1
; REV: @uptop args=dup,const ret=active
; AT: @uptop [0.3, -0.2, 0.9, 0.4], 4
; AT: @uptop [0.3, -0.2, 0.9, 0.4], -3
; REV: @downnext args=dup,const ret=active
; AT: @downnext [0.3, -0.2, 0.9, 0.4], -2
; AT: @downnext [0.3, -0.2, 0.9, 0.4], 7
; REV: @by2 args=dup,const ret=active
; AT: @by2 [0.3, -0.2, 0.9, 0.4], 9
; AT: @by2 [0.3, -0.2, 0.9, 0.4], 2
; REV: @ptrs args=dup,const ret=active
; AT: @ptrs [0.3, -0.2, 0.9, 0.4, 0.6], 5
; REV: @wraps args=dup,const,const ret=active
; AT: @wraps [0.3, -0.2, 0.9, 0.4], 126, 3
; AT: @wraps [0.3, -0.2, 0.9, 0.4], 126, -128
; AT: @wraps [0.3, -0.2, 0.9, 0.4], 1, 5
; REV: @rotated args=dup,const ret=active
; AT: @rotated [0.3, -0.2, 0.9, 0.4], 4
; AT: @rotated [0.3, -0.2, 0.9, 0.4], 6
; REV: @downupto args=dup,const ret=active
; AT: @downupto [0.3, -0.2, 0.9, 0.4], 1
; AT: @downupto [0.3, -0.2, 0.9, 0.4], 3

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare double @llvm.sin.f64(double)

; for i in 0..2 { for j in i..max(n, i + 1) { acc = sin(acc + x[j & 3]) } }: `j + 1 < n`,
; unsigned, tested after each run.
define double @upnext(ptr noalias readonly %x, i64 %n) {
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i1, %latch ]
  %s = phi double [ 0.5, %entry ], [ %acc1, %latch ]
  br label %inner
inner:
  %j = phi i64 [ %i, %outer ], [ %j1, %inner ]
  %acc = phi double [ %s, %outer ], [ %acc1, %inner ]
  %jm = and i64 %j, 3
  %p = getelementptr double, ptr %x, i64 %jm
  %xv = load double, ptr %p
  %a = fadd double %acc, %xv
  %acc1 = call double @llvm.sin.f64(double %a)
  %j1 = add nuw i64 %j, 1
  %more = icmp ult i64 %j1, %n
  br i1 %more, label %inner, label %latch
latch:
  %i1 = add nuw i64 %i, 1
  %again = icmp ult i64 %i1, 2
  br i1 %again, label %outer, label %done
done:
  ret double %acc1
}

; `j <= m` (signed) tested at the top, before each run: the loop may not run at all.
define double @uptop(ptr noalias readonly %x, i64 %m) {
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i1, %latch ]
  %s = phi double [ 0.5, %entry ], [ %acc, %latch ]
  br label %test
test:
  %j = phi i64 [ %i, %outer ], [ %j1, %inner ]
  %acc = phi double [ %s, %outer ], [ %acc1, %inner ]
  %go = icmp sle i64 %j, %m
  br i1 %go, label %inner, label %latch
inner:
  %jm = and i64 %j, 3
  %p = getelementptr double, ptr %x, i64 %jm
  %xv = load double, ptr %p
  %a = fadd double %acc, %xv
  %acc1 = call double @llvm.sin.f64(double %a)
  %j1 = add nsw i64 %j, 1
  br label %test
latch:
  %i1 = add nuw i64 %i, 1
  %again = icmp ult i64 %i1, 2
  br i1 %again, label %outer, label %done
done:
  ret double %acc
}

; Counting down from i + 3 while `j - 1 > b` (signed).
define double @downnext(ptr noalias readonly %x, i64 %b) {
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i1, %latch ]
  %s = phi double [ 0.5, %entry ], [ %acc1, %latch ]
  %top = add nsw i64 %i, 3
  br label %inner
inner:
  %j = phi i64 [ %top, %outer ], [ %j1, %inner ]
  %acc = phi double [ %s, %outer ], [ %acc1, %inner ]
  %jm = and i64 %j, 3
  %p = getelementptr double, ptr %x, i64 %jm
  %xv = load double, ptr %p
  %a = fadd double %acc, %xv
  %acc1 = call double @llvm.sin.f64(double %a)
  %j1 = add nsw i64 %j, -1
  %more = icmp sgt i64 %j1, %b
  br i1 %more, label %inner, label %latch
latch:
  %i1 = add nuw i64 %i, 1
  %again = icmp ult i64 %i1, 2
  br i1 %again, label %outer, label %done
done:
  ret double %acc1
}

; Steps of two while `j + 2 < n`.
define double @by2(ptr noalias readonly %x, i64 %n) {
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i1, %latch ]
  %s = phi double [ 0.5, %entry ], [ %acc1, %latch ]
  br label %inner
inner:
  %j = phi i64 [ %i, %outer ], [ %j1, %inner ]
  %acc = phi double [ %s, %outer ], [ %acc1, %inner ]
  %jm = and i64 %j, 3
  %p = getelementptr double, ptr %x, i64 %jm
  %xv = load double, ptr %p
  %a = fadd double %acc, %xv
  %acc1 = call double @llvm.sin.f64(double %a)
  %j1 = add nuw i64 %j, 2
  %more = icmp ult i64 %j1, %n
  br i1 %more, label %inner, label %latch
latch:
  %i1 = add nuw i64 %i, 1
  %again = icmp ult i64 %i1, 2
  br i1 %again, label %outer, label %done
done:
  ret double %acc1
}

; A pointer from x + i to x + n (`p != end` after each step), as slice iterators leave it.
define double @ptrs(ptr noalias readonly %x, i64 %n) {
entry:
  %end = getelementptr inbounds double, ptr %x, i64 %n
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i1, %latch ]
  %s = phi double [ 0.5, %entry ], [ %acc1, %latch ]
  %first = getelementptr inbounds double, ptr %x, i64 %i
  br label %inner
inner:
  %p = phi ptr [ %first, %outer ], [ %p1, %inner ]
  %acc = phi double [ %s, %outer ], [ %acc1, %inner ]
  %xv = load double, ptr %p
  %a = fadd double %acc, %xv
  %acc1 = call double @llvm.sin.f64(double %a)
  %p1 = getelementptr inbounds double, ptr %p, i64 1
  %more = icmp ne ptr %p1, %end
  br i1 %more, label %inner, label %latch
latch:
  %i1 = add nuw i64 %i, 1
  %again = icmp ult i64 %i1, 2
  br i1 %again, label %outer, label %done
done:
  ret double %acc1
}

; An `i8` from s + i while `j + 1 < b` (signed, no wrap flag): from 127 the first step wraps
; to -128 and the loop walks up to the bound (131 runs for b = 3).
define double @wraps(ptr noalias readonly %x, i64 %s64, i64 %b64) {
entry:
  %s8 = trunc i64 %s64 to i8
  %b8 = trunc i64 %b64 to i8
  br label %outer
outer:
  %i = phi i8 [ 0, %entry ], [ %i1, %latch ]
  %s = phi double [ 0.5, %entry ], [ %acc1, %latch ]
  %start = add i8 %s8, %i
  br label %inner
inner:
  %j = phi i8 [ %start, %outer ], [ %j1, %inner ]
  %acc = phi double [ %s, %outer ], [ %acc1, %inner ]
  %jm8 = and i8 %j, 3
  %jm = zext i8 %jm8 to i64
  %p = getelementptr double, ptr %x, i64 %jm
  %xv = load double, ptr %p
  %a = fadd double %acc, %xv
  %acc1 = call double @llvm.sin.f64(double %a)
  %j1 = add i8 %j, 1
  %more = icmp slt i8 %j1, %b8
  br i1 %more, label %inner, label %latch
latch:
  %i1 = add nuw i8 %i, 1
  %again = icmp ult i8 %i1, 2
  br i1 %again, label %outer, label %done
done:
  ret double %acc1
}

; Down from i + 2 while `j - 1 >= b` (unsigned, `>=`).
define double @downupto(ptr noalias readonly %x, i64 %b) {
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i1, %latch ]
  %s = phi double [ 0.5, %entry ], [ %acc1, %latch ]
  %top = add nuw i64 %i, 2
  br label %inner
inner:
  %j = phi i64 [ %top, %outer ], [ %j1, %inner ]
  %acc = phi double [ %s, %outer ], [ %acc1, %inner ]
  %jm = and i64 %j, 3
  %p = getelementptr double, ptr %x, i64 %jm
  %xv = load double, ptr %p
  %a = fadd double %acc, %xv
  %acc1 = call double @llvm.sin.f64(double %a)
  %j1 = add i64 %j, -1
  %more = icmp uge i64 %j1, %b
  br i1 %more, label %inner, label %latch
latch:
  %i1 = add nuw i64 %i, 1
  %again = icmp ult i64 %i1, 2
  br i1 %again, label %outer, label %done
done:
  ret double %acc1
}

; Rotated: the inner loop leaves straight into the outer loop's header, which computes the next
; inner bound when it runs after the exit: the bound the exit met is not the one the header's
; reversal sees, so that exit keeps the variable.
define double @rotated(ptr noalias readonly %x, i64 %n) {
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i1, %inner ]
  %s = phi double [ 0.5, %entry ], [ %acc1, %inner ]
  %i1 = add nuw i64 %i, 1
  %m = sub i64 %n, %i1
  %stop = icmp eq i64 %i1, %n
  br i1 %stop, label %done, label %inner
inner:
  %j = phi i64 [ 0, %outer ], [ %j1, %inner ]
  %acc = phi double [ %s, %outer ], [ %acc1, %inner ]
  %jm = and i64 %j, 3
  %p = getelementptr double, ptr %x, i64 %jm
  %xv = load double, ptr %p
  %a = fadd double %acc, %xv
  %acc1 = call double @llvm.sin.f64(double %a)
  %j1 = add nuw i64 %j, 1
  %more = icmp ne i64 %j1, %m
  br i1 %more, label %inner, label %outer
done:
  ret double %s
}

; The inner loops' exits keep nothing but their buffers' addresses: no induction variable.
; CHECK: oxidase: reverse derivative of upnext (Combined): {{.*}}; 1 loop exits whose induction variable comes from the exit test's bound (nothing kept)
; CHECK: oxidase: reverse derivative of uptop (Combined): {{.*}}; 1 loop exits whose induction variable comes from the exit test's bound (nothing kept)
; CHECK: oxidase: reverse derivative of downnext (Combined): {{.*}}; 1 loop exits whose induction variable comes from the exit test's bound (nothing kept)
; CHECK: oxidase: reverse derivative of by2 (Combined): {{.*}}; 1 loop exits whose induction variable comes from the exit test's bound (nothing kept)
; CHECK: oxidase: reverse derivative of ptrs (Combined): {{.*}}; 1 loop exits whose induction variable comes from the exit test's bound (nothing kept)
; CHECK: oxidase: reverse derivative of wraps (Combined): {{.*}}; 1 loop exits whose induction variable comes from the exit test's bound (nothing kept)
; CHECK: oxidase: reverse derivative of rotated (Combined): {{.*}} blocks with nothing to reverse skipped; 1 loop reversals skipped when the adjoints they receive are zero{{$}}
; CHECK: oxidase: reverse derivative of downupto (Combined): {{.*}}; 1 loop exits whose induction variable comes from the exit test's bound (nothing kept)
