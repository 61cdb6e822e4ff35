//! A Keras-like `model.summary()`.

use std::fmt;

/// One row of a [`Summary`]: a layer, its output shape, its parameter count and its
/// multiply–accumulates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// Name in the model (also the prefix of its tensors in a safetensors file).
    pub name: String,
    /// The layer's type.
    pub kind: &'static str,
    /// Output shape without the batch dimension.
    pub output: Vec<usize>,
    /// Parameters, counted as Keras does.
    pub params: usize,
    /// Multiply–accumulates per image, as [`crate::Network::MACS`] counts them.
    pub macs: usize,
}

impl SummaryRow {
    /// A row.
    pub fn new(
        name: impl Into<String>,
        kind: &'static str,
        output: &[usize],
        params: usize,
        macs: usize,
    ) -> Self {
        Self {
            name: name.into(),
            kind,
            output: output.to_vec(),
            params,
            macs,
        }
    }
}

/// A network's layers with their shapes and parameter counts; `Display` renders the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The network's name, with its const parameters.
    pub name: String,
    /// Input shape (channels, height, width).
    pub input: [usize; 3],
    /// The layers in execution order (a residual's main branch, then its shortcut, then the
    /// addition).
    pub rows: Vec<SummaryRow>,
    /// Trainable parameters.
    pub trainable: usize,
    /// Non-trainable parameters (batch-norm moving statistics).
    pub non_trainable: usize,
}

impl Summary {
    /// All parameters.
    pub fn total(&self) -> usize {
        self.trainable + self.non_trainable
    }

    /// Multiply–accumulates per image, all layers together.
    pub fn macs(&self) -> usize {
        self.rows.iter().map(|r| r.macs).sum()
    }
}

/// `12345` → `12,345`, as Keras prints counts.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn shape(dims: &[usize]) -> String {
    let inner: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("(None, {})", inner.join(", "))
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layer_col = self
            .rows
            .iter()
            .map(|r| r.name.len() + r.kind.len() + 3)
            .chain(["input (Input)".len(), "Layer (type)".len()])
            .max()
            .unwrap_or(12)
            + 2;
        let shape_col = self
            .rows
            .iter()
            .map(|r| shape(&r.output).len())
            .chain([shape(&self.input).len(), "Output Shape".len()])
            .max()
            .unwrap_or(12)
            + 2;
        let macs_col = thousands(self.macs()).len().max("MACs".len()) + 2;
        let width = layer_col + shape_col + 10 + macs_col;
        writeln!(f, "Model: \"{}\"", self.name)?;
        writeln!(f, "{}", "_".repeat(width))?;
        writeln!(
            f,
            "{:<layer_col$}{:<shape_col$}{:>10}{:>macs_col$}",
            "Layer (type)", "Output Shape", "Param #", "MACs"
        )?;
        writeln!(f, "{}", "=".repeat(width))?;
        writeln!(
            f,
            "{:<layer_col$}{:<shape_col$}{:>10}{:>macs_col$}",
            "input (Input)",
            shape(&self.input),
            0,
            0
        )?;
        for row in &self.rows {
            let layer = format!("{} ({})", row.name, row.kind);
            writeln!(
                f,
                "{layer:<layer_col$}{:<shape_col$}{:>10}{:>macs_col$}",
                shape(&row.output),
                thousands(row.params),
                thousands(row.macs)
            )?;
        }
        writeln!(f, "{}", "=".repeat(width))?;
        writeln!(f, "Total params: {}", thousands(self.total()))?;
        writeln!(f, "Trainable params: {}", thousands(self.trainable))?;
        writeln!(f, "Non-trainable params: {}", thousands(self.non_trainable))?;
        writeln!(
            f,
            "MACs per image (forward, convolutions and dense layers): {}",
            thousands(self.macs())
        )?;
        write!(f, "{}", "_".repeat(width))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(18818), "18,818");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn renders_rows_and_totals() {
        let s = Summary {
            name: "Tiny".into(),
            input: [1, 4, 4],
            rows: vec![
                SummaryRow::new("conv_1", "Conv2D", &[2, 4, 4], 20, 288),
                SummaryRow::new("dense_1", "Dense", &[1000], 33_000, 32_000),
            ],
            trainable: 33_020,
            non_trainable: 0,
        };
        let text = s.to_string();
        assert!(text.contains("conv_1 (Conv2D)"), "{text}");
        assert!(text.contains("(None, 2, 4, 4)"), "{text}");
        assert!(text.contains("Total params: 33,020"), "{text}");
        assert!(text.contains("32,000\n"), "{text}");
        assert!(
            text.contains("MACs per image (forward, convolutions and dense layers): 32,288"),
            "{text}"
        );
    }
}
