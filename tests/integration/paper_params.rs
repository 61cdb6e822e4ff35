//! The paper's parameter tables and the models' multiply–accumulates, asserted at compile
//! time, and dfdx's own count of the built models against `TRAINABLE_PARAMS`.

use lightlayers::paper::*;
use lightlayers::prelude::*;

macro_rules! assert_params {
    ($($net:ty => $n:expr),* $(,)?) => {
        $(const _: () = assert!(<$net as Network>::PARAMS == $n);)*
    };
}

// MNIST and Fashion-MNIST (Table 1 and 2 of the paper)
assert_params! {
    MnistConv => 18_818,
    MnistSeparable => 3_611,
    MnistLight<1> => 2_649,
    MnistLight<2> => 4_392,
    MnistLight<3> => 6_135,
    MnistLight<4> => 7_878,
    MnistLight<5> => 9_621,
    MnistLight<6> => 11_364,
    FashionMnistConv => 18_818,
    FashionMnistSeparable => 3_611,
    FashionMnistLight<1> => 2_649,
    FashionMnistLight<2> => 4_392,
    FashionMnistLight<3> => 6_135,
    FashionMnistLight<4> => 7_878,
    FashionMnistLight<5> => 9_621,
    FashionMnistLight<6> => 11_364,
}

// CIFAR-10 and CIFAR-100 (Tables 3 and 4)
assert_params! {
    Cifar10Conv => 76_794,
    Cifar10Separable => 14_440,
    Cifar10Light<1> => 5_937,
    Cifar10Light<2> => 9_592,
    Cifar10Light<3> => 13_247,
    Cifar10Light<4> => 16_902,
    Cifar10Light<5> => 20_557,
    Cifar100Conv => 82_644,
    Cifar100Separable => 20_290,
    Cifar100Light<1> => 6_747,
    Cifar100Light<2> => 10_402,
    Cifar100Light<3> => 14_057,
    Cifar100Light<4> => 17_712,
    Cifar100Light<5> => 21_367,
}

// The closed forms, for a rank the paper did not list.
const _: () = assert!(MnistLight::<9>::PARAMS == 1_743 * 9 + 906);
const _: () = assert!(Cifar10Light::<7>::PARAMS == 3_655 * 7 + 2_282);
const _: () = assert!(Cifar100Light::<7>::PARAMS == 3_655 * 7 + 3_092);

// Multiply–accumulates per image, forward ("Mult-Adds": convolutions and dense layers at their
// output resolution; bias, batch norm, activations, pooling, additions not counted), computed
// by hand below, layer by layer. A K×K convolution C → F over H×W outputs costs 9·C·F·H·W
// for K = 3, a separable one (9·C + C·F)·H·W, a LightConv2D of rank k 9·k·(C + F)·H·W, a dense
// layer I·N, a LightDense I·k + k·N. All paddings `same`, strides 1: the three blocks of the
// MNIST models run at 28×28, 14×14 and 7×7, those of CIFAR at 32×32, 16×16 and 8×8.

// MnistConv:
//   conv 1→8 at 28×28:   9·1·8·784   =    56,448
//   conv 8→8 at 28×28:   9·8·8·784   =   451,584
//   conv 8→16 at 14×14:  9·8·16·196  =   225,792
//   conv 16→16 at 14×14: 9·16·16·196 =   451,584
//   conv 16→32 at 7×7:   9·16·32·49  =   225,792
//   conv 32→32 at 7×7:   9·32·32·49  =   451,584
//   dense 32→10:         32·10       =       320
//                                      1,863,104
const _: () = assert!(MnistConv::MACS == 1_863_104);
const _: () = assert!(FashionMnistConv::MACS == MnistConv::MACS);

// MnistSeparable (depthwise 3×3, then pointwise 1×1):
//   1→8 at 28×28:   (9·1 + 1·8)·784     =  13,328
//   8→8 at 28×28:   (9·8 + 8·8)·784     = 106,624
//   8→16 at 14×14:  (9·8 + 8·16)·196    =  39,200
//   16→16 at 14×14: (9·16 + 16·16)·196  =  78,400
//   16→32 at 7×7:   (9·16 + 16·32)·49   =  32,144
//   32→32 at 7×7:   (9·32 + 32·32)·49   =  64,288
//   dense 32→10:    32·10               =     320
//                                         334,304
const _: () = assert!(MnistSeparable::MACS == 334_304);

