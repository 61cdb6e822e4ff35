//! The `network!` macro's diagnostics, checked with trybuild: every `tests/ui/fail_*.rs` must be
//! rejected by the macro itself (before type checking) with the message in its `.stderr`; what
//! must compile and run is `macro_features` (so that trybuild only runs `cargo check`).
//!
//! After changing a message, regenerate with
//! `TRYBUILD=overwrite cargo test --test integration compile_fail::ui`
//! and review the diff: the error should name the problem and point at the offending layer or
//! argument, not at the whole macro call.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail_*.rs");
}
