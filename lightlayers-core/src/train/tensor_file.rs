//! A small reader and writer of the safetensors format, for weights and the optimizer's state.
//!
//! The format is simple (an 8-byte little-endian header length, a JSON header, the raw
//! little-endian data), so it is written here directly, and every offset is checked on
//! reading: a corrupt file is an error, never a panic. Python's `safetensors` package and
//! dfdx's `load_safetensors` read these files too.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};

use super::error::TrainError;
use crate::atomic_file as atomic;
use crate::Element;

/// The largest header accepted (100 MB, as the reference implementation).
const MAX_HEADER: u64 = 100_000_000;

/// The element types this file handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dtype {
    F32,
    F64,
}

impl Dtype {
    fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::F64 => "F64",
        }
    }

    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }

    /// The type of `E` (the trainer's element types are sealed to `f32` and `f64`).
    pub(crate) fn of<E: Element>() -> Dtype {
        match std::mem::size_of::<E>() {
            4 => Dtype::F32,
            _ => Dtype::F64,
        }
    }
}

/// One named tensor: its type, dimensions and raw little-endian bytes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

impl Entry {
    /// A tensor of `shape` holding `values` as their own type.
    pub(crate) fn of_values<E: Element>(values: &[E], shape: Vec<usize>) -> Entry {
        let dtype = Dtype::of::<E>();
        // Exact: an `f32` widened to `f64` narrows back unchanged.
        let bytes = match dtype {
            Dtype::F32 => values
                .iter()
                .flat_map(|v| (v.to_f64_lossless() as f32).to_le_bytes())
                .collect(),
            Dtype::F64 => values
                .iter()
                .flat_map(|v| v.to_f64_lossless().to_le_bytes())
                .collect(),
        };
        Entry {
            dtype,
            shape,
            bytes,
        }
    }

    /// A scalar setting, stored as a rank-0 `F64` tensor (as dfdx stores them).
    pub(crate) fn of_scalar(value: f64) -> Entry {
        Entry {
            dtype: Dtype::F64,
            shape: Vec::new(),
            bytes: value.to_le_bytes().to_vec(),
        }
    }

    /// Number of elements.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() / self.dtype.size()
    }

    /// The values, converted to `E` (exact when `E` is the file's type).
    pub(crate) fn values<E: Element>(&self) -> Vec<E> {
        match self.dtype {
            Dtype::F32 => self
                .bytes
                .chunks_exact(4)
                .map(|b| E::of(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64))
                .collect(),
            Dtype::F64 => self
                .bytes
                .chunks_exact(8)
                .map(|b| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    E::of(f64::from_le_bytes(a))
                })
                .collect(),
        }
    }
}

/// A safetensors file in memory: string metadata and named tensors.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TensorFile {
    pub metadata: BTreeMap<String, String>,
    pub tensors: BTreeMap<String, Entry>,
}

impl TensorFile {
    /// The file's bytes.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut header = Map::new();
        header.insert("__metadata__".into(), json!(self.metadata));
        let mut offset = 0usize;
        for (name, entry) in &self.tensors {
            let end = offset + entry.bytes.len();
            header.insert(
                name.clone(),
                json!({
                    "dtype": entry.dtype.name(),
                    "shape": entry.shape,
                    "data_offsets": [offset, end],
                }),
            );
            offset = end;
        }
        let mut head = Value::Object(header).to_string().into_bytes();
        // The data starts 8-byte aligned, as the format recommends.
        while !(head.len() + 8).is_multiple_of(8) {
            head.push(b' ');
        }
        let mut out = Vec::with_capacity(8 + head.len() + offset);
        out.extend_from_slice(&(head.len() as u64).to_le_bytes());
        out.extend_from_slice(&head);
        for entry in self.tensors.values() {
            out.extend_from_slice(&entry.bytes);
        }
        out
    }

    /// Writes the file atomically.
    pub(crate) fn save(&self, path: &Path) -> Result<(), TrainError> {
        Ok(atomic::write_bytes(path, &self.to_bytes())?)
    }

    /// Reads and checks a file.
    pub(crate) fn load(path: &Path) -> Result<TensorFile, TrainError> {
        let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|reason| TrainError::bad(path, reason))
    }

    /// Parses a file's bytes; the error says what is wrong.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<TensorFile, String> {
        let not = |what: &str| format!("not a safetensors file: {what}");
        let len_bytes: [u8; 8] = bytes
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| not("shorter than 8 bytes"))?;
        let header_len = u64::from_le_bytes(len_bytes);
        if header_len > MAX_HEADER || header_len > (bytes.len() - 8) as u64 {
            return Err(not(&format!(
                "header of {header_len} bytes in a file of {} bytes",
                bytes.len()
            )));
        }
        let data_start = 8 + header_len as usize;
        let header: Map<String, Value> = serde_json::from_slice(&bytes[8..data_start])
            .map_err(|e| not(&format!("header is not a JSON object: {e}")))?;
        let data = &bytes[data_start..];
        let mut file = TensorFile::default();
        for (name, value) in header {
            if name == "__metadata__" {
                let meta = value
                    .as_object()
                    .ok_or_else(|| "__metadata__ is not an object".to_string())?;
                for (k, v) in meta {
                    let v = v
                        .as_str()
                        .ok_or_else(|| format!("metadata {k:?} is not a string"))?;
                    file.metadata.insert(k.clone(), v.to_string());
                }
                continue;
            }
            let entry = parse_entry(&name, &value, data)?;
            file.tensors.insert(name, entry);
        }
        Ok(file)
    }
}

