"""als_numpy.py -- the peer for src/models/als.c: the same implicit-feedback
ALS (Hu, Koren & Volinsky 2008) with the same conjugate-gradient inner
solver (Takacs et al. 2011; 3 CG steps per row per sweep, warm-started, as
the `implicit` library does), written with numpy only.  The Python
`implicit` package itself cannot be installed here (no PyPI), so this is the
stand-in: the CG steps run for all users (then all items) at once as
vectorised numpy, the fastest way numpy allows.

Usage (Debian's python, which has numpy):
  /usr/bin/python3 bench/als_numpy.py ../shared/data/ncf-ml-100k/ml-100k \
      [--dim 64] [--epochs 15] [--alpha 3] [--reg 30] [--cg 3]
Prints seconds per iteration and HR@10 / NDCG@10 under the NCF protocol
(the held-out item among the file's 99 negatives, ties counted against it),
so the numbers are comparable with `drec bench` / bench/ncf_loo.c.
"""
import argparse
import time

import numpy as np


def read_pairs(path):
    a = np.loadtxt(path, dtype=np.int64, usecols=(0, 1))
    return a[:, 0], a[:, 1]


def csr(rows, cols, n_rows):
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.add.at(ptr, rows + 1, 1)
    return np.cumsum(ptr), rows, cols


def segment_sum(values, rows, n_rows):
    """Sum of values (nnz, k) per row id (sorted) -> (n_rows, k)."""
    out = np.zeros((n_rows, values.shape[1]), dtype=values.dtype)
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    out[rows[starts]] = np.add.reduceat(values, starts, axis=0)
    return out


def sweep(X, Y, rows, cols, conf, reg, steps):
    """CG steps on every row of X at once, Y fixed (all float32)."""
    n, k = X.shape
    G = Y.T @ Y + reg * np.eye(k, dtype=np.float32)
    Yc = Y[cols]  # (nnz, k)
    c1 = conf - 1.0

    def A(P):
        d = np.einsum("ij,ij->i", Yc, P[rows]) * c1
        return P @ G + segment_sum(Yc * d[:, None], rows, n)

    b = segment_sum(Yc * conf[:, None], rows, n)
    R = b - A(X)
    P = R.copy()
    rs = np.einsum("ij,ij->i", R, R)
    for _ in range(steps):
        AP = A(P)
        pAp = np.einsum("ij,ij->i", P, AP)
        step = np.where(pAp > 0, rs / np.where(pAp > 0, pAp, 1), 0).astype(np.float32)
        X += step[:, None] * P
        R -= step[:, None] * AP
        rs_new = np.einsum("ij,ij->i", R, R)
        beta = np.where(rs > 1e-20, rs_new / np.where(rs > 1e-20, rs, 1), 0).astype(np.float32)
        P = R + beta[:, None] * P
        rs = rs_new


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("prefix")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--alpha", type=float, default=3.0)
    ap.add_argument("--reg", type=float, default=30.0)
    ap.add_argument("--cg", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    u, i = read_pairs(a.prefix + ".train.rating")
    n_u, n_i = int(u.max()) + 1, int(i.max()) + 1
    _, ur, uc = csr(u, i, n_u)
    _, ir, ic = csr(i, u, n_i)
    conf_u = np.full(len(ur), 1 + a.alpha, dtype=np.float32)
    conf_i = np.full(len(ir), 1 + a.alpha, dtype=np.float32)
    rng = np.random.default_rng(a.seed)
    X = (rng.random((n_u, a.dim)) * 0.01).astype(np.float32)
    Y = (rng.random((n_i, a.dim)) * 0.01).astype(np.float32)
    t0 = time.perf_counter()
    for _ in range(a.epochs):
        sweep(X, Y, ur, uc, conf_u, a.reg, a.cg)
        sweep(Y, X, ir, ic, conf_i, a.reg, a.cg)
    dt = time.perf_counter() - t0
    hits, ndcg, n = 0.0, 0.0, 0
    with open(a.prefix + ".test.negative") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            uu, pos = (int(x) for x in parts[0].strip("()").split(","))
            items = np.array([pos] + [int(x) for x in parts[1:]])
            s = Y[items] @ X[uu]
            rank = int(np.sum(s[1:] >= s[0]))
            if rank < 10:
                hits += 1
                ndcg += np.log(2) / np.log(rank + 2)
            n += 1
    print('{"peer": "numpy CG-ALS", "dim": %d, "epochs": %d, "seconds_per_iteration": %.4f, '
          '"hr@10": %.4f, "ndcg@10": %.4f}' % (a.dim, a.epochs, dt / a.epochs, hits / n, ndcg / n))


if __name__ == "__main__":
    main()
