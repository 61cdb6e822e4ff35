//! The four datasets (name, image shape, class names, folder) and their two splits.

use std::fmt;
use std::str::FromStr;

use super::error::DataError;

/// One of the four datasets the paper trains on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    /// Handwritten digits, 1×28×28, 10 classes.
    Mnist,
    /// Zalando's product images, 1×28×28, 10 classes (a drop-in for MNIST).
    FashionMnist,
    /// Small colour photos, 3×32×32, 10 classes.
    Cifar10,
    /// Small colour photos, 3×32×32, 100 fine classes (20 coarse ones also kept).
    Cifar100,
}

impl DatasetKind {
    /// All four, in the paper's order.
    pub const ALL: [DatasetKind; 4] = [
        DatasetKind::Mnist,
        DatasetKind::FashionMnist,
        DatasetKind::Cifar10,
        DatasetKind::Cifar100,
    ];

    /// The dataset's usual name, for messages: "MNIST", "Fashion-MNIST", "CIFAR-10", "CIFAR-100".
    pub const fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "MNIST",
            DatasetKind::FashionMnist => "Fashion-MNIST",
            DatasetKind::Cifar10 => "CIFAR-10",
            DatasetKind::Cifar100 => "CIFAR-100",
        }
    }

    /// The short lowercase key used on command lines and in mirror URLs: "mnist",
    /// "fashion-mnist", "cifar10", "cifar100". [`FromStr`] accepts it back.
    pub const fn key(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::Cifar100 => "cifar100",
        }
    }

    /// The folder the files live in, inside a data folder or the cache: "mnist",
    /// "fashion-mnist", and for CIFAR the folder its official archive unpacks to
    /// ("cifar-10-batches-bin", "cifar-100-binary").
    pub const fn folder(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Cifar10 => "cifar-10-batches-bin",
            DatasetKind::Cifar100 => "cifar-100-binary",
        }
    }

    /// Image shape `[channels, height, width]`, as the models take it (NCHW per batch).
    pub const fn shape(self) -> [usize; 3] {
        match self {
            DatasetKind::Mnist | DatasetKind::FashionMnist => [1, 28, 28],
            DatasetKind::Cifar10 | DatasetKind::Cifar100 => [3, 32, 32],
        }
    }

    /// Number of classes the labels index into (CIFAR-100: the 100 fine classes).
    pub const fn classes(self) -> usize {
        self.class_names().len()
    }

    /// Class names in label order.
    pub const fn class_names(self) -> &'static [&'static str] {
        match self {
            DatasetKind::Mnist => MNIST_CLASSES,
            DatasetKind::FashionMnist => FASHION_MNIST_CLASSES,
            DatasetKind::Cifar10 => CIFAR10_CLASSES,
            DatasetKind::Cifar100 => CIFAR100_CLASSES,
        }
    }

    /// Whether the dataset is stored as IDX files (MNIST and Fashion-MNIST) rather than
    /// CIFAR binary records.
    pub const fn is_idx(self) -> bool {
        matches!(self, DatasetKind::Mnist | DatasetKind::FashionMnist)
    }
}

impl fmt::Display for DatasetKind {
    /// Writes [`DatasetKind::name`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetKind {
    type Err = DataError;

    /// Accepts the key or the name in any case, with or without `-`/`_`: "mnist",
    /// "fashion-mnist", "FashionMNIST", "fashion_mnist", "fmnist", "cifar10", "CIFAR-100", ...
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match norm.as_str() {
            "mnist" => Ok(DatasetKind::Mnist),
            "fashionmnist" | "fmnist" | "fashion" => Ok(DatasetKind::FashionMnist),
            "cifar10" => Ok(DatasetKind::Cifar10),
            "cifar100" => Ok(DatasetKind::Cifar100),
            _ => Err(DataError::UnknownDataset {
                input: s.to_string(),
            }),
        }
    }
}

/// The training or the test split of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// The split the model learns from.
    Train,
    /// The held-out split the paper reports accuracy on.
    Test,
}

impl Split {
    /// "train" or "test".
    pub const fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    /// Writes [`Split::name`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// MNIST: the digit each label stands for.
pub const MNIST_CLASSES: &[&str] = &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// Fashion-MNIST, from Zalando's README.
#[rustfmt::skip]
pub const FASHION_MNIST_CLASSES: &[&str] = &[
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
    "Ankle boot",
];

/// CIFAR-10, from `batches.meta.txt`.
#[rustfmt::skip]
pub const CIFAR10_CLASSES: &[&str] = &[
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
];

/// CIFAR-100's 100 fine classes, from `fine_label_names.txt` (the labels the models train on).
#[rustfmt::skip]
pub const CIFAR100_CLASSES: &[&str] = &[
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup",
    "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house",
    "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
    "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid",
    "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy",
    "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal",
    "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
    "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman",
    "worm",
];

/// CIFAR-100's 20 coarse classes (superclasses), from `coarse_label_names.txt`.
#[rustfmt::skip]
pub const CIFAR100_COARSE_CLASSES: &[&str] = &[
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
];
