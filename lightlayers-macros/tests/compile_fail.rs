//! The `network!` macro's diagnostics, checked with trybuild: every `tests/ui/fail_*.rs` must be
//! rejected by the macro itself (before type checking) with the message in its `.stderr`; what
//! must compile and run is the root package's `macro_features` test (so that trybuild only
//! runs `cargo check`). It lives in this crate because trybuild checks the cases against the
//! crate's dependencies and dev-dependencies: here that is `lightlayers` without its default
//! features, not the HTTP, TLS, plotting and benchmark crates of the root package's tests.
//!
//! After changing a message, regenerate with
//! `TRYBUILD=overwrite cargo test -p lightlayers-macros --test compile_fail`
//! and review the diff: the error should name the problem and point at the offending layer or
//! argument, not at the whole macro call.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail_*.rs");
}
