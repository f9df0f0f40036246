; Loop buffers: a counted loop whose trip count is bounded when it is entered keeps the values
; its reversal needs from each iteration in one block of the tape, reserved on the edge into
; the loop and indexed by the iteration; other loops keep the tape.
;
; REV: @down args=dup,const ret=active
; AT: @down [0.3, -0.2, 0.9, 0.4], 4
; AT: @down [0.7], 1
; REV: @ptrs args=dup,const ret=active
; AT: @ptrs [1.1, 0.9, -1.3, 0.8, 1.2], 5
; AT: @ptrs [0.5], 0
; REV: @early args=dup,const ret=active
; AT: @early [0.3, 0.4, 0.2, 0.1], 4
; AT: @early [1.3, 0.4, 0.2, 0.1], 4
; REV: @inner args=dup,const ret=active
; AT: @inner [3.0, 0.7, 9.5, -2.0], 4
; REV: @by4 args=dup,const ret=active
; AT: @by4 [0.3, -0.2, 0.9, 0.4, 0.1, 0.5, -0.6, 0.2, 0.8], 9
; AT: @by4 [0.3, -0.2, 0.9], 3
; REV: @calls args=dup,const,const ret=active
; AT: @calls [0.3, -0.2, 0.9, 0.4, 0.1, 0.5, -0.6, 0.2, 0.8, 0.7, -0.1, 0.25], 12, 60
; REV: @grows args=dup,const,const ret=active
; AT: @grows [0.3, -0.2, 0.9, 0.4, 0.1, 0.5, -0.6, 0.2, 0.8, 0.7, -0.1, 0.25], 12, 60
; REV: @narrow args=dup,const ret=active
; AT: @narrow [0.3, -0.2, 0.9, 0.4, 0.6], 5
; REV: @runmax args=dup,const ret=active
; AT: @runmax [0.3, 1.2, -0.5, 0.9], 4
; AT: @runmax [-0.7, -0.2, -0.9], 3

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

declare double @llvm.sin.f64(double)

; Counting down while i > 0 (signed, `nsw`): acc = sin(acc + x[i]) keeps its argument.
define double @down(ptr noalias readonly %x, i64 %n) {
entry:
  %last = add nsw i64 %n, -1
  br label %loop
loop:
  %i = phi i64 [ %last, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.5, %entry ], [ %acc1, %loop ]
  %p = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %p
  %a = fadd double %acc, %xi
  %acc1 = call double @llvm.sin.f64(double %a)
  %i1 = add nsw i64 %i, -1
  %more = icmp sgt i64 %i, 0
  br i1 %more, label %loop, label %done
done:
  ret double %acc1
}

; A pointer running to the end of the slice (`p != end`): the running product is kept.
define double @ptrs(ptr noalias readonly %x, i64 %n) {
entry:
  %end = getelementptr inbounds double, ptr %x, i64 %n
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %done, label %loop
loop:
  %p = phi ptr [ %x, %entry ], [ %p1, %loop ]
  %acc = phi double [ 1.0, %entry ], [ %acc1, %loop ]
  %xi = load double, ptr %p
  %acc1 = fmul double %acc, %xi
  %p1 = getelementptr inbounds double, ptr %p, i64 1
  %more = icmp ne ptr %p1, %end
  br i1 %more, label %loop, label %done
done:
  %r = phi double [ 1.0, %entry ], [ %acc1, %loop ]
  ret double %r
}

; An early exit to the return: its bound could be far above what runs, so the tape.
define double @early(ptr noalias readonly %x, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %latch ]
  %t = phi double [ 0.0, %entry ], [ %t1, %latch ]
  %p = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %p
  %a = fadd double %t, %xi
  %t1 = call double @llvm.sin.f64(double %a)
  %big = fcmp ogt double %t1, 0.9
  br i1 %big, label %done, label %latch
latch:
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  %r = phi double [ %t1, %loop ], [ %t1, %latch ]
  ret double %r
}

; A `while` inside a counted loop: its blocks run several times per iteration (the tape);
; the counted loop's own blocks use its buffer.
define double @inner(ptr noalias readonly %x, i64 %n) {
entry:
  br label %outer
outer:
  %i = phi i64 [ 0, %entry ], [ %i1, %tail ]
  %s = phi double [ 0.0, %entry ], [ %s1, %tail ]
  %p = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %p
  %y0 = fmul double %xi, %xi
  br label %halve.test
halve.test:
  %y = phi double [ %y0, %outer ], [ %y1, %halve ]
  %big = fcmp ogt double %y, 1.0
  br i1 %big, label %halve, label %tail
halve:
  %y1 = call double @llvm.sin.f64(double %y)
  br label %halve.test
tail:
  %q = fmul double %y, %xi
  %s1 = fadd double %s, %q
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %outer, label %done
done:
  ret double %s1
}

