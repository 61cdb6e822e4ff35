//! The paper's twelve model families (three variants × four datasets), declared with
//! [`network!`](crate::network!) exactly as the authors' Keras code builds them; their `PARAMS`
//! equal the paper's tables.
//!
//! | dataset | Conv2D | SeparableConv2D | LightLayers (k) |
//! |---|---|---|---|
//! | MNIST | [`MnistConv`] 18,818 | [`MnistSeparable`] 3,611 | [`MnistLight`] 1,743·k + 906 |
//! | Fashion-MNIST | [`FashionMnistConv`] 18,818 | [`FashionMnistSeparable`] 3,611 | [`FashionMnistLight`] 1,743·k + 906 |
//! | CIFAR-10 | [`Cifar10Conv`] 76,794 | [`Cifar10Separable`] 14,440 | [`Cifar10Light`] 3,655·k + 2,282 |
//! | CIFAR-100 | [`Cifar100Conv`] 82,644 | [`Cifar100Separable`] 20,290 | [`Cifar100Light`] 3,655·k + 3,092 |
//!
//! Their multiply–accumulates per image ([`Network::MACS`](crate::Network::MACS)):
//!
//! | dataset | Conv2D | SeparableConv2D | LightLayers (k) |
//! |---|---|---|---|
//! | MNIST, Fashion-MNIST | 1,863,104 | 334,304 | 324,576·k + 336 |
//! | CIFAR-10 | 10,191,488 | 1,759,872 | 894,976·k + 592 |
//! | CIFAR-100 | 10,197,248 | 1,765,632 | 894,976·k + 1,312 |
//!
//! MNIST-like models: three blocks of two convolutions (filters 8, 16, 32), each followed by
//! batch norm and ReLU, then 2×2 max pooling; global average pooling and the head (`dense`, or
//! `light_dense` with k = 8 for LightLayers). CIFAR models: three residual blocks (filters 16,
//! 32, 64) whose shortcut is a 1×1 convolution with batch norm.

use crate::network;

network! {
    block conv_block(f) = conv(f) -> bn -> relu -> conv(f) -> bn -> relu -> max_pool(2);
    block separable_block(f) =
        separable_conv(f) -> bn -> relu -> separable_conv(f) -> bn -> relu -> max_pool(2);
    block light_block(f) =
        light_conv(f, k = K) -> bn -> relu -> light_conv(f, k = K) -> bn -> relu -> max_pool(2);

    /// Conv2D model of the paper for MNIST (18,818 parameters).
    pub MnistConv = input(1, 28, 28)
        -> conv_block(8) -> conv_block(16) -> conv_block(32)
        -> global_avg_pool -> dense(10) -> softmax;

    /// SeparableConv2D model of the paper for MNIST (3,611 parameters).
    pub MnistSeparable = input(1, 28, 28)
        -> separable_block(8) -> separable_block(16) -> separable_block(32)
        -> global_avg_pool -> dense(10) -> softmax;

    /// LightLayers model of the paper for MNIST, rank `K` (1,743·K + 906 parameters).
    pub MnistLight<const K: usize> = input(1, 28, 28)
        -> light_block(8) -> light_block(16) -> light_block(32)
        -> global_avg_pool -> light_dense(10, k = 8) -> softmax;

    /// Conv2D model of the paper for Fashion-MNIST (18,818 parameters).
    pub FashionMnistConv = input(1, 28, 28)
        -> conv_block(8) -> conv_block(16) -> conv_block(32)
        -> global_avg_pool -> dense(10) -> softmax;

    /// SeparableConv2D model of the paper for Fashion-MNIST (3,611 parameters).
    pub FashionMnistSeparable = input(1, 28, 28)
        -> separable_block(8) -> separable_block(16) -> separable_block(32)
        -> global_avg_pool -> dense(10) -> softmax;

    /// LightLayers model of the paper for Fashion-MNIST, rank `K` (1,743·K + 906 parameters).
    pub FashionMnistLight<const K: usize> = input(1, 28, 28)
        -> light_block(8) -> light_block(16) -> light_block(32)
        -> global_avg_pool -> light_dense(10, k = 8) -> softmax;
}

network! {
    block conv_residual(f) =
        residual(conv(f) -> bn -> relu -> conv(f) -> bn, shortcut: conv(f, kernel = 1) -> bn)
        -> relu -> max_pool(2);
    block separable_residual(f) =
        residual(
            separable_conv(f) -> bn -> relu -> separable_conv(f) -> bn,
            shortcut: separable_conv(f, kernel = 1) -> bn
        )
        -> relu -> max_pool(2);
    block light_residual(f) =
        residual(
            light_conv(f, k = K) -> bn -> relu -> light_conv(f, k = K) -> bn,
            shortcut: light_conv(f, k = K, kernel = 1) -> bn
        )
        -> relu -> max_pool(2);

    /// Conv2D model of the paper for CIFAR-10 (76,794 parameters).
    pub Cifar10Conv = input(3, 32, 32)
        -> conv_residual(16) -> conv_residual(32) -> conv_residual(64)
        -> global_avg_pool -> dense(10) -> softmax;

    /// SeparableConv2D model of the paper for CIFAR-10 (14,440 parameters).
    pub Cifar10Separable = input(3, 32, 32)
        -> separable_residual(16) -> separable_residual(32) -> separable_residual(64)
        -> global_avg_pool -> dense(10) -> softmax;

    /// LightLayers model of the paper for CIFAR-10, rank `K` (3,655·K + 2,282 parameters).
    pub Cifar10Light<const K: usize> = input(3, 32, 32)
        -> light_residual(16) -> light_residual(32) -> light_residual(64)
        -> global_avg_pool -> light_dense(10, k = 8) -> softmax;

    /// Conv2D model of the paper for CIFAR-100 (82,644 parameters).
    pub Cifar100Conv = input(3, 32, 32)
        -> conv_residual(16) -> conv_residual(32) -> conv_residual(64)
        -> global_avg_pool -> dense(100) -> softmax;

    /// SeparableConv2D model of the paper for CIFAR-100 (20,290 parameters).
    pub Cifar100Separable = input(3, 32, 32)
        -> separable_residual(16) -> separable_residual(32) -> separable_residual(64)
        -> global_avg_pool -> dense(100) -> softmax;

    /// LightLayers model of the paper for CIFAR-100, rank `K` (3,655·K + 3,092 parameters).
    pub Cifar100Light<const K: usize> = input(3, 32, 32)
        -> light_residual(16) -> light_residual(32) -> light_residual(64)
        -> global_avg_pool -> light_dense(100, k = 8) -> softmax;
}
