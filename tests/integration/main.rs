//! The integration tests of `lightlayers`, as one test binary: each file below is one topic.
//! One binary links the dfdx generics once instead of once per topic, which is most of the
//! build time of the test suite.
//!
//! Run one topic with `cargo test --test integration learning::` (the module path filters).

#[path = "../../lightlayers-core/tests/integration/temp_dir.rs"]
mod temp_dir;

#[cfg(feature = "cuda")]
mod cuda_equivalence;
mod learning;
mod macro_features;
mod paper_params;
mod pipeline_equivalence;
mod train_loop;
