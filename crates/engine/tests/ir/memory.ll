; alloca, load, store, getelementptr, memcpy and memset on shadowed memory; output pointers;
; read-modify-write of caller memory; a pointer stored in memory and loaded back.
;
; FWD: @stencil width=1 args=dual,dual,const,dual
; FWD: @stencil width=1 args=dual,dual,const,const
; FWD: @stencil width=1 args=dual,const,const,dual
; FWD: @stencil width=2 args=dual,dual,const,dual
; AT: @stencil [0.0; 3], [1.0, 2.0, 3.0, 4.0], 3, 0.5
; AT: @stencil [9.0; 5], [1.5, -2.0, 3.25, 4.0, 0.125, 7.0], 5, -1.25
; AT: @stencil [0.0; 1], [1.0], 0, 2.0
;
; FWD: @via_stack width=1 args=dual,dual,dual
; FWD: @via_stack width=3 args=dual,dual,dual
; FWD: @via_stack width=1 args=dual,dual,const
; AT: @via_stack [9.0; 4], 1.5, -2.0
; EXPECT: @via_stack args=dual,dual,const at [0.0; 4], 1.5, -2.0 seed [0.0; 4], 1.0 => 1.0, 0.0, -2.0, 0.0
;
; FWD: @struct_fields width=1 args=dual,dual
; AT: @struct_fields [0.0], 1.25
; EXPECT: @struct_fields args=dual,dual at [0.0], 1.25 seed [0.0], 1.0 => 9.5
;
; FWD: @accum width=1 args=dual,dual
; FWD: @accum width=2 args=dual,dual
; FWD: @accum width=1 args=dual,const
; AT: @accum [1.0, 2.0], 3.0
; AT: @accum [-0.5, 4.0], 0.25
; EXPECT: @accum args=dual,dual at [1.0, 2.0], 3.0 seed [0.0, 0.0], 1.0 => 6.0, 2.0
; EXPECT: @accum args=dual,dual at [1.0, 2.0], 3.0 seed [1.0, 1.0], 0.0 => 1.0, 3.0
;
; FWD: @ptr_in_memory width=1 args=dual,dual
; AT: @ptr_in_memory [0.0], 1.5
; EXPECT: @ptr_in_memory args=dual,dual at [0.0], 1.5 seed [0.0], 1.0 => 3.0
;
; FWD: @local_array width=1 args=dual,const
; FWD: @local_array width=2 args=dual,const
; AT: @local_array 0.8, 4
; AT: @local_array -1.1, 1

;
; FWD: @copy_in width=1 args=dual,const,dual
; FWD: @copy_in width=1 args=dual,dual,dual
; AT: @copy_in [7.0; 3], [1.0, 2.0, 3.0], 2.5
; EXPECT: @copy_in args=dual,const,dual at [7.0; 3], [1.0, 2.0, 3.0], 2.5 seed [1.0, 1.0, 1.0], 1.0 => 0.0, 1.0, 0.0
;
; FWD: @copy_bits width=1 args=dual,dual
; AT: @copy_bits [0.0; 2], [1.5, -2.5]
; EXPECT: @copy_bits args=dual,dual at [0.0; 2], [1.5, -2.5] seed [0.0, 0.0], [3.0, 4.0] => 4.0, 3.0, 3.0, 4.0
;
; FWD: @memmove_shift width=1 args=dual,dual
; AT: @memmove_shift [1.0, 2.0, 3.0, 4.0], 0.5
;
; FWD: @agg_mem width=1 args=dual,dual
; FWD: @agg_mem width=1 args=dual,const
; AT: @agg_mem [0.0, 0.0], [1.5, 2.5]
; EXPECT: @agg_mem args=dual,dual at [0.0, 0.0], [1.5, 2.5] seed [0.0, 0.0], [1.0, 0.0] => 2.5, 0.0, 1.0, 0.0
;
; FWD: @ptr_array width=1 args=dual,dual
; AT: @ptr_array [0.0, 0.0], 1.5
;
; FWD: @bits_roundtrip width=1 args=dual
; FWD: @bits_roundtrip width=2 args=dual
; AT: @bits_roundtrip 1.7
; EXPECT: @bits_roundtrip args=dual at 2.0 seed 1.0 => 12.0
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-unknown-linux-gnu"

%S = type { double, i64, double }

