//! The register-tiled kernel `ShiftedConv` runs for `f32` on AVX-512: every kernel tap is read
//! straight from one zero-padded plane per channel (see `padded_grid`), so the image is copied
//! once instead of KW times, nothing is packed, and a tile's accumulators stay in registers
//! over all channels and taps instead of being stored and reloaded once per kernel row. The
//! tile's valid lanes (those on an output column) are compressed and stored straight into the
//! output planes, so the grid's extra columns never reach memory.
//!
//! A tile is up to [`VECTORS`] vectors of 16 consecutive grid positions × up to [`FILTERS`]
//! filters: 24 accumulators, leaving registers for the pixels loaded and the weight
//! broadcast. Per tap and channel it loads three vectors and eight weights for 24 FMAs,
//! enough to keep both FMA pipes busy.

#[cfg(target_arch = "x86_64")]
use super::simd::{detected, Detected};

/// Grid positions per vector.
pub(crate) const LANES: usize = 16;
/// Vectors of grid positions per tile.
const VECTORS: usize = 3;
/// Filters per tile.
const FILTERS: usize = 8;

/// One convolution's sizes as the kernel sees them.
pub struct TapLayout<'a> {
    /// Input channels: one padded plane each.
    pub(crate) channels: usize,
    /// Output channels: one grid each.
    pub(crate) filters: usize,
    /// Elements of one padded plane.
    pub(crate) plane: usize,
    /// Elements of one output grid, a multiple of [`LANES`].
    pub(crate) grid: usize,
    /// Offset of each kernel tap in a plane, in the weights' tap order.
    pub(crate) taps: &'a [usize],
    /// Elements of one output plane (OH×OW).
    pub(crate) out_area: usize,
    /// Where each vector of grid positions goes in an output plane.
    pub(crate) stores: &'a [VectorStore],
}

/// Where one vector of [`LANES`] grid positions goes in an output plane: its valid lanes, those
/// on an output column, to consecutive elements from `first`.
#[derive(Debug, Clone, Copy)]
pub struct VectorStore {
    valid: u16,
    first: usize,
}

/// The [`VectorStore`] of each vector of a grid of `grid` positions (a multiple of [`LANES`])
/// with rows of `row`, of which the first `out_h` rows' first `out_w` columns are the output.
pub(crate) fn vector_stores(
    grid: usize,
    row: usize,
    out_h: usize,
    out_w: usize,
) -> Vec<VectorStore> {
    let mut first = 0;
    (0..grid / LANES)
        .map(|v| {
            let valid = (0..LANES)
                .filter(|&l| {
                    let q = v * LANES + l;
                    q < out_h * row && q % row < out_w
                })
                .fold(0u16, |mask, l| mask | 1 << l);
            let store = VectorStore { valid, first };
            first += valid.count_ones() as usize;
            store
        })
        .collect()
}

/// The kernel's signature, so that generic code can hold it for `f32` (and nothing for `f64`):
/// layout, planes, packed weights, whether to add to the output, output.
pub type TapConvolve<E> = fn(&TapLayout, &[E], &[E], bool, &mut [E]);

/// The kernel, when this CPU has AVX-512.
pub(crate) fn for_f32() -> Option<TapConvolve<f32>> {
    #[cfg(target_arch = "x86_64")]
    if detected() == Detected::Avx512 {
        return Some(convolve);
    }
    None
}

/// The filter blocks of `filters` output channels: (first filter, block size).
fn filter_blocks(filters: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..filters)
        .step_by(FILTERS)
        .map(move |f0| (f0, FILTERS.min(filters - f0)))
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
    for (f0, n) in filter_blocks(filters) {
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
/// `accumulate`) for every output position `p` of every filter `f`, `q` its grid position,
/// with `weights` packed by [`pack`].
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
        grid,
        taps,
        out_area,
        stores,
    } = *layout;
    assert_eq!(detected(), Detected::Avx512, "tap kernel: needs AVX-512");
    assert_eq!(grid % LANES, 0, "tap kernel: grid of whole vectors");
    let reach = taps.iter().max().copied().unwrap_or(0);
    assert!(
        grid + reach <= plane,
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
    assert_eq!(
        stores.len(),
        grid / LANES,
        "tap kernel: one store per vector"
    );
    assert!(
        stores
            .iter()
            .all(|s| s.first + s.valid.count_ones() as usize <= out_area),
        "tap kernel: stores past the output plane"
    );
    // SAFETY: AVX-512F is present (asserted above), the one requirement of the
    // `target_feature` function; its memory accesses are bounded by the lengths asserted
    // above (see `convolve_avx512`).
    unsafe { convolve_avx512(layout, planes, weights, accumulate, out) }
}