; Unrolled by four (`i != n & -4`, a step of 4) with a remainder loop, as LLVM leaves it.
define double @by4(ptr noalias readonly %x, i64 %n) {
entry:
  %main = and i64 %n, -4
  %none = icmp eq i64 %main, 0
  br i1 %none, label %rest.pre, label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i4, %loop ]
  %acc = phi double [ 0.25, %entry ], [ %a3, %loop ]
  %p0 = getelementptr double, ptr %x, i64 %i
  %x0 = load double, ptr %p0
  %m0 = fmul double %acc, %x0
  %a0 = call double @llvm.sin.f64(double %m0)
  %p1 = getelementptr double, ptr %p0, i64 1
  %x1 = load double, ptr %p1
  %m1 = fadd double %a0, %x1
  %a1 = call double @llvm.sin.f64(double %m1)
  %p2 = getelementptr double, ptr %p0, i64 2
  %x2 = load double, ptr %p2
  %m2 = fmul double %a1, %x2
  %a2 = call double @llvm.sin.f64(double %m2)
  %p3 = getelementptr double, ptr %p0, i64 3
  %x3 = load double, ptr %p3
  %m3 = fadd double %a2, %x3
  %a3 = call double @llvm.sin.f64(double %m3)
  %i4 = add i64 %i, 4
  %more = icmp ne i64 %i4, %main
  br i1 %more, label %loop, label %rest.pre
rest.pre:
  %acc.r = phi double [ 0.25, %entry ], [ %a3, %loop ]
  %left = icmp eq i64 %main, %n
  br i1 %left, label %done, label %rest
rest:
  %j = phi i64 [ %main, %rest.pre ], [ %j1, %rest ]
  %r = phi double [ %acc.r, %rest.pre ], [ %r1, %rest ]
  %pj = getelementptr double, ptr %x, i64 %j
  %xj = load double, ptr %pj
  %rm = fmul double %r, %xj
  %r1 = call double @llvm.sin.f64(double %rm)
  %j1 = add nuw i64 %j, 1
  %more.r = icmp ult i64 %j1, %n
  br i1 %more.r, label %rest, label %done
done:
  %out = phi double [ %acc.r, %rest.pre ], [ %r1, %rest ]
  ret double %out
}

; A callee that keeps its own values on the tape (a loop of unknown length) called in a loop:
; the callee pushes in every iteration anyway, so the caller's loop keeps the tape too.
define internal double @spin(double %v, i64 %k) noinline {
entry:
  br label %loop
loop:
  %c = phi i64 [ %k, %entry ], [ %c1, %loop ]
  %y = phi double [ %v, %entry ], [ %y1, %loop ]
  %y1 = call double @llvm.sin.f64(double %y)
  %c1 = lshr i64 %c, 1
  %go = icmp ugt i64 %c, 1
  br i1 %go, label %loop, label %out
out:
  ret double %y1
}

define double @calls(ptr noalias readonly %x, i64 %n, i64 %k) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %s = phi double [ 0.0, %entry ], [ %s1, %loop ]
  %p = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %p
  %a = fadd double %xi, %s
  %big = shl i64 %k, 40
  %y = call double @spin(double %a, i64 %big)
  %q = fmul double %y, %y
  %s1 = fadd double %s, %q
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  ret double %s1
}

; An inner loop of unknown length keeps its values on the tape while the counted loop's buffer
; is live: the tape grows (new chunks) in the middle of the counted loop, and the reversal
; goes back through them to the buffer's chunk.
define double @grows(ptr noalias readonly %x, i64 %n, i64 %k) {
entry:
  %big = shl i64 %k, 40
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %tail ]
  %s = phi double [ 0.0, %entry ], [ %s1, %tail ]
  %p = getelementptr double, ptr %x, i64 %i
  %xi = load double, ptr %p
  %a = fadd double %xi, %s
  br label %spin
spin:
  %c = phi i64 [ %big, %loop ], [ %c1, %spin ]
  %y = phi double [ %a, %loop ], [ %y1, %spin ]
  %y1 = call double @llvm.sin.f64(double %y)
  %c1 = lshr i64 %c, 1
  %go = icmp ugt i64 %c, 1
  br i1 %go, label %spin, label %tail
tail:
  %q = fmul double %y1, %y1
  %s1 = fadd double %s, %q
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  ret double %s1
}

; An `i32` counter, without a no-wrap flag, stepping by one.
define double @narrow(ptr noalias readonly %x, i32 %n) {
entry:
  br label %loop
loop:
  %i = phi i32 [ 0, %entry ], [ %i1, %loop ]
  %acc = phi double [ 0.0, %entry ], [ %acc1, %loop ]
  %w = zext i32 %i to i64
  %p = getelementptr double, ptr %x, i64 %w
  %xi = load double, ptr %p
  %a = fmul double %acc, %xi
  %b = fadd double %a, %xi
  %acc1 = call double @llvm.sin.f64(double %b)
  %i1 = add i32 %i, 1
  %more = icmp slt i32 %i1, %n
  br i1 %more, label %loop, label %done
done:
  ret double %acc1
}