// MnistLight<K>: 9·K·(C + F)·H·W per light_conv
//   1→8 at 28×28:   9·K·9·784   =  63,504·K
//   8→8 at 28×28:   9·K·16·784  = 112,896·K
//   8→16 at 14×14:  9·K·24·196  =  42,336·K
//   16→16 at 14×14: 9·K·32·196  =  56,448·K
//   16→32 at 7×7:   9·K·48·49   =  21,168·K
//   32→32 at 7×7:   9·K·64·49   =  28,224·K
//   light_dense 32→10, k = 8: 32·8 + 8·10 = 336
//                               324,576·K + 336
const _: () = assert!(MnistLight::<1>::MACS == 324_576 + 336);
const _: () = assert!(MnistLight::<3>::MACS == 974_064);
const _: () = assert!(MnistLight::<5>::MACS == 324_576 * 5 + 336);

// Cifar10Conv: per block, conv C→F and conv F→F (3×3) plus the 1×1 shortcut C→F
//   block 1 at 32×32: 9·3·16·1024 + 9·16·16·1024 + 3·16·1024   = 2,850,816
//   block 2 at 16×16: 9·16·32·256 + 9·32·32·256 + 16·32·256    = 3,670,016
//   block 3 at 8×8:   9·32·64·64 + 9·64·64·64 + 32·64·64       = 3,670,016
//   dense 64→10: 640 (Cifar100Conv: 64→100, 6,400)
//                                                              10,191,488
const _: () = assert!(Cifar10Conv::MACS == 10_191_488);
const _: () = assert!(Cifar100Conv::MACS == 10_191_488 - 640 + 6_400);

// Cifar10Separable: per block, separable C→F and F→F (3×3) plus the 1×1 separable shortcut
// C→F, (K²·C + C·F)·H·W each
//   block 1 at 32×32: (27 + 48)·1024 + (144 + 256)·1024 + (3 + 48)·1024       =   538,624
//   block 2 at 16×16: (144 + 512)·256 + (288 + 1024)·256 + (16 + 512)·256     =   638,976
//   block 3 at 8×8:   (288 + 2048)·64 + (576 + 4096)·64 + (32 + 2048)·64      =   581,632
//   dense 64→10: 640 (Cifar100Separable: 6,400)
//                                                                               1,759,872
const _: () = assert!(Cifar10Separable::MACS == 1_759_872);
const _: () = assert!(Cifar100Separable::MACS == 1_759_872 - 640 + 6_400);

// Cifar10Light<K>: per block, two 3×3 light_convs and a 1×1 one (K·(C + F)·H·W)
//   block 1 at 32×32: 9·K·19·1024 + 9·K·32·1024 + K·19·1024 = 489,472·K
//   block 2 at 16×16: 9·K·48·256 + 9·K·64·256 + K·48·256    = 270,336·K
//   block 3 at 8×8:   9·K·96·64 + 9·K·128·64 + K·96·64      = 135,168·K
//   light_dense 64→10, k = 8: 64·8 + 8·10 = 592
//                                             894,976·K + 592
const _: () = assert!(Cifar10Light::<1>::MACS == 894_976 + 592);
const _: () = assert!(Cifar10Light::<5>::MACS == 894_976 * 5 + 592);
// Cifar100Light<K>: the same blocks, light_dense 64→100, k = 8: 64·8 + 8·100 = 1,312
const _: () = assert!(Cifar100Light::<3>::MACS == 894_976 * 3 + 1_312);

network! {
    /// A user's network: the rank `R` and the width `F` are const parameters, a strided
    /// `valid` light_conv and a flatten exercise the resolution rules.
    Strided<const R: usize, const F: usize> = input(3, 32, 32)
        -> light_conv(8, k = R, stride = 2, padding = valid) -> bn -> relu
        -> conv(F, kernel = 1) -> max_pool(2)
        -> global_avg_pool -> dense(10)
}

