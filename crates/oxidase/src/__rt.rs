//! Helpers called by the code `#[autodiff_*]` generates.

use core::mem::MaybeUninit;

/// Zeroed storage of the same type as `value`: a shadow tuple before its shadows are written.
/// Zero is the right start for every field the caller does not write: the gradient of an
/// `Active` scalar accumulates into it.
#[inline(always)]
pub fn zeroed_like<T>(_value: &T) -> MaybeUninit<T> {
    MaybeUninit::zeroed()
}

/// Writes `value` into a field of type `T` that has the same layout (a `&mut [f64]` shadow into
/// a `&[f64]` field; a raw lane of a `Dualv` shadow into a slice field).
///
/// # Safety
/// `dst` must be valid for writes.
#[inline(always)]
pub unsafe fn put<T, U>(dst: *mut T, value: U) {
    const { assert!(core::mem::size_of::<T>() == core::mem::size_of::<U>()) };
    unsafe { core::ptr::write(dst.cast::<U>(), value) }
}

/// Panics (instead of letting the derivative read or write out of bounds) when a shadow is
/// shorter than `lanes` times its primal.
#[inline(always)]
#[track_caller]
pub fn check_shadow_len(shadow: &str, shadow_len: usize, primal: &str, primal_len: usize, lanes: usize) {
    if shadow_len < primal_len.saturating_mul(lanes) {
        short_shadow(shadow, shadow_len, primal, primal_len, lanes);
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn short_shadow(shadow: &str, shadow_len: usize, primal: &str, primal_len: usize, lanes: usize) -> ! {
    if lanes == 1 {
        panic!("oxidase: shadow `{shadow}` has length {shadow_len}, shorter than `{primal}` (length {primal_len})")
    } else {
        panic!(
            "oxidase: shadow `{shadow}` has length {shadow_len}, but {lanes} directions of `{primal}` (length {primal_len}) need {}",
            primal_len * lanes
        )
    }
}