; A running maximum: its reversal needs each iteration's comparison, which would be recomputed
; from the previous maximum (eight bytes per iteration); the flag itself takes one byte, and a
; row of one byte is one byte (the reservation rounded up to the tape's 8).
define double @runmax(ptr noalias readonly %x, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %m = phi double [ 0xFFF0000000000000, %entry ], [ %m1, %loop ]
  %p = getelementptr inbounds double, ptr %x, i64 %i
  %v = load double, ptr %p
  %c = fcmp ogt double %v, %m
  %m1 = select i1 %c, double %v, double %m
  %i1 = add nuw i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  ret double %m1
}

; The reservation happens on the edge into the loop, not in it; the reversal pops the buffer
; where it leaves the loop.
; CHECK-LABEL: define internal { double } @down.oxidase.rev
; CHECK: {{^}}loop:
; CHECK-NOT: @oxidase.tape.reserve
; CHECK: {{^}}loop.enter:
; CHECK-NOT: {{^[a-z.0-9]+:}}
; CHECK: call void @oxidase.tape.reserve
; CHECK: {{^}}rev.loop.enter:
; CHECK-NEXT: call void @oxidase.tape.pop_to(ptr %{{[0-9]+}}, ptr %{{[0-9]+}})

; A pointer induction variable moves by whole elements: the row is its distance from the start
; divided exactly (so the optimizer folds row * 8 back into the distance).
; CHECK-LABEL: define internal { double } @ptrs.oxidase.rev
; CHECK: udiv exact i64 %{{[0-9]+}}, 8

; CHECK-LABEL: define internal { double } @runmax.oxidase.rev
; CHECK: {{^}}loop:
; CHECK: store i1 %{{[0-9]+}}, ptr %{{[0-9]+}}, align 1
; CHECK: {{^}}loop.enter:
; CHECK: [[BYTES:%[0-9]+]] = and i64 %{{[0-9]+}}, -8
; CHECK-NEXT: call void @oxidase.tape.reserve(ptr %{{[0-9]+}}, i64 [[BYTES]])

; ---- report ----
; CHECK: oxidase: reverse derivative of down (Combined): {{.*}}, 1 in buffers of 1 loops sized by their trip counts, 0 on the tape
; CHECK-NEXT: loop at depth 1: 8 bytes per iteration in a buffer sized by its trip count, 0 bytes taped per iteration
; CHECK: oxidase: reverse derivative of ptrs (Combined): {{.*}}, 1 in buffers of 1 loops sized by their trip counts, 0 on the tape
; CHECK: oxidase: reverse derivative of early (Combined): {{.*}}, 0 in buffers of 0 loops sized by their trip counts, {{[1-9][0-9]*}} on the tape
; CHECK-NEXT: loop at depth 1: 0 bytes per iteration in a buffer sized by its trip count, {{[1-9][0-9]*}} bytes taped per iteration
; CHECK: oxidase: reverse derivative of inner (Combined): {{.*}}, {{[1-9]}} in buffers of 1 loops sized by their trip counts, {{[1-9]}} on the tape
; CHECK-NEXT: loop at depth 1: {{[1-9][0-9]*}} bytes per iteration in a buffer sized by its trip count, {{[1-9][0-9]*}} bytes taped per iteration
; CHECK: oxidase: reverse derivative of by4 (Combined): {{.*}}, {{[1-9][0-9]*}} in buffers of 2 loops sized by their trip counts, 0 on the tape
; CHECK: oxidase: reverse derivative of calls (Combined): {{.*}}, 0 in buffers of 0 loops sized by their trip counts, {{[1-9]}} on the tape
; CHECK: oxidase: reverse derivative of grows (Combined): {{.*}}, {{[1-9]}} in buffers of 1 loops sized by their trip counts, {{[1-9]}} on the tape
; CHECK-NEXT: loop at depth 1: {{[1-9][0-9]*}} bytes per iteration in a buffer sized by its trip count, {{[1-9][0-9]*}} bytes taped per iteration
; CHECK: oxidase: reverse derivative of narrow (Combined): {{.*}}, {{[1-9]}} in buffers of 1 loops sized by their trip counts, 0 on the tape
; CHECK: oxidase: reverse derivative of runmax (Combined): {{.*}}, 1 in buffers of 1 loops sized by their trip counts, 0 on the tape
; CHECK-NEXT: loop at depth 1: 1 bytes per iteration in a buffer sized by its trip count, 0 bytes taped per iteration
; CHECK-NEXT: buffered per iteration: %{{[0-9]+}} = fcmp ogt double
