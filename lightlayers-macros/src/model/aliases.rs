//! Finding the DSL's layer behind another library's name (`Conv2D`, `BatchNormalization`,
//! `Linear`...) or another casing, so that an "unknown layer" error can name the DSL's own
//! spelling: such names are too far from it in edit distance for a typo hint to find. Each
//! layer lists its aliases in the registry.

use crate::registry;

/// Lower case, without underscores and without a `1d`/`2d` suffix: `MaxPool2d` → `maxpool`.
pub fn normalize(name: &str) -> String {
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

/// The layer that `name` is another library's (or casing's) spelling of.
pub fn layer_alias(name: &str) -> Option<&'static str> {
    let name = normalize(name);
    registry::LAYERS
        .iter()
        .find(|def| normalize(def.signature.layer) == name)
        .or_else(|| {
            registry::LAYERS
                .iter()
                .find(|def| def.aliases.contains(&name.as_str()))
        })
        .map(|def| def.signature.layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_other_libraries_names() {
        assert_eq!(layer_alias("Conv2D"), Some("conv"));
        assert_eq!(layer_alias("SeparableConv2D"), Some("separable_conv"));
        assert_eq!(layer_alias("batch_norm"), Some("bn"));
        assert_eq!(layer_alias("BatchNorm2d"), Some("bn"));
        assert_eq!(layer_alias("maxpool2d"), Some("max_pool"));
        assert_eq!(layer_alias("LightDense"), Some("light_dense"));
        assert_eq!(layer_alias("linear"), Some("dense"));
        assert_eq!(
            layer_alias("GlobalAveragePooling2D"),
            Some("global_avg_pool")
        );
        assert_eq!(layer_alias("Add"), Some("residual"));
        assert_eq!(layer_alias("dropout"), None);
        assert_eq!(layer_alias("2d"), None);
    }
}
