//! Output sizes and padding of convolutions and pools, following TensorFlow's conventions so
//! that shapes (and hence the paper's models) match Keras exactly.

/// How a convolution pads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Padding {
    /// Output side = ceil(input / stride); zeros split as TensorFlow does (the extra one, when
    /// the total is odd, goes to the bottom/right).
    Same,
    /// No padding: output side = floor((input - kernel) / stride) + 1.
    Valid,
}

/// A 2-D convolution's hyper-parameters (everything but the tensors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dSpec {
    /// Step of the window in both directions.
    pub stride: usize,
    /// Padding mode.
    pub padding: Padding,
    /// Number of channel groups; `groups == in_channels` is a depthwise convolution.
    pub groups: usize,
    /// Apply ReLU to the result (fused: no intermediate tensor).
    pub relu: bool,
}

impl Conv2dSpec {
    /// Stride 1, `same` padding, one group, no activation.
    pub const fn same() -> Self {
        Self {
            stride: 1,
            padding: Padding::Same,
            groups: 1,
            relu: false,
        }
    }

    /// The same spec with another stride.
    pub const fn with_stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }

    /// The same spec with another padding.
    pub const fn with_padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// The same spec with another group count.
    pub const fn with_groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// The same spec with a fused ReLU (or without).
    pub const fn with_relu(mut self, relu: bool) -> Self {
        self.relu = relu;
        self
    }
}

/// Every size of one convolution, resolved from the tensors' shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Batch size.
    pub batch: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Input height and width.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel height.
    pub kernel_h: usize,
    /// Kernel width.
    pub kernel_w: usize,
    /// Stride.
    pub stride: usize,
    /// Zeros added above the input.
    pub pad_top: usize,
    /// Zeros added left of the input.
    pub pad_left: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
    /// Channel groups.
    pub groups: usize,
}

/// Output side and padding before the input along one axis.
pub const fn conv_output_side(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
) -> (usize, usize) {
    match padding {
        Padding::Same => {
            let out = input.div_ceil(stride);
            let needed = (out - 1) * stride + kernel;
            let total = needed.saturating_sub(input);
            (out, total / 2)
        }
        Padding::Valid => {
            if input < kernel {
                (0, 0)
            } else {
                ((input - kernel) / stride + 1, 0)
            }
        }
    }
}

/// Output side of a `size`×`size` max pool with stride `size` (floor, as Keras).
pub const fn pool_output_side(input: usize, size: usize) -> usize {
    input / size
}

impl ConvGeometry {
    /// Resolves the geometry, panicking with a clear message on inconsistent shapes: these are
    /// programming errors (the `network!` macro rules them out at compile time).
    pub fn new(input: [usize; 4], weight: [usize; 4], spec: Conv2dSpec) -> Self {
        let [batch, in_channels, in_h, in_w] = input;
        let [out_channels, group_in, kernel_h, kernel_w] = weight;
        assert!(spec.stride > 0, "conv2d: stride must be positive");
        assert!(spec.groups > 0, "conv2d: groups must be positive");
        assert!(
            in_channels % spec.groups == 0 && out_channels % spec.groups == 0,
            "conv2d: {in_channels} input and {out_channels} output channels are not divisible into {} groups",
            spec.groups
        );
        assert_eq!(
            group_in,
            in_channels / spec.groups,
            "conv2d: weight expects {group_in} input channels per group, input has {in_channels} channels in {} groups",
            spec.groups
        );
        let (out_h, pad_top) = conv_output_side(in_h, kernel_h, spec.stride, spec.padding);
        let (out_w, pad_left) = conv_output_side(in_w, kernel_w, spec.stride, spec.padding);
        assert!(
            out_h > 0 && out_w > 0,
            "conv2d: a {kernel_h}x{kernel_w} kernel does not fit a {in_h}x{in_w} input"
        );
        Self {
            batch,
            in_channels,
            in_h,
            in_w,
            out_channels,
            kernel_h,
            kernel_w,
            stride: spec.stride,
            pad_top,
            pad_left,
            out_h,
            out_w,
            groups: spec.groups,
        }
    }

    /// Input channels per group.
    pub fn group_in(&self) -> usize {
        self.in_channels / self.groups
    }

    /// Output channels per group.
    pub fn group_out(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Kernel area.
    pub fn kernel_area(&self) -> usize {
        self.kernel_h * self.kernel_w
    }

    /// Output positions per channel.
    pub fn out_area(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Input positions per channel.
    pub fn in_area(&self) -> usize {
        self.in_h * self.in_w
    }

    /// True when the convolution reads every input pixel exactly once in order (1×1, stride 1),
    /// so the input itself serves as the column matrix.
    pub fn is_pointwise(&self) -> bool {
        self.kernel_h == 1 && self.kernel_w == 1 && self.stride == 1
    }

    /// True for a depthwise convolution: grouped, one input channel per group.
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.group_in() == 1
    }

    /// Multiply-adds of the forward pass (for FLOP reporting: FLOPs = 2 × this).
    pub fn macs(&self) -> usize {
        self.batch * self.out_channels * self.out_area() * self.group_in() * self.kernel_area()
    }

    /// The convolution whose output is this one's input gradient, for stride 1: it reads the
    /// output gradient through the kernel flipped in both axes, with input and output channels
    /// swapped. `None` for other strides, whose input gradient is not a plain convolution.
    pub fn input_gradient(&self) -> Option<Self> {
        (self.stride == 1).then(|| Self {
            in_channels: self.out_channels,
            in_h: self.out_h,
            in_w: self.out_w,
            out_channels: self.in_channels,
            pad_top: self.kernel_h - 1 - self.pad_top,
            pad_left: self.kernel_w - 1 - self.pad_left,
            out_h: self.in_h,
            out_w: self.in_w,
            ..*self
        })
    }

    /// Input row and column read by output position (`oy`, `ox`) at kernel offset (`ky`, `kx`),
    /// or `None` where that falls in the padding.
    #[inline]
    pub fn source(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let iy = (oy * self.stride + ky).checked_sub(self.pad_top)?;
        let ix = (ox * self.stride + kx).checked_sub(self.pad_left)?;
        (iy < self.in_h && ix < self.in_w).then_some((iy, ix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_matches_tensorflow() {
        // TF: out = ceil(in / s); pad_total = max((out - 1) * s + k - in, 0); top = total / 2
        assert_eq!(conv_output_side(28, 3, 1, Padding::Same), (28, 1));
        assert_eq!(conv_output_side(28, 3, 2, Padding::Same), (14, 0));
        assert_eq!(conv_output_side(7, 3, 2, Padding::Same), (4, 1));
        assert_eq!(conv_output_side(32, 1, 1, Padding::Same), (32, 0));
        assert_eq!(conv_output_side(5, 5, 1, Padding::Same), (5, 2));
    }

    #[test]
    fn valid_padding_and_pooling_floor() {
        assert_eq!(conv_output_side(28, 3, 1, Padding::Valid), (26, 0));
        assert_eq!(conv_output_side(7, 3, 2, Padding::Valid), (3, 0));
        assert_eq!(conv_output_side(2, 3, 1, Padding::Valid), (0, 0));
        assert_eq!(pool_output_side(7, 2), 3);
        assert_eq!(pool_output_side(1, 2), 0);
    }
}
