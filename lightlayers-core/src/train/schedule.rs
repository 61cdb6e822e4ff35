//! Keras's `ReduceLROnPlateau` and `EarlyStopping` on the validation loss, with their state
//! serializable so that a resumed run continues their counters.
//!
//! Both follow TensorFlow 2.2's callbacks (the version the paper used) in mode `min`:
//!
//! - `ReduceLROnPlateau`: an epoch improves when `loss < best − min_delta` (absolute
//!   `min_delta`, default 1e-4). Otherwise, unless in cooldown, `wait` grows; when it reaches
//!   `patience` the rate is multiplied by `factor` (not below `min_lr`), `wait` restarts and a
//!   cooldown of `cooldown` epochs begins.
//! - `EarlyStopping`: an epoch improves when `loss + min_delta < best` (default `min_delta` 0);
//!   training stops once `wait` reaches `patience`.
//!
//! A NaN loss never improves (NumPy's comparisons are false for NaN), but the trainer stops on
//! a NaN loss before either callback sees it.

use serde::{Deserialize, Serialize};

use super::error::TrainError;

/// Keras's `ReduceLROnPlateau(monitor="val_loss", mode="min")`; create it with
/// [`ReduceLrOnPlateau::new`] and feed it each epoch's loss with [`ReduceLrOnPlateau::step`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReduceLrOnPlateau {
    /// Multiplies the learning rate on a plateau (Keras's default 0.1, the paper's too).
    #[serde(with = "super::exact")]
    pub factor: f64,
    /// Epochs without improvement before reducing (the paper: 4; 3 for Fashion-MNIST).
    pub patience: usize,
    /// Smallest decrease of the loss that counts as an improvement (absolute; 1e-4).
    #[serde(with = "super::exact")]
    pub min_delta: f64,
    /// Epochs after a reduction during which no further reduction happens (0).
    pub cooldown: usize,
    /// The learning rate is never reduced below this (0).
    #[serde(with = "super::exact")]
    pub min_lr: f64,
    #[serde(with = "super::exact")]
    best: f64,
    wait: usize,
    cooldown_counter: usize,
}

impl ReduceLrOnPlateau {
    /// Keras's defaults with `patience`: factor 0.1, min_delta 1e-4, cooldown 0, min_lr 0.
    pub fn new(patience: usize) -> Self {
        ReduceLrOnPlateau {
            factor: 0.1,
            patience,
            min_delta: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
            best: f64::INFINITY,
            wait: 0,
            cooldown_counter: 0,
        }
    }

    /// The same with another `factor`.
    #[must_use]
    pub fn with_factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Checks the settings: a factor in `(0, 1)`, a finite min_delta ≥ 0, a finite
    /// min_lr ≥ 0 (Keras refuses a factor ≥ 1 too).
    pub fn validate(&self) -> Result<(), TrainError> {
        let invalid = |name, reason: String| Err(TrainError::InvalidConfig { name, reason });
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return invalid(
                "plateau factor",
                format!("{} is not in (0, 1)", self.factor),
            );
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return invalid(
                "plateau min_delta",
                format!("{} is not ≥ 0", self.min_delta),
            );
        }
        if !(self.min_lr.is_finite() && self.min_lr >= 0.0) {
            return invalid("plateau min_lr", format!("{} is not ≥ 0", self.min_lr));
        }
        Ok(())
    }

    /// The best loss seen so far (+∞ before the first epoch).
    pub fn best(&self) -> f64 {
        self.best
    }

    /// Epochs since the last improvement or reduction.
    pub fn wait(&self) -> usize {
        self.wait
    }

    /// Takes the epoch's validation `loss` and the learning rate `lr` used during it; returns
    /// the learning rate for the next epoch (`lr`, or `lr · factor` on a plateau).
    pub fn step(&mut self, loss: f64, lr: f64) -> f64 {
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.wait = 0;
        }
        if loss < self.best - self.min_delta {
            self.best = loss;
            self.wait = 0;
            return lr;
        }
        // Keras asks again after counting down: the last cooldown epoch already waits.
        if self.cooldown_counter > 0 {
            return lr;
        }
        self.wait += 1;
        if self.wait >= self.patience && lr > self.min_lr {
            self.cooldown_counter = self.cooldown;
            self.wait = 0;
            return (lr * self.factor).max(self.min_lr);
        }
        lr
    }
}

/// Keras's `EarlyStopping(monitor="val_loss", mode="min")`; create it with
/// [`EarlyStopping::new`] and feed it each epoch's loss with [`EarlyStopping::step`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping (the paper: 10).
    pub patience: usize,
    /// Smallest decrease of the loss that counts as an improvement (Keras's default 0).
    #[serde(with = "super::exact")]
    pub min_delta: f64,
    #[serde(with = "super::exact")]
    best: f64,
    wait: usize,
}

impl EarlyStopping {
    /// Keras's defaults with `patience`: min_delta 0, no baseline, last weights kept.
    pub fn new(patience: usize) -> Self {
        EarlyStopping {
            patience,
            min_delta: 0.0,
            best: f64::INFINITY,
            wait: 0,
        }
    }

    /// The best loss seen so far (+∞ before the first epoch).
    pub fn best(&self) -> f64 {
        self.best
    }

    /// Epochs since the last improvement.
    pub fn wait(&self) -> usize {
        self.wait
    }

    /// Takes the epoch's validation `loss`; returns whether training should stop now.
    pub fn step(&mut self, loss: f64) -> bool {
        if loss + self.min_delta < self.best {
            self.best = loss;
            self.wait = 0;
            return false;
        }
        self.wait += 1;
        self.wait >= self.patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plateau_round_trips_through_json() {
        let mut p = ReduceLrOnPlateau::new(2);
        p.step(0.5, 1e-3);
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<ReduceLrOnPlateau>(&text).unwrap(), p);
        let fresh = serde_json::to_string(&EarlyStopping::new(3)).unwrap();
        assert!(fresh.contains("\"inf\""), "{fresh}");
        assert_eq!(
            serde_json::from_str::<EarlyStopping>(&fresh).unwrap(),
            EarlyStopping::new(3)
        );
    }
}
