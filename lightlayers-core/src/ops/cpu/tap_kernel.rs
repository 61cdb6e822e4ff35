//! The register-tiled kernels `ShiftedConv` runs for `f32` on AVX-512: every kernel tap is
//! read straight from one zero-padded plane per channel (see `padded_grid`), so the image is
//! copied once instead of KW times, nothing is packed, and a tile's accumulators stay in
//! registers over all channels and taps instead of being stored and reloaded once per kernel
//! row.
//!
//! A forward tile is up to [`VECTORS`] vectors of 16 outputs × up to [`FILTERS`] filters: 24
//! accumulators, leaving registers for the pixels loaded and the weight broadcast. Per tap and
//! channel it loads three vectors and eight weights for 24 FMAs, enough to keep both FMA pipes
//! busy. Where the output rows are a multiple of 16 wide, a vector is 16 outputs of one row;
//! where they are 8 wide, two half rows (two half loads per tap); otherwise 16 consecutive
//! positions of the padded grid, whose extra columns are computed and then dropped: the valid
//! lanes are compressed and stored straight into the output planes.

#[cfg(target_arch = "x86_64")]
use super::simd::{detected, Detected};
#[cfg(target_arch = "x86_64")]
use super::winograd;
use super::winograd::{InputTransform, OutputTransform};

/// Outputs (or channels, in the weight gradient) per vector.
pub(crate) const LANES: usize = 16;
/// Half a vector: the outputs of one row in a vector of two 8-wide rows.
const HALF: usize = LANES / 2;
/// Vectors of outputs per tile.
const VECTORS: usize = 3;
/// Filters per tile.
const FILTERS: usize = 8;
/// Filters per weight-gradient tile.
const GRADIENT_FILTERS: usize = 2;
/// Taps per weight-gradient tile.
const GRADIENT_TAPS: usize = 9;

/// One convolution's sizes as the kernels see them.
pub struct TapLayout<'a> {
    /// Input channels: one padded plane each.
    pub(crate) channels: usize,
    /// Output channels.
    pub(crate) filters: usize,
    /// Elements of one padded plane.
    pub(crate) plane: usize,
    /// Elements of one output grid, a multiple of [`LANES`].
    pub(crate) grid: usize,
    /// Elements of one grid row: OW outputs, then the columns the taps overhang.
    pub(crate) row: usize,
    /// Outputs per row (OW): the weight gradient sums over these columns of each grid row
    /// only, skipping the overhang and the rounding up of the grid.
    pub(crate) out_w: usize,
    /// Offset of each kernel tap in a plane, in `[ky][kx]` order.
    pub(crate) taps: &'a [usize],
    /// Taps per kernel row (KW).
    pub(crate) kernel_w: usize,
    /// Elements of one output plane (OH×OW).
    pub(crate) out_area: usize,
    /// The forward's vectors of outputs.
    pub(crate) vectors: &'a [OutputVector],
}

#[cfg(target_arch = "x86_64")]
impl TapLayout<'_> {
    /// How far past a position the taps read: the offset of the last tap.
    fn reach(&self) -> usize {
        self.taps.iter().max().copied().unwrap_or(0)
    }
}

/// One vector of [`LANES`] outputs of the forward: where its two halves read tap (0, 0) in a
/// plane, and its valid lanes, which go to consecutive elements of an output plane from
/// `first`.
#[derive(Debug, Clone, Copy)]
pub struct OutputVector {
    low: usize,
    high: usize,
    valid: u16,
    first: usize,
}

