//! The `network!` macro's diagnostics, checked with trybuild: every `tests/ui/fail_*.rs` must be
//! rejected by the macro itself (before type checking) with the message in its `.stderr`. What
//! must compile is in `macro_features`: with only failing cases trybuild runs `cargo check`, not
//! `cargo build`, so it never generates code for dfdx in its own target folder.
//!
//! After changing a message, regenerate with
//! `TRYBUILD=overwrite cargo test --test integration compile_fail` and review the diff: the error
//! should name the problem and point at the offending layer or argument, not at the whole macro
//! call.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail_*.rs");
}
