//! `residual(MAIN, shortcut: SHORTCUT)`: the sum of two branches (the identity when the
//! shortcut is left out).

use proc_macro2::TokenStream;
use quote::quote;

use super::{LayerDef, NONE};
use crate::checks::{Checked, Shape, ShapeCx};
use crate::expand::{stages, Forward};
use crate::model::{Layer, Param, ParamKind, Signature};

/// `residual(MAIN, shortcut: SHORTCUT)`: Keras's Add of two branches of the same input.
pub const RESIDUAL: LayerDef = LayerDef {
    signature: Signature {
        layer: "residual",
        params: &[
            Param::positional("main", ParamKind::Chain, "the main branch").required(
                "needs its main branch: `residual(conv(8) -> bn, shortcut: conv(8, kernel = 1))`",
            ),
            Param::labelled("shortcut", "the shortcut"),
        ],
        factorized: None,
    },
    aliases: &["add"],
    kind: "Add",
    row: "add",
    shape: residual_shape,
    stage: Some(residual_stage),
    ..NONE
};

fn residual_shape(cx: &mut ShapeCx, layer: &Layer, input: &Shape) -> Option<Shape> {
    // branches run fused with the layers around them, on feature maps
    cx.map(layer, input)?;
    let identity = layer.args.chain("shortcut").is_empty();
    let main_out = cx.branch(layer.args.chain("main"), input);
    let short_out = cx.branch(layer.args.chain("shortcut"), input);
    let (main_out, short_out) = main_out.zip(short_out)?;
    if main_out.same_as(&short_out) {
        return Some(main_out);
    }
    let what = if identity {
        "the identity shortcut"
    } else {
        "the shortcut"
    };
    let channels = if main_out.channels().same_as(short_out.channels()) {
        ""
    } else {
        " (channels differ)"
    };
    let help = match projection(input, &main_out) {
        Some(p) if identity => {
            format!("; project the input to match: `residual(..., shortcut: {p})`")
        }
        _ => String::new(),
    };
    cx.fail(
        layer,
        format!(
            "residual branches disagree{channels}: the main branch gives {main_out} but {what} gives {short_out}{help}"
        ),
    )
}

/// The 1×1 convolution that turns `input` into `output` (a residual's usual shortcut), if
/// one can: same-padded, so a side `n` becomes ⌈n / stride⌉.
fn projection(input: &Shape, output: &Shape) -> Option<String> {
    let (Shape::Map { h, w, .. }, Shape::Map { c, h: oh, w: ow }) = (input, output) else {
        return None;
    };
    let stride = (1..=*h.max(w)).find(|s| h.div_ceil(*s) == *oh && w.div_ceil(*s) == *ow)?;
    Some(if stride == 1 {
        format!("conv({c}, kernel = 1)")
    } else {
        format!("conv({c}, kernel = 1, stride = {stride})")
    })
}

/// A residual stage holding the stages of both branches.
fn residual_stage(f: &Forward, layer: &Checked) -> TokenStream {
    let (private, stage) = (&f.paths.private, f.paths.stage());
    let main = stages(f.paths, &layer.branches[0], f.mode);
    let shortcut = stages(f.paths, &layer.branches[1], f.mode);
    quote! {
        stages.push(#stage::Residual {
            main: { let mut stages = #private::vec![]; #main stages },
            shortcut: { let mut stages = #private::vec![]; #shortcut stages },
        });
    }
}
