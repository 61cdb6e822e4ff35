//! Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, 2016) for 3×3 "same" convolutions
//! of stride 1: each 2×2 block of outputs comes from the 4×4 block of input around it through
//! 16 products per channel and filter instead of 36, 2.25 times fewer multiply–adds.
//!
//! A 4×4 input tile `d` becomes `V = Bᵀ d B`, a 3×3 kernel `g` becomes `U = G g Gᵀ` (once per
//! plan), and for each of the 16 transformed points ξ the products
//! `M[ξ][f] = Σ_c U[ξ][f][c] · V[ξ][c]` are a 1×1 convolution over the image's tiles, which the
//! register-tiled tap kernel runs; `Y = Aᵀ M A` turns the 4×4 `M` of a tile into its 2×2
//! outputs. With
//!
//! ```text
//! Bᵀ = [1  0 −1  0]    G = [1    0    0]    Aᵀ = [1 1  1  0]
//!      [0  1  1  0]        [½    ½    ½]         [0 1 −1 −1]
//!      [0 −1  1  0]        [½   −½    ½]
//!      [0  1  0 −1]        [0    0    1]
//! ```
//!
//! the transforms are additions only (the ½ goes into `U`, computed in `f64`). The rounding
//! differs from the direct sum by a few units in the last place per product, which the
//! `ops_oracle` tests bound. The weight gradient stays with the tap kernel (`shifted_conv`).

use std::ops::Range;

use super::tap_kernel::{self, OutputVector, TapKernels, TapLayout};
use crate::ops::geometry::ConvGeometry;
use crate::Element;

/// Transformed points ξ of a 4×4 tile.
const POINTS: usize = 16;
/// Tiles per block (see [`Winograd::block_rows`]).
const BLOCK_TILES: usize = 64;
/// Fewest channels and filters worth the transforms: they cost about as much as the products
/// of a few channels.
const MIN_CHANNELS: usize = 16;

/// The plan of one convolution: sizes, and the transformed kernel packed for the tap kernel.
pub(crate) struct Winograd<E> {
    channels: usize,
    filters: usize,
    /// 2×2 tiles per row of the image.
    tiles_w: usize,
    /// Tiles of one image.
    tiles: usize,
    /// Rows of tiles transformed and multiplied together, so that their `V` and `M` stay in
    /// the core's cache.
    block_rows: usize,
    /// The tiles of a block rounded up to whole vectors: the length of a channel's (filter's)
    /// tiles in `V` (`M`).
    stride: usize,
    kernels: TapKernels<E>,
    /// `U[ξ]` as F × C, packed by [`tap_kernel::pack`], for ξ = 0..16 one after the other.
    weights: Vec<E>,
    /// The tap kernel's output vectors over `stride` tiles.
    vectors: Vec<OutputVector>,
}

impl<E: Element> Winograd<E> {
    /// Whether this method computes `g`: a 3×3 kernel, stride 1, one group, one pixel of
    /// padding on every side, an even height and width (whole tiles) that fills whole vectors
    /// of tiles, and enough channels and filters.
    pub(crate) fn applies(g: &ConvGeometry) -> bool {
        g.stride == 1
            && g.groups == 1
            && (g.kernel_h, g.kernel_w) == (3, 3)
            && (g.pad_top, g.pad_left) == (1, 1)
            && (g.out_h, g.out_w) == (g.in_h, g.in_w)
            && g.in_h.is_multiple_of(2)
            && g.in_w.is_multiple_of(2)
            && g.in_channels >= MIN_CHANNELS
            && g.out_channels >= MIN_CHANNELS
            && whole_vectors(g.in_w / 2)
    }

    /// The plan of `g` (see [`Self::applies`]) with weights `w` (F×C×3×3) on `kernels`.
    pub(crate) fn new(g: &ConvGeometry, w: &[E], kernels: TapKernels<E>) -> Self {
        assert!(Self::applies(g), "winograd: a 3×3 same convolution");
        let (c, f) = (g.in_channels, g.out_channels);
        assert_eq!(w.len(), f * c * 9, "winograd: weight length");
        let transformed: Vec<[E; POINTS]> = w
            .chunks_exact(9)
            .map(|k| transform_kernel(std::array::from_fn(|i| k[i].to_f64_lossless())).map(E::of))
            .collect();
        let weights = (0..POINTS)
            .map(|point| tap_kernel::pack(f, c, 1, |fi, ci, _| transformed[fi * c + ci][point]))
            .collect::<Vec<_>>()
            .concat();
        let tiles_w = g.in_w / 2;
        let tiles = g.in_h / 2 * tiles_w;
        let block_rows = (BLOCK_TILES / tiles_w).clamp(1, g.in_h / 2);
        let stride = (block_rows * tiles_w).next_multiple_of(tap_kernel::LANES);
        Self {
            channels: c,
            filters: f,
            tiles_w,
            tiles,
            block_rows,
            stride,
            kernels,
            weights,
            vectors: tap_kernel::output_vectors(stride, stride, 1, stride),
        }
    }

