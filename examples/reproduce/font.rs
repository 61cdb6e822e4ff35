//! The charts' font, compiled in (DejaVu Sans from the `dejavu` crate, under the Bitstream
//! Vera / DejaVu licence that allows bundling), so charts render the same on a machine with
//! no system fonts and no network.

use std::sync::OnceLock;

use plotters::style::{register_font, FontStyle};

/// The family name charts ask for.
pub const FAMILY: &str = "sans-serif";

/// Registers the font with plotters, once per process; an error if its bytes do not parse.
pub fn ensure_registered() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the embedded DejaVu Sans font does not parse".to_string())
        })
        .clone()
}
