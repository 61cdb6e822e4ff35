//! Floats written so that they read back bit for bit.
//!
//! `serde_json` writes the shortest decimal that round-trips, but without its
//! `float_roundtrip` feature it may read such a decimal back one unit in the last place off,
//! and it cannot write infinities or NaN at all. A resumed run must see exactly the numbers an
//! uninterrupted one would (the learning rate, the best loss so far), so the checkpoint stores
//! them as strings (Rust's shortest round-trip form, `"inf"` for +∞), parsed with Rust's
//! correctly rounded [`str::parse`].

use serde::{Deserialize, Deserializer, Serializer};

/// Writes `value` as a string that [`deserialize`] reads back exactly.
pub(crate) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&value.to_string())
}

/// Reads a float written by [`serialize`]; a plain JSON number is accepted too (a hand-edited
/// file), read as `serde_json` reads it.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Number(f64),
    }
    match Repr::deserialize(deserializer)? {
        Repr::Number(v) => Ok(v),
        Repr::Text(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| serde::de::Error::custom(format!("not a number: {s:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Wrap(#[serde(with = "super")] f64);

    #[test]
    fn round_trips_awkward_values() {
        for v in [
            0.1,
            1e-3 * 0.1,
            1.0e-300,
            5e-324,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.30000000000000004,
            -0.0,
        ] {
            let text = serde_json::to_string(&Wrap(v)).unwrap();
            let back: Wrap = serde_json::from_str(&text).unwrap();
            assert_eq!(back.0.to_bits(), v.to_bits(), "{v} via {text}");
        }
        let nan: Wrap =
            serde_json::from_str(&serde_json::to_string(&Wrap(f64::NAN)).unwrap()).unwrap();
        assert!(nan.0.is_nan());
        let plain: Wrap = serde_json::from_str("0.5").unwrap();
        assert_eq!(plain.0, 0.5);
        assert!(serde_json::from_str::<Wrap>("\"abc\"").is_err());
    }
}
