//! The paper's parameter tables, asserted at compile time, and dfdx's own count of the built
//! models against `TRAINABLE_PARAMS`.

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
    let cifar = Cifar10Conv::summary().to_string();
    assert!(cifar.contains("add_1 (Add)"), "{cifar}");
}
