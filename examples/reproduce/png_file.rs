//! The charts' PNG files: plotters draws into an RGB buffer and the `png` crate encodes it.
//! (plotters' own PNG writer would bring in the whole `image` crate, decoders included, for
//! this one call.)

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// An RGB canvas of `size` pixels, for plotters' `BitMapBackend::with_buffer`.
pub fn canvas((width, height): (u32, u32)) -> Vec<u8> {
    vec![0; width as usize * height as usize * 3]
}

/// Writes `pixels`, a [`canvas`] of `size` plotters has drawn on, to `path` as an 8-bit RGB PNG.
pub fn write(path: &Path, (width, height): (u32, u32), pixels: &[u8]) -> Result<(), String> {
    let error = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = File::create(path).map_err(|e| error(&e))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Best);
    let mut writer = encoder.write_header().map_err(|e| error(&e))?;
    writer.write_image_data(pixels).map_err(|e| error(&e))?;
    writer.finish().map_err(|e| error(&e))
}

#[cfg(test)]
mod tests {
    use plotters::prelude::*;

    use super::*;

    #[test]
    fn a_drawn_canvas_becomes_a_png_of_its_size() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("c.png");
        let size = (4, 3);
        let mut pixels = canvas(size);
        {
            let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
            root.fill(&RED).unwrap();
            root.present().unwrap();
        }
        write(&path, size, &pixels).unwrap();
        let decoder = png::Decoder::new(File::open(&path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut back = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut back).unwrap();
        assert_eq!((info.width, info.height), size);
        assert_eq!(&back[..3], &[255, 0, 0]);
        assert!(write(&dir.path().join("no/such/dir.png"), size, &pixels).is_err());
    }
}
