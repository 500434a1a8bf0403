#!/usr/bin/python3
"""
OPTIONAL COMPARISON TOOL — not part of the project, its build or its tests, and nothing imports it.
Written for MobileNets.ts (issue 11, "Training at PyTorch's speed") to measure PyTorch's training
throughput on the same model, recipe and batch as `mobilenet bench train`; tools/bench/train-vs-pytorch.ts
runs it alternately with ours. Needs Debian's python3-torch (torch 1.13): run it with /usr/bin/python3.

  /usr/bin/python3 tools/bench/torch_train_bench.py --arch v1 --alpha 0.25 --input-size 128 --batch 32 --json

The model is the one packages/backbone builds (src/mobilenet-v1.ts, src/mobilenet-v2.ts, src/blocks.ts):
- every convolution without bias -> BatchNorm (eps 1e-3, moving average 0.9 moving + 0.1 batch) -> ReLU6
  (V2's projections: no activation); TF 'SAME' padding: symmetric for stride 1, and for stride 2 on an even
  input the extra row/column at the bottom/right (as TF and tfjs pad);
- V1 (Table 1): channels max(int(c * alpha), 8); a 3x3 stem at stride 2, 13 depthwise-separable layers;
  dropout 0.001;
- V2 (Table 2): channels _make_divisible(c * alpha, 8); stem 32, 17 inverted-residual blocks (expansion
  1x1 -> depthwise 3x3 -> linear 1x1 projection, residual add when stride 1 and channels match), the last
  1x1 conv 1280 channels (more only for alpha > 1); dropout 0.2;
- head: global average pool -> dropout -> fully connected logits with bias -> softmax cross-entropy.

The training step (what packages/runtime's benchmarkTraining times): forward in training mode, mean
softmax cross-entropy, backward, RMSprop (lr 0.045, alpha (decay) 0.9, momentum 0.9, eps 1.0;
torch.optim.RMSprop, eps outside the square root — where eps sits does not change the cost), with L2 weight
decay 4e-5 on conv and FC kernels only (not depthwise filters, biases or BN), as ours does. The batch is
one seeded random batch of images in [-1, 1) and labels i % classes, reused every step (as ours does).

Memory format (--memory-format): 'channels_last' (default: NHWC strides, model and input), 'contiguous'
(NCHW), or 'auto': a few steps of each first, and the faster one is timed (that run's peak RSS then includes
the trial). The comparison is against PyTorch at its best: channels_last was the faster on this 2-core AVX2
machine for every default configuration of train-vs-pytorch.ts (best ms/step, 2 threads: V1 0.25-128 b32
147 vs 178 contiguous; V1 1.0-224 b16 703 vs 877; V2 1.0-224 b16 850 vs 1129). torch.optim.RMSprop's
foreach=True changed nothing measurable (the optimizer is ~3 ms of a 135 ms step), so it is left at its
default. The JSON says which format ran.

Runtime: torch.set_num_threads(--threads, default 2), and OMP_WAIT_POLICY=PASSIVE unless the environment
sets it (see tools/quality/ssdlite_torchvision.py: GNU OpenMP's spinning waits make a shared 2-core
machine 3-5x slower).

Output (--json): one line
  {"arch", "alpha", "inputSize", "batch", "classes", "steps", "warmup", "imagesPerSecond", "msPerStep",
   "msPerStepSamples", "peakRssMiB", "torch", "threads", "memoryFormat", "memoryFormatTrial", ...}
where imagesPerSecond = steps * batch / (time of the timed steps) and peakRssMiB is the process's maxrss.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

# Before torch loads OpenMP (see the docstring).
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

V1_LAYERS = [  # (kind, stride, filters at alpha = 1): V1 Table 1, as packages/backbone/src/mobilenet-v1.ts
    ('conv', 2, 32), ('sep', 1, 64), ('sep', 2, 128), ('sep', 1, 128), ('sep', 2, 256), ('sep', 1, 256),
    ('sep', 2, 512), ('sep', 1, 512), ('sep', 1, 512), ('sep', 1, 512), ('sep', 1, 512), ('sep', 1, 512),
    ('sep', 2, 1024), ('sep', 1, 1024),
]
V2_STAGES = [  # (expansion t, filters c, repeats n, stride s): V2 Table 2, as packages/backbone/src/mobilenet-v2.ts
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
]
BN_EPS = 1e-3
BN_MOMENTUM = 0.1  # PyTorch's convention for ours' 0.9: moving = 0.9 moving + 0.1 batch
LR, RMS_ALPHA, RMS_MOMENTUM, RMS_EPS, WEIGHT_DECAY = 0.045, 0.9, 0.9, 1.0, 4e-5


def make_divisible(value, divisor=8, min_value=None):
    """TF-slim's _make_divisible (packages/backbone/src/rounding.ts)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def same_padding(size, kernel, stride):
    """TF 'SAME': (before, after) padding of one spatial dimension; the odd pixel goes after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class ConvBn(nn.Module):
    """Conv (no bias, TF 'SAME' padding) -> BN (eps 1e-3) -> optional ReLU6."""

    def __init__(self, cin, cout, kernel, stride, in_size, groups=1, relu=True):
        super().__init__()
        top, bottom = same_padding(in_size, kernel, stride)
        # Symmetric padding goes into the convolution itself; an asymmetric one (stride 2 on an even
        # input: 0 before, 1 after) is an explicit pad (left, right, top, bottom) first.
        self.pad = None if top == bottom else (top, bottom, top, bottom)
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=top if top == bottom else 0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.relu = relu
        self.out_size = math.ceil(in_size / stride)

    def forward(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad)
        x = self.bn(self.conv(x))
        return F.relu6(x) if self.relu else x


class InvertedResidual(nn.Module):
    def __init__(self, cin, hidden, cout, stride, expansion, in_size):
        super().__init__()
        layers, size = [], in_size
        if expansion != 1:
            layers.append(ConvBn(cin, hidden, 1, 1, size))
        layers.append(ConvBn(hidden, hidden, 3, stride, size, groups=hidden))
        size = layers[-1].out_size
        layers.append(ConvBn(hidden, cout, 1, 1, size, relu=False))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout
        self.out_size = size

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class MobileNet(nn.Module):
    def __init__(self, arch, alpha, input_size, classes):
        super().__init__()
        layers, size = [], input_size
        if arch == 'v1':
            depth = lambda c: max(int(c * alpha), 8)  # noqa: E731
            cin = 3
            for kind, stride, filters in V1_LAYERS:
                cout = depth(filters)
                if kind == 'conv':
                    layers.append(ConvBn(cin, cout, 3, stride, size))
                else:
                    layers.append(ConvBn(cin, cin, 3, stride, size, groups=cin))
                    size = layers[-1].out_size
                    layers.append(ConvBn(cin, cout, 1, 1, size))
                size = layers[-1].out_size
                cin = cout
            dropout = 0.001
        else:
            cin = make_divisible(32 * alpha)
            layers.append(ConvBn(3, cin, 3, 2, size))
            size = layers[-1].out_size
            for expansion, filters, repeats, first_stride in V2_STAGES:
                cout = make_divisible(filters * alpha)
                for i in range(repeats):
                    stride = first_stride if i == 0 else 1
                    hidden = cin if expansion == 1 else make_divisible(cin * expansion)
                    layers.append(InvertedResidual(cin, hidden, cout, stride, expansion, size))
                    size = layers[-1].out_size
                    cin = cout
            last = make_divisible(1280 * alpha) if alpha > 1 else 1280
            layers.append(ConvBn(cin, last, 1, 1, size))
            cin = last
            dropout = 0.2
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.logits = nn.Linear(cin, classes)
        for m in self.modules():  # torchvision's MobileNet initialisation (ours' too, up to the distribution)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out')
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x).mean(dim=(2, 3))
        return self.logits(self.dropout(x))


def optimizer_for(model):
    """RMSprop with weight decay on conv (groups = 1) and FC kernels only, as ours (training/src/step.ts)."""
    decayed, other = [], []
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.groups == 1 or isinstance(m, nn.Linear):
            decayed.append(m.weight)
            if m.bias is not None:
                other.append(m.bias)
        elif isinstance(m, (nn.Conv2d, nn.BatchNorm2d)):
            other.extend(m.parameters(recurse=False))
    assert len(decayed) + len(other) == len(list(model.parameters()))
    groups = [{'params': decayed, 'weight_decay': WEIGHT_DECAY}, {'params': other, 'weight_decay': 0.0}]
    return torch.optim.RMSprop(groups, lr=LR, alpha=RMS_ALPHA, momentum=RMS_MOMENTUM, eps=RMS_EPS)


class Trainer:
    """A model, its optimizer and a fixed random batch in one memory format."""

    def __init__(self, a, memory_format, seed):
        torch.manual_seed(seed)
        self.model = MobileNet(a.arch, a.alpha, a.input_size, a.classes)
        self.images = torch.rand(a.batch, 3, a.input_size, a.input_size) * 2 - 1
        self.labels = torch.arange(a.batch) % a.classes
        if memory_format == 'channels_last':
            self.model = self.model.to(memory_format=torch.channels_last)
            self.images = self.images.contiguous(memory_format=torch.channels_last)
        self.model.train()
        self.optimizer = optimizer_for(self.model)

    def step(self):
        """One training step; returns (loss, milliseconds)."""
        start = time.perf_counter()
        loss = F.cross_entropy(self.model(self.images), self.labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        value = loss.item()
        return value, (time.perf_counter() - start) * 1000


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--arch', choices=['v1', 'v2'], default='v1')
    p.add_argument('--alpha', type=float, default=1.0)
    p.add_argument('--input-size', type=int, default=224)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--steps', type=int, default=10, help='timed steps')
    p.add_argument('--warmup', type=int, default=2, help='untimed steps first')
    p.add_argument('--classes', type=int, default=10)
    p.add_argument('--threads', type=int, default=2, help='torch.set_num_threads')
    p.add_argument('--memory-format', choices=['auto', 'contiguous', 'channels_last'], default='channels_last')
    p.add_argument('--trial-steps', type=int, default=2, help="with --memory-format auto: timed steps of each format (after 1 untimed)")
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', action='store_true', help='print one JSON line')
    a = p.parse_args()
    if a.steps < 1 or a.warmup < 0 or a.batch < 1 or a.classes < 1 or a.threads < 1:
        p.error('--steps, --batch, --classes and --threads must be >= 1, --warmup >= 0')

    torch.set_num_threads(a.threads)
    log = (lambda *_: None) if a.json else (lambda msg: print(msg, file=sys.stderr))
    started = time.perf_counter()

    trial = None
    if a.memory_format == 'auto':
        trial = {}
        for fmt in ('contiguous', 'channels_last'):
            t = Trainer(a, fmt, a.seed)
            t.step()
            trial[fmt] = sorted(t.step()[1] for _ in range(max(a.trial_steps, 1)))[0]
            del t
        memory_format = min(trial, key=trial.get)
        log(f'memory format trial (best ms/step): {trial} -> {memory_format}')
    else:
        memory_format = a.memory_format

    trainer = Trainer(a, memory_format, a.seed)
    losses = []
    for _ in range(a.warmup):
        losses.append(trainer.step()[0])
    samples = []
    for i in range(a.steps):
        loss, ms = trainer.step()
        losses.append(loss)
        samples.append(ms)
        log(f'step {i + 1}/{a.steps}: {ms:.0f} ms, loss {loss:.3f}')
    total_ms = sum(samples)
    result = {
        'arch': a.arch, 'alpha': a.alpha, 'inputSize': a.input_size, 'batch': a.batch, 'classes': a.classes,
        'steps': a.steps, 'warmup': a.warmup,
        'imagesPerSecond': a.steps * a.batch / (total_ms / 1000), 'msPerStep': total_ms / a.steps,
        'msPerStepSamples': [round(s, 2) for s in samples],
        'firstLoss': losses[0], 'lastLoss': losses[-1],
        'peakRssMiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        'torch': torch.__version__, 'threads': torch.get_num_threads(), 'ompWaitPolicy': os.environ.get('OMP_WAIT_POLICY'),
        'memoryFormat': memory_format, 'memoryFormatTrial': trial,
        'parameters': sum(q.numel() for q in trainer.model.parameters()),
        'seconds': time.perf_counter() - started,
    }
    if a.json:
        print(json.dumps(result))
    else:
        print(f"{a.arch} alpha={a.alpha} {a.input_size}px, batch {a.batch}: {result['imagesPerSecond']:.1f} images/s "
              f"({result['msPerStep']:.0f} ms/step, {memory_format}, {result['threads']} threads, torch {torch.__version__}); "
              f"peak RSS {result['peakRssMiB']:.0f} MiB")


if __name__ == '__main__':
    main()
