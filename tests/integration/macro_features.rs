//! A network using every construct the failing cases of `compile_fail` break: a block with a
//! parameter, a const generic rank, residuals (identity and projected), `valid` padding,
//! `l2 = 0.0`, `flatten`, and a positional argument given by name. It compiles in a crate of its
//! own (this test binary), as a user's would, and runs.

use lightlayers::prelude::*;

network! {
    block down(f) = conv(f, kernel = 3, padding = valid) -> bn -> relu -> max_pool(2);

    /// 28 → 24 (light_conv, valid) → 11 (down) → 6 (strided residual) → flatten.
    pub Small<const K: usize> = input(1, 28, 28)
        -> light_conv(8, k = K, padding = valid, l2 = 0.0) -> relu
        -> residual(conv(filters = 8) -> bn -> relu)
        -> down(16)
        -> residual(
            separable_conv(16, stride = 2) -> bn,
            shortcut: conv(16, kernel = 1, stride = 2)
        )
        -> flatten -> light_dense(10, k = K) -> softmax
}

#[test]
fn every_construct_compiles_and_runs() {
    let dev = Cpu::default();
    let model = dev.build_module::<Small<2>, f32>();
    let x: Tensor<Rank4<2, 1, 28, 28>, f32, _> = dev.sample_normal();
    let probabilities = model.forward(x);
    assert_eq!(probabilities.shape().concrete(), [2, 10]);
    const { assert!(Small::<2>::PARAMS > 0) };
}
