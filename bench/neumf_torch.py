#!/usr/bin/python3
"""neumf_torch.py — the PyTorch peer of drec's gmf / mlp / neumf (He et al., WWW 2017).

Same architecture, initialisation, data, negative-sampling scheme, loss and
hyper-parameters as src/models/ncf.c, written the way a careful PyTorch user
would (whole epoch as tensors, index slicing, no DataLoader), so that the
per-epoch time is the framework's, not a slow input pipeline's.

  GMF:   p_u (U,F), q_i (I,F); logit = h . (p_u * q_i) + b
  MLP:   u (U,L0/2), v (I,L0/2); z = relu-tower([u, v]) over L0 -> L1 -> ... -> Lk;
         logit = h . z + b
  NeuMF: GMF and MLP embeddings kept separate; logit = h . [p_u*q_i, z] + b
  Init:  embeddings N(0, 0.01); hidden layers Glorot-uniform, bias 0;
         output layer LeCun-uniform, bias 0 (the paper's Keras code).
  Loss:  BCE with logits over each positive and N negatives per positive,
         negatives drawn uniformly from items the user has not rated in
         training, redrawn every epoch (or BPR: one negative per pair).
  Pre-training (--pretrain, neumf): GMF and MLP trained first, NeuMF starts
         from their weights with output h = [alpha h_gmf, (1 - alpha) h_mlp],
         b = alpha b_gmf + (1 - alpha) b_mlp, alpha = 0.5, and is tuned with
         plain SGD as in the paper (--finetune adam: Adam).
  Eval:  leave-one-out, the held-out item ranked among the file's 99
         negatives; a tie counts against the held-out item; HR@10, NDCG@10.

Prints one line per epoch to stderr and one JSON object to stdout with the
final metrics and the mean epoch time, wall and CPU (negative sampling +
training; the evaluation is timed apart).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_ncf(prefix):
    tr = np.loadtxt(prefix + ".train.rating", dtype=np.int64, usecols=(0, 1), ndmin=2)
    te = np.loadtxt(prefix + ".test.rating", dtype=np.int64, usecols=(0, 1), ndmin=2)
    negs = []
    with open(prefix + ".test.negative") as f:
        for line in f:
            parts = line.split()
            if parts:
                negs.append([int(x) for x in parts[1:]])
    negs = np.array(negs, dtype=np.int64)
    n_users = int(max(tr[:, 0].max(), te[:, 0].max())) + 1
    n_items = int(max(tr[:, 1].max(), te[:, 1].max(), negs.max())) + 1
    # Implicit feedback: each (user, item) pair once.
    key = np.unique(tr[:, 0] * n_items + tr[:, 1])
    tr = np.stack([key // n_items, key % n_items], 1)
    return tr, te, negs, n_users, n_items


class NCF(nn.Module):
    def __init__(self, kind, n_users, n_items, factors, layers):
        super().__init__()
        self.kind = kind
        out_dim = 0
        if kind in ("gmf", "neumf"):
            self.gmf_u = nn.Embedding(n_users, factors)
            self.gmf_i = nn.Embedding(n_items, factors)
            out_dim += factors
        if kind in ("mlp", "neumf"):
            self.mlp_u = nn.Embedding(n_users, layers[0] // 2)
            self.mlp_i = nn.Embedding(n_items, layers[0] // 2)
            self.tower = nn.ModuleList(nn.Linear(a, b) for a, b in zip(layers[:-1], layers[1:]))
            out_dim += layers[-1]
        self.out = nn.Linear(out_dim, 1)
        for e in (m for m in self.modules() if isinstance(m, nn.Embedding)):
            nn.init.normal_(e.weight, 0.0, 0.01)
        if kind in ("mlp", "neumf"):
            for lin in self.tower:
                nn.init.xavier_uniform_(lin.weight)
                nn.init.zeros_(lin.bias)
        lim = math.sqrt(3.0 / out_dim)
        nn.init.uniform_(self.out.weight, -lim, lim)
        nn.init.zeros_(self.out.bias)

    def features(self, u, i):
        parts = []
        if self.kind in ("gmf", "neumf"):
            parts.append(self.gmf_u(u) * self.gmf_i(i))
        if self.kind in ("mlp", "neumf"):
            z = torch.cat([self.mlp_u(u), self.mlp_i(i)], 1)
            for lin in self.tower:
                z = F.relu(lin(z))
            parts.append(z)
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    def forward(self, u, i):
        return self.out(self.features(u, i)).squeeze(1)


class Sampler:
    """Uniform negatives among the items a user did not rate in training."""

    def __init__(self, train, n_users, n_items, rng):
        self.n_items = n_items
        self.seen = np.zeros((n_users, n_items), dtype=bool)
        self.seen[train[:, 0], train[:, 1]] = True
        self.rng = rng

    def draw(self, users):
        j = self.rng.integers(0, self.n_items, size=len(users))
        bad = np.nonzero(self.seen[users, j])[0]
        while len(bad):
            j[bad] = self.rng.integers(0, self.n_items, size=len(bad))
            bad = bad[self.seen[users[bad], j[bad]]]
        return j


def evaluate(model, te, negs, k=10):
    model.eval()
    with torch.no_grad():
        users = np.repeat(te[:, 0], negs.shape[1] + 1)
        items = np.concatenate([te[:, 1:2], negs], 1).reshape(-1)
        s = model(torch.from_numpy(users), torch.from_numpy(items)).view(len(te), -1).numpy()
    model.train()
    rank = (s[:, 1:] >= s[:, :1]).sum(1)
    hit = rank < k
    hr = float(hit.mean())
    ndcg = float(np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0).mean())
    return hr, ndcg


def fit(model, args, train, sampler, te, negs, label, opt_name):
    params = list(model.parameters())
    if opt_name == "adam":
        opt = torch.optim.Adam(params, lr=args.lr, weight_decay=args.reg)
    else:
        opt = torch.optim.SGD(params, lr=args.lr, weight_decay=args.reg)
    pos_u = train[:, 0]
    pos_i = train[:, 1]
    n_pos = len(train)
    times, cpu, hist = [], [], []
    for ep in range(args.epochs):
        t0 = time.perf_counter()
        c0 = time.process_time()
        if args.loss == "bce":
            u = np.concatenate([pos_u, np.repeat(pos_u, args.neg)])
            i = np.concatenate([pos_i, sampler.draw(np.repeat(pos_u, args.neg))])
            y = np.concatenate([np.ones(n_pos, np.float32), np.zeros(n_pos * args.neg, np.float32)])
            perm = sampler.rng.permutation(len(u))
            u = torch.from_numpy(u[perm])
            i = torch.from_numpy(i[perm])
            y = torch.from_numpy(y[perm])
            j = None
        else:
            u = np.repeat(pos_u, args.neg)
            i = np.repeat(pos_i, args.neg)
            jn = sampler.draw(u)
            perm = sampler.rng.permutation(len(u))
            u = torch.from_numpy(u[perm])
            i = torch.from_numpy(i[perm])
            j = torch.from_numpy(jn[perm])
        n = len(u)
        total = 0.0
        for s in range(0, n, args.batch):
            ub = u[s : s + args.batch]
            ib = i[s : s + args.batch]
            if j is None:
                loss = F.binary_cross_entropy_with_logits(model(ub, ib), y[s : s + args.batch])
            else:
                loss = -F.logsigmoid(model(ub, ib) - model(ub, j[s : s + args.batch])).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(ub)
        dt = time.perf_counter() - t0
        times.append(dt)
        cpu.append(time.process_time() - c0)
        hr, ndcg = evaluate(model, te, negs)
        hist.append((hr, ndcg))
        print(f"{label} epoch {ep + 1}/{args.epochs} loss {total / n:.4f} hr@10 {hr:.4f} ndcg@10 {ndcg:.4f} "
              f"{dt:.3f}s", file=sys.stderr, flush=True)
    return times, cpu, hist


def blas_in_use():
    """The BLAS library mapped into this process (the LD_LIBRARY_PATH pick)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line and "/" in line}
        return sorted(libs)
    except OSError:
        return []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__),
                                                   "../../shared/data/ncf-ml-100k/ml-100k"))
    ap.add_argument("--model", default="neumf", choices=["gmf", "mlp", "neumf"])
    ap.add_argument("--pretrain", action="store_true")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--dim", type=int, default=8)
    ap.add_argument("--layers", default="64,32,16,8")
    ap.add_argument("--neg", type=int, default=4)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--reg", type=float, default=0.0)
    ap.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    ap.add_argument("--loss", default="bce", choices=["bce", "bpr"])
    ap.add_argument("--finetune", default="sgd", choices=["sgd", "adam"],
                    help="optimizer of pre-trained NeuMF (the paper: sgd)")
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    layers = [int(x) for x in args.layers.split(",")]
    train, te, negs, n_users, n_items = read_ncf(args.data)
    sampler = Sampler(train, n_users, n_items, rng)

    t_start = time.perf_counter()
    pre_times = []
    model = NCF(args.model, n_users, n_items, args.dim, layers)
    if args.model == "neumf" and args.pretrain:
        gmf = NCF("gmf", n_users, n_items, args.dim, layers)
        t, _, _ = fit(gmf, args, train, sampler, te, negs, "gmf", args.optimizer)
        pre_times += t
        mlp = NCF("mlp", n_users, n_items, args.dim, layers)
        t, _, _ = fit(mlp, args, train, sampler, te, negs, "mlp", args.optimizer)
        pre_times += t
        with torch.no_grad():
            for name in ("gmf_u", "gmf_i"):
                getattr(model, name).weight.copy_(getattr(gmf, name).weight)
            for name in ("mlp_u", "mlp_i"):
                getattr(model, name).weight.copy_(getattr(mlp, name).weight)
            for a, b in zip(model.tower, mlp.tower):
                a.weight.copy_(b.weight)
                a.bias.copy_(b.bias)
            model.out.weight.copy_(torch.cat([args.alpha * gmf.out.weight, (1 - args.alpha) * mlp.out.weight], 1))
            model.out.bias.copy_(args.alpha * gmf.out.bias + (1 - args.alpha) * mlp.out.bias)
    # The paper tunes pre-trained NeuMF with plain SGD (as drec's default).
    opt = args.finetune if args.model == "neumf" and args.pretrain else args.optimizer
    times, cpu, hist = fit(model, args, train, sampler, te, negs, args.model, opt)
    train_seconds = time.perf_counter() - t_start
    hr, ndcg = hist[-1]
    best = max(range(len(hist)), key=lambda e: hist[e][0])
    print(json.dumps({
        "model": args.model, "framework": "pytorch " + torch.__version__, "pretrain": args.pretrain,
        "threads": args.threads, "seed": args.seed, "epochs": args.epochs,
        "metrics": {"hr@10": round(hr, 4), "ndcg@10": round(ndcg, 4)},
        "best_epoch": best + 1, "best": {"hr@10": round(hist[best][0], 4), "ndcg@10": round(hist[best][1], 4)},
        "seconds_per_epoch": round(sum(times) / len(times), 4),
        "seconds_per_epoch_min": round(min(times), 4),
        "cpu_seconds_per_epoch": round(sum(cpu) / len(cpu), 4),
        "pretrain_seconds": round(sum(pre_times), 2),
        "wall_seconds": round(train_seconds, 2),
        "blas": blas_in_use(),
        "n_users": n_users, "n_items": n_items, "n_train": int(len(train)),
    }))


if __name__ == "__main__":
    main()