// Strided<R, F>:
//   light_conv 3→8, k = R: first 3×3 conv stride 2 `valid`: 32×32 → 15×15 (⌊(32 − 3) / 2⌋ + 1),
//     9·3·R·225 = 6,075·R; second 3×3 stride 1 `valid`: 15×15 → 13×13, 9·R·8·169 = 12,168·R
//   conv 8→F, 1×1, at 13×13: 8·F·169 = 1,352·F
//   max_pool, global_avg_pool: not counted; dense F→10: 10·F
//   total: 18,243·R + 1,362·F
const _: () = assert!(Strided::<2, 4>::MACS == 18_243 * 2 + 1_362 * 4);
const _: () = assert!(Strided::<1, 16>::MACS == 18_243 + 1_362 * 16);

fn dfdx_agrees<N: Network>() {
    let dev = Cpu::default();
    let model = N::try_build::<f32, Cpu>(&dev).unwrap();
    assert_eq!(
        model.num_trainable_params(),
        N::TRAINABLE_PARAMS,
        "{}: dfdx counts {} trainable parameters",
        N::NAME,
        model.num_trainable_params()
    );
    let summary = N::summary();
    assert_eq!(summary.total(), N::PARAMS);
    assert_eq!(
        summary.rows.iter().map(|r| r.params).sum::<usize>(),
        N::PARAMS,
        "{summary}"
    );
    assert_eq!(summary.macs(), N::MACS, "{summary}");
}

#[test]
fn dfdx_counts_the_trainable_parameters_of_every_family() {
    dfdx_agrees::<MnistConv>();
    dfdx_agrees::<MnistSeparable>();
    dfdx_agrees::<MnistLight<1>>();
    dfdx_agrees::<MnistLight<6>>();
    dfdx_agrees::<FashionMnistConv>();
    dfdx_agrees::<FashionMnistSeparable>();
    dfdx_agrees::<FashionMnistLight<3>>();
    dfdx_agrees::<Cifar10Conv>();
    dfdx_agrees::<Cifar10Separable>();
    dfdx_agrees::<Cifar10Light<1>>();
    dfdx_agrees::<Cifar10Light<5>>();
    dfdx_agrees::<Cifar100Conv>();
    dfdx_agrees::<Cifar100Separable>();
    dfdx_agrees::<Cifar100Light<5>>();
    dfdx_agrees::<Strided<2, 4>>();
}

#[test]
fn non_trainable_parameters_are_the_batch_norm_statistics() {
    // MNIST: six batch norms over 8, 8, 16, 16, 32, 32 channels, 2 moving statistics each
    assert_eq!(
        MnistConv::NON_TRAINABLE_PARAMS,
        2 * (8 + 8 + 16 + 16 + 32 + 32)
    );
    assert_eq!(
        MnistLight::<3>::NON_TRAINABLE_PARAMS,
        MnistConv::NON_TRAINABLE_PARAMS
    );
    // CIFAR: three batch norms per block over 16, 32, 64 channels
    assert_eq!(Cifar10Conv::NON_TRAINABLE_PARAMS, 2 * 3 * (16 + 32 + 64));
}

#[test]
fn summary_lists_layers_with_shapes() {
    let text = MnistLight::<3>::summary().to_string();
    assert!(text.contains("Model: \"MnistLight<K = 3>\""), "{text}");
    assert!(text.contains("light_conv_1 (LightConv2D)"), "{text}");
    assert!(text.contains("(None, 8, 28, 28)"), "{text}");
    assert!(text.contains("max_pool_3 (MaxPool2D)"), "{text}");
    assert!(text.contains("(None, 32, 3, 3)"), "{text}");
    assert!(text.contains("Total params: 6,135"), "{text}");
    // the first light_conv: 63,504·K for K = 3 (see the MACS assertions above)
    let first = text.lines().find(|l| l.starts_with("light_conv_1 "));
    assert!(first.is_some_and(|l| l.ends_with(" 190,512")), "{text}");
    assert!(
        text.contains("MACs per image (forward, convolutions and dense layers): 974,064"),
        "{text}"
    );
    let cifar = Cifar10Conv::summary().to_string();
    assert!(cifar.contains("add_1 (Add)"), "{cifar}");
}