/// The forward's vectors of outputs for an OH×OW output computed on a padded grid of `grid`
/// positions (a multiple of [`LANES`]) with rows of `row` (see the module docs).
pub(crate) fn output_vectors(
    grid: usize,
    row: usize,
    out_h: usize,
    out_w: usize,
) -> Vec<OutputVector> {
    let whole = |low: usize, first: usize| OutputVector {
        low,
        high: low + HALF,
        valid: u16::MAX,
        first,
    };
    if out_w.is_multiple_of(LANES) {
        (0..out_h)
            .flat_map(|oy| (0..out_w).step_by(LANES).map(move |ox| (oy, ox)))
            .map(|(oy, ox)| whole(oy * row + ox, oy * out_w + ox))
            .collect()
    } else if out_w == HALF && out_h.is_multiple_of(2) {
        (0..out_h / 2)
            .map(|j| OutputVector {
                high: (2 * j + 1) * row,
                ..whole(2 * j * row, j * LANES)
            })
            .collect()
    } else {
        let mut first = 0;
        (0..grid / LANES)
            .map(|v| {
                let valid = (0..LANES)
                    .filter(|&l| {
                        let q = v * LANES + l;
                        q < out_h * row && q % row < out_w
                    })
                    .fold(0u16, |mask, l| mask | 1 << l);
                let vector = OutputVector {
                    valid,
                    ..whole(v * LANES, first)
                };
                first += valid.count_ones() as usize;
                vector
            })
            .collect()
    }
}

/// The kernel's signature, so that generic code can hold it for `f32` (and nothing for `f64`):
/// layout, planes, packed weights, whether to add to the output, output.
pub type TapConvolve<E> = fn(&TapLayout, &[E], &[E], bool, &mut [E]);

/// The weight-gradient kernel's signature: layout, the padded image channels-last (plane × C),
/// the output gradient on the grid with zeros in its extra columns (F × grid), the partial
/// weight gradient to add to (`[ky][f][kx][c]`).
pub type TapWeightGradient<E> = fn(&TapLayout, &[E], &[E], &mut [E]);

/// The kernels for one element type, with the transforms of `winograd`, which runs its
/// products on [`convolve`].
#[derive(Clone, Copy)]
pub struct TapKernels<E> {
    pub(crate) convolve: TapConvolve<E>,
    pub(crate) weight_gradient: TapWeightGradient<E>,
    pub(crate) winograd_input: InputTransform<E>,
    pub(crate) winograd_output: OutputTransform<E>,
}

/// The kernels, when this CPU has AVX-512.
pub(crate) fn for_f32() -> Option<TapKernels<f32>> {
    #[cfg(target_arch = "x86_64")]
    if detected() == Detected::Avx512 {
        return Some(TapKernels {
            convolve,
            weight_gradient,
            winograd_input: winograd::input_transform,
            winograd_output: winograd::output_transform,
        });
    }
    None
}

/// `0..len` in blocks of `size`, the last one shorter: (first, length) of each.
fn blocks(len: usize, size: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..len)
        .step_by(size)
        .map(move |first| (first, size.min(len - first)))
}

/// Packs `weight(f, c, tap)` for [`convolve`]: a block of `n` filters from `f0` occupies
/// `[f0·C·T ..][c][tap][n]`, so a tile's weights for one tap are `n` consecutive elements.
pub(crate) fn pack<E: Copy>(
    filters: usize,
    channels: usize,
    taps: usize,
    weight: impl Fn(usize, usize, usize) -> E,
) -> Vec<E> {
    let mut packed = Vec::with_capacity(filters * channels * taps);
    for (f0, n) in blocks(filters, FILTERS) {
        for c in 0..channels {
            for t in 0..taps {
                packed.extend((f0..f0 + n).map(|f| weight(f, c, t)));
            }
        }
    }
    packed
}

