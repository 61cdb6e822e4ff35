"""Training and inference throughput of the paper's models in Keras (TensorFlow CPU).

Synthetic inputs of the right shape; one warm-up epoch, then timed epochs without validation.
usage: keras_throughput.py FAMILY VARIANT K [IMAGES]
  FAMILY  mnist | cifar10 | cifar100     VARIANT  conv | separable | light
prints one JSON line: train images/s (best of 3 epochs) and inference images/s (batch 256).
Set-up (TensorFlow 2.21, tf-keras): scripts/README.md.
"""
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
sys.path.insert(0, os.path.dirname(__file__))
import numpy as np
from tensorflow import keras
from keras_anchor import build


def main():
    fam, variant, r = sys.argv[1], sys.argv[2], int(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 12800
    shape, classes = ((28, 28, 1), 10) if fam == "mnist" else ((32, 32, 3), 10 if fam == "cifar10" else 100)
    rng = np.random.default_rng(0)
    x = rng.random((n,) + shape, dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, classes, n), classes)
    dataset = "mnist" if fam == "mnist" else fam
    model = build(dataset, variant, r, classes, shape)
    model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy", ["accuracy"])
    model.fit(x[:1280], y[:1280], epochs=1, batch_size=64, verbose=0)
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        model.fit(x, y, epochs=1, batch_size=64, shuffle=False, verbose=0)
        best = max(best, n / (time.perf_counter() - t))
    model.predict(x[:1024], batch_size=256, verbose=0)
    t = time.perf_counter()
    model.predict(x, batch_size=256, verbose=0)
    infer = n / (time.perf_counter() - t)
    print(json.dumps({"family": fam, "variant": variant, "k": r, "params": model.count_params(),
                      "train_img_per_s": round(best), "infer_img_per_s": round(infer)}))


if __name__ == "__main__":
    main()