    /// Elements from one point to the next in `V` (`rows` = C) or `M` (F): one vector more
    /// than the points' tiles, so that the 16 points of a tile do not fall in the same sets
    /// of the cache when C·stride is a multiple of 4 KiB (the paper's models: 16·64, 64·16).
    fn point_stride(&self, rows: usize) -> usize {
        rows * self.stride + tap_kernel::LANES
    }

    /// Scratch elements for [`Self::run`]: `V` and `M`.
    pub(crate) fn scratch_len(&self) -> usize {
        POINTS * (self.point_stride(self.channels) + self.point_stride(self.filters))
    }

    /// `y = w ⋆ x` (or `y += w ⋆ x` when `accumulate`) for one image, `x` C×H×W, `y` F×H×W,
    /// with `scratch` of [`Self::scratch_len`] elements.
    pub(crate) fn run(&self, x: &[E], scratch: &mut [E], accumulate: bool, y: &mut [E]) {
        let (c, f, stride) = (self.channels, self.filters, self.stride);
        let area = self.tiles * 4;
        assert_eq!(x.len(), c * area, "winograd: input length");
        assert_eq!(y.len(), f * area, "winograd: output length");
        let (v_points, m_points) = (self.point_stride(c), self.point_stride(f));
        let (v, rest) = scratch.split_at_mut(POINTS * v_points);
        let m = &mut rest[..POINTS * m_points];
        let layout = TapLayout {
            channels: c,
            filters: f,
            plane: stride,
            grid: stride,
            row: stride,
            out_w: stride,
            taps: &[0],
            kernel_w: 1,
            out_area: stride,
            vectors: &self.vectors,
        };
        let tile_rows = self.tiles / self.tiles_w;
        for first in (0..tile_rows).step_by(self.block_rows) {
            let rows = first..tile_rows.min(first + self.block_rows);
            for (ci, plane) in x.chunks_exact(area).enumerate() {
                let v = &mut v[ci * stride..];
                (self.kernels.winograd_input)(plane, self.tiles_w, rows.clone(), v, v_points);
            }
            // the tiles past the block's in a vector hold what an earlier block left there:
            // their products are computed and never read
            for ((v, u), m) in v
                .chunks_exact(v_points)
                .zip(self.weights.chunks_exact(f * c))
                .zip(m.chunks_exact_mut(m_points))
            {
                (self.kernels.convolve)(&layout, v, u, false, &mut m[..f * stride]);
            }
            for (fi, y) in y.chunks_exact_mut(area).enumerate() {
                let m = &m[fi * stride..];
                let tiles_w = self.tiles_w;
                (self.kernels.winograd_output)(m, m_points, tiles_w, rows.clone(), accumulate, y);
            }
        }
    }
}

