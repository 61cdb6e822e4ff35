//! Which of the paper's models to run and on which device: the command-line choices shared
//! by the training examples and `bench`, and the two macros that turn them into a call of a
//! function generic over the network and the device.

use clap::ValueEnum;

/// Which convolution the model is built from (one row family of the paper's tables).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Variant {
    /// Ordinary Conv2D layers and a Dense head.
    Conv,
    /// SeparableConv2D layers and a Dense head.
    Separable,
    /// LightConv2D layers of rank k and a LightDense head.
    Light,
}

/// Where to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceKind {
    /// The CPU (every build).
    Cpu,
    /// The first NVIDIA GPU (builds with `--features cuda`).
    Cuda,
}

/// Why `--device cuda` fails in a build without the `cuda` feature.
#[cfg(not(feature = "cuda"))]
pub const NO_CUDA: &str =
    "this build has no CUDA support: rebuild with `--features cuda` (needs the CUDA toolkit)";

/// Calls `$run::<Model>(args…)` for the model a variant and rank name: `$conv`, `$separable`,
/// or `$light<k>` for k in 1..=6 (an error message otherwise). `$run` returns
/// `Result<_, String>`.
macro_rules! for_model {
    ($variant:expr, $k:expr, $conv:ty, $separable:ty, $light:ident,
     $($run:ident)::+($($arg:expr),* $(,)?)) => {{
        use $crate::common::choice::Variant;
        match ($variant, $k) {
            (Variant::Conv, _) => $($run)::+::<$conv>($($arg),*),
            (Variant::Separable, _) => $($run)::+::<$separable>($($arg),*),
            (Variant::Light, 1) => $($run)::+::<$light<1>>($($arg),*),
            (Variant::Light, 2) => $($run)::+::<$light<2>>($($arg),*),
            (Variant::Light, 3) => $($run)::+::<$light<3>>($($arg),*),
            (Variant::Light, 4) => $($run)::+::<$light<4>>($($arg),*),
            (Variant::Light, 5) => $($run)::+::<$light<5>>($($arg),*),
            (Variant::Light, 6) => $($run)::+::<$light<6>>($($arg),*),
            (Variant::Light, k) => Err(format!("--k {k} is outside 1..=6")),
        }
    }};
}
pub(crate) use for_model;

/// Calls `$run::<N, Device>(device, args…)` on the device `$device` names, seeded with
/// `$seed`; an error message when it cannot be used (or this build lacks CUDA). `$run`
/// returns `Result<_, String>`.
macro_rules! on_device {
    ($device:expr, $seed:expr, $run:ident::<$n:ty>($($arg:expr),* $(,)?)) => {{
        use $crate::common::choice::DeviceKind;
        match $device {
            DeviceKind::Cpu => {
                $run::<$n, dfdx::tensor::Cpu>(dfdx::tensor::Cpu::seed_from_u64($seed), $($arg),*)
            }
            #[cfg(feature = "cuda")]
            DeviceKind::Cuda => match dfdx::tensor::Cuda::try_seed_from_u64($seed) {
                Ok(dev) => $run::<$n, dfdx::tensor::Cuda>(dev, $($arg),*),
                Err(e) => Err(format!("cannot use the CUDA device: {e}")),
            },
            #[cfg(not(feature = "cuda"))]
            DeviceKind::Cuda => Err($crate::common::choice::NO_CUDA.to_string()),
        }
    }};
}
pub(crate) use on_device;
