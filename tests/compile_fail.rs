//! The `network!` macro's diagnostics, checked with trybuild: every `tests/ui/fail_*.rs` must be
//! rejected by the macro itself (before type checking) with the message in its `.stderr`, and
//! every `tests/ui/pass_*.rs` must compile and run.
//!
//! After changing a message, regenerate with `TRYBUILD=overwrite cargo test --test compile_fail`
//! and review the diff: the error should name the problem and point at the offending layer or
//! argument, not at the whole macro call.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    t.compile_fail("tests/ui/fail_*.rs");
}
