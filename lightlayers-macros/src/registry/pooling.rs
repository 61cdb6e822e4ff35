//! `max_pool`, `global_avg_pool` and `flatten`: the layers that shrink feature maps, the last
//! two down to vectors.

use proc_macro2::TokenStream;
use quote::quote;

use super::{LayerDef, NONE};
use crate::checks::{Checked, Shape, ShapeCx};
use crate::expand::Forward;
use crate::model::{Dim, Layer, Param, ParamKind, Signature};

/// `max_pool(P)`: P×P windows with stride P (Keras's MaxPooling2D; P = 2 by default).
pub const MAX_POOL: LayerDef = LayerDef {
    signature: Signature {
        layer: "max_pool",
        params: &[Param::positional("size", ParamKind::Literal, "the pool size").default("2")],
        factorized: None,
    },
    aliases: &["maxpooling"],
    kind: "MaxPool2D",
    row: "max_pool",
    shape: max_pool_shape,
    stage: Some(max_pool_stage),
    ..NONE
};

/// `global_avg_pool`: the mean of each feature map.
pub const GLOBAL_AVG_POOL: LayerDef = LayerDef {
    signature: Signature {
        layer: "global_avg_pool",
        params: &[],
        factorized: None,
    },
    aliases: &["globalaveragepooling", "adaptiveavgpool", "gap"],
    kind: "GlobalAvgPool2D",
    row: "global_avg_pool",
    shape: global_avg_pool_shape,
    step: Some(global_avg_pool_step),
    ..NONE
};

/// `flatten`: feature maps as one vector, channel-major.
pub const FLATTEN: LayerDef = LayerDef {
    signature: Signature {
        layer: "flatten",
        params: &[],
        factorized: None,
    },
    kind: "Flatten",
    row: "flatten",
    shape: flatten_shape,
    step: Some(flatten_step),
    ..NONE
};

fn max_pool_shape(cx: &mut ShapeCx, layer: &Layer, input: &Shape) -> Option<Shape> {
    let (c, h, w) = cx.map(layer, input)?;
    let s = layer.args.literal("size").value;
    let (oh, ow) = (h / s, w / s);
    if oh == 0 || ow == 0 {
        return cx.fail(
            layer,
            format!(
                "`max_pool({s})` on a {h}×{w} map leaves nothing ({oh}×{ow}): remove a pooling or use a smaller window"
            ),
        );
    }
    Some(Shape::Map { c, h: oh, w: ow })
}

fn max_pool_stage(f: &Forward, layer: &Checked) -> TokenStream {
    let stage = f.paths.stage();
    let size = layer.layer.args.literal("size").value;
    quote!(stages.push(#stage::MaxPool(#size));)
}

fn global_avg_pool_shape(cx: &mut ShapeCx, layer: &Layer, input: &Shape) -> Option<Shape> {
    let (c, _, _) = cx.map(layer, input)?;
    Some(Shape::Vector { n: c })
}

fn global_avg_pool_step(f: &Forward, _: &Checked) -> TokenStream {
    let (dfdx, out) = (&f.paths.dfdx, &f.out);
    quote! {
        let x: #out = #dfdx::tensor_ops::MeanTo::try_mean::<_, #dfdx::shapes::Axes2<2, 3>>(x)?;
    }
}

fn flatten_shape(cx: &mut ShapeCx, layer: &Layer, input: &Shape) -> Option<Shape> {
    let (c, h, w) = cx.map(layer, input)?;
    match c.literal() {
        Some(c) => Some(Shape::Vector {
            n: Dim::Lit(c * h * w, layer.span),
        }),
        None => cx.fail(
            layer,
            format!(
                "`flatten` needs the channel count while the macro expands, but it is the parameter `{c}`: use `global_avg_pool`, or give the last convolution a literal number of filters"
            ),
        ),
    }
}

fn flatten_step(f: &Forward, layer: &Checked) -> TokenStream {
    let (dfdx, out) = (&f.paths.dfdx, &f.out);
    let n = layer.output.channels().const_type(dfdx);
    quote! {
        let x: #out = {
            let batch = #dfdx::shapes::HasShape::shape(&x).0;
            #dfdx::tensor_ops::ReshapeTo::try_reshape_like(x, &(batch, <#n as ::core::default::Default>::default()))?
        };
    }
}
