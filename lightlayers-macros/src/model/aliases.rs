//! The names Keras and PyTorch give our layers (`Conv2D`, `BatchNormalization`, `Linear`...),
//! so that an "unknown layer" error can name the DSL's own spelling: they are too far from it
//! in edit distance for a typo hint to find.

/// Spellings of other libraries, after [`normalize`], and the DSL's layer for each.
const ALIASES: &[(&str, &str)] = &[
    ("batchnorm", "bn"),
    ("batchnormalization", "bn"),
    ("linear", "dense"),
    ("fc", "dense"),
    ("fullyconnected", "dense"),
    ("maxpooling", "max_pool"),
    ("globalaveragepooling", "global_avg_pool"),
    ("adaptiveavgpool", "global_avg_pool"),
    ("gap", "global_avg_pool"),
    ("separableconvolution", "separable_conv"),
    ("sepconv", "separable_conv"),
    ("convolution", "conv"),
    ("add", "residual"),
];

/// Lower case, without underscores and without a `1d`/`2d` suffix: `MaxPool2d` → `maxpool`.
fn normalize(name: &str) -> String {
    let flat: String = name
        .chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match flat.strip_suffix("2d").or_else(|| flat.strip_suffix("1d")) {
        Some(stem) if !stem.is_empty() => stem.to_string(),
        _ => flat,
    }
}

/// The layer of `layers` that `name` is another library's (or casing's) spelling of.
pub fn layer_alias(name: &str, layers: &[&'static str]) -> Option<&'static str> {
    let name = normalize(name);
    layers
        .iter()
        .copied()
        .find(|layer| normalize(layer) == name)
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, _)| *alias == name)
                .map(|(_, layer)| *layer)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYERS: &[&str] = &["conv", "separable_conv", "bn", "max_pool", "light_dense"];

    #[test]
    fn maps_other_libraries_names() {
        assert_eq!(layer_alias("Conv2D", LAYERS), Some("conv"));
        assert_eq!(
            layer_alias("SeparableConv2D", LAYERS),
            Some("separable_conv")
        );
        assert_eq!(layer_alias("batch_norm", LAYERS), Some("bn"));
        assert_eq!(layer_alias("BatchNorm2d", LAYERS), Some("bn"));
        assert_eq!(layer_alias("maxpool2d", LAYERS), Some("max_pool"));
        assert_eq!(layer_alias("LightDense", LAYERS), Some("light_dense"));
        assert_eq!(layer_alias("linear", LAYERS), Some("dense"));
        assert_eq!(layer_alias("dropout", LAYERS), None);
        assert_eq!(layer_alias("2d", LAYERS), None);
    }
}