#[cfg(target_arch = "x86_64")]
/// `out[f][p] = Σ_c Σ_t weights[f][c][t] · planes[c][q + taps[t]]` (or `+=` when
/// `accumulate`) for every output `p` of every filter `f`, `q` its position in the padded
/// plane, with `weights` packed by [`pack`].
fn convolve(
    layout: &TapLayout,
    planes: &[f32],
    weights: &[f32],
    accumulate: bool,
    out: &mut [f32],
) {
    let TapLayout {
        channels,
        filters,
        plane,
        taps,
        out_area,
        vectors,
        ..
    } = *layout;
    assert_eq!(detected(), Detected::Avx512, "tap kernel: needs AVX-512");
    let reach = layout.reach();
    assert!(
        vectors
            .iter()
            .all(|v| v.low.max(v.high) + HALF + reach <= plane),
        "tap kernel: taps reach past the plane"
    );
    assert!(
        planes.len() >= channels * plane,
        "tap kernel: planes length"
    );
    assert_eq!(
        weights.len(),
        filters * channels * taps.len(),
        "tap kernel: weights length"
    );
    assert_eq!(out.len(), filters * out_area, "tap kernel: output length");
    assert!(
        vectors
            .iter()
            .all(|v| v.first + v.valid.count_ones() as usize <= out_area),
        "tap kernel: stores past the output plane"
    );
    // SAFETY: AVX-512F and DQ are present (asserted above: `detected` checks both), the one
    // requirement of the `target_feature` function; its memory accesses are bounded by the
    // lengths asserted above (see `convolve_avx512`).
    unsafe { convolve_avx512(layout, planes, weights, accumulate, out) }
}

#[cfg(target_arch = "x86_64")]
/// [`convolve`] on checked arguments: every half vector's read of every tap inside a plane,
/// every store inside an output plane, `planes`, `weights` and `out` at least as long as the
/// layout.
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn convolve_avx512(
    layout: &TapLayout,
    planes: &[f32],
    weights: &[f32],
    accumulate: bool,
    out: &mut [f32],
) {
    let per_filter = layout.channels * layout.taps.len();
    let split = layout.vectors.iter().any(|v| v.high != v.low + HALF);
    for (f0, n) in blocks(layout.filters, FILTERS) {
        let w = &weights[f0 * per_filter..][..n * per_filter];
        let y = &mut out[f0 * layout.out_area..];
        for vectors in layout.vectors.chunks(VECTORS) {
            macro_rules! tile {
                ($($p:literal, $n:literal);*) => {
                    match (vectors.len(), n, split) {
                        // SAFETY: the block's weights are `n · C · T` elements; every half
                        // vector's reads end within `plane` of its plane's start, its stores
                        // inside an output plane, and `y` holds the block's `n` planes.
                        $(
                            ($p, $n, false) => unsafe { tile::<$p, $n, false>(layout, planes, w, vectors, accumulate, y) },
                            ($p, $n, true) => unsafe { tile::<$p, $n, true>(layout, planes, w, vectors, accumulate, y) },
                        )*
                        _ => unreachable!("tile sizes are 1..=VECTORS × 1..=FILTERS"),
                    }
                };
            }
            tile!(1, 1; 1, 2; 1, 3; 1, 4; 1, 5; 1, 6; 1, 7; 1, 8;
                  2, 1; 2, 2; 2, 3; 2, 4; 2, 5; 2, 6; 2, 7; 2, 8;
                  3, 1; 3, 2; 3, 3; 3, 4; 3, 5; 3, 6; 3, 7; 3, 8);
        }
    }
}

