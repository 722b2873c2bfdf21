#!/usr/bin/python3
"""PyTorch peers of drec's CTR models (lr, fm, widedeep, deepfm, xdeepfm,
autoint) on the same data, split and hyper-parameters as `drec train`.

Data: libFM/libSVM files whose rows list one feature per field in field order
(Frappe): the k-th feature of a row belongs to field k.  Labels <= 0 are
negatives.  Trains on --train, reports AUC / log-loss on --test after every
epoch (best and final) and the mean training time per epoch (evaluation not
included), as one JSON line on stdout.

    /usr/bin/python3 bench/ctr_torch.py --model deepfm --threads 2 \
        --train ../shared/data/frappe-nfm/frappe.validation.libfm \
        --test ../shared/data/frappe-nfm/frappe.test.libfm

The architectures mirror src/models/ctr.c: embeddings N(0, 0.01) shared by
every part; the deep part is Linear+ReLU(+dropout) blocks; widedeep's wide
half is a linear model over raw features and hashed pairwise crosses updated
with FTRL-Proximal while the deep half uses Adam, trained jointly on the sum
of logits; xdeepfm's CIN splits each hidden layer in half (direct/next) as
in the paper; autoint stacks multi-head self-attention layers with residual
projections, then a linear read-out, plus the deep part in parallel.  A value
of a field unseen in training maps to that field's own untrained row, as in
drec.

Same start, same order (lr, deepfm, xdeepfm, autoint):  --from-drec FILE
copies the weights of a drec model file (`drec train ... --epochs 0 --out
FILE` saves the initialised model) and --drec-order draws the batches in
drec's order (its xoshiro256** stream and Fisher-Yates shuffle, seeded by
--seed), so the two can be compared step for step.
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as Fn


def read_libfm(path, vocab=None):
    labels, rows = [], []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            labels.append(1.0 if float(parts[0]) > 0 else 0.0)
            rows.append([p.split(':')[0] for p in parts[1:]])
    nf = len(rows[0])
    grow = vocab is None
    if grow:
        vocab = [dict() for _ in range(nf)]
    ids = np.zeros((len(rows), nf), dtype=np.int64)
    for r, row in enumerate(rows):
        for k, tok in enumerate(row):
            d = vocab[k]
            if tok not in d:
                if not grow:
                    ids[r, k] = -1
                    continue
                d[tok] = len(d)
            ids[r, k] = d[tok]
    return ids, np.array(labels, dtype=np.float32), vocab


def auc_score(y, p):
    order = np.argsort(p, kind='mergesort')
    ps = p[order]
    ys = y[order]
    ranks = np.empty(len(p), dtype=np.float64)
    i = 0
    n = len(p)
    # average ranks over ties
    while i < n:
        j = i
        while j + 1 < n and ps[j + 1] == ps[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2.0 + 1
        i = j + 1
    npos = ys.sum()
    nneg = n - npos
    return float((ranks[ys == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def logloss(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def mlp(d_in, layers, dropout):
    mods = []
    for h in layers:
        mods += [nn.Linear(d_in, h), nn.ReLU()]
        if dropout > 0:
            mods.append(nn.Dropout(dropout))
        d_in = h
    return nn.Sequential(*mods), d_in


class Model(nn.Module):
    def __init__(self, kind, field_sizes, a):
        super().__init__()
        self.kind = kind
        nf = len(field_sizes)
        self.offsets = torch.tensor(np.concatenate([[0], np.cumsum(field_sizes)[:-1]]), dtype=torch.long)
        n = int(sum(field_sizes)) + nf  # last nf rows: each field's unseen values
        self.oov = n - nf
        d = a.dim
        self.lin = nn.Embedding(n, 1)
        nn.init.zeros_(self.lin.weight)
        self.bias = nn.Parameter(torch.zeros(1))
        if kind != 'lr':
            self.emb = nn.Embedding(n, d)
            nn.init.normal_(self.emb.weight, 0, 0.01)
        if kind in ('widedeep', 'deepfm', 'xdeepfm', 'autoint'):
            self.deep, h = mlp(nf * d, a.layers, a.dropout)
            self.deep_out = nn.Linear(h, 1)
        if kind == 'xdeepfm':
            self.cin = nn.ModuleList()
            hk, self.cin_out = nf, 0
            for i, h in enumerate(a.cin):
                self.cin.append(nn.Conv1d(hk * nf, h, 1))
                last = i == len(a.cin) - 1
                self.cin_out += h if last else h // 2
                hk = h if last else h // 2
            self.cin_fc = nn.Linear(self.cin_out, 1)
        if kind == 'autoint':
            self.att = nn.ModuleList()
            din = d
            for _ in range(a.att_layers):
                self.att.append(nn.ModuleDict({
                    'q': nn.Linear(din, a.att_dim, bias=False), 'k': nn.Linear(din, a.att_dim, bias=False),
                    'v': nn.Linear(din, a.att_dim, bias=False), 'r': nn.Linear(din, a.att_dim, bias=False)}))
                din = a.att_dim
            self.att_fc = nn.Linear(nf * din, 1)
            self.heads = a.heads
        if kind == 'widedeep':
            # the wide half (raw features, then crosses) is FTRL-trained, no autograd
            self.lin.weight.requires_grad_(False)
            self.wide = torch.zeros(n + a.cross_buckets)

    def ids(self, x):
        g = x + self.offsets
        return torch.where(x < 0, self.oov + torch.arange(x.shape[1]).expand_as(g), g)

    def forward(self, g, cross=None):
        y = self.lin(g).sum(dim=(1, 2)) + self.bias
        if self.kind == 'lr':
            return y
        e = self.emb(g)  # B F D
        B = e.shape[0]
        if self.kind in ('fm', 'deepfm'):
            s = e.sum(1)
            y = y + 0.5 * (s * s - (e * e).sum(1)).sum(1)
        if self.kind in ('widedeep', 'deepfm', 'xdeepfm', 'autoint'):
            y = y + self.deep_out(self.deep(e.reshape(B, -1))).squeeze(1)
        if self.kind == 'xdeepfm':
            x0, xk, outs = e, e, []
            for i, conv in enumerate(self.cin):
                z = torch.einsum('bhd,bmd->bhmd', xk, x0).reshape(B, -1, e.shape[2])
                z = Fn.relu(conv(z))
                if i < len(self.cin) - 1:
                    h = z.shape[1] // 2
                    outs.append(z[:, :h])
                    xk = z[:, h:]
                else:
                    outs.append(z)
            y = y + self.cin_fc(torch.cat(outs, 1).sum(2)).squeeze(1)
        if self.kind == 'autoint':
            x = e
            for L in self.att:
                q, k, v = L['q'](x), L['k'](x), L['v'](x)
                H = self.heads
                dh = q.shape[2] // H
                q = q.view(B, -1, H, dh).transpose(1, 2)
                k = k.view(B, -1, H, dh).transpose(1, 2)
                v = v.view(B, -1, H, dh).transpose(1, 2)
                att = torch.softmax(q @ k.transpose(2, 3), dim=-1)
                o = (att @ v).transpose(1, 2).reshape(B, -1, H * dh)
                x = Fn.relu(o + L['r'](x))
            y = y + self.att_fc(x.reshape(B, -1)).squeeze(1)
        if self.kind == 'widedeep' and cross is not None:
            y = y + self.wide[cross].sum(1)  # cross holds raw ids and offset cross ids
        return y


def crosses(x, buckets):
    """Hashed pairwise crosses of the fields (the wide half's extra columns)."""
    nf = x.shape[1]
    cols = []
    for i in range(nf):
        for j in range(i + 1, nf):
            h = (x[:, i] * 1000003 + x[:, j]) * 16777619 + (i * 64 + j) * 2654435761
            cols.append(np.abs(h) % buckets)
    return torch.tensor(np.stack(cols, 1), dtype=torch.long)


class FTRL:
    """FTRL-Proximal (McMahan et al. 2013) on a dense vector with sparse
    rows touched per step."""

    def __init__(self, n, alpha, beta, l1, l2):
        self.z = torch.zeros(n)
        self.n = torch.zeros(n)
        self.alpha, self.beta, self.l1, self.l2 = alpha, beta, l1, l2

    def step(self, w, idx, grad):
        # grad: per-row gradients of touched coordinates (idx may repeat)
        g = torch.zeros_like(w).index_add_(0, idx, grad)
        u = torch.unique(idx)
        gu = g[u]
        nu = self.n[u]
        sigma = (torch.sqrt(nu + gu * gu) - torch.sqrt(nu)) / self.alpha
        self.z[u] += gu - sigma * w[u]
        self.n[u] = nu + gu * gu
        zu = self.z[u]
        wu = -(zu - torch.sign(zu) * self.l1) / ((self.beta + torch.sqrt(self.n[u])) / self.alpha + self.l2)
        w[u] = torch.where(zu.abs() <= self.l1, torch.zeros_like(wu), wu)


def drec_model_file(path):
    """The header and the numeric tensors of a drec model file (layout in
    src/models/modelfile.c: magic, version, header length, JSON header with
    each tensor's dtype, shape and offset)."""
    raw = open(path, 'rb').read()
    if raw[:8] != b'DRECMDL\0':
        sys.exit(f'{path}: not a drec model file')
    hdr = json.loads(raw[16:16 + struct.unpack('<I', raw[12:16])[0]])
    dts = {'f32': np.float32, 'i32': np.int32}
    return hdr, {t['name']: np.frombuffer(raw, dts[t['dtype']], t['bytes'] // 4, t['offset']).reshape(t['shape'])
                 for t in hdr['tensors'] if t['dtype'] in dts}


def load_drec(m, path, vocab, a):
    """Copies a drec model's weights into m.  drec's parameter block holds,
    in order: the bias; per deep layer W [in, out] and b; the output layer;
    then xdeepfm's CIN (W [H_k * F, H_{k+1}] and b per layer, read-out) or
    autoint's Wq, Wk, Wv, Wr per layer and read-out.  Its ids number the
    training file's libSVM indices in increasing order (feat.src_id); its
    unseen-value rows follow them, one per field."""
    hdr, T = drec_model_file(path)
    if hdr['model'] != m.kind:
        sys.exit(f"{path} holds a {hdr['model']} model, not {m.kind}")
    w, src_id, pos = T['w'], T['feat.src_id'], 0

    def take(n, shape=None, t=False):
        nonlocal pos
        v = torch.tensor(w[pos:pos + n].copy())
        pos += n
        if shape:
            v = v.reshape(shape)
        return v.t().contiguous() if t else v

    nf, nvocab = len(vocab), int(T['lin'].shape[0]) - len(vocab)
    rows = np.empty(m.lin.num_embeddings, np.int64)
    off = m.offsets.numpy()
    for k, d in enumerate(vocab):
        for tok, i in d.items():
            rows[off[k] + i] = src_id[int(tok)]
        rows[m.oov + k] = nvocab + k
    with torch.no_grad():
        m.lin.weight.copy_(torch.tensor(T['lin'][rows]).unsqueeze(1))
        if m.kind != 'lr':
            m.emb.weight.copy_(torch.tensor(T['E'][rows]))
        m.bias.copy_(take(1))
        if m.kind != 'lr':
            d_in = nf * a.dim
            for lin in [x for x in m.deep if isinstance(x, nn.Linear)]:
                lin.weight.copy_(take(d_in * lin.out_features, (d_in, lin.out_features), True))
                lin.bias.copy_(take(lin.out_features))
                d_in = lin.out_features
            m.deep_out.weight.copy_(take(d_in, (1, d_in)))
            m.deep_out.bias.copy_(take(1))
        if m.kind == 'xdeepfm':
            for conv in m.cin:
                h, z = conv.out_channels, conv.in_channels
                conv.weight.copy_(take(z * h, (z, h), True).unsqueeze(2))
                conv.bias.copy_(take(h))
            m.cin_fc.weight.copy_(take(m.cin_out, (1, m.cin_out)))
            m.cin_fc.bias.copy_(take(1))
        if m.kind == 'autoint':
            for L in m.att:
                for key in 'qkvr':
                    lin = L[key]
                    lin.weight.copy_(take(lin.in_features * lin.out_features, (lin.in_features, lin.out_features), True))
            m.att_fc.weight.copy_(take(m.att_fc.in_features, (1, m.att_fc.in_features)))
            m.att_fc.bias.copy_(take(1))
    if pos != len(w):
        sys.exit(f'{path}: {len(w)} weights, the {m.kind} here has {pos}: different settings?')


class DrecOrder:
    """drec's batch order: xoshiro256** seeded through splitmix64 with
    (seed, stream 0x5911), one Fisher-Yates shuffle of the running
    permutation per epoch, bounded draws by Lemire's method (src/core/rng.c,
    ctr_fit in src/models/ctr.c)."""
    M = (1 << 64) - 1

    def __init__(self, seed, n):
        x = (seed ^ ((0x5911 * 0xd1342543de82ef95 + 0x632be59bd9b4e019) & self.M)) & self.M
        x, _ = self._splitmix(x)
        self.s = []
        for _ in range(4):
            x, z = self._splitmix(x)
            self.s.append(z)
        self.perm = list(range(n))

    def _splitmix(self, x):
        x = (x + 0x9e3779b97f4a7c15) & self.M
        z = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & self.M
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & self.M
        return x, z ^ (z >> 31)

    def _u64(self):
        s, M = self.s, self.M
        rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M
        r = (rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return r

    def _below(self, n):
        m = (self._u64() >> 32) * n
        if (m & 0xffffffff) < n:
            t = ((1 << 32) - n) % n
            while (m & 0xffffffff) < t:
                m = (self._u64() >> 32) * n
        return m >> 32

    def epoch(self):
        p = self.perm
        for i in range(len(p), 1, -1):
            j = self._below(i)
            p[i - 1], p[j] = p[j], p[i - 1]
        return torch.tensor(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default='deepfm')
    ap.add_argument('--train', default='../shared/data/frappe-nfm/frappe.validation.libfm')
    ap.add_argument('--test', default='../shared/data/frappe-nfm/frappe.test.libfm')
    ap.add_argument('--epochs', type=int, default=20)
    ap.add_argument('--dim', type=int, default=10)
    ap.add_argument('--layers', default='400,400,400')
    ap.add_argument('--batch', type=int, default=4096)
    ap.add_argument('--lr', type=float, default=0.001)
    ap.add_argument('--reg', type=float, default=0.0, help='L2 on the embedding rows in each batch')
    ap.add_argument('--dropout', type=float, default=0.0)
    ap.add_argument('--cin', default='64,64')
    ap.add_argument('--att-layers', type=int, default=3)
    ap.add_argument('--att-dim', type=int, default=32)
    ap.add_argument('--heads', type=int, default=2)
    ap.add_argument('--cross-buckets', type=int, default=1 << 20)
    ap.add_argument('--wide-lr', type=float, default=0.05, help='FTRL alpha (widedeep)')
    ap.add_argument('--l1', type=float, default=0.1, help='FTRL L1 (widedeep)')
    ap.add_argument('--l2', type=float, default=0.1, help='FTRL L2 (widedeep)')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--from-drec', metavar='FILE', help="start from a drec model's weights (lr, deepfm, xdeepfm, autoint)")
    ap.add_argument('--drec-order', action='store_true', help="draw the batches in drec's order for --seed")
    a = ap.parse_args()
    a.layers = [int(v) for v in a.layers.split(',') if v]
    a.cin = [int(v) for v in a.cin.split(',') if v]
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)

    xtr, ytr, vocab = read_libfm(a.train)
    xte, yte, _ = read_libfm(a.test, vocab)
    sizes = [len(v) for v in vocab]
    m = Model(a.model, sizes, a)
    if a.from_drec:
        if a.model not in ('lr', 'deepfm', 'xdeepfm', 'autoint'):
            sys.exit('--from-drec: lr, deepfm, xdeepfm or autoint')
        load_drec(m, a.from_drec, vocab, a)
    gtr, gte = m.ids(torch.tensor(xtr)), m.ids(torch.tensor(xte))
    ytr_t = torch.tensor(ytr)
    ctr_ = cte = None
    if a.model == 'widedeep':
        nid = m.lin.num_embeddings
        ctr_ = torch.cat([gtr, crosses(gtr.numpy(), a.cross_buckets) + nid], 1)
        cte = torch.cat([gte, crosses(gte.numpy(), a.cross_buckets) + nid], 1)
        ftrl = FTRL(nid + a.cross_buckets, alpha=a.wide_lr, beta=1.0, l1=a.l1, l2=a.l2)
    opt = torch.optim.Adam([q for q in m.parameters() if q.requires_grad], lr=a.lr)
    n = len(ytr)
    order = DrecOrder(a.seed, n) if a.drec_order else None
    hist, times, cpu = [], [], []
    for ep in range(a.epochs):
        m.train()
        perm = order.epoch() if order else torch.randperm(n)  # drec's order in Python: outside the timing
        t0, c0 = time.perf_counter(), time.process_time()
        tot = 0.0
        for s in range(0, n, a.batch):
            b = perm[s:s + a.batch]
            gb = gtr[b]
            cb = ctr_[b] if ctr_ is not None else None
            logit = m(gb, cb)
            loss = Fn.binary_cross_entropy_with_logits(logit, ytr_t[b])
            if a.reg > 0 and a.model != 'lr':
                loss = loss + a.reg * (m.emb(gb) ** 2).sum() / len(b)
            opt.zero_grad()
            loss.backward()
            if cb is not None:
                with torch.no_grad():
                    # per-example FTRL semantics: the summed (not mean) gradient
                    d = torch.sigmoid(logit) - ytr_t[b]
                    ftrl.step(m.wide, cb.reshape(-1), d.unsqueeze(1).expand_as(cb).reshape(-1))
            opt.step()
            tot += loss.item() * len(b)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        m.eval()
        with torch.no_grad():
            p = torch.sigmoid(m(gte, cte)).numpy()
        hist.append((auc_score(yte, p), logloss(yte, p), tot / n))
        print(f'epoch {ep + 1} loss {tot / n:.4f} auc {hist[-1][0]:.4f} logloss {hist[-1][1]:.4f} '
              f'{times[-1]:.2f}s', file=sys.stderr)
    best = max(range(len(hist)), key=lambda i: hist[i][0])
    print(json.dumps({
        'model': a.model, 'impl': 'torch', 'threads': a.threads, 'epochs': a.epochs,
        'auc_final': round(hist[-1][0], 4), 'logloss_final': round(hist[-1][1], 4),
        'auc_best': round(hist[best][0], 4), 'logloss_best': round(hist[best][1], 4), 'best_epoch': best + 1,
        'auc_curve': [round(h[0], 4) for h in hist], 'loss_curve': [round(h[2], 4) for h in hist],
        'seconds_per_epoch': round(float(np.median(times)), 3),
        'cpu_seconds_per_epoch': round(float(np.median(cpu)), 3),
        'blas': os.environ.get('LD_LIBRARY_PATH', 'default')}))


if __name__ == '__main__':
    main()
