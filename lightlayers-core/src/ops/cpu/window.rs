//! Which output positions of a strided, padded window read inside the input.

/// Output indices `o` in `lo..hi` whose input index `o * stride + offset - pad` lies in
/// `0..input`; all others read padding.
#[inline]
pub(crate) fn valid_outputs(
    output: usize,
    input: usize,
    offset: usize,
    pad: usize,
    stride: usize,
) -> (usize, usize) {
    // o * stride + offset >= pad
    let lo = pad.saturating_sub(offset).div_ceil(stride);
    // o * stride + offset - pad <= input - 1
    let hi = if input + pad > offset {
        ((input + pad - offset - 1) / stride + 1).min(output)
    } else {
        0
    };
    (lo.min(hi), hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_brute_force() {
        for input in 1..9 {
            for stride in 1..4 {
                for pad in 0..3 {
                    for offset in 0..5 {
                        let output = 12;
                        let (lo, hi) = valid_outputs(output, input, offset, pad, stride);
                        for o in 0..output {
                            let pos = (o * stride + offset) as isize - pad as isize;
                            let inside = pos >= 0 && (pos as usize) < input;
                            assert_eq!(
                                inside,
                                o >= lo && o < hi,
                                "{input} {stride} {pad} {offset} {o}"
                            );
                        }
                    }
                }
            }
        }
    }
}