#[cfg(target_arch = "x86_64")]
/// One tile: the `P` output vectors `vectors` × `N` filters whose packed weights start `w`,
/// reading `x` (plane `c` at `c · plane`), stored into `y` (filter `j`'s plane at
/// `j · out_area`). `SPLIT` loads each vector as two halves (rows 8 wide), else as one. The
/// caller guarantees that every access below is in bounds.
#[target_feature(enable = "avx512f,avx512dq")]
#[inline]
unsafe fn tile<const P: usize, const N: usize, const SPLIT: bool>(
    layout: &TapLayout,
    x: &[f32],
    w: &[f32],
    vectors: &[OutputVector],
    accumulate: bool,
    y: &mut [f32],
) {
    use std::arch::x86_64::{
        __m512, _mm256_loadu_ps, _mm512_add_ps, _mm512_castps256_ps512, _mm512_fmadd_ps,
        _mm512_insertf32x8, _mm512_loadu_ps, _mm512_mask_storeu_ps, _mm512_maskz_compress_ps,
        _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    };
    let (x, mut w, y) = (x.as_ptr(), w.as_ptr(), y.as_mut_ptr());
    let lows: [usize; P] = std::array::from_fn(|p| vectors[p].low);
    let highs: [usize; P] = std::array::from_fn(|p| vectors[p].high);
    let mut acc = [[_mm512_setzero_ps(); P]; N];
    for c in 0..layout.channels {
        // SAFETY (this and the reads below): in bounds by the caller's guarantee.
        let xc = unsafe { x.add(c * layout.plane) };
        for &tap in layout.taps {
            let xt = unsafe { xc.add(tap) };
            let xs: [__m512; P] = std::array::from_fn(|p| unsafe {
                if SPLIT {
                    let low = _mm512_castps256_ps512(_mm256_loadu_ps(xt.add(lows[p])));
                    _mm512_insertf32x8::<1>(low, _mm256_loadu_ps(xt.add(highs[p])))
                } else {
                    _mm512_loadu_ps(xt.add(lows[p]))
                }
            });
            for acc in acc.iter_mut() {
                let weight: __m512 = _mm512_set1_ps(unsafe { *w });
                w = unsafe { w.add(1) };
                for (acc, &xs) in acc.iter_mut().zip(&xs) {
                    *acc = _mm512_fmadd_ps(xs, weight, *acc);
                }
            }
        }
    }
    for (j, acc) in acc.iter().enumerate() {
        for (&acc, vector) in acc.iter().zip(vectors) {
            let count = vector.valid.count_ones();
            if count == 0 {
                continue;
            }
            let packed = if vector.valid == u16::MAX {
                acc
            } else {
                _mm512_maskz_compress_ps(vector.valid, acc)
            };
            let first = ((1u32 << count) - 1) as u16;
            // SAFETY: the `count` elements from `vector.first` are inside filter `j`'s output
            // plane, by the caller's guarantee; masked-off lanes are not accessed.
            unsafe {
                let dst = y.add(j * layout.out_area + vector.first);
                let value = if accumulate {
                    _mm512_add_ps(_mm512_maskz_loadu_ps(first, dst), packed)
                } else {
                    packed
                };
                _mm512_mask_storeu_ps(dst, first, value);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
/// `partial[ky][f][kx][c] += Σ_q dy[f][q] · pixels[q + taps[t]][c]` over the grid positions
/// `q` of outputs (the first OW of each row), `t` the tap (ky, kx): vectors of 16 channels,
/// so no horizontal sums.
fn weight_gradient(layout: &TapLayout, pixels: &[f32], dy: &[f32], partial: &mut [f32]) {
    let TapLayout {
        channels,
        filters,
        plane,
        grid,
        taps,
        kernel_w,
        ..
    } = *layout;
    assert_eq!(detected(), Detected::Avx512, "tap kernel: needs AVX-512");
    assert!(
        grid + layout.reach() <= plane,
        "tap kernel: taps reach past the plane"
    );
    assert!(
        pixels.len() >= plane * channels,
        "tap kernel: pixels length"
    );
    assert!(dy.len() >= filters * grid, "tap kernel: gradient length");
    let (out_w, out_area, row) = (layout.out_w, layout.out_area, layout.row);
    assert!(
        out_w > 0 && out_w <= row && out_area % out_w == 0 && out_area / out_w * row <= grid,
        "tap kernel: output rows inside the grid"
    );
    assert!(
        kernel_w > 0 && taps.len() % kernel_w == 0,
        "tap kernel: whole kernel rows"
    );
    assert_eq!(
        partial.len(),
        filters * channels * taps.len(),
        "tap kernel: partial length"
    );
    // SAFETY: AVX-512F is present (asserted above); the memory accesses are bounded by the
    // lengths asserted above (see `weight_gradient_avx512`).
    unsafe { weight_gradient_avx512(layout, pixels, dy, partial) }
}

#[cfg(target_arch = "x86_64")]
/// [`weight_gradient`] on checked arguments: every tap's read of a whole grid inside the
/// plane, the output rows inside the grid, `pixels`, `dy` and `partial` at least as long as
/// the layout.
#[target_feature(enable = "avx512f")]
unsafe fn weight_gradient_avx512(
    layout: &TapLayout,
    pixels: &[f32],
    dy: &[f32],
    partial: &mut [f32],
) {
    let (channels, filters, taps) = (layout.channels, layout.filters, layout.taps.len());
    for (c0, lanes) in blocks(channels, LANES) {
        let mask = ((1u32 << lanes) - 1) as u16;
        for (f0, n) in blocks(filters, GRADIENT_FILTERS) {
            for (t0, t) in blocks(taps, GRADIENT_TAPS) {
                let at = GradientTile { c0, mask, f0, t0 };
                macro_rules! tile {
                    ($($n:literal, $t:literal);*) => {
                        match (n, t) {
                            // SAFETY: filters `f0..f0 + n` and taps `t0..t0 + t` exist, and
                            // lanes `c0..c0 + lanes` are channels; so every read of a
                            // channel-masked vector ends inside `pixels` (grid + max tap ≤
                            // plane positions of C channels), every broadcast inside `dy`,
                            // and every masked update inside `partial`.
                            $(($n, $t) => unsafe { gradient_tile::<$n, $t>(layout, &at, pixels, dy, partial) },)*
                            _ => unreachable!("tile sizes are 1..=2 filters × 1..=9 taps"),
                        }
                    };
                }
                tile!(1, 1; 1, 2; 1, 3; 1, 4; 1, 5; 1, 6; 1, 7; 1, 8; 1, 9;
                      2, 1; 2, 2; 2, 3; 2, 4; 2, 5; 2, 6; 2, 7; 2, 8; 2, 9);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
/// Where a weight-gradient tile sits: its first channel and the mask of its channels, its
/// first filter and its first tap.
struct GradientTile {
    c0: usize,
    mask: u16,
    f0: usize,
    t0: usize,
}

#[cfg(target_arch = "x86_64")]
/// One weight-gradient tile: `N` filters × `T` taps × the channels of `at.mask`, summed over
/// the whole grid in registers, then added to `partial`. The caller guarantees that every
/// access below is in bounds.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn gradient_tile<const N: usize, const T: usize>(
    layout: &TapLayout,
    at: &GradientTile,
    pixels: &[f32],
    dy: &[f32],
    partial: &mut [f32],
) {
    use std::arch::x86_64::{
        _mm512_add_ps, _mm512_fmadd_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps,
        _mm512_set1_ps, _mm512_setzero_ps,
    };
    let (c, grid) = (layout.channels, layout.grid);
    let offsets: [usize; T] = std::array::from_fn(|t| layout.taps[at.t0 + t] * c + at.c0);
    let (x, d) = (pixels.as_ptr(), dy.as_ptr());
    let mut acc = [[_mm512_setzero_ps(); T]; N];
    for first in (0..layout.out_area / layout.out_w).map(|r| r * layout.row) {
        for q in first..first + layout.out_w {
            // SAFETY (this and the reads below): in bounds by the caller's guarantee.
            let ds: [_; N] =
                std::array::from_fn(|j| _mm512_set1_ps(unsafe { *d.add((at.f0 + j) * grid + q) }));
            let xq = unsafe { x.add(q * c) };
            for (t, &offset) in offsets.iter().enumerate() {
                let xs = unsafe { _mm512_maskz_loadu_ps(at.mask, xq.add(offset)) };
                for (acc, &d) in acc.iter_mut().zip(&ds) {
                    acc[t] = _mm512_fmadd_ps(d, xs, acc[t]);
                }
            }
        }
    }
    let (kw, f) = (layout.kernel_w, layout.filters);
    for (j, acc) in acc.iter().enumerate() {
        for (t, &acc) in acc.iter().enumerate() {
            let (ky, kx) = ((at.t0 + t) / kw, (at.t0 + t) % kw);
            // SAFETY: in bounds by the caller's guarantee; masked-off lanes are not accessed.
            unsafe {
                let dst = partial
                    .as_mut_ptr()
                    .add(((ky * f + at.f0 + j) * kw + kx) * c + at.c0);
                let sum = _mm512_add_ps(_mm512_maskz_loadu_ps(at.mask, dst), acc);
                _mm512_mask_storeu_ps(dst, at.mask, sum);
            }
        }
    }
}
