#!/usr/bin/python3
"""eval_peer.py -- the numpy peer of bench/eval_bench.c: full-ranking
leave-one-out evaluation of a dot-product model (U users x I items, dim D,
`hist` training items per user excluded from ranking, ties counted against
the held-out item), hr@10 ndcg@10 mrr@10 coverage@10, in user batches with
one BLAS sgemm per batch.  Prints the median wall time of `reps` runs.

  /usr/bin/python3 bench/eval_peer.py [users=6000] [items=4000] [dim=64] [hist=20] [reps=5]
  (run it under each BLAS: LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread etc.)
"""
import sys
import time

import numpy as np

args = dict(users=6000, items=4000, dim=64, hist=20, reps=5)
for a in sys.argv[1:]:
    k, v = a.split("=")
    args[k] = int(v)
U, I, D, H, R = args["users"], args["items"], args["dim"], args["hist"], args["reps"]
rng = np.random.default_rng(1)
seen = np.stack([rng.choice(I, H + 1, replace=False) for _ in range(U)]).astype(np.int64)
train, held = seen[:, :H], seen[:, H]
P = rng.standard_normal((U, D), dtype=np.float32)
Q = rng.standard_normal((I, D), dtype=np.float32)


def evaluate(batch=1024):
    hits = ndcg = mrr = 0.0
    covered = np.zeros(I, dtype=bool)
    for a in range(0, U, batch):
        b = min(U, a + batch)
        s = P[a:b] @ Q.T                                # (B, I) scores
        rows = np.arange(b - a)[:, None]
        s[rows, train[a:b]] = -np.inf                   # training items are not candidates
        pos = s[np.arange(b - a), held[a:b]]
        rank = (s >= pos[:, None]).sum(1)               # 1 + others with score >= (ties against)
        top = rank <= 10
        hits += top.sum()
        ndcg += (top / np.log2(rank + 1)).sum()
        mrr += (top / rank).sum()
        t10 = np.argpartition(-s, 10, axis=1)[:, :10]
        covered[t10.ravel()] = True
    return hits / U, ndcg / U, mrr / U, covered.mean()


times, cpu = [], []
for _ in range(R):
    t0, c0 = time.perf_counter(), time.process_time()
    m = evaluate()
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
times.sort()
cpu.sort()
print("numpy full-ranking eval: %d users x %d items, dim %d: %.3f s median of %d (min %.3f), CPU %.3f s"
      % (U, I, D, times[R // 2], R, times[0], cpu[R // 2]))
print("  hr@10 %.4f ndcg@10 %.4f mrr@10 %.4f coverage@10 %.4f" % m)