#[cfg(target_arch = "x86_64")]
/// [`convolve`] on checked arguments: `grid` a multiple of [`LANES`], every tap's read of a
/// whole grid inside a plane, every store inside an output plane, `planes`, `weights` and
/// `out` at least as long as the layout.
#[target_feature(enable = "avx512f")]
unsafe fn convolve_avx512(
    layout: &TapLayout,
    planes: &[f32],
    weights: &[f32],
    accumulate: bool,
    out: &mut [f32],
) {
    let vectors = layout.grid / LANES;
    let per_filter = layout.channels * layout.taps.len();
    for (f0, n) in filter_blocks(layout.filters) {
        let w = &weights[f0 * per_filter..][..n * per_filter];
        let mut v = 0;
        while v < vectors {
            let p = (vectors - v).min(VECTORS);
            let x = &planes[v * LANES..];
            let y = &mut out[f0 * layout.out_area..];
            let stores = &layout.stores[v..v + p];
            macro_rules! tile {
                ($($p:literal, $n:literal);*) => {
                    match (p, n) {
                        // SAFETY: the block's weights are `n · C · T` elements; tile `v..v + p`
                        // ends inside the grid, so each channel's reads end within `grid +
                        // max tap ≤ plane` of its plane's start; its stores are inside an
                        // output plane, and `y` holds the block's `n` planes.
                        $(($p, $n) => unsafe { tile::<$p, $n>(layout, x, w, stores, accumulate, y) },)*
                        _ => unreachable!("tile sizes are 1..=VECTORS × 1..=FILTERS"),
                    }
                };
            }
            tile!(1, 1; 1, 2; 1, 3; 1, 4; 1, 5; 1, 6; 1, 7; 1, 8;
                  2, 1; 2, 2; 2, 3; 2, 4; 2, 5; 2, 6; 2, 7; 2, 8;
                  3, 1; 3, 2; 3, 3; 3, 4; 3, 5; 3, 6; 3, 7; 3, 8);
            v += p;
        }
    }
}

#[cfg(target_arch = "x86_64")]
/// One tile: `P` vectors of grid positions from the start of `x` (plane 0; plane `c` is
/// `c · plane` further) × `N` filters whose packed weights start `w`, stored by `stores` (one
/// per vector) into `y` (filter `j`'s plane at `j · out_area`). The caller guarantees that
/// every access below is in bounds.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const P: usize, const N: usize>(
    layout: &TapLayout,
    x: &[f32],
    w: &[f32],
    stores: &[VectorStore],
    accumulate: bool,
    y: &mut [f32],
) {
    use std::arch::x86_64::{
        __m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps,
        _mm512_maskz_compress_ps, _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    };
    let (x, mut w, y) = (x.as_ptr(), w.as_ptr(), y.as_mut_ptr());
    let mut acc = [[_mm512_setzero_ps(); P]; N];
    for c in 0..layout.channels {
        // SAFETY (this and the reads below): in bounds by the caller's guarantee.
        let xc = unsafe { x.add(c * layout.plane) };
        for &tap in layout.taps {
            let mut xs = [_mm512_setzero_ps(); P];
            for (p, xs) in xs.iter_mut().enumerate() {
                *xs = unsafe { _mm512_loadu_ps(xc.add(tap + p * LANES)) };
            }
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
        for (&acc, store) in acc.iter().zip(stores) {
            let count = store.valid.count_ones();
            if count == 0 {
                continue;
            }
            let packed = _mm512_maskz_compress_ps(store.valid, acc);
            let first = ((1u32 << count) - 1) as u16;
            // SAFETY: the `count` elements from `first` are inside filter `j`'s output
            // plane, by the caller's guarantee; masked-off lanes are not accessed.
            unsafe {
                let dst = y.add(j * layout.out_area + store.first);
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
