#!/usr/bin/python3
"""ops_bench_torch.py — the computations of bench/ops_bench.c in PyTorch,
timed the same way (median of repeated forward + backward + gradient
reset).  Run by bench/ops.sh under each BLAS alternative and thread count.

  /usr/bin/python3 bench/ops_bench_torch.py [--threads N] [--time SECONDS]

Prints "RESULT <name> <median ms> <fastest ms>" per op and "INFO blas <library>" with the
BLAS the process actually loaded (from /proc/self/maps).
"""
import argparse
import math
import time

import numpy as np
import torch
import torch.nn.functional as F


def time_op(fn, budget):
    w0 = time.perf_counter()
    fn()
    slow = time.perf_counter() - w0 > 0.1  # slow ops: fewer warm-ups and runs
    for _ in range(0 if slow else 2):
        fn()
    ts = []
    min_runs = 3 if slow else 5
    start = time.perf_counter()
    while len(ts) < 2000 and (len(ts) < min_runs or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort()
    return ts[len(ts) // 2], ts[0]


ONLY = None  # --only: time the ops whose name contains this


def report(name, fn, budget):
    if ONLY and ONLY not in name:
        return
    ms = time_op(fn, budget)
    print(f"RESULT {name:<24s} {ms[0]:10.4f} {ms[1]:10.4f}", flush=True)


def loaded_blas():
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if "blas" in p and p.startswith("/"):
                libs.add(p)
    return ",".join(sorted(libs)) or "none"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--time", type=float, default=1.0)
    ap.add_argument("--only", help="time only the ops whose name contains this")
    a = ap.parse_args()
    global ONLY
    ONLY = a.only
    torch.set_num_threads(a.threads)
    torch.manual_seed(7)
    B = a.time

    # sgemm as torch sees it (for the record)
    x = torch.randn(2048, 2048)
    y = torch.randn(2048, 2048)
    torch.mm(x, y)
    best = min(timeit_once(lambda: torch.mm(x, y)) for _ in range(3))
    print(f"INFO threads {torch.get_num_threads()} blas {loaded_blas()} torch_sgemm_gflops {2 * 2048**3 / best / 1e9:.2f}",
          flush=True)

    # embedding gather + scatter: table 100k x 64, batch 1024 (sparse gradient)
    emb = torch.nn.Embedding(100000, 64, sparse=True)
    ids = torch.randint(0, 100000, (1024,))
    g = torch.randn(1024, 64)

    def op_emb():
        out = emb(ids)
        out.backward(g)
        emb.weight.grad = None
    report("embedding_1024x64", op_emb, B)

    # the same plus the (sparse) SGD update of the table
    sgd = torch.optim.SGD(emb.parameters(), lr=1e-6)

    def op_emb_sgd():
        out = emb(ids)
        out.backward(g)
        sgd.step()
        emb.weight.grad = None
    report("embedding_sgd_1024x64", op_emb_sgd, B)

    def linear(n, din, dout, name):
        xx = torch.randn(n, din, requires_grad=True)
        W = torch.randn(dout, din, requires_grad=True)
        b = torch.randn(dout, requires_grad=True)
        gg = torch.randn(n, dout)

        def op():
            out = F.linear(xx, W, b)
            out.backward(gg)
            xx.grad = None
            W.grad = None
            b.grad = None
        report(name, op, B)
        return xx, W
    linear(1024, 128, 64, "linear_1024x128x64")
    xx, W = linear(2048, 512, 512, "linear_2048x512x512")
    Wt = W.detach().t().contiguous()
    xd = xx.detach()
    report("matmul_2048x512x512", lambda: torch.mm(xd, Wt), B)  # noqa: E731

    # attention: batch 128, length 50, dim 64, 2 heads, causal, fwd + bwd
    Bn, T, H, C = 128, 50, 2, 64
    Dh = C // H
    q = torch.randn(Bn * T, C, requires_grad=True)
    k = torch.randn(Bn * T, C, requires_grad=True)
    v = torch.randn(Bn * T, C, requires_grad=True)
    ga = torch.randn(Bn * T, C)
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)

    def op_attn():
        def heads(t):
            return t.view(Bn, T, H, Dh).transpose(1, 2)
        s = torch.matmul(heads(q), heads(k).transpose(-1, -2)) / math.sqrt(Dh)
        s = s.masked_fill(causal, float("-inf"))
        p = torch.softmax(s, dim=-1)
        o = torch.matmul(p, heads(v)).transpose(1, 2).reshape(Bn * T, C)
        o.backward(ga)
        q.grad = k.grad = v.grad = None
    report("attention_128x50x64x2", op_attn, B)

    # CSR spmm: the 30k-node bipartite graph of ops_bench.c x 64, fwd + bwd
    NU, NI, per = 10000, 20000, 30
    u = np.repeat(np.arange(NU, dtype=np.int64), per)
    j = np.tile(np.arange(per, dtype=np.int64), NU)
    i = (u * 7919 + j * 104729 + (u * j) % 997) % NI
    rows = np.concatenate([u, NU + i])
    cols = np.concatenate([NU + i, u])
    deg = np.bincount(rows, minlength=NU + NI).astype(np.float32)
    vals = (1.0 / np.sqrt(deg[rows] * deg[cols])).astype(np.float32)
    A = torch.sparse_coo_tensor(torch.from_numpy(np.stack([rows, cols])), torch.from_numpy(vals),
                                (NU + NI, NU + NI)).coalesce()
    X = torch.randn(NU + NI, 64, requires_grad=True)
    gs = torch.randn(NU + NI, 64)

    def op_spmm():
        Y = torch.sparse.mm(A, X)
        Y.backward(gs)
        X.grad = None
    report("spmm_30k_x64", op_spmm, B)

    # element-wise chain on 1024 x 64
    xe = torch.randn(1024, 64, requires_grad=True)
    we = torch.randn(1024, 64, requires_grad=True)
    be = torch.randn(1, 64, requires_grad=True)
    se = torch.randn(1024, 64)

    def op_chain():
        h = torch.sigmoid(xe * we + be)
        (h * se).sum().backward()
        xe.grad = we.grad = be.grad = None
    report("elementwise_chain_1024x64", op_chain, B)

    # a whole MLP training step: batch 256, 64-32-16-8-1, BCE, Adam
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16), torch.nn.ReLU(),
                              torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-3)
    xm = torch.randn(256, 64)
    ym = torch.randint(0, 2, (256, 1)).float()

    def op_mlp():
        opt.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(mlp(xm), ym)
        loss.backward()
        opt.step()
    report("mlp_step_256_64-32-16-8", op_mlp, B)


def timeit_once(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