/// Checks one tensor's header entry and copies its bytes.
fn parse_entry(name: &str, value: &Value, data: &[u8]) -> Result<Entry, String> {
    let bad = |what: &str| format!("tensor {name:?}: {what}");
    let dtype = match value.get("dtype").and_then(Value::as_str) {
        Some("F32") => Dtype::F32,
        Some("F64") => Dtype::F64,
        other => return Err(bad(&format!("unsupported dtype {other:?}"))),
    };
    let dims = value
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no shape"))?;
    let mut shape = Vec::with_capacity(dims.len());
    let mut elements: usize = 1;
    for d in dims {
        let d = d
            .as_u64()
            .and_then(|d| usize::try_from(d).ok())
            .ok_or_else(|| bad("shape holds a non-integer"))?;
        elements = elements
            .checked_mul(d)
            .ok_or_else(|| bad("shape overflows"))?;
        shape.push(d);
    }
    let offsets = value
        .get("data_offsets")
        .and_then(Value::as_array)
        .filter(|o| o.len() == 2)
        .ok_or_else(|| bad("no data_offsets"))?;
    let offset = |i: usize| {
        offsets[i]
            .as_u64()
            .and_then(|o| usize::try_from(o).ok())
            .ok_or_else(|| bad("data_offsets hold a non-integer"))
    };
    let (begin, end) = (offset(0)?, offset(1)?);
    if begin > end || end > data.len() {
        return Err(bad(&format!(
            "data {begin}..{end} outside the {} data bytes (truncated file?)",
            data.len()
        )));
    }
    if Some(end - begin) != elements.checked_mul(dtype.size()) {
        return Err(bad(&format!(
            "{} bytes for {elements} elements of {}",
            end - begin,
            dtype.name()
        )));
    }
    Ok(Entry {
        dtype,
        shape,
        bytes: data[begin..end].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TensorFile {
        let mut file = TensorFile::default();
        file.metadata.insert("step".into(), "3".into());
        file.tensors.insert(
            "a.m".into(),
            Entry::of_values(&[1.5f32, -2.0, 0.25, 4.0, 5.0, 6.0], vec![2, 3]),
        );
        file.tensors.insert("b".into(), Entry::of_scalar(7.0));
        file
    }

    #[test]
    fn round_trips() {
        let file = sample();
        let bytes = file.to_bytes();
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!((8 + header_len) % 8, 0);
        let read = TensorFile::from_bytes(&bytes).unwrap();
        assert_eq!(read, file);
        assert_eq!(read.tensors["a.m"].shape, [2, 3]);
        assert_eq!(read.tensors["a.m"].values::<f32>()[5], 6.0);
        assert_eq!(read.tensors["b"].values::<f64>(), [7.0]);
    }

    #[test]
    fn corrupt_files_are_errors() {
        let bytes = sample().to_bytes();
        for cut in [0, 4, 8, 20, bytes.len() - 1] {
            assert!(
                TensorFile::from_bytes(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut huge = bytes.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(TensorFile::from_bytes(&huge).is_err());
        let mut garbage = bytes;
        garbage[9] = b'!';
        assert!(TensorFile::from_bytes(&garbage).is_err());
    }
}
