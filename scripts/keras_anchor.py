"""The paper's three model families in Keras (TensorFlow CPU), as a reference to measure against.

Written from the architecture the paper's tables imply (their parameter counts are reproduced
exactly). Trains with the paper's settings and prints one JSON line (test accuracy and loss,
seconds per epoch). Set-up and the figures measured with it: scripts/README.md.

usage: keras_anchor.py DATASET VARIANT K EPOCHS [TRAIN_LIMIT]
  DATASET  mnist | fashion | cifar10 | cifar100
  VARIANT  conv | separable | light
Reads MNIST / Fashion-MNIST (the four official .gz files in mnist/ and fashion-mnist/) from
$ANCHOR_DATA, else from lightlayers' data cache ($LIGHTLAYERS_DATA, else ~/.cache/lightlayers),
which `cargo run --release --example mnist -- --download` (and fashion_mnist) fill.
"""
import os, sys, time, json, gzip
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
import numpy as np
import tensorflow as tf
from tensorflow import keras
L = keras.layers

DATA = (os.environ.get("ANCHOR_DATA") or os.environ.get("LIGHTLAYERS_DATA")
        or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lightlayers"))


def idx(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(name):
    if name in ("mnist", "fashion"):
        d = f"{DATA}/{'mnist' if name == 'mnist' else 'fashion-mnist'}"
        if not os.path.isdir(d):
            raise SystemExit(f"no {d}: set ANCHOR_DATA to a folder holding mnist/ and fashion-mnist/, "
                             "or fetch them with `cargo run --release --example mnist -- --download`")
        xtr, ytr = idx(f"{d}/train-images-idx3-ubyte.gz"), idx(f"{d}/train-labels-idx1-ubyte.gz")
        xte, yte = idx(f"{d}/t10k-images-idx3-ubyte.gz"), idx(f"{d}/t10k-labels-idx1-ubyte.gz")
        return xtr[..., None], ytr, xte[..., None], yte, 10
    if name in ("cifar10", "cifar100"):
        raise SystemExit("no CIFAR data on these machines; use keras_throughput.py for speed")
    raise SystemExit(f"unknown dataset {name}")


class LightConv2D(L.Layer):
    """conv(kxk, C->r) + b1 -> relu -> conv(kxk, r->F) + b2, l2(1e-4) on kernels."""

    def __init__(self, filters, ksize, r, **kw):
        super().__init__(**kw)
        self.filters, self.ksize, self.r = filters, ksize, r

    def build(self, shape):
        c, reg = shape[-1], keras.regularizers.l2(1e-4)
        k = self.ksize
        self.w1 = self.add_weight(shape=(k, k, c, self.r), initializer="glorot_uniform", regularizer=reg, name="w1")
        self.w2 = self.add_weight(shape=(k, k, self.r, self.filters), initializer="glorot_uniform", regularizer=reg, name="w2")
        self.b1 = self.add_weight(shape=(self.r,), initializer="glorot_uniform", name="b1")
        self.b2 = self.add_weight(shape=(self.filters,), initializer="glorot_uniform", name="b2")

    def call(self, x):
        x = tf.nn.relu(tf.nn.conv2d(x, self.w1, 1, "SAME") + self.b1)
        return tf.nn.conv2d(x, self.w2, 1, "SAME") + self.b2


class LightDense(L.Layer):
    """x @ (w1*s) @ (w2*s) + b, s = sqrt(2/units)."""

    def __init__(self, units, r=8, **kw):
        super().__init__(**kw)
        self.units, self.r = units, r

    def build(self, shape):
        self.w1 = self.add_weight(shape=(shape[-1], self.r), initializer="glorot_uniform", name="w1")
        self.w2 = self.add_weight(shape=(self.r, self.units), initializer="glorot_uniform", name="w2")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, x):
        s = (2.0 / self.units) ** 0.5
        return tf.matmul(tf.matmul(x, self.w1 * s), self.w2 * s) + self.b


def conv(variant, f, ksize, r):
    if variant == "conv":
        return L.Conv2D(f, ksize, padding="same")
    if variant == "separable":
        return L.SeparableConv2D(f, ksize, padding="same")
    return LightConv2D(f, ksize, r)


def build(dataset, variant, r, classes, shape):
    inp = keras.Input(shape)
    x = inp
    residual = dataset.startswith("cifar")
    for f in ([16, 32, 64] if residual else [8, 16, 32]):
        x0 = x
        x = L.ReLU()(L.BatchNormalization()(conv(variant, f, 3, r)(x)))
        x = L.BatchNormalization()(conv(variant, f, 3, r)(x))
        if residual:
            s = L.BatchNormalization()(conv(variant, f, 1, r)(x0))
            x = L.Add()([x, s])
        x = L.MaxPool2D(2)(L.ReLU()(x))
    x = L.GlobalAveragePooling2D()(x)
    x = LightDense(classes, 8)(x) if variant == "light" else L.Dense(classes)(x)
    return keras.Model(inp, L.Softmax()(x))


def main():
    dataset, variant, r, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    limit = int(sys.argv[5]) if len(sys.argv) > 5 else None
    tf.random.set_seed(42); np.random.seed(42)
    xtr, ytr, xte, yte, classes = load(dataset)
    if limit:
        xtr, ytr = xtr[:limit], ytr[:limit]
    xtr = (xtr / 255.0).astype("float32"); xte = (xte / 255.0).astype("float32")
    ytr = keras.utils.to_categorical(ytr, classes); yte = keras.utils.to_categorical(yte, classes)
    model = build(dataset, variant, r, classes, xtr.shape[1:])
    lr = 1e-3 if dataset in ("mnist", "fashion") else 1e-4
    model.compile(keras.optimizers.Adam(lr), "categorical_crossentropy", ["accuracy"])
    times = []
    class T(keras.callbacks.Callback):
        def on_epoch_begin(self, e, logs=None): self.t = time.perf_counter()
        def on_epoch_end(self, e, logs=None): times.append(time.perf_counter() - self.t)
    cb = [T(), keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=4 if dataset != "fashion" else 3)]
    model.fit(xtr, ytr, epochs=epochs, batch_size=64, shuffle=False, validation_data=(xte, yte), callbacks=cb, verbose=0)
    loss, acc = model.evaluate(xte, yte, batch_size=128, verbose=0)
    print(json.dumps({"dataset": dataset, "variant": variant, "k": r, "epochs": epochs, "train": len(xtr),
                      "params": model.count_params(), "test_acc": round(acc, 4), "test_loss": round(loss, 4),
                      "epoch_s": [round(t, 1) for t in times],
                      "train_img_per_s": round(len(xtr) / min(times), 1)}))


if __name__ == "__main__":
    main()
