#!/usr/bin/env python3
"""The PyTorch peer of an elrscope training step: the same net, batch and optimizer, timed.

Nets: `plain` (depth conv-BN-ReLU layers in three stride-2 stages) and `resnet` (CIFAR ResNet v1,
6n+2 layers, widths w/2w/4w, 1x1 conv + BN projection shortcuts where the shape changes), both
with global average pooling and a linear classifier, as layers/models.cpp builds them.

One step = zero_grad, forward, cross-entropy, backward, the per-layer statistics the engine takes
every step (|W|^2, |g|^2, <g, W>, |v|^2 per parameter tensor), SGD(lr 0.1, momentum 0.9) step.

Standalone: prints one JSON line with the timing of --steps steps.
--serve: builds the net, prints {"ready": true, "version": ...}, then answers each stdin line
"run N" with {"times": [seconds of each of N steps]}; "quit" (or end of input) exits.
elrscope bench drives it this way, interleaving its blocks with the engine's.
Run with the interpreter that has torch, e.g. /usr/bin/python3 (Debian's python3-torch).

--device cuda (default cpu; `elrscope bench --suite gpu-step` passes it): the net and the batches live on the GPU, TF32 is off for convolutions and matmuls (FP32
against the engine's FP32), and each step is timed between torch.cuda.synchronize() calls.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBn(nn.Module):
    def __init__(self, cin, cout, kernel, stride, relu):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = relu

    def forward(self, x):
        y = self.bn(self.conv(x))
        return F.relu(y) if self.relu else y


class ResidualBlock(nn.Module):
    """conv3x3(stride)-BN-ReLU-conv3x3-BN, plus the identity or a 1x1 conv + BN projection, then ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = ConvBn(cin, cout, 1, stride, False) if stride != 1 or cin != cout else None

    def forward(self, x):
        h = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(h + (self.shortcut(x) if self.shortcut is not None else x))


class Classifier(nn.Module):
    def __init__(self, body, features, classes):
        super().__init__()
        self.body = body
        self.fc = nn.Linear(features, classes)

    def forward(self, x):
        return self.fc(self.body(x).mean((2, 3)))


def plain(depth, width, channels, classes):
    layers, cin = [], channels
    for i in range(depth):
        stage = 3 * i // depth
        first = i > 0 and stage != 3 * (i - 1) // depth
        layers.append(ConvBn(cin, width, 3, 2 if first else 1, True))
        cin = width
    return Classifier(nn.Sequential(*layers), width, classes)


def resnet(depth, width, channels, classes):
    if depth < 8 or (depth - 2) % 6 != 0:
        raise SystemExit(f"resnet depth must be 6n+2, got {depth}")
    blocks = (depth - 2) // 6
    layers, cin = [ConvBn(channels, width, 3, 1, True)], width
    for stage in range(3):
        cout = width << stage
        for b in range(blocks):
            layers.append(ResidualBlock(cin, cout, 2 if stage > 0 and b == 0 else 1))
            cin = cout
    return Classifier(nn.Sequential(*layers), cin, classes)


def build(a):
    if a.model == "plain":
        return plain(a.depth, a.width, a.channels, a.classes)
    if a.model == "resnet":
        return resnet(a.depth, a.width, a.channels, a.classes)
    raise SystemExit(f"unknown model {a.model!r} (expected plain or resnet)")


def make_step(a):
    model = build(a).to(a.device)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum)
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(a.batch, a.channels, a.image, a.image, generator=gen).to(a.device),
                torch.randint(0, a.classes, (a.batch,), generator=gen).to(a.device)) for _ in range(4)]
    params = list(model.parameters())
    counter = [0]

    def step():
        x, y = batches[counter[0] % len(batches)]
        counter[0] += 1
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        # The engine measures every parameter tensor every step; the peer does the same work.
        with torch.no_grad():
            stats = []
            for q in params:
                buf = opt.state[q].get("momentum_buffer") if q in opt.state else None
                stats.append((q.pow(2).sum(), q.grad.pow(2).sum(), (q.grad * q).sum(),
                              buf.pow(2).sum() if buf is not None else None))
        opt.step()
        return loss

    return step


def timed(step, n, cuda=False):
    times = []
    for _ in range(n):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times


def setup_device(a):
    """Checks the device; on CUDA turns TF32 off. Returns the version string the peer reports."""
    if a.device == "cpu":
        return torch.__version__
    if a.device != "cuda":
        raise SystemExit(f"--device: expected cpu or cuda, got {a.device!r}")
    if not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device (or this torch is built without CUDA)")
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    return (f"{torch.__version__} on {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda}, "
            f"cuDNN {torch.backends.cudnn.version()}, TF32 off)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="plain", choices=["plain", "resnet"])
    p.add_argument("--depth", type=int, default=10)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--image", type=int, default=28)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--serve", action="store_true", help="answer 'run N' lines on stdin (used by elrscope bench)")
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    version = setup_device(a)
    cuda = a.device == "cuda"
    step = make_step(a)
    if a.serve:
        print(json.dumps({"ready": True, "version": version, "threads": torch.get_num_threads()}), flush=True)
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == "quit":
                break
            if words[0] == "run" and len(words) == 2:
                print(json.dumps({"times": timed(step, int(words[1]), cuda)}), flush=True)
            else:
                print(json.dumps({"error": f"unknown request {line.strip()!r}"}), flush=True)
        return
    timed(step, a.warmup, cuda)
    times = timed(step, a.steps, cuda)
    total = sum(times)
    times.sort()
    print(json.dumps({"framework": "pytorch", "version": version, "device": a.device, "model": f"{a.model}-{a.depth}",
                      "width": a.width, "batch": a.batch, "threads": a.threads, "steps": a.steps,
                      "seconds": total, "steps_per_second": a.steps / total,
                      "median_step_s": times[len(times) // 2], "min_step_s": times[0]}))


if __name__ == "__main__":
    main()
