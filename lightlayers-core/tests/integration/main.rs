//! The integration tests of `lightlayers-core`, as one test binary: each file below is one
//! topic. One binary links the dfdx generics once instead of once per topic, which is most of
//! the build time of the test suite.
//!
//! Run one topic with `cargo test -p lightlayers-core --test integration data_idx::` (the
//! module path filters).

mod data_support;
mod gradients_support;
mod temp_dir;

mod data_batches;
mod data_cifar;
mod data_dataset;
mod data_download;
mod data_idx;
mod data_real;
mod data_source;
mod dfdx_matmul;
mod gradients_layers;
mod gradients_ops;
mod ops_oracle;
mod train_adam;
mod train_evaluate;
mod train_schedule;
