#!/usr/bin/env python3
"""Runs the paper's models through TensorFlow (scripts/keras_throughput.py) and through
lightlayers (examples/bench) back to back on this machine, and prints the comparison table of
README.md's "Performance" section, plus the raw JSON lines.

usage: scripts/bench-vs-tensorflow.py [--tf-python /tmp/tfenv/bin/python] [--images 12800]
       [--only mnist,cifar10,...] [--out results.jsonl]

Set-up of the TensorFlow side (once per machine): see scripts/README.md.
Peak memory of both sides is each process's own peak RSS (wait4's maxrss; VmHWM for ours).
"""
import argparse, json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERAS = os.path.join(ROOT, "scripts", "keras_throughput.py")
BENCH = os.path.join(ROOT, "target", "release", "examples", "bench")

# (family, variant, k) of the table
MODELS = [
    ("mnist", "conv", 0), ("mnist", "separable", 0), ("mnist", "light", 1), ("mnist", "light", 3),
    ("cifar10", "conv", 0), ("cifar10", "separable", 0), ("cifar10", "light", 1), ("cifar10", "light", 5),
    ("cifar100", "conv", 0), ("cifar100", "light", 5),
]


def run_keras(py, family, variant, k, images):
    proc = subprocess.Popen([py, KERAS, family, variant, str(max(k, 1)), str(images)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, TF_USE_LEGACY_KERAS="1"))
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
    if status != 0:
        sys.exit(f"keras {family} {variant} {k} failed:\n{stderr[-2000:]}")
    line = json.loads(stdout.strip().splitlines()[-1])
    line["peak_rss_mb"] = round(usage.ru_maxrss / 1024)
    return line


def run_ours(family, variant, k, images):
    args = [BENCH, "--family", family, "--variant", variant, "--images", str(images)]
    if variant == "light":
        args += ["--k", str(k)]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bench {family} {variant} {k} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tf-python", default="/tmp/tfenv/bin/python")
    ap.add_argument("--images", type=int, default=12800)
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    if not os.path.exists(BENCH):
        sys.exit("build it first: cargo build --release --example bench")
    only = set(a.only.split(",")) if a.only else None
    rows, raw = [], []
    for family, variant, k in MODELS:
        if only and family not in only:
            continue
        ours = run_ours(family, variant, k, a.images)
        tf = run_keras(a.tf_python, family, variant, k, a.images)
        raw += [dict(ours, side="lightlayers"), dict(tf, side="tensorflow")]
        rows.append((family, variant, k, ours, tf))
        print(f"{family} {variant} {k}: ours {ours['train_img_per_s']} / {ours['infer_img_per_s']} img/s, "
              f"tf {tf['train_img_per_s']} / {tf['infer_img_per_s']} img/s", file=sys.stderr)
    if a.out:
        with open(a.out, "w") as f:
            for r in raw:
                f.write(json.dumps(r) + "\n")
    print("| model | params | train img/s: ours / TF (×) | infer img/s: ours / TF (×) | peak RSS MB: ours / TF |")
    print("|---|---|---|---|---|")
    for family, variant, k, o, t in rows:
        name = {"mnist": "MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}[family]
        vname = {"conv": "Conv2D", "separable": "SeparableConv2D", "light": f"Light k={k}"}[variant]
        tr = o["train_img_per_s"] / t["train_img_per_s"]
        inf = o["infer_img_per_s"] / t["infer_img_per_s"]
        print(f"| {name} {vname} | {o['params']:,} | {o['train_img_per_s']:,} / {t['train_img_per_s']:,} ({tr:.2f}×) "
              f"| {o['infer_img_per_s']:,} / {t['infer_img_per_s']:,} ({inf:.2f}×) | {o['peak_rss_mb']} / {t['peak_rss_mb']} |")


if __name__ == "__main__":
    main()