declare void @llvm.memcpy.p0.p0.i64(ptr noalias writeonly, ptr noalias readonly, i64, i1 immarg)
declare void @llvm.memset.p0.i64(ptr writeonly, i8, i64, i1 immarg)
declare void @llvm.lifetime.start.p0(ptr captures(none))
declare void @llvm.lifetime.end.p0(ptr captures(none))

; out[i] = in[i] * w + in[i+1], i < n
define void @stencil(ptr %out, ptr %in, i64 %n, double %w) {
entry:
  %has = icmp sgt i64 %n, 0
  br i1 %has, label %loop, label %exit

loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %pin = getelementptr inbounds double, ptr %in, i64 %i
  %a = load double, ptr %pin, align 8
  %i1 = add nuw i64 %i, 1
  %pin1 = getelementptr inbounds double, ptr %in, i64 %i1
  %b = load double, ptr %pin1, align 8
  %aw = fmul double %a, %w
  %s = fadd double %aw, %b
  %pout = getelementptr inbounds double, ptr %out, i64 %i
  store double %s, ptr %pout, align 8
  %done = icmp eq i64 %i1, %n
  br i1 %done, label %exit, label %loop

exit:
  ret void
}

; tmp = [x, y, x*y, x+y]; memcpy(out, tmp, 32); memset(&out[3], 0, 8)
define void @via_stack(ptr %out, double %x, double %y) {
  %tmp = alloca [4 x double], align 16
  call void @llvm.lifetime.start.p0(ptr %tmp)
  %p1 = getelementptr inbounds [4 x double], ptr %tmp, i64 0, i64 1
  %p2 = getelementptr inbounds [4 x double], ptr %tmp, i64 0, i64 2
  %p3 = getelementptr inbounds [4 x double], ptr %tmp, i64 0, i64 3
  store double %x, ptr %tmp, align 16
  store double %y, ptr %p1, align 8
  %xy = fmul double %x, %y
  store double %xy, ptr %p2, align 16
  %s = fadd double %x, %y
  store double %s, ptr %p3, align 8
  call void @llvm.memcpy.p0.p0.i64(ptr align 8 %out, ptr align 16 %tmp, i64 32, i1 false)
  call void @llvm.lifetime.end.p0(ptr %tmp)
  %o3 = getelementptr inbounds i8, ptr %out, i64 24
  call void @llvm.memset.p0.i64(ptr align 8 %o3, i8 0, i64 8, i1 false)
  ret void
}
; CHECK-LABEL: define internal void @via_stack.oxidase.fwd{{[0-9]+}}(
; CHECK: alloca [4 x double]
; CHECK: alloca [4 x double]
; CHECK: call void @llvm.memset.p0.i64(ptr {{.*}}, i8 0, i64 32,
; CHECK-COUNT-2: call void @llvm.memcpy.p0.p0.i64(
; CHECK-COUNT-2: call void @llvm.memset.p0.i64(ptr {{.*}}, i8 0, i64 8,
; CHECK: ret void

; A struct on the stack: { x, 7, x*x }, out = s.0 * s.1 + s.2
define void @struct_fields(ptr %out, double %x) {
  %s = alloca %S, align 8
  %f1 = getelementptr inbounds %S, ptr %s, i32 0, i32 1
  %f2 = getelementptr inbounds %S, ptr %s, i32 0, i32 2
  store double %x, ptr %s, align 8
  store i64 7, ptr %f1, align 8
  %x2 = fmul double %x, %x
  store double %x2, ptr %f2, align 8
  %a = load double, ptr %s, align 8
  %k = load i64, ptr %f1, align 8
  %kf = sitofp i64 %k to double
  %b = load double, ptr %f2, align 8
  %t = fmul double %a, %kf
  %r = fadd double %t, %b
  store double %r, ptr %out, align 8
  ret void
}

; io[0] += x*x; io[1] *= x
define void @accum(ptr %io, double %x) {
  %p1 = getelementptr inbounds double, ptr %io, i64 1
  %a = load double, ptr %io, align 8
  %xx = fmul double %x, %x
  %a2 = fadd double %a, %xx
  store double %a2, ptr %io, align 8
  %b = load double, ptr %p1, align 8
  %b2 = fmul double %b, %x
  store double %b2, ptr %p1, align 8
  ret void
}

; The output pointer goes through a stack slot.
define void @ptr_in_memory(ptr %out, double %x) {
  %slot = alloca ptr, align 8
  store ptr %out, ptr %slot, align 8
  %p = load ptr, ptr %slot, align 8
  %x2 = fmul double %x, %x
  store double %x2, ptr %p, align 8
  ret void
}

; A dynamically sized stack array: a[i] = x^(i+1), returns the sum.
define double @local_array(double %x, i64 %n) {
entry:
  %a = alloca double, i64 %n, align 8
  br label %fill

fill:
  %i = phi i64 [ 0, %entry ], [ %i1, %fill ]
  %t = phi double [ %x, %entry ], [ %t1, %fill ]
  %p = getelementptr inbounds double, ptr %a, i64 %i
  store double %t, ptr %p, align 8
  %t1 = fmul double %t, %x
  %i1 = add i64 %i, 1
  %c = icmp ult i64 %i1, %n
  br i1 %c, label %fill, label %sum

sum:
  %j = phi i64 [ 0, %fill ], [ %j1, %sum ]
  %acc = phi double [ 0.0, %fill ], [ %acc1, %sum ]
  %q = getelementptr inbounds double, ptr %a, i64 %j
  %v = load double, ptr %q, align 8
  %acc1 = fadd double %acc, %v
  %j1 = add i64 %j, 1
  %c2 = icmp ult i64 %j1, %n
  br i1 %c2, label %sum, label %exit

exit:
  ret double %acc1
}

; out = in (memcpy from a possibly constant source); out[1] = x
define void @copy_in(ptr %out, ptr %in, double %x) {
  call void @llvm.memcpy.p0.p0.i64(ptr align 8 %out, ptr align 8 %in, i64 24, i1 false)
  %p1 = getelementptr inbounds double, ptr %out, i64 1
  store double %x, ptr %p1, align 8
  ret void
}

; doubles copied as i64 bits, swapped: out = [in[1], in[0]]
define void @copy_bits(ptr %out, ptr %in) {
  %in1 = getelementptr inbounds i64, ptr %in, i64 1
  %a = load i64, ptr %in, align 8
  %b = load i64, ptr %in1, align 8
  %out1 = getelementptr inbounds i64, ptr %out, i64 1
  store i64 %b, ptr %out, align 8
  store i64 %a, ptr %out1, align 8
  ret void
}

declare void @llvm.memmove.p0.p0.i64(ptr, ptr, i64, i1 immarg)

; a[0] *= x; memmove(a + 1, a, 24): a = [a0 x, a0 x, a1, a2]
define void @memmove_shift(ptr %a, double %x) {
  %v = load double, ptr %a, align 8
  %m = fmul double %v, %x
  store double %m, ptr %a, align 8
  %a1 = getelementptr inbounds double, ptr %a, i64 1
  call void @llvm.memmove.p0.p0.i64(ptr align 8 %a1, ptr align 8 %a, i64 24, i1 false)
  ret void
}

; a { double, double } loaded and stored whole: out = { in.0 * in.1, in.1 }
define void @agg_mem(ptr %out, ptr %in) {
  %v = load { double, double }, ptr %in, align 8
  %a = extractvalue { double, double } %v, 0
  %b = extractvalue { double, double } %v, 1
  %ab = fmul double %a, %b
  %w = insertvalue { double, double } %v, double %ab, 0
  store { double, double } %w, ptr %out, align 8
  ret void
}

; a local array of pointers into the output: *slots[1] = x*x; *slots[0] = x
define void @ptr_array(ptr %out, double %x) {
  %slots = alloca [2 x ptr], align 8
  store ptr %out, ptr %slots, align 8
  %o1 = getelementptr inbounds double, ptr %out, i64 1
  %s1 = getelementptr inbounds ptr, ptr %slots, i64 1
  store ptr %o1, ptr %s1, align 8
  %p = load ptr, ptr %s1, align 8
  %xx = fmul double %x, %x
  store double %xx, ptr %p, align 8
  %q = load ptr, ptr %slots, align 8
  store double %x, ptr %q, align 8
  ret void
}

; x*x stored as i64 bits in a stack slot and read back as a double: x^3
define double @bits_roundtrip(double %x) {
  %slot = alloca i64, align 8
  %xx = fmul double %x, %x
  %b = bitcast double %xx to i64
  store i64 %b, ptr %slot, align 8
  %d = load double, ptr %slot, align 8
  %r = fmul double %d, %x
  ret double %r
}
