#!/usr/bin/python3
"""
OPTIONAL COMPARISON TOOL — not part of the project, its build or its tests, and nothing imports it.
Written for MobileNets.ts to measure what torchvision's SSDLite320-MobileNetV3-Large (--model ssdlite320,
the default) or Faster R-CNN MobileNetV3-Large 320 FPN (--model fasterrcnn320) reaches from scratch
in a wall-clock budget on the procedural shapes detection set (`mobilenet-detect generate`), scored by
the project's own COCO evaluator (`mobilenet-detect coco-eval`) so that both sides are scored identically.
Needs Debian's python3-torch / python3-torchvision (torch 1.13, torchvision 0.14): run it with /usr/bin/python3.

  /usr/bin/python3 tools/quality/ssdlite_torchvision.py --train /tmp/det/train --val /tmp/det/val \\
      --minutes 30 --out /tmp/det/torch-run --seed 0 --threads 2 --eval-every-minutes 3
  /usr/bin/python3 tools/quality/ssdlite_torchvision.py --model fasterrcnn320 --train /tmp/det/train \\
      --val /tmp/det/val --minutes 30 --out /tmp/det/torch-frcnn --seed 0 --threads 2 --eval-every-minutes 3

The models (no pretrained weights anywhere):
- ssdlite320: torchvision.models.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None,
  num_classes=classes + 1); with weights_backbone=None torchvision builds the reduced tail (MobileNetV3
  paper, Table 6) and its own from-scratch initialisation (normal(0, 0.03) convs), BN eps 1e-3 / momentum
  0.03, and keeps its inference defaults (score_thresh 0.001, nms_thresh 0.55, topk_candidates 300,
  detections_per_img 300; inputs resized to 320 x 320 and scaled to [-1, 1] inside).
- fasterrcnn320: torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None,
  weights_backbone=None, num_classes=classes + 1); with no weights torchvision trains every layer (no
  frozen stages) and uses plain BatchNorm2d (eps 1e-5, momentum 0.1) in the full MobileNetV3-Large; FPN
  over its last two stages plus a max-pool level (10 x 10, 10 x 10, 5 x 5 maps for a 320 x 320 input),
  anchors 32-512 px x aspect 0.5/1/2 on each. The model's default settings are kept: inputs resized inside
  to shorter side 320, longer <= 640 (the 320 x 320 shapes images are left as they are) and normalised with
  ImageNet mean/std; RPN 2000/2000 proposals before/after NMS in training, 150/150 at test,
  rpn_score_thresh 0.05; box_score_thresh 0.05, box_nms_thresh 0.5, box_detections_per_img 100.

The ssdlite320 recipe: torchvision's reference for this model (vision/references/detection/README.md, "SSDlite320
MobileNetV3-Large": --epochs 660 --aspect-ratio-group-factor 3 --lr-scheduler cosineannealinglr --lr 0.15
--batch-size 24 --weight-decay 0.00004 --data-augmentation ssdlite, on 8 GPUs), as train.py / engine.py /
presets.py / transforms.py of references/detection implement it:
- SGD, momentum 0.9 (train.py's default), weight decay 4e-5 on every parameter (train.py passes all
  parameters that require grad to one SGD group);
- lr 0.15 for a total batch of 24 x 8 GPUs = 192, scaled linearly to the batch used here (train.py's own
  rule: "the learning rate should be changed to 0.02/8*$NGPU"): lr = 0.15 * batch / 192 (--lr overrides);
- warm-up as engine.py's train_one_epoch does in epoch 0: the lr factor rises linearly from 1/1000 to 1
  over min(1000, steps per epoch - 1) steps;
- cosine decay: the reference steps CosineAnnealingLR(T_max=epochs) once per epoch, so the lr reaches 0
  when the epochs run out. Here the budget is wall-clock training time, not epochs, and this machine is
  shared (its speed varies), so the cosine is evaluated continuously on the training clock:
  lr = lr0 * warm-up(step) * (1 + cos(pi * trained_seconds / budget_seconds)) / 2, reaching 0 at the
  deadline whatever the speed (no estimate of the step count from the first minute's speed needed);
- data augmentation 'ssdlite' (presets.py): RandomIoUCrop() then RandomHorizontalFlip(0.5), no
  photometric distortion, no zoom-out; both re-implemented below with transforms.py's semantics (the
  references folder is not installed): RandomIoUCrop samples a minimum IoU from [0, .1, .3, .5, .7, .9,
  1 (= leave the image as it is)], tries 40 crops with each side 0.3-1 of the image and aspect 0.5-2,
  keeps the first crop in which some box centre lies strictly inside and one such box has IoU >= the
  minimum with the crop, keeps only the boxes whose centres are inside, clamped to the crop; and samples
  a new minimum if all 40 fail;
- the data (both models): COCO annotations as coco_utils.py reads them (iscrowd boxes dropped from the
  training targets, [x, y, w, h] -> [x1, y1, x2, y2] clamped to the image, empty boxes dropped); category
  ids are the labels (background 0); --aspect-ratio-group-factor does nothing here (every image is square);
  batches are drawn from a new seeded permutation of the training images each epoch (the last, short batch
  of an epoch is completed from the next permutation, so every step has the full batch).

The fasterrcnn320 recipe: torchvision's reference for this model (README "Faster R-CNN MobileNetV3-Large
320 FPN": --epochs 26 --lr-steps 16 22 --aspect-ratio-group-factor 3, with train.py's defaults lr 0.02,
batch 2 per GPU on 8 GPUs = 16, momentum 0.9, weight decay 1e-4, lr-gamma 0.1, data augmentation 'hflip'):
- SGD, momentum 0.9, weight decay 1e-4 on every parameter (one group, as above);
- lr 0.02 for a total batch of 16, scaled linearly: lr = 0.02 * batch / 16 (--lr overrides);
- the same warm-up as above (engine.py: linear from factor 1/1000 over min(1000, steps per epoch - 1));
- step decay: the reference's MultiStepLR multiplies the lr by 0.1 after epoch 16 and again after epoch 22
  of 26. Here, as for the cosine above, the training clock replaces epochs: the lr is multiplied by 0.1
  once 16/26 of the budget's training seconds have passed and again at 22/26;
- data augmentation 'hflip' (presets.py): RandomHorizontalFlip(0.5) only, then to float in [0, 1];
- the data and batches as above.
What differs from that reference: its README command also passes --weights-backbone
MobileNet_V3_Large_Weights.IMAGENET1K_V1 (an ImageNet backbone, FrozenBatchNorm2d, only the last 3
backbone stages trained); here, as for ssdlite320, nothing is pretrained, so the recipe (tuned for a
pretrained backbone) is used on a from-scratch network; and the time budget replaces the 26 epochs.

Evaluation (every --eval-every-minutes of training and at the end; its time does not count toward the
budget and is recorded separately): model.eval() on every --val image (the model's own transform resizes
it, see above), the 100 highest-scoring detections per image (COCO's maxDets) written as COCO results
([{image_id, category_id, bbox: [x, y, w, h], score}]) to <out>/detections.json, scored with
`node apps/detect/bin/mobilenet-detect.js coco-eval --gt <val>/annotations.json --dt <that> --json`; one line
per evaluation is appended to <out>/metrics.jsonl:
  {"minutes", "step", "epoch", "images_seen", "loss", "mAP", "AP50", "stats": [12 numbers], "lr", ...}
where minutes is training time (evaluation excluded), epoch = images_seen / training images, loss the mean
training loss since the previous evaluation: the sum of the model's training losses (ssdlite320:
bbox_regression + classification; fasterrcnn320: loss_classifier + loss_box_reg + loss_objectness +
loss_rpn_box_reg). At the end: <out>/final.json, <out>/model.pt (state_dict) and one JSON summary line on stdout.

Runtime: torch.set_num_threads(--threads), and OMP_WAIT_POLICY=PASSIVE unless the environment sets it
(a runtime setting, not part of the recipe: see the comment at the imports).

Seeded: torch.manual_seed, random.seed, numpy.random.seed and the permutation generator (the
augmentation draws from torch's global generator, as the reference's transforms do).
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import time

# GNU OpenMP's default wait policy spins; on a shared 2-core machine a spinning thread waits for a
# descheduled one and a training step took 3-5x longer (measured: 0.5-1.0 against 0.17-0.19 CPU s per
# image at batch 16). Passive waiting is set before torch loads OpenMP unless the environment says otherwise.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn, ssdlite320_mobilenet_v3_large  # noqa: E402
from torchvision.ops import box_iou  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Per --model: the torchvision builder, the reference lr and the total batch it is for, the reference weight
# decay, the lr decay over the budget, the training augmentation (see the module docstring).
MODELS = {
    'ssdlite320': {
        'build': ssdlite320_mobilenet_v3_large, 'lr': 0.15, 'batch': 24 * 8, 'weight_decay': 4e-5,
        'decay': 'cosine', 'augmentation': 'ssdlite',
        'name': 'torchvision ssdlite320_mobilenet_v3_large (weights=None, weights_backbone=None)',
    },
    'fasterrcnn320': {
        'build': fasterrcnn_mobilenet_v3_large_320_fpn, 'lr': 0.02, 'batch': 2 * 8, 'weight_decay': 1e-4,
        'decay': 'multistep', 'augmentation': 'hflip',
        'name': 'torchvision fasterrcnn_mobilenet_v3_large_320_fpn (weights=None, weights_backbone=None)',
    },
}
LR_STEPS, LR_EPOCHS, LR_GAMMA = (16, 22), 26, 0.1  # fasterrcnn320: --lr-steps 16 22 of --epochs 26, --lr-gamma 0.1


def load_rgb(path):
    """PIL decode; transparency composited onto black (as @mobilenets/datasets), then RGB."""
    with Image.open(path) as im:
        im.load()
        if im.mode in ('RGBA', 'LA') or (im.mode == 'P' and 'transparency' in im.info):
            rgba = im.convert('RGBA')
            black = Image.new('RGBA', rgba.size, (0, 0, 0, 255))
            return Image.alpha_composite(black, rgba).convert('RGB')
        return im.convert('RGB')


def read_set(folder, annotations=None):
    """Images as uint8 CHW tensors (all in memory) with their COCO ids and training targets."""
    annotations = annotations or os.path.join(folder, 'annotations.json')
    with open(annotations) as f:
        coco = json.load(f)
    by_image = {}
    for a in coco['annotations']:
        by_image.setdefault(a['image_id'], []).append(a)
    items = []
    for info in sorted(coco['images'], key=lambda i: i['id']):
        image = torch.from_numpy(np.array(load_rgb(os.path.join(folder, info['file_name'])))).permute(2, 0, 1).contiguous()
        h, w = image.shape[1:]
        boxes, labels = [], []
        for a in by_image.get(info['id'], []):
            if a.get('iscrowd', 0):
                continue  # coco_utils.ConvertCocoPolysToMask keeps iscrowd == 0 only
            x, y, bw, bh = a['bbox']
            x1, y1, x2, y2 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)
            if x2 > x1 and y2 > y1:
                boxes.append([x1, y1, x2, y2])
                labels.append(a['category_id'])
        items.append({
            'id': info['id'], 'image': image,
            'boxes': torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            'labels': torch.tensor(labels, dtype=torch.int64),
        })
    return coco, annotations, items


def random_iou_crop(image, boxes, labels, min_scale=0.3, max_scale=1.0, min_aspect=0.5, max_aspect=2.0,
                    options=(0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0), trials=40):
    """references/detection/transforms.py RandomIoUCrop, on a uint8 CHW tensor and xyxy boxes."""
    if boxes.numel() == 0:
        return image, boxes, labels
    _, orig_h, orig_w = image.shape
    while True:
        min_iou = options[int(torch.randint(low=0, high=len(options), size=(1,)))]
        if min_iou >= 1.0:
            return image, boxes, labels
        for _ in range(trials):
            r = min_scale + (max_scale - min_scale) * torch.rand(2)
            new_w, new_h = int(orig_w * r[0]), int(orig_h * r[1])
            if new_h == 0 or not (min_aspect <= new_w / new_h <= max_aspect):
                continue
            r = torch.rand(2)
            left, top = int((orig_w - new_w) * r[0]), int((orig_h - new_h) * r[1])
            right, bottom = left + new_w, top + new_h
            if left == right or top == bottom:
                continue
            cx = 0.5 * (boxes[:, 0] + boxes[:, 2])
            cy = 0.5 * (boxes[:, 1] + boxes[:, 3])
            inside = (left < cx) & (cx < right) & (top < cy) & (cy < bottom)
            if not inside.any():
                continue
            kept = boxes[inside]
            if box_iou(kept, torch.tensor([[left, top, right, bottom]], dtype=kept.dtype)).max() < min_iou:
                continue
            kept = kept.clone()
            kept[:, 0::2] = (kept[:, 0::2] - left).clamp(min=0, max=new_w)
            kept[:, 1::2] = (kept[:, 1::2] - top).clamp(min=0, max=new_h)
            return image[:, top:bottom, left:right], kept, labels[inside]


def horizontal_flip(image, boxes, p=0.5):
    """references/detection/transforms.py RandomHorizontalFlip(0.5)."""
    if torch.rand(1) < p:
        width = image.shape[-1]
        image = image.flip(-1)
        boxes = boxes.clone()
        boxes[:, [0, 2]] = width - boxes[:, [2, 0]]
    return image, boxes


def augment(item):
    """presets.DetectionPresetTrain('ssdlite'): RandomIoUCrop, RandomHorizontalFlip, to float in [0, 1]."""
    image, boxes, labels = random_iou_crop(item['image'], item['boxes'], item['labels'])
    image, boxes = horizontal_flip(image, boxes)
    return image.float().div_(255), {'boxes': boxes, 'labels': labels}


def augment_hflip(item):
    """presets.DetectionPresetTrain('hflip'): RandomHorizontalFlip(0.5), to float in [0, 1]."""
    image, boxes = horizontal_flip(item['image'], item['boxes'])
    return image.float().div_(255), {'boxes': boxes, 'labels': item['labels']}


class BatchStream:
    """Batches of a fixed size from a new seeded permutation each epoch (a short last batch is completed from the next)."""

    def __init__(self, n, batch, seed):
        self.n, self.batch = n, batch
        self.generator = torch.Generator().manual_seed(seed)
        self.order = []

    def next(self):
        while len(self.order) < self.batch:
            self.order.extend(torch.randperm(self.n, generator=self.generator).tolist())
        out, self.order = self.order[:self.batch], self.order[self.batch:]
        return out


@torch.no_grad()
def detect(model, items, batch=8, max_dets=100):
    """COCO results for every item: the max_dets highest-scoring detections of each image."""
    model.eval()
    results = []
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        outputs = model([it['image'].float().div(255) for it in chunk])
        for it, out in zip(chunk, outputs):
            order = out['scores'].argsort(descending=True)[:max_dets]
            for box, score, label in zip(out['boxes'][order].tolist(), out['scores'][order].tolist(), out['labels'][order].tolist()):
                x1, y1, x2, y2 = box
                results.append({'image_id': it['id'], 'category_id': int(label), 'bbox': [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)], 'score': round(score, 5)})
    model.train()
    return results


def coco_eval(gt, dt, node, cli):
    """The project's evaluator: `mobilenet-detect coco-eval --json` -> the 12 pycocotools stats."""
    done = subprocess.run([node, cli, 'coco-eval', '--gt', gt, '--dt', dt, '--json'], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f'coco-eval failed (exit {done.returncode}): {done.stderr[-2000:]}')
    return json.loads(done.stdout.strip().split('\n')[-1])['stats']


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', choices=sorted(MODELS), default='ssdlite320', help='which torchvision detector (default ssdlite320)')
    p.add_argument('--train', required=True, help='a `mobilenet-detect generate` folder: images/ and annotations.json')
    p.add_argument('--val', required=True, help='the held-out folder, same layout')
    p.add_argument('--minutes', type=float, required=True, help='training budget in minutes (evaluation excluded)')
    p.add_argument('--out', required=True, help='run folder: metrics.jsonl, detections.json, final.json, model.pt')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=2, help='torch.set_num_threads')
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--lr', type=float, default=None, help='default: the reference lr scaled linearly, ssdlite320 0.15 * batch / 192, fasterrcnn320 0.02 * batch / 16')
    p.add_argument('--momentum', type=float, default=0.9)
    p.add_argument('--weight-decay', type=float, default=None, help='default: the reference, ssdlite320 4e-5, fasterrcnn320 1e-4')
    p.add_argument('--eval-every-minutes', type=float, default=None, help='also evaluate every this many training minutes (default: only at the end)')
    p.add_argument('--eval-at-start', action='store_true', help='also evaluate the untrained model (minute 0)')
    p.add_argument('--node', default='node')
    p.add_argument('--cli', default=os.path.join(ROOT, 'apps/detect/bin/mobilenet-detect.js'))
    a = p.parse_args()
    spec = MODELS[a.model]
    if a.weight_decay is None:
        a.weight_decay = spec['weight_decay']

    torch.set_num_threads(a.threads)
    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    metrics_file = os.path.join(a.out, 'metrics.jsonl')
    open(metrics_file, 'w').close()
    dt_file = os.path.join(a.out, 'detections.json')

    started = time.time()
    train_coco, _, train_items = read_set(a.train)
    val_coco, val_gt, val_items = read_set(a.val)
    categories = sorted(c['id'] for c in train_coco['categories'])
    num_classes = max(categories) + 1  # + background (label 0)
    load_seconds = time.time() - started
    print(f'{len(train_items)} training, {len(val_items)} held-out images, {len(categories)} classes; loaded in {load_seconds:.1f} s', file=sys.stderr)

    model = spec['build'](weights=None, weights_backbone=None, num_classes=num_classes)
    model.train()
    params = [q for q in model.parameters() if q.requires_grad]
    lr0 = a.lr if a.lr is not None else spec['lr'] * a.batch / spec['batch']
    optimizer = torch.optim.SGD(params, lr=lr0, momentum=a.momentum, weight_decay=a.weight_decay)
    steps_per_epoch = math.ceil(len(train_items) / a.batch)
    warmup_steps = min(1000, steps_per_epoch - 1)
    budget = a.minutes * 60.0
    stream = BatchStream(len(train_items), a.batch, a.seed)
    augment_item = augment if spec['augmentation'] == 'ssdlite' else augment_hflip

    def lr_at(step, trained):
        warm = 1.0 if step >= warmup_steps else 1e-3 + (1 - 1e-3) * step / warmup_steps
        progress = min(trained / budget, 1.0)
        if spec['decay'] == 'cosine':
            return lr0 * warm * 0.5 * (1 + math.cos(math.pi * progress))
        return lr0 * warm * LR_GAMMA ** sum(progress >= m / LR_EPOCHS for m in LR_STEPS)

    trained = 0.0  # training seconds (evaluation excluded)
    trained_cpu = 0.0  # this process's CPU seconds in those (a shared machine's load shows as trained_cpu / trained < threads)
    eval_seconds = 0.0
    step = images_seen = 0
    loss_sum = loss_parts = 0.0
    loss_count = 0
    interval_start = (0.0, 0)
    next_eval = a.eval_every_minutes * 60.0 if a.eval_every_minutes else math.inf
    history = []
    lr = lr_at(0, 0.0)

    def evaluate():
        nonlocal eval_seconds, loss_sum, loss_count, interval_start
        t0 = time.time()
        results = detect(model, val_items)
        with open(dt_file, 'w') as f:
            json.dump(results, f)
        stats = coco_eval(val_gt, dt_file, a.node, a.cli)
        seconds = time.time() - t0
        eval_seconds += seconds
        span, span_images = trained - interval_start[0], images_seen - interval_start[1]
        line = {
            'minutes': round(trained / 60, 4), 'step': step, 'epoch': round(images_seen / len(train_items), 4),
            'images_seen': images_seen, 'loss': loss_sum / loss_count if loss_count else None,
            'mAP': stats[0], 'AP50': stats[1], 'stats': stats, 'lr': lr,
            'images_per_second': span_images / span if span > 0 else None,
            'train_cpu_seconds': round(trained_cpu, 1), 'detections': len(results), 'eval_seconds': round(seconds, 2),
            'wall_minutes': round((time.time() - started) / 60, 4),
        }
        with open(metrics_file, 'a') as f:
            f.write(json.dumps(line) + '\n')
        history.append(line)
        print(f"[{line['minutes']:.2f} min, step {step}, epoch {line['epoch']:.2f}] loss {line['loss'] if line['loss'] is None else round(line['loss'], 4)} "
              f"mAP {stats[0]:.4f} AP50 {stats[1]:.4f} ({line['images_per_second'] or 0:.2f} img/s; eval {seconds:.1f} s)", file=sys.stderr)
        loss_sum, loss_count = 0.0, 0
        interval_start = (trained, images_seen)

    if a.eval_at_start:
        evaluate()
    while trained < budget:
        t0, c0 = time.time(), time.process_time()
        lr = lr_at(step, trained)
        for g in optimizer.param_groups:
            g['lr'] = lr
        batch = [augment_item(train_items[i]) for i in stream.next()]
        losses = model([b[0] for b in batch], [b[1] for b in batch])
        loss = sum(losses.values())
        if not math.isfinite(loss.item()):
            raise RuntimeError(f'loss is {loss.item()} at step {step}: {losses}')
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        images_seen += len(batch)
        loss_sum += loss.item()
        loss_count += 1
        trained += time.time() - t0
        trained_cpu += time.process_time() - c0
        if trained >= next_eval and trained < budget:
            evaluate()
            while next_eval <= trained:
                next_eval += a.eval_every_minutes * 60.0
    evaluate()

    torch.save(model.state_dict(), os.path.join(a.out, 'model.pt'))
    last = history[-1]
    summary = {
        'model': spec['name'],
        'mAP': last['mAP'], 'AP50': last['AP50'], 'stats': last['stats'],
        'trainMinutes': trained / 60, 'evalMinutes': eval_seconds / 60, 'wallMinutes': (time.time() - started) / 60,
        'steps': step, 'imagesSeen': images_seen, 'epochs': images_seen / len(train_items),
        'imagesPerSecond': images_seen / trained if trained > 0 else None,
        'cpuSecondsPerImage': trained_cpu / images_seen if images_seen else None,
        'trainImages': len(train_items), 'valImages': len(val_items), 'classes': len(categories),
        'batch': a.batch, 'lr': lr0, 'warmupSteps': warmup_steps, 'momentum': a.momentum, 'weightDecay': a.weight_decay,
        'threads': a.threads, 'ompWaitPolicy': os.environ.get('OMP_WAIT_POLICY'), 'seed': a.seed, 'budgetMinutes': a.minutes,
        'torch': torch.__version__, 'torchvision': torchvision.__version__,
        'command': ' '.join([sys.executable] + sys.argv),
    }
    with open(os.path.join(a.out, 'final.json'), 'w') as f:
        json.dump({**summary, 'history': history}, f, indent=1)
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
