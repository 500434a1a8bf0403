#!/usr/bin/python3
"""
OPTIONAL COMPARISON TOOL (PyTorch, not a dependency of the project). The PyTorch half of
tools/quality/step-check.ts: loads our initial weights and batch from /tmp/q/stepcheck.json into
torch_reference.MobileNetV1, compares the loss and every gradient with ours, measures how much PyTorch's own
gradients move between float32 and float64 and under a 1e-6 input change (the noise floor of the
comparison), and replays the 20 RMSprop steps with TF's epsilon placement.
"""
import json, sys, torch, numpy as np, torch.nn.functional as F
sys.path.insert(0, __import__('os').path.dirname(__file__))
from torch_reference import MobileNetV1, TfRmsprop
torch.set_num_threads(1)
d = json.load(open('/tmp/q/stepcheck.json'))
m = MobileNetV1(4, 0.25, 0.0, bn_momentum=0.01)
W = {w['name']: np.array(w['values'], dtype=np.float32).reshape(w['shape']) for w in d['weights']}
convs = [l for l in m.features]
names = [n for n in W if n.endswith('/kernel') and not n.startswith('Logits')] + [n for n in W if n.endswith('/depthwise_kernel')]
# order: by layer order in weights list
order = [w['name'] for w in d['weights']]
kern = [n for n in order if n.endswith('kernel') and not n.startswith('Logits')]
assert len(kern) == len(convs), (len(kern), len(convs))
with torch.no_grad():
    for layer, n in zip(convs, kern):
        k = W[n]
        if 'depthwise' in n.split('/')[-1]:
            t = torch.tensor(k).permute(2, 3, 0, 1)  # [kh,kw,C,1] -> [C,1,kh,kw]
        else:
            t = torch.tensor(k).permute(3, 2, 0, 1)  # [kh,kw,in,out] -> [out,in,kh,kw]
        assert t.shape == layer.conv.weight.shape, (n, t.shape, layer.conv.weight.shape)
        layer.conv.weight.copy_(t)
        base = n.split('/')[0] + '_BatchNorm'
        layer.bn.weight.copy_(torch.tensor(W[base + '/gamma'])); layer.bn.bias.copy_(torch.tensor(W[base + '/beta']))
    m.logits.weight.copy_(torch.tensor(W['Logits/kernel']).t()); m.logits.bias.copy_(torch.tensor(W['Logits/bias']))
state0 = {k: v.clone() for k, v in m.state_dict().items()}
x = torch.tensor(np.array(d['images'], dtype=np.float32).reshape(d['shape'])).permute(0, 3, 1, 2)
y = torch.tensor(d['labels'])
m.train()
loss = F.cross_entropy(m(x), y)
loss.backward()
print('loss ours', d['loss'], 'torch', loss.item())
G = {g['name']: np.array(g['values'], dtype=np.float32) for g in d['grads']}
def tgrad(n):
    base = n.split('/')[0]
    if base == 'Logits':
        p = m.logits.weight if n.endswith('kernel') else m.logits.bias
        g = p.grad
        return (g.t() if n.endswith('kernel') else g).contiguous().numpy().ravel()
    if base.endswith('_BatchNorm'):
        layer = convs[kern.index([k for k in kern if k.split('/')[0] == base[:-len('_BatchNorm')]][0])]
        return (layer.bn.weight.grad if n.endswith('gamma') else layer.bn.bias.grad).numpy().ravel()
    layer = convs[kern.index(n)]
    g = layer.conv.weight.grad
    return (g.permute(2, 3, 0, 1) if 'depthwise' in n else g.permute(2, 3, 1, 0)).contiguous().numpy().ravel()
worst = []
for n, g in G.items():
    t = tgrad(n)
    rel = np.linalg.norm(g - t) / (np.linalg.norm(t) + 1e-12)
    worst.append((rel, n, np.linalg.norm(t), np.linalg.norm(g)))
worst.sort(reverse=True)
for w in worst[:8]: print('grad rel err %.4f %s |torch| %.4g |ours| %.4g' % w)
print('median rel err', np.median([w[0] for w in worst]))
# trajectories
m.load_state_dict(state0)
opt = TfRmsprop(m.parameters(), lr=0.045)
losses = []
for b in d['batches']:
    xb = torch.tensor(np.array(b['images'], dtype=np.float32).reshape(-1, 64, 64, 3)).permute(0, 3, 1, 2)
    yb = torch.tensor(b['labels'])
    l = F.cross_entropy(m(xb), yb); opt.zero_grad(); l.backward(); opt.step(); losses.append(l.item())
print('ours ', ' '.join('%.4f' % v for v in d['losses']))
print('torch', ' '.join('%.4f' % v for v in losses))

def grads_of(model, xx):
    model.load_state_dict(state0) if next(model.parameters()).dtype == torch.float32 else None
    model.zero_grad(); model.train()
    F.cross_entropy(model(xx), y).backward()
    return {n: p.grad.detach().double().clone() for n, p in model.named_parameters()}
m.load_state_dict(state0)
g32 = grads_of(m, x)
m64 = MobileNetV1(4, 0.25, 0.0, bn_momentum=0.01).double(); m64.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in state0.items()})
m64.zero_grad(); F.cross_entropy(m64(x.double()), y).backward()
g64 = {n: p.grad.detach().clone() for n, p in m64.named_parameters()}
m.load_state_dict(state0)
gp = grads_of(m, x * (1 + 1e-6))
errs = sorted(((torch.norm(g32[n] - g64[n]) / torch.norm(g64[n])).item(), n) for n in g64)
print('f32 vs f64 median %.2e max %.2e (%s)' % (np.median([e for e, _ in errs]), errs[-1][0], errs[-1][1]))
errs = sorted(((torch.norm(gp[n] - g32[n]) / torch.norm(g32[n])).item(), n) for n in g64)
print('x*(1+1e-6) median %.2e max %.2e (%s)' % (np.median([e for e, _ in errs]), errs[-1][0], errs[-1][1]))
