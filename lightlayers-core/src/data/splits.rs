//! A dataset's two splits together, and where they came from.

use std::fmt;
use std::path::PathBuf;

use super::dataset::Dataset;

/// Where a dataset was loaded from, so that a run can say so in one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The data folder the user named; the folder that actually held the files.
    DataDir(PathBuf),
    /// Files downloaded by an earlier run, found in the cache folder.
    Cache(PathBuf),
    /// Downloaded by this run into the cache folder.
    Downloaded(PathBuf),
    /// The subset compiled into the library (MNIST and Fashion-MNIST only).
    Embedded,
}

impl fmt::Display for Origin {
    /// "data folder /x", "cache /x", "downloaded to /x" or "the embedded subset".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::DataDir(p) => write!(f, "data folder {}", p.display()),
            Origin::Cache(p) => write!(f, "cache {}", p.display()),
            Origin::Downloaded(p) => write!(f, "downloaded to {}", p.display()),
            Origin::Embedded => f.write_str("the embedded subset"),
        }
    }
}

/// The training and test splits of one dataset, and their [`Origin`].
#[derive(Clone, Debug)]
pub struct Splits {
    /// The split to train on.
    pub train: Dataset,
    /// The split to report accuracy on.
    pub test: Dataset,
    /// Where both came from.
    pub origin: Origin,
}

impl Splits {
    /// The one-line notice a trainer prints before it starts, e.g.
    /// "MNIST: 60000 train / 10000 test images from data folder /data/mnist". For the
    /// embedded subset it also says that it is one, and how to get the full set.
    pub fn notice(&self) -> String {
        let name = self
            .train
            .kind()
            .map_or_else(|| self.train.name().to_string(), |k| k.name().to_string());
        let mut line = format!(
            "{name}: {} train / {} test images from {}",
            self.train.len(),
            self.test.len(),
            self.origin
        );
        if self.origin == Origin::Embedded {
            line.push_str(
                " (part of the dataset only: pass a data folder or allow the download for all of it)",
            );
        }
        line
    }
}
