//! `conv`, `separable_conv` and `light_conv`: the three convolutions the paper compares, which
//! share their arguments and shape rule.

use proc_macro2::TokenStream;
use quote::quote;

use super::{LayerDef, NONE};
use crate::checks::{Checked, Shape, ShapeCx};
use crate::expand::{Forward, Paths};
use crate::model::{error_with_origin, Layer, Padding, Param, ParamKind, Signature};

const FILTERS: Param = Param::positional("filters", ParamKind::Size, "the number of filters")
    .required("needs the number of filters, e.g. `{layer}(8)`");
const KERNEL: Param = Param::named("kernel", ParamKind::Literal, "the kernel size").default("3");
const STRIDE: Param = Param::named("stride", ParamKind::Literal, "the stride").default("1");
const PADDING: Param = Param::named("padding", ParamKind::Padding, "the padding").default("same");

const LIGHT_CONV_SIGNATURE: Signature = Signature {
    layer: "light_conv",
    params: &[
        FILTERS,
        Param::named("k", ParamKind::Size, "the rank `k`")
            .required("needs its rank `k`, e.g. `light_conv(8, k = 2)`"),
        KERNEL,
        STRIDE,
        PADDING,
        Param::named("l2", ParamKind::Float, "`l2`"),
    ],
    factorized: None,
};

/// `conv(F, kernel = 3, stride = 1, padding = same)`: Keras's Conv2D.
pub const CONV: LayerDef = LayerDef {
    signature: Signature {
        layer: "conv",
        params: &[FILTERS, KERNEL, STRIDE, PADDING],
        factorized: Some(&LIGHT_CONV_SIGNATURE),
    },
    aliases: &["convolution"],
    kind: "Conv2D",
    row: "conv",
    shape: conv_shape,
    generics: Some(conv_generics),
    stage: Some(push_stages),
    ..NONE
};

/// `separable_conv(F, ...)`: Keras's SeparableConv2D (depthwise K×K, then pointwise 1×1).
pub const SEPARABLE_CONV: LayerDef = LayerDef {
    signature: Signature {
        layer: "separable_conv",
        params: &[FILTERS, KERNEL, STRIDE, PADDING],
        factorized: Some(&LIGHT_CONV_SIGNATURE),
    },
    aliases: &["separableconvolution", "sepconv"],
    kind: "SeparableConv2D",
    row: "separable_conv",
    ..CONV
};

/// `light_conv(F, k = R, ..., l2 = 1e-4)`: the paper's LightConv2D, two K×K convolutions
/// through `k` channels, the first with the stride.
pub const LIGHT_CONV: LayerDef = LayerDef {
    signature: LIGHT_CONV_SIGNATURE,
    aliases: &[],
    kind: "LightConv2D",
    row: "light_conv",
    shape: light_conv_shape,
    generics: Some(light_conv_generics),
    penalty: true,
    configure: Some(explicit_l2),
    ..CONV
};

/// Output side of a convolution, `None` when a `valid` kernel does not fit.
fn output_side(input: usize, kernel: usize, stride: usize, padding: Padding) -> Option<usize> {
    match padding {
        Padding::Same => Some(input.div_ceil(stride)),
        Padding::Valid => (input >= kernel).then(|| (input - kernel) / stride + 1),
    }
}

fn conv_shape(cx: &mut ShapeCx, layer: &Layer, input: &Shape) -> Option<Shape> {
    let (_, h, w) = cx.map(layer, input)?;
    let args = &layer.args;
    let (kernel, stride, padding) = (
        args.literal("kernel"),
        args.literal("stride").value,
        args.padding("padding"),
    );
    let k = kernel.value;
    if padding == Padding::Same && k % 2 == 0 {
        cx.report(error_with_origin(
            kernel.span,
            &layer.origin,
            format!(
                "even kernel {k}×{k} with `same` padding (the default): the zeros would go unevenly on one side; use an odd kernel or `padding = valid`"
            ),
        ));
        return None;
    }
    let side = |n: usize| output_side(n, k, stride, padding);
    let (Some(oh), Some(ow)) = (side(h), side(w)) else {
        return cx.fail(
            layer,
            format!(
                "the {k}×{k} kernel with `valid` padding does not fit the {h}×{w} input of `{}`",
                layer.dsl_name()
            ),
        );
    };
    Some(Shape::Map {
        c: args.size("filters").clone(),
        h: oh,
        w: ow,
    })
}

/// The first convolution as [`conv_shape`], then the second with stride 1.
fn light_conv_shape(cx: &mut ShapeCx, layer: &Layer, input: &Shape) -> Option<Shape> {
    let Shape::Map { c, h: fh, w: fw } = conv_shape(cx, layer, input)? else {
        unreachable!("a convolution gives feature maps")
    };
    let Shape::Map { h, w, .. } = input else {
        unreachable!("conv_shape checked the input")
    };
    let (k, padding) = (
        layer.args.literal("kernel").value,
        layer.args.padding("padding"),
    );
    let side = |n: usize| output_side(n, k, 1, padding);
    match (side(fh), side(fw)) {
        (Some(oh), Some(ow)) => Some(Shape::Map { c, h: oh, w: ow }),
        _ => cx.fail(
            layer,
            format!(
                "`light_conv` runs two {k}×{k} convolutions: with `valid` padding the first turns the {h}×{w} input into {fh}×{fw}, which the second does not fit"
            ),
        ),
    }
}

/// `C, F, KS, S, P` of `Conv2D` and `SeparableConv2D`.
fn conv_generics(p: &Paths, layer: &Layer, input: &Shape) -> TokenStream {
    let c = input.channels().expr();
    let f = layer.args.size("filters").expr();
    let rest = kernel_stride_padding(p, layer);
    quote!(#c, #f, #rest)
}

/// `C, F, R, KS, S, P` of `LightConv2D`.
fn light_conv_generics(p: &Paths, layer: &Layer, input: &Shape) -> TokenStream {
    let c = input.channels().expr();
    let f = layer.args.size("filters").expr();
    let r = layer.args.size("k").expr();
    let rest = kernel_stride_padding(p, layer);
    quote!(#c, #f, #r, #rest)
}

fn kernel_stride_padding(p: &Paths, layer: &Layer) -> TokenStream {
    let private = &p.private;
    let k = layer.args.literal("kernel").value;
    let s = layer.args.literal("stride").value;
    let pad = match layer.args.padding("padding") {
        Padding::Same => quote!(#private::Same),
        Padding::Valid => quote!(#private::Valid),
    };
    quote!(#k, #s, #pad)
}

fn push_stages(f: &Forward, _: &Checked) -> TokenStream {
    let field = &f.field;
    quote!(self.#field.push_stages(&mut stages);)
}

fn explicit_l2(layer: &Layer, module: &TokenStream) -> TokenStream {
    match layer.args.float("l2") {
        Some(l2) => quote!(#module.l2 = #l2;),
        None => TokenStream::new(),
    }
}
