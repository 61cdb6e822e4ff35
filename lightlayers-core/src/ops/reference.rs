//! Test support (feature `reference-ops`): runs `Cpu` ops through the composed dfdx reference
//! instead of the hand-written kernels, so that tests can compare the two on whole models. Left
//! out of normal builds, so the production path never consults it.

use std::cell::Cell;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with this thread's `Cpu` convolutions, pools and pipelines computed by the
/// composed reference ([`crate::ops::composed`], [`crate::ops::pipeline::run_unfused`]).
pub fn with_reference_ops<R>(f: impl FnOnce() -> R) -> R {
    let before = ACTIVE.with(|a| a.replace(true));
    let out = f();
    ACTIVE.with(|a| a.set(before));
    out
}

/// Whether [`with_reference_ops`] is active on this thread.
pub(crate) fn active() -> bool {
    ACTIVE.with(|a| a.get())
}