/// `U = G g Gᵀ` of a 3×3 kernel `g` (row-major), row-major 4×4.
fn transform_kernel(g: [f64; 9]) -> [f64; POINTS] {
    // G applied to each column of g (4×3), then to each row of the result
    let rows = |a: f64, b: f64, c: f64| [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
    let columns: [[f64; 4]; 3] = std::array::from_fn(|l| rows(g[l], g[3 + l], g[6 + l]));
    let mut u = [0.0; POINTS];
    for a in 0..4 {
        let row = rows(columns[0][a], columns[1][a], columns[2][a]);
        u[a * 4..a * 4 + 4].copy_from_slice(&row);
    }
    u
}

/// The transform of one channel plane into `V` (see [`input_transform`]).
pub type InputTransform<E> = fn(&[E], usize, Range<usize>, &mut [E], usize);
/// The transform of one filter's `M` into its output plane (see [`output_transform`]).
pub type OutputTransform<E> = fn(&[E], usize, usize, Range<usize>, bool, &mut [E]);

/// Tiles per vector.
const LANES: usize = tap_kernel::LANES;
/// Output rows one vector of tiles covers, at most: `rows_per_vector`'s largest.
#[cfg(target_arch = "x86_64")]
const R_MAX: usize = 4;

/// Tile rows per vector for rows `tiles_w` tiles wide: where a row is 4 or 8 tiles (8×8 and
/// 16×16 images), whole rows side by side; else 1 (a vector is 16 tiles of one row).
fn rows_per_vector(tiles_w: usize) -> usize {
    match tiles_w {
        4 => 4,
        8 => 2,
        _ => 1,
    }
}

/// Whether rows `tiles_w` tiles wide fill vectors of tiles with no lane idle: 4 or 8 tiles
/// (packed rows), or a multiple of 16.
fn whole_vectors(tiles_w: usize) -> bool {
    rows_per_vector(tiles_w) > 1 || (tiles_w > 0 && tiles_w.is_multiple_of(LANES))
}

/// Checks the arguments every transform shares: whole tiles in whole vectors (see
/// [`whole_vectors`]), `rows` within the `plane`, and room in `points` for the block's 16
/// points, each whole vector of it, `point_stride` apart.
#[cfg(target_arch = "x86_64")]
fn check_transform(
    plane: usize,
    tiles_w: usize,
    rows: &Range<usize>,
    points: usize,
    point_stride: usize,
) {
    assert_eq!(
        super::simd::detected(),
        super::simd::Detected::Avx512,
        "winograd: needs AVX-512"
    );
    assert!(whole_vectors(tiles_w), "winograd: whole vectors of tiles");
    let width = 2 * tiles_w;
    assert!(plane.is_multiple_of(2 * width), "winograd: whole tiles");
    assert!(rows.end <= plane / (2 * width), "winograd: tile rows");
    let per_vector = rows_per_vector(tiles_w);
    let reach = rows.len().next_multiple_of(per_vector) * tiles_w;
    assert!(point_stride >= reach, "winograd: points overlap");
    assert!(
        points >= (POINTS - 1) * point_stride + reach,
        "winograd: points length"
    );
}

/// `V = Bᵀ d B` for the tiles in tile rows `rows` of one channel `plane` (H × 2·`tiles_w`, H
/// even): point ξ of the block's tile t goes to `v[ξ · point_stride + t]`.
#[cfg(target_arch = "x86_64")]
pub(crate) fn input_transform(
    plane: &[f32],
    tiles_w: usize,
    rows: Range<usize>,
    v: &mut [f32],
    point_stride: usize,
) {
    check_transform(plane.len(), tiles_w, &rows, v.len(), point_stride);
    // SAFETY: AVX-512F is present (asserted), the one requirement of the target-feature
    // function; its accesses are inside `plane` and `v` by the lengths asserted (see there).
    unsafe {
        match rows_per_vector(tiles_w) {
            4 => input_transform_avx512::<4>(plane, tiles_w, rows, v, point_stride),
            2 => input_transform_avx512::<2>(plane, tiles_w, rows, v, point_stride),
            _ => input_transform_avx512::<1>(plane, tiles_w, rows, v, point_stride),
        }
    }
}

/// The lanes of a vector of `R` whole rows of `LANES / R` tiles that are not the first tile of
/// a row, and those that are not the last (all lanes for `R` = 1).
#[cfg(target_arch = "x86_64")]
fn inner_lanes<const R: usize>() -> (u16, u16) {
    if R == 1 {
        return (u16::MAX, u16::MAX);
    }
    let starts = (0..LANES).step_by(LANES / R).fold(0u16, |m, l| m | 1 << l);
    (!starts, !(starts << (LANES / R - 1)))
}

/// [`input_transform`] on checked arguments, a vector of tiles at a time, `R` rows of
/// `tiles_w` = 16 / `R` tiles or 16 tiles of one row (`R` = 1; see [`rows_per_vector`]):
/// the input rows loaded as vectors of even and odd columns, every term below a whole vector
/// (`alignr` shifts by one tile), all 16 transformed points kept in registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn input_transform_avx512<const R: usize>(
    plane: &[f32],
    tiles_w: usize,
    rows: Range<usize>,
    v: &mut [f32],
    point_stride: usize,
) {
    use std::arch::x86_64::{
        __m512, _mm512_add_ps, _mm512_castps_si512, _mm512_castsi512_ps, _mm512_loadu_ps,
        _mm512_mask_loadu_ps, _mm512_maskz_alignr_epi32, _mm512_permutex2var_ps, _mm512_set1_ps,
        _mm512_setr_epi32, _mm512_setzero_ps, _mm512_storeu_ps, _mm512_sub_ps,
    };
    let width = 2 * tiles_w;
    let height = plane.len() / width;
    let (not_first, not_last) = inner_lanes::<R>();
    let even_lanes = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd_lanes = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    let (x, v) = (plane.as_ptr(), v.as_mut_ptr());
    let first = rows.start;
    for ty in rows.step_by(R) {
        for t0 in (0..tiles_w).step_by(LANES) {
            // Along x, tile t covers padded columns 2t..2t+4, the plane's columns 2t−1..2t+3:
            // Bᵀ's rows give (x[2t−1] − x[2t+1], x[2t] + x[2t+1], x[2t+1] − x[2t],
            // x[2t] − x[2t+2]); r[i][j] for row i of the tiles (padded row 2ty + i).
            let mut r = [[_mm512_setzero_ps(); 4]; 4];
            for (i, r) in r.iter_mut().enumerate() {
                // the 32 columns from 2t0 of the rows (one, or one per packed tile row), and
                // the columns just before and after them
                let (mut lo, mut hi, mut before, mut after) =
                    (_mm512_setzero_ps(), _mm512_setzero_ps(), 0.0, 0.0);
                for s in 0..R {
                    let Some(k) = (2 * (ty + s) + i).checked_sub(1).filter(|&k| k < height) else {
                        continue;
                    };
                    // SAFETY: row k is inside the plane; R = 1 reads its 32 columns from 2t0
                    // (the row is a multiple of 32 wide) and the columns 2t0 − 1 and 2t0 + 32
                    // only where they exist; R > 1 reads the whole row into its lanes (masked-
                    // off lanes are not accessed, so the pointer below the row is never read).
                    unsafe {
                        let row = x.add(k * width);
                        if R == 1 {
                            lo = _mm512_loadu_ps(row.add(2 * t0));
                            hi = _mm512_loadu_ps(row.add(2 * t0 + LANES));
                            if t0 > 0 {
                                before = *row.add(2 * t0 - 1);
                            }
                            if 2 * t0 + 2 * LANES < width {
                                after = *row.add(2 * t0 + 2 * LANES);
                            }
                        } else {
                            // row s of the vector fills lanes s·width.. of lo:hi
                            let at = s * width % LANES;
                            let mask = (((1u32 << width) - 1) << at) as u16;
                            if s * width < LANES {
                                lo = _mm512_mask_loadu_ps(lo, mask, row.wrapping_sub(at));
                            } else {
                                hi = _mm512_mask_loadu_ps(hi, mask, row.wrapping_sub(at));
                            }
                        }
                    }
                }
                let e = _mm512_permutex2var_ps(lo, even_lanes, hi);
                let o = _mm512_permutex2var_ps(lo, odd_lanes, hi);
                // x[2t − 1] and x[2t + 2] of every tile t, zero past the rows' ends
                let (o_i, e_i) = (_mm512_castps_si512(o), _mm512_castps_si512(e));
                let odd_before = _mm512_castsi512_ps(_mm512_maskz_alignr_epi32::<15>(
                    not_first,
                    o_i,
                    _mm512_castps_si512(_mm512_set1_ps(before)),
                ));
                let even_after = _mm512_castsi512_ps(_mm512_maskz_alignr_epi32::<1>(
                    not_last,
                    _mm512_castps_si512(_mm512_set1_ps(after)),
                    e_i,
                ));
                *r = [
                    _mm512_sub_ps(odd_before, o),
                    _mm512_add_ps(e, o),
                    _mm512_sub_ps(o, e),
                    _mm512_sub_ps(e, even_after),
                ];
            }
            // Along y the same, on the rows of every column j
            let columns: [[__m512; 4]; 4] =
                std::array::from_fn(|j| std::array::from_fn(|i| r[i][j]));
            for (j, [d0, d1, d2, d3]) in columns.into_iter().enumerate() {
                let out = [
                    _mm512_sub_ps(d0, d2),
                    _mm512_add_ps(d1, d2),
                    _mm512_sub_ps(d2, d1),
                    _mm512_sub_ps(d1, d3),
                ];
                for (i, out) in out.into_iter().enumerate() {
                    // SAFETY: the vector's 16 tiles from (ty − first)·tw + t0 are within the
                    // block's rows rounded up to whole vectors, which `point_stride` holds.
                    unsafe {
                        let at = v.add((4 * i + j) * point_stride + (ty - first) * tiles_w + t0);
                        _mm512_storeu_ps(at, out);
                    }
                }
            }
        }
    }
}

