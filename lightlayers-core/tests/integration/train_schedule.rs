//! `ReduceLrOnPlateau` and `EarlyStopping` step by step, as Keras (TensorFlow 2.2) behaves.

use lightlayers_core::train::{EarlyStopping, ReduceLrOnPlateau};

/// Feeds `losses` to a plateau callback from `lr`; returns the rate after each epoch.
fn rates(plateau: &mut ReduceLrOnPlateau, lr: f64, losses: &[f64]) -> Vec<f64> {
    let mut lr = lr;
    losses
        .iter()
        .map(|&loss| {
            lr = plateau.step(loss, lr);
            lr
        })
        .collect()
}

#[test]
fn plateau_reduces_after_patience_epochs_without_improvement() {
    let mut p = ReduceLrOnPlateau::new(2);
    let got = rates(&mut p, 1.0, &[1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.5, 0.6]);
    // epoch 4: second epoch without improvement → ×0.1; wait restarts, so epoch 6 again.
    assert_eq!(
        got,
        [1.0, 1.0, 1.0, 0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1, 0.1 * 0.1]
    );
    assert_eq!(p.best(), 0.5);
    assert_eq!(p.wait(), 1);
}

#[test]
fn plateau_min_delta_is_absolute() {
    let mut p = ReduceLrOnPlateau::new(1);
    // 0.90 is best; 0.89995 is not below 0.90 − 1e-4, so it does not count.
    assert_eq!(rates(&mut p, 1e-3, &[0.9, 0.89995]), [1e-3, 1e-3 * 0.1]);
    let mut p = ReduceLrOnPlateau::new(1);
    assert_eq!(rates(&mut p, 1e-3, &[0.9, 0.8998]), [1e-3, 1e-3]);
    assert_eq!(p.best(), 0.8998);
}

#[test]
fn plateau_patience_zero_and_first_epoch() {
    // The first epoch always improves on +∞.
    let mut p = ReduceLrOnPlateau::new(0);
    assert_eq!(rates(&mut p, 1.0, &[5.0, 5.0]), [1.0, 0.1]);
}

#[test]
fn plateau_cooldown_and_min_lr() {
    let mut p = ReduceLrOnPlateau::new(1);
    p.cooldown = 2;
    // Reduce at epoch 2; epochs 3 and 4 count the cooldown down, and Keras already counts
    // epoch 4 as waiting (the cooldown has ended once it is decremented), so epoch 4 reduces.
    let got = rates(&mut p, 1.0, &[1.0, 1.0, 1.0, 1.0, 1.0]);
    assert_eq!(got, [1.0, 0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1]);

    let mut p = ReduceLrOnPlateau::new(1);
    p.min_lr = 0.05;
    assert_eq!(
        rates(&mut p, 1.0, &[1.0, 1.0, 1.0, 1.0]),
        [1.0, 0.1, 0.05, 0.05]
    );
}

#[test]
fn plateau_never_improves_on_nan_and_rejects_bad_settings() {
    let mut p = ReduceLrOnPlateau::new(1);
    assert_eq!(rates(&mut p, 1.0, &[f64::NAN]), [0.1]);
    assert!(ReduceLrOnPlateau::new(4).validate().is_ok());
    assert!(ReduceLrOnPlateau::new(4)
        .with_factor(1.0)
        .validate()
        .is_err());
    assert!(ReduceLrOnPlateau::new(4)
        .with_factor(0.0)
        .validate()
        .is_err());
}

#[test]
fn early_stopping_after_patience_epochs_without_improvement() {
    let mut e = EarlyStopping::new(3);
    let stops: Vec<bool> = [1.0, 0.8, 0.8, 0.9, 0.79, 0.85, 0.86, 0.87]
        .iter()
        .map(|&l| e.step(l))
        .collect();
    // An equal loss is no improvement (min_delta 0, strict); 0.79 resets the count.
    assert_eq!(
        stops,
        [false, false, false, false, false, false, false, true]
    );
    assert_eq!(e.best(), 0.79);
    assert_eq!(e.wait(), 3);
}

#[test]
fn early_stopping_min_delta_and_serde() {
    let mut e = EarlyStopping::new(1);
    e.min_delta = 0.1;
    assert!(!e.step(1.0));
    assert!(e.step(0.95), "0.05 better is less than min_delta");
    let text = serde_json::to_string(&e).unwrap();
    let back: EarlyStopping = serde_json::from_str(&text).unwrap();
    assert_eq!(back, e);
}
