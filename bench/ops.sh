#!/usr/bin/env bash
# ops.sh — the core ops benchmark: drec (bench/ops_bench.c) against PyTorch
# (bench/ops_bench_torch.py, Debian's /usr/bin/python3 + torch) on the same
# computations, at 1 and 2 threads, PyTorch under each BLAS alternative
# (openblas-pthread, openblas-openmp, reference blas) and credited with its
# fastest.  Both sides run under each OpenMP wait policy (POLICIES:
# passive, where an idle worker sleeps and a parallel region pays for waking
# it, and active, where it spins, which is faster on an idle machine and can
# stall on a busy one) and each side is credited with its fastest.  Prints one
# table: drec ms and the policy that gave it, PyTorch's best ms with the BLAS
# and policy that gave it, the speed-up, and for dense products drec's
# GFLOP/s against the sgemm peak that ops_bench measures in the same run.
#
#   bench/ops.sh [seconds-per-op]        (from the repository root; default 1)
#   THREADS="1 2" POLICIES="passive active" BUILD=build bench/ops.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${1:-1}
THREADS=${THREADS:-"1 2"}
LIBDIR=/usr/lib/x86_64-linux-gnu
BLASES=${BLASES:-"openblas-pthread openblas-openmp blas"}
POLICIES=${POLICIES:-"passive active"}

cmake --build "$BUILD" --target ops_bench -j2 >/dev/null
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

for t in $THREADS; do
    for p in $POLICIES; do
        OMP_WAIT_POLICY=$p OMP_NUM_THREADS=$t "$BUILD/ops_bench" --threads "$t" --time "$SECS" >"$OUT/drec.$t.$p"
        for b in $BLASES; do
            OMP_WAIT_POLICY=$p LD_LIBRARY_PATH=$LIBDIR/$b OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t \
                /usr/bin/python3 bench/ops_bench_torch.py --threads "$t" --time "$SECS" >"$OUT/torch.$t.$b.$p" \
                2>/dev/null || echo "INFO failed" >"$OUT/torch.$t.$b.$p"
        done
    done
done

/usr/bin/python3 - "$OUT" "$THREADS" "$BLASES" "$POLICIES" <<'PY'
import sys
out, threads, blases, policies = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4].split()

def parse(path, c_side):
    res, info, peak = {}, [], None
    for line in open(path):
        p = line.split()
        if not p:
            continue
        if p[0] == "RESULT":
            if c_side:   # name median gflop best
                res[p[1]] = (float(p[2]), float(p[4]), float(p[3]))
            else:        # name median best
                res[p[1]] = (float(p[2]), float(p[3]), 0.0)
        elif p[0] == "PEAK":
            peak = float(p[1])
        elif p[0] == "INFO":
            info.append(" ".join(p[1:]))
    return res, info, peak

for t in threads:
    runs = {p: parse(f"{out}/drec.{t}.{p}", True) for p in policies}
    torch = {(b, p): parse(f"{out}/torch.{t}.{b}.{p}", False) for b in blases for p in policies}
    peak = max(r[2] or 0 for r in runs.values())
    print(f"\n== {t} thread(s) ==")
    for i in runs[policies[0]][1]:
        print(f"drec:  {i}")
    print(f"drec:  sgemm peak (best of 512^3, 1024^3, 2048^3, OpenBLAS threads and drec's split, "
          f"both wait policies) {peak:.1f} GFLOP/s")
    for b in blases:
        for i in torch[(b, policies[0])][1]:
            print(f"torch [{b}]: {i}")
    print("median and fastest of repeated runs, in ms; speed-up = torch / drec, each side at its fastest")
    print("wait policy (and torch at its fastest BLAS); GFLOP/s from drec's fastest run, against the peak above")
    print(f"{'op':26s} {'drec med':>9s} {'policy':>7s} {'torch med':>9s} {'torch BLAS, policy':>24s} {'x (med)':>8s} "
          f"{'drec min':>9s} {'torch min':>9s} {'x (min)':>8s} {'GFLOP/s':>8s} {'% peak':>7s}")
    for op in runs[policies[0]][0]:
        dc = [(runs[p][0][op][0], runs[p][0][op][1], runs[p][0][op][2], p) for p in policies if op in runs[p][0]]
        ms, _, gflop, dp = min(dc)
        best = min(c[1] for c in dc)
        cand = [(torch[k][0][op][0], torch[k][0][op][1], f"{k[0]}, {k[1]}") for k in torch if op in torch[k][0]]
        tmed, _, tb = min(cand) if cand else (float("nan"), float("nan"), "-")
        tmin = min((c[1] for c in cand), default=float("nan"))
        gfs = gflop / (best / 1e3) if gflop > 0 else 0
        gcol = f"{gfs:8.1f}" if gflop > 0 else f"{'-':>8s}"
        pcol = f"{100 * gfs / peak:6.0f}%" if gflop > 0 and peak else f"{'-':>7s}"
        print(f"{op:26s} {ms:9.4f} {dp:>7s} {tmed:9.4f} {tb:>24s} {tmed / ms:7.2f}x {best:9.4f} {tmin:9.4f} "
              f"{tmin / best:7.2f}x {gcol} {pcol}")
PY