/// `Y = Aᵀ M A` for the tiles in tile rows `rows` of one filter: point ξ of the block's tile
/// t is `m[ξ · point_stride + t]`; the outputs go to (or are added to, when `accumulate`) the
/// plane `y` (H × 2·`tiles_w`).
#[cfg(target_arch = "x86_64")]
pub(crate) fn output_transform(
    m: &[f32],
    point_stride: usize,
    tiles_w: usize,
    rows: Range<usize>,
    accumulate: bool,
    y: &mut [f32],
) {
    check_transform(y.len(), tiles_w, &rows, m.len(), point_stride);
    // SAFETY: AVX-512F is present (asserted), the one requirement of the target-feature
    // function; its accesses are inside `m` and `y` by the lengths asserted (see there).
    unsafe {
        match rows_per_vector(tiles_w) {
            4 => output_transform_avx512::<4>(m, point_stride, tiles_w, rows, accumulate, y),
            2 => output_transform_avx512::<2>(m, point_stride, tiles_w, rows, accumulate, y),
            _ => output_transform_avx512::<1>(m, point_stride, tiles_w, rows, accumulate, y),
        }
    }
}

/// [`output_transform`] on checked arguments, a vector of tiles at a time (as
/// [`input_transform_avx512`]): the 16 points in registers, the even and odd output columns
/// interleaved by two permutes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn output_transform_avx512<const R: usize>(
    m: &[f32],
    point_stride: usize,
    tiles_w: usize,
    rows: Range<usize>,
    accumulate: bool,
    y: &mut [f32],
) {
    use std::arch::x86_64::{
        __m512, _mm512_add_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps,
        _mm512_permutex2var_ps, _mm512_setr_epi32, _mm512_sub_ps,
    };
    let width = 2 * tiles_w;
    let first_half = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let second_half =
        _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    let (m, y) = (m.as_ptr(), y.as_mut_ptr());
    let (first, end) = (rows.start, rows.end);
    for ty in rows.step_by(R) {
        for t0 in (0..tiles_w).step_by(LANES) {
            // SAFETY: the vector's 16 tiles from (ty − first)·tw + t0 are within the block's
            // rows rounded up to whole vectors, which `point_stride` holds.
            let q: [__m512; POINTS] = std::array::from_fn(|point| unsafe {
                _mm512_loadu_ps(m.add(point * point_stride + (ty - first) * tiles_w + t0))
            });
            // Aᵀ along y: (m0 + m1 + m2, m1 − m2 − m3) of every column b, then along x
            let s0: [_; 4] =
                std::array::from_fn(|b| _mm512_add_ps(_mm512_add_ps(q[b], q[4 + b]), q[8 + b]));
            let s1: [_; 4] = std::array::from_fn(|b| {
                _mm512_sub_ps(_mm512_sub_ps(q[4 + b], q[8 + b]), q[12 + b])
            });
            for (i, s) in [s0, s1].iter().enumerate() {
                let even = _mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]);
                let odd = _mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]);
                // the outputs in order: 32 columns from 2t0 of one row, or whole rows
                let halves = [
                    _mm512_permutex2var_ps(even, first_half, odd),
                    _mm512_permutex2var_ps(even, second_half, odd),
                ];
                // (vector, lanes, address of lane 0) of each output row in them: 32 columns
                // from 2t0 of one row, or the whole rows of the tile rows inside the block
                let mut stores = [(halves[0], 0u16, y); R_MAX];
                if R == 1 {
                    let at = y.wrapping_add((2 * ty + i) * width + 2 * t0);
                    stores[0] = (halves[0], u16::MAX, at);
                    stores[1] = (halves[1], u16::MAX, at.wrapping_add(LANES));
                } else {
                    for s in (0..R).filter(|&s| ty + s < end) {
                        let lane = s * width;
                        let (half, at) = (halves[lane / LANES], lane % LANES);
                        let mask = (((1u32 << width) - 1) << at) as u16;
                        let row = y.wrapping_add((2 * (ty + s) + i) * width);
                        stores[s] = (half, mask, row.wrapping_sub(at));
                    }
                }
                for (value, mask, at) in stores {
                    // SAFETY: the lanes of `mask` are columns of an output row of a tile row
                    // inside the block, so inside the plane (none for an unused entry);
                    // masked-off lanes are not accessed.
                    unsafe {
                        let value = if accumulate {
                            _mm512_add_ps(_mm512_maskz_loadu_ps(mask, at), value)
                        } else {
                            value
                        };
                        _mm512_mask_storeu_ps(at, mask, value);
                    }
                }
            }
        }
    }
}
