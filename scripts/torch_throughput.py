"""The paper's three model families in PyTorch, for speed comparisons on a GPU (or CPU).

Same architectures as keras_anchor.py (parameter counts, buffers included, equal the paper's
tables). Synthetic inputs; batch 64 training with Adam, batch 256 inference.
usage: torch_throughput.py FAMILY VARIANT K [--device cuda|cpu] [--images N]
prints one JSON line.
Set-up (PyTorch from PyPI): scripts/README.md.
"""
import argparse, json, time
import torch
from torch import nn


class LightConv2d(nn.Module):
    def __init__(self, c, f, r, k):
        super().__init__()
        self.a = nn.Conv2d(c, r, k, padding=k // 2)
        self.b = nn.Conv2d(r, f, k, padding=k // 2)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


class LightDense(nn.Module):
    def __init__(self, i, n, r=8):
        super().__init__()
        self.w1 = nn.Parameter(torch.empty(i, r)); self.w2 = nn.Parameter(torch.empty(r, n))
        self.b = nn.Parameter(torch.zeros(n)); self.s = (2.0 / n) ** 0.5
        nn.init.xavier_uniform_(self.w1); nn.init.xavier_uniform_(self.w2)

    def forward(self, x):
        return (x @ (self.w1 * self.s)) @ (self.w2 * self.s) + self.b


def conv(variant, c, f, k, r):
    if variant == "conv":
        return nn.Conv2d(c, f, k, padding=k // 2)
    if variant == "separable":
        return nn.Sequential(nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False), nn.Conv2d(c, f, 1))
    return LightConv2d(c, f, r, k)


class Block(nn.Module):
    def __init__(self, variant, c, f, r, residual):
        super().__init__()
        self.main = nn.Sequential(conv(variant, c, f, 3, r), nn.BatchNorm2d(f, eps=1e-3, momentum=0.01), nn.ReLU(),
                                  conv(variant, f, f, 3, r), nn.BatchNorm2d(f, eps=1e-3, momentum=0.01))
        self.short = nn.Sequential(conv(variant, c, f, 1, r), nn.BatchNorm2d(f, eps=1e-3, momentum=0.01)) if residual else None
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        y = self.main(x)
        if self.short is not None:
            y = y + self.short(x)
        return self.pool(torch.relu(y))


def build(family, variant, r):
    residual = family != "mnist"
    c, filters = (1, [8, 16, 32]) if family == "mnist" else (3, [16, 32, 64])
    classes = 100 if family == "cifar100" else 10
    blocks = []
    for f in filters:
        blocks.append(Block(variant, c, f, r, residual)); c = f
    head = LightDense(c, classes) if variant == "light" else nn.Linear(c, classes)
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), head), classes


def main():
    p = argparse.ArgumentParser()
    p.add_argument("family"); p.add_argument("variant"); p.add_argument("k", type=int)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--images", type=int, default=12800)
    a = p.parse_args()
    dev = torch.device(a.device)
    model, classes = build(a.family, a.variant, a.k)
    model = model.to(dev)
    params = sum(t.numel() for t in model.parameters()) + sum(b.numel() for n, b in model.named_buffers() if "running" in n)
    shape = (1, 28, 28) if a.family == "mnist" else (3, 32, 32)
    x = torch.rand((a.images,) + shape, device=dev)
    y = torch.randint(0, classes, (a.images,), device=dev)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def epoch(n):
        model.train()
        for i in range(0, n, 64):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[i:i + 64]), y[i:i + 64]).backward()
            opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()

    epoch(1280)
    best = 0.0
    for _ in range(3):
        t = time.perf_counter(); epoch(a.images); best = max(best, a.images / (time.perf_counter() - t))
    model.eval()
    with torch.no_grad():
        model(x[:256])
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for i in range(0, a.images, 256):
            model(x[i:i + 256])
        if dev.type == "cuda":
            torch.cuda.synchronize()
        infer = a.images / (time.perf_counter() - t)
    print(json.dumps({"family": a.family, "variant": a.variant, "k": a.k, "params": params, "device": str(dev),
                      "torch": torch.__version__, "train_img_per_s": round(best), "infer_img_per_s": round(infer)}))


if __name__ == "__main__":
    main()
