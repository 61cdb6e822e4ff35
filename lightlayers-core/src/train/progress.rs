//! What a run shows while it trains: a progress bar per epoch on a terminal (with the
//! `progress` feature), plain lines in a log file, a pipe or a build without the feature, or
//! no progress at all when asked for silence; and, unless also asked not to, the notes on
//! what changes the course of the run.
//!
//! Everything goes to stderr, so that a program's results on stdout stay clean.

#[cfg(feature = "progress")]
use std::time::Duration;
use std::time::Instant;

#[cfg(feature = "progress")]
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::metrics::EpochRecord;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// No progress (notes aside).
    Off,
    /// An indicatif bar per epoch (stderr is a terminal), then a line per epoch.
    #[cfg(feature = "progress")]
    Bar,
    /// A line about every 10 % of an epoch and one per epoch.
    Lines,
}

/// The running display of one training run.
pub(crate) struct Progress {
    mode: Mode,
    /// Whether notes are printed.
    notes: bool,
    /// Every note so far, printed or not.
    noted: Vec<String>,
    #[cfg(feature = "progress")]
    bar: Option<ProgressBar>,
    epoch: usize,
    epochs: usize,
    steps: usize,
    /// The last tenth of the epoch reported in [`Mode::Lines`].
    tenth: usize,
    /// When the epoch started (for the ETA of [`Mode::Lines`]).
    started: Instant,
}

impl Progress {
    /// Progress when `progress` (a bar on a terminal, lines otherwise), notes when `notes`.
    pub(crate) fn new(progress: bool, notes: bool) -> Self {
        let mode = match progress {
            false => Mode::Off,
            #[cfg(feature = "progress")]
            true if std::io::IsTerminal::is_terminal(&std::io::stderr()) => Mode::Bar,
            true => Mode::Lines,
        };
        Progress {
            mode,
            notes,
            noted: Vec::new(),
            #[cfg(feature = "progress")]
            bar: None,
            epoch: 0,
            epochs: 0,
            steps: 0,
            tenth: 0,
            started: Instant::now(),
        }
    }

    /// A line of its own (a resumed run, a learning rate set or reduced, an early stop),
    /// kept for the report and shown whenever notes are on, progress or not.
    pub(crate) fn note(&mut self, text: String) {
        if !self.notes {
            self.noted.push(text);
            return;
        }
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.println(&text);
            self.noted.push(text);
            return;
        }
        eprintln!("{text}");
        self.noted.push(text);
    }

    /// The notes so far, oldest first.
    pub(crate) fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.noted)
    }

    /// Starts epoch `epoch` (from 1) of `epochs`, of `steps` steps.
    pub(crate) fn start_epoch(&mut self, epoch: usize, epochs: usize, steps: usize) {
        self.epoch = epoch;
        self.epochs = epochs;
        self.steps = steps;
        self.tenth = 0;
        self.started = Instant::now();
        #[cfg(feature = "progress")]
        if self.mode == Mode::Bar {
            let bar =
                ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "epoch {prefix} [{wide_bar}] {pos}/{len} {msg} ETA {eta}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(format!("{epoch}/{epochs}"));
            bar.enable_steady_tick(Duration::from_millis(250));
            self.bar = Some(bar);
        }
    }

    /// Reports that `step` (from 1) steps are done, with the epoch's running loss and
    /// accuracy, and the throughput so far.
    pub(crate) fn step(&mut self, step: usize, loss: f64, accuracy: f64, images_per_second: f64) {
        let stats = || format!("loss {loss:.4} acc {accuracy:.4} {images_per_second:.0} img/s");
        match self.mode {
            Mode::Off => {}
            #[cfg(feature = "progress")]
            Mode::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_position(step as u64);
                    bar.set_message(stats());
                }
            }
            Mode::Lines => {
                let tenth = step * 10 / self.steps.max(1);
                if tenth > self.tenth && step < self.steps {
                    self.tenth = tenth;
                    let per_step = self.started.elapsed().as_secs_f64() / step as f64;
                    let eta = (self.steps - step) as f64 * per_step;
                    eprintln!(
                        "epoch {}/{} {:3}% step {step}/{}: {}, ETA {eta:.0} s",
                        self.epoch,
                        self.epochs,
                        step * 100 / self.steps.max(1),
                        self.steps,
                        stats()
                    );
                }
            }
        }
    }

    /// Shows that the epoch's training is done and evaluation runs.
    pub(crate) fn evaluating(&self) {
        #[cfg(feature = "progress")]
        if let Some(bar) = &self.bar {
            bar.set_message("evaluating on the test split…");
        }
    }

    /// Ends the epoch with its summary line.
    pub(crate) fn end_epoch(&mut self, record: &EpochRecord) {
        #[cfg(feature = "progress")]
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.mode != Mode::Off {
            eprintln!("{}", epoch_line(record, self.epochs));
        }
    }
}

#[cfg(feature = "progress")]
impl Drop for Progress {
    /// Leaves the bar of an epoch that ended in an error where it stopped, on a line of its
    /// own, so that the error message starts on a clean line.
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}

/// "epoch 3/10: loss 0.2345 acc 0.9312 | test loss 0.1987 acc 0.9410 | lr 0.001 | 18.2 s,
/// 550 img/s".
pub(crate) fn epoch_line(r: &EpochRecord, epochs: usize) -> String {
    format!(
        "epoch {}/{epochs}: loss {:.4} acc {:.4} | test loss {:.4} acc {:.4} | lr {} | {:.1} s, {:.0} img/s",
        r.epoch,
        r.train_loss,
        r.train_accuracy,
        r.test_loss,
        r.test_accuracy,
        r.lr,
        r.seconds,
        r.images_per_second
    )
}
