#!/usr/bin/env python3
"""The PyTorch peer of an elrscope training step: the same net, batch and optimizer, timed.

Prints one JSON line: {"framework": "pytorch", "model": ..., "steps_per_second": ...}.
Run with the interpreter that has torch, e.g. /usr/bin/python3 (Debian's python3-torch).
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBn(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Plain(nn.Module):
    """elrscope's `plain` model: depth conv-BN-ReLU layers in three stride-2 stages, GAP, linear."""

    def __init__(self, depth, width, channels, classes):
        super().__init__()
        layers, cin = [], channels
        for i in range(depth):
            stage = 3 * i // depth
            first = i > 0 and stage != 3 * (i - 1) // depth
            layers.append(ConvBn(cin, width, 2 if first else 1))
            cin = width
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(width, classes)

    def forward(self, x):
        return self.fc(self.layers(x).mean((2, 3)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--depth", type=int, default=10)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--image", type=int, default=28)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    model = Plain(a.depth, a.width, a.channels, 10)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum)
    batches = [(torch.randn(a.batch, a.channels, a.image, a.image), torch.randint(0, 10, (a.batch,))) for _ in range(4)]

    def step(i):
        x, y = batches[i % len(batches)]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        # The engine measures per-layer norms every step; the peer does the same work.
        with torch.no_grad():
            for q in model.parameters():
                q.norm()
                q.grad.norm()
        opt.step()

    for i in range(a.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(a.steps):
        step(i)
    dt = time.perf_counter() - t0
    print(json.dumps({"framework": "pytorch", "version": torch.__version__, "model": f"plain-{a.depth}",
                      "width": a.width, "batch": a.batch, "threads": a.threads, "steps": a.steps,
                      "seconds": dt, "steps_per_second": a.steps / dt}))


if __name__ == "__main__":
    main()
