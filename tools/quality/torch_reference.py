#!/usr/bin/python3
"""
OPTIONAL COMPARISON TOOL — not part of the project, its build or its tests, and nothing imports it.
Written for MobileNets.ts (issue 8, item 4) to measure what PyTorch gets from the same recipe on the
same folder. Needs Debian's python3-torch (torch 1.13, torchvision 0.14): run it with /usr/bin/python3.

Trains MobileNetV1 (alpha 0.25 at 64 px by default) on <data>/train and reports top-1 on <data>/val:

- the model: MobileNetV1 as in packages/backbone (channels max(int(c * alpha), 8)), conv -> BN -> ReLU6,
  TF 'SAME' padding (stride 2: the extra row/column at the bottom/right, as tfjs and TF pad), BN eps 1e-3,
  global average pool, dropout 0.001, fully connected logits with bias;
- initialisation (--init): 'torchvision' (default; what torchvision's MobileNetV2/V3 do): convs
  kaiming_normal_(fan_out), BN 1/0, Linear normal(0, 0.01), bias 0; or 'ours' (what @mobilenets/backbone
  did before issue 8: He-uniform over fan-out for convs, Glorot-uniform for the Linear layer, bias 0);
- the recipe: RMSprop alpha (decay) 0.9, momentum 0.9, eps 1.0; lr 0.045 x 0.98 per epoch; weight decay 4e-5
  on conv and FC kernels only (not depthwise filters, biases or BN), batch 32, 15 epochs; BN momentum is
  PyTorch's default 0.1 (moving = 0.9 moving + 0.1 batch) unless --bn-momentum says otherwise;
- RMSprop eps placement (--eps-placement): 'outside' (default: torch.optim.RMSprop, p -= lr * buf,
  buf = m * buf + g / (sqrt(v) + eps)) or 'inside' (TF/tfjs: mom = m * mom + lr * g / sqrt(v + eps),
  p -= mom), to test whether the placement matters;
- data: images decoded with PIL, transparency composited onto black and converted to RGB (what
  @mobilenets/datasets does; torchvision's default loader would drop the alpha channel instead); files
  PIL cannot decode are left out (as ours does, with a warning); scaled to [-1, 1] ((x - 0.5) / 0.5);
  --augment: RandomResizedCrop(size, scale=(0.35, 1), ratio=(3/4, 4/3)) and RandomHorizontalFlip (the
  crop range of ours; no colour jitter); without it and for validation: Resize(size) + CenterCrop(size).

Seeded (torch, python and the loader's generator), single-threaded (torch.set_num_threads(1)).
Prints one JSON object with --json.

  /usr/bin/python3 tools/quality/torch_reference.py --data /tmp/q/f6 --seed 0 --augment --json
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms

V1_LAYERS = [  # (kind, stride, filters at alpha = 1): V1 Table 1, as packages/backbone/src/mobilenet-v1.ts
    ('conv', 2, 32), ('sep', 1, 64), ('sep', 2, 128), ('sep', 1, 128), ('sep', 2, 256), ('sep', 1, 256),
    ('sep', 2, 512), ('sep', 1, 512), ('sep', 1, 512), ('sep', 1, 512), ('sep', 1, 512), ('sep', 1, 512),
    ('sep', 2, 1024), ('sep', 1, 1024),
]


class SameConvBn(nn.Module):
    """Conv (no bias) with TF 'SAME' padding -> BN (eps 1e-3) -> optional ReLU6."""

    def __init__(self, cin, cout, kernel, stride, groups, bn_momentum, relu=True):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=bn_momentum)
        self.relu = relu

    def forward(self, x):
        if self.kernel > 1:
            h, w = x.shape[-2:]
            def pads(n):
                out = math.ceil(n / self.stride)
                total = max((out - 1) * self.stride + self.kernel - n, 0)
                return total // 2, total - total // 2
            top, bottom = pads(h)
            left, right = pads(w)
            x = F.pad(x, (left, right, top, bottom))
        x = self.bn(self.conv(x))
        return F.relu6(x) if self.relu else x


class MobileNetV1(nn.Module):
    def __init__(self, classes, alpha=0.25, dropout=0.001, bn_momentum=0.1, min_depth=8):
        super().__init__()
        depth = lambda c: max(int(c * alpha), min_depth)
        layers, cin = [], 3
        for kind, stride, filters in V1_LAYERS:
            cout = depth(filters)
            if kind == 'conv':
                layers.append(SameConvBn(cin, cout, 3, stride, 1, bn_momentum))
            else:
                layers.append(SameConvBn(cin, cin, 3, stride, cin, bn_momentum))
                layers.append(SameConvBn(cin, cout, 1, 1, 1, bn_momentum))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.logits = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.features(x).mean(dim=(2, 3))
        return self.logits(self.dropout(x))


def initialise(model, scheme):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            if scheme == 'torchvision':
                nn.init.kaiming_normal_(m.weight, mode='fan_out')
            else:  # ours before issue 8: varianceScaling(scale 2, fan_out, uniform)
                fan_out = m.weight.shape[0] // m.groups * m.weight.shape[2] * m.weight.shape[3]
                if m.groups > 1:  # tfjs' depthwise kernel [k, k, C, 1]: fan_out = k * k * 1
                    fan_out = m.weight.shape[2] * m.weight.shape[3]
                limit = math.sqrt(3 * 2 / fan_out)
                nn.init.uniform_(m.weight, -limit, limit)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if scheme == 'torchvision':
                nn.init.normal_(m.weight, 0, 0.01)
            else:
                nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


class TfRmsprop(torch.optim.Optimizer):
    """RMSprop as TF / tfjs apply it: ms = d ms + (1 - d) g^2; mom = m mom + lr g / sqrt(ms + eps); p -= mom."""

    def __init__(self, params, lr, alpha=0.9, momentum=0.9, eps=1.0, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, alpha=alpha, momentum=momentum, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group['params']:
                if p.grad is None:
                    continue
                g = p.grad
                if group['weight_decay'] != 0:
                    g = g.add(p, alpha=group['weight_decay'])
                state = self.state[p]
                if not state:
                    state['ms'] = torch.zeros_like(p)
                    state['mom'] = torch.zeros_like(p)
                state['ms'].mul_(group['alpha']).addcmul_(g, g, value=1 - group['alpha'])
                state['mom'].mul_(group['momentum']).add_(g / (state['ms'] + group['eps']).sqrt(), alpha=group['lr'])
                p.sub_(state['mom'])


def load_rgb(path):
    """PIL decode; transparency composited onto black (as @mobilenets/datasets), then RGB."""
    with Image.open(path) as im:
        im.load()
        if im.mode in ('RGBA', 'LA') or (im.mode == 'P' and 'transparency' in im.info):
            rgba = im.convert('RGBA')
            black = Image.new('RGBA', rgba.size, (0, 0, 0, 255))
            return Image.alpha_composite(black, rgba).convert('RGB')
        return im.convert('RGB')


def read_split(root, classes=None):
    if classes is None:
        classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith('.'))
    items, skipped = [], []
    for label, c in enumerate(classes):
        folder = os.path.join(root, c)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if os.path.splitext(name)[1].lower() not in ('.jpg', '.jpeg', '.png', '.webp'):
                continue
            path = os.path.join(folder, name)
            try:
                items.append((load_rgb(path), label))
            except Exception as error:  # noqa: BLE001 - a user's corrupt file is left out, as ours does
                skipped.append(f'{path}: {error}')
    return classes, items, skipped


class ImageList(torch.utils.data.Dataset):
    def __init__(self, items, transform):
        self.items, self.transform = items, transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        image, label = self.items[i]
        return self.transform(image), label


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    loss = 0.0
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            loss += F.cross_entropy(out, y, reduction='sum').item()
            correct += (out.argmax(1) == y).sum().item()
            total += y.numel()
    return correct / total, loss / total


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data', required=True, help='folder with train/<class>/ and val/<class>/')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--alpha', type=float, default=0.25)
    p.add_argument('--input-size', type=int, default=64)
    p.add_argument('--epochs', type=int, default=15)
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--lr', type=float, default=0.045)
    p.add_argument('--lr-decay', type=float, default=0.98, help='per epoch')
    p.add_argument('--weight-decay', type=float, default=4e-5)
    p.add_argument('--bn-momentum', type=float, default=0.1, help="PyTorch's convention: moving = (1 - m) moving + m batch")
    p.add_argument('--dropout', type=float, default=0.001)
    p.add_argument('--augment', action='store_true', help='RandomResizedCrop (scale 0.35-1) + horizontal flip')
    p.add_argument('--init', choices=['torchvision', 'ours'], default='torchvision')
    p.add_argument('--eps-placement', choices=['outside', 'inside'], default='outside')
    p.add_argument('--steps-log', help='write one JSON line per step (loss, accuracy) to this file')
    p.add_argument('--json', action='store_true')
    a = p.parse_args()

    torch.set_num_threads(1)
    random.seed(a.seed)
    torch.manual_seed(a.seed)
    started = time.time()
    classes, train_items, skipped = read_split(os.path.join(a.data, 'train'))
    _, val_items, val_skipped = read_split(os.path.join(a.data, 'val'), classes)
    for s in skipped + val_skipped:
        print(f'warning: skipped {s}', file=sys.stderr)

    normalize = transforms.Normalize([0.5] * 3, [0.5] * 3)
    plain = transforms.Compose([transforms.Resize(a.input_size), transforms.CenterCrop(a.input_size), transforms.ToTensor(), normalize])
    augment = transforms.Compose([
        transforms.RandomResizedCrop(a.input_size, scale=(0.35, 1.0), ratio=(3 / 4, 4 / 3)),
        transforms.RandomHorizontalFlip(), transforms.ToTensor(), normalize,
    ])
    generator = torch.Generator().manual_seed(a.seed)
    train_loader = torch.utils.data.DataLoader(ImageList(train_items, augment if a.augment else plain), batch_size=a.batch, shuffle=True, generator=generator, num_workers=0)
    val_loader = torch.utils.data.DataLoader(ImageList(val_items, plain), batch_size=64, shuffle=False, num_workers=0)

    model = MobileNetV1(len(classes), a.alpha, a.dropout, a.bn_momentum)
    initialise(model, a.init)
    decayed, other = [], []
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.groups == 1 or isinstance(m, nn.Linear):
            decayed.append(m.weight)
            other.extend([m.bias] if getattr(m, 'bias', None) is not None else [])
        elif isinstance(m, (nn.Conv2d, nn.BatchNorm2d)):
            other.extend(q for q in m.parameters(recurse=False))
    assert len(decayed) + len(other) == len(list(model.parameters()))
    groups = [{'params': decayed, 'weight_decay': a.weight_decay}, {'params': other, 'weight_decay': 0.0}]
    if a.eps_placement == 'outside':
        optimizer = torch.optim.RMSprop(groups, lr=a.lr, alpha=0.9, momentum=0.9, eps=1.0)
    else:
        optimizer = TfRmsprop(groups, lr=a.lr, alpha=0.9, momentum=0.9, eps=1.0)

    steps_log = open(a.steps_log, 'w') if a.steps_log else None
    history = []
    step = 0
    for epoch in range(a.epochs):
        lr = a.lr * a.lr_decay ** epoch
        for g in optimizer.param_groups:
            g['lr'] = lr
        model.train()
        loss_sum = correct = seen = 0
        for x, y in train_loader:
            out = model(x)
            loss = F.cross_entropy(out, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            hits = (out.argmax(1) == y).sum().item()
            loss_sum += loss.item() * y.numel()
            correct += hits
            seen += y.numel()
            if steps_log:
                steps_log.write(json.dumps({'step': step, 'epoch': epoch, 'loss': loss.item(), 'accuracy': hits / y.numel(), 'lr': lr}) + '\n')
        top1, val_loss = evaluate(model, val_loader)
        history.append({'epoch': epoch, 'train': {'loss': loss_sum / seen, 'accuracy': correct / seen}, 'val': {'top1': top1, 'loss': val_loss}, 'lr': lr})
        if not a.json:
            print(f'epoch {epoch + 1}: train loss {loss_sum / seen:.4f} acc {correct / seen:.3f} | val top-1 {top1:.3f} loss {val_loss:.4f}', file=sys.stderr)
    if steps_log:
        steps_log.close()
    result = {
        'top1': history[-1]['val']['top1'], 'valLoss': history[-1]['val']['loss'], 'trainLoss': history[-1]['train']['loss'],
        'steps': step, 'epochs': a.epochs, 'seconds': time.time() - started, 'trainImages': len(train_items), 'valImages': len(val_items),
        'skippedImages': len(skipped) + len(val_skipped), 'classes': classes, 'history': history,
        'config': {k: v for k, v in vars(a).items() if k not in ('json', 'steps_log')}, 'torch': torch.__version__,
    }
    if a.json:
        print(json.dumps(result))
    else:
        print(f"top-1 {result['top1']:.4f} on {len(val_items)} val images ({result['seconds']:.0f} s)")


if __name__ == '__main__':
    main()
