//! Runtime choice of vector instructions for the hot loops.
//!
//! The crate is compiled for baseline x86-64 (SSE2), which would leave AVX2 and AVX-512 unused.
//! Kernels are therefore written once as `#[inline(always)]` functions generic over a
//! [`Level`], and [`multiversion!`] wraps each in `#[target_feature]` copies picked at run
//! time, so LLVM vectorises the same source for the best instruction set the CPU has.

use std::sync::OnceLock;

use crate::Element;

/// An instruction-set level the kernels are compiled for.
pub(crate) trait Level {
    /// `a·b + c`: fused (one rounding) where the level has FMA, plain otherwise (a libm call
    /// per element would be far slower).
    fn fma<E: Element>(a: E, b: E, c: E) -> E;
}

/// Baseline: no FMA.
pub(crate) struct Base;
/// AVX2 with FMA.
pub(crate) struct Avx2;
/// AVX-512 (F, VL, BW, DQ) with FMA.
pub(crate) struct Avx512;

impl Level for Base {
    #[inline(always)]
    fn fma<E: Element>(a: E, b: E, c: E) -> E {
        a * b + c
    }
}

impl Level for Avx2 {
    #[inline(always)]
    fn fma<E: Element>(a: E, b: E, c: E) -> E {
        a.mul_add(b, c)
    }
}

impl Level for Avx512 {
    #[inline(always)]
    fn fma<E: Element>(a: E, b: E, c: E) -> E {
        a.mul_add(b, c)
    }
}

/// The level detected on this CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detected {
    /// SSE2 only.
    Base,
    /// AVX2 + FMA.
    Avx2,
    /// AVX-512.
    Avx512,
}

/// Detects once; `LIGHTLAYERS_SIMD=base|avx2|avx512` caps the level (to compare or debug).
pub(crate) fn detected() -> Detected {
    static LEVEL: OnceLock<Detected> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let hw = detect_hardware();
        let cap = match std::env::var("LIGHTLAYERS_SIMD").as_deref() {
            Ok("base") => Detected::Base,
            Ok("avx2") => Detected::Avx2,
            _ => Detected::Avx512,
        };
        let rank = |d: Detected| match d {
            Detected::Base => 0,
            Detected::Avx2 => 1,
            Detected::Avx512 => 2,
        };
        if rank(cap) < rank(hw) {
            cap
        } else {
            hw
        }
    })
}

#[cfg(target_arch = "x86_64")]
fn detect_hardware() -> Detected {
    if is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("avx2")
    {
        Detected::Avx512
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        Detected::Avx2
    } else {
        Detected::Base
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect_hardware() -> Detected {
    Detected::Base
}

/// Defines `$name<E, consts..>(args)` calling `$imp::<Level, E, consts..>(args)` compiled for
/// the detected level.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident<E $(, const $c:ident: usize)*>($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $imp:ident) => {
        $(#[$meta])*
        $vis fn $name<E: $crate::Element $(, const $c: usize)*>($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                fn avx512<E: $crate::Element $(, const $c: usize)*>($($arg: $ty),*) $(-> $ret)? {
                    $imp::<$crate::ops::cpu::simd::Avx512, E $(, $c)*>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2<E: $crate::Element $(, const $c: usize)*>($($arg: $ty),*) $(-> $ret)? {
                    $imp::<$crate::ops::cpu::simd::Avx2, E $(, $c)*>($($arg),*)
                }
                match $crate::ops::cpu::simd::detected() {
                    // SAFETY: `detected()` returned this level only after
                    // `is_x86_feature_detected!` confirmed every feature the function enables
                    // on this CPU, which is the one requirement for calling it.
                    $crate::ops::cpu::simd::Detected::Avx512 => return unsafe { avx512::<E $(, $c)*>($($arg),*) },
                    // SAFETY: as above, for AVX2 and FMA.
                    $crate::ops::cpu::simd::Detected::Avx2 => return unsafe { avx2::<E $(, $c)*>($($arg),*) },
                    $crate::ops::cpu::simd::Detected::Base => {}
                }
            }
            $imp::<$crate::ops::cpu::simd::Base, E $(, $c)*>($($arg),*)
        }
    };
}

pub(crate) use multiversion;
