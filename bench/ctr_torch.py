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
projections, then a linear read-out, plus the deep part in parallel.
"""
import argparse
import json
import os
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
        n = int(sum(field_sizes)) + 1  # last row: unseen ids
        self.oov = n - 1
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
        return torch.where(x < 0, torch.full_like(g, self.oov), g)

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
    gtr, gte = m.ids(torch.tensor(xtr)), m.ids(torch.tensor(xte))
    ytr_t = torch.tensor(ytr)
    ctr_ = cte = None
    if a.model == 'widedeep':
        nid = m.oov + 1
        ctr_ = torch.cat([gtr, crosses(gtr.numpy(), a.cross_buckets) + nid], 1)
        cte = torch.cat([gte, crosses(gte.numpy(), a.cross_buckets) + nid], 1)
        ftrl = FTRL(nid + a.cross_buckets, alpha=a.wide_lr, beta=1.0, l1=a.l1, l2=a.l2)
    opt = torch.optim.Adam([q for q in m.parameters() if q.requires_grad], lr=a.lr)
    n = len(ytr)
    hist, times, cpu = [], [], []
    for ep in range(a.epochs):
        m.train()
        t0, c0 = time.perf_counter(), time.process_time()
        perm = torch.randperm(n)
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
        'seconds_per_epoch': round(float(np.median(times)), 3),
        'cpu_seconds_per_epoch': round(float(np.median(cpu)), 3),
        'blas': os.environ.get('LD_LIBRARY_PATH', 'default')}))


if __name__ == '__main__':
    main()
