#!/usr/bin/env bash
# ops.sh — the core ops benchmark: drec (bench/ops_bench.c) against PyTorch
# (bench/ops_bench_torch.py, Debian's /usr/bin/python3 + torch) on the same
# computations, at 1 and 2 threads, PyTorch under each BLAS alternative
# (openblas-pthread, openblas-openmp, reference blas) and credited with its
# fastest.  Prints one table: drec ms, PyTorch's best ms and the BLAS that
# gave it, the speed-up, and for dense products drec's GFLOP/s against the
# sgemm peak that ops_bench measures in the same run.
#
#   bench/ops.sh [seconds-per-op]        (from the repository root; default 1)
#   THREADS="1 2" BUILD=build bench/ops.sh
set -euo pipefail
# Spinning OpenMP workers burn CPU quota on a shared or throttled machine
# and then stall for a whole scheduler period; both sides get the same policy.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${1:-1}
THREADS=${THREADS:-"1 2"}
LIBDIR=/usr/lib/x86_64-linux-gnu
BLASES=${BLASES:-"openblas-pthread openblas-openmp blas"}

cmake --build "$BUILD" --target ops_bench -j2 >/dev/null
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

for t in $THREADS; do
    OMP_NUM_THREADS=$t "$BUILD/ops_bench" --threads "$t" --time "$SECS" >"$OUT/drec.$t"
    for b in $BLASES; do
        LD_LIBRARY_PATH=$LIBDIR/$b OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t \
            /usr/bin/python3 bench/ops_bench_torch.py --threads "$t" --time "$SECS" >"$OUT/torch.$t.$b" 2>/dev/null ||
            echo "INFO failed" >"$OUT/torch.$t.$b"
    done
done

/usr/bin/python3 - "$OUT" "$THREADS" "$BLASES" <<'PY'
import sys
out, threads, blases = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()

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
    d, dinfo, peak = parse(f"{out}/drec.{t}", True)
    torch = {b: parse(f"{out}/torch.{t}.{b}", False) for b in blases}
    print(f"\n== {t} thread(s) ==")
    for i in dinfo:
        print(f"drec:  {i}")
    print(f"drec:  sgemm peak (best of 512^3, 1024^3, 2048^3, OpenBLAS threads and drec's split) {peak:.1f} GFLOP/s")
    for b in blases:
        for i in torch[b][1]:
            print(f"torch [{b}]: {i}")
    print("median and fastest of repeated runs, in ms; speed-up = torch / drec, torch at its fastest BLAS;")
    print("GFLOP/s from drec's fastest run, against the sgemm peak above")
    print(f"{'op':26s} {'drec med':>9s} {'torch med':>9s} {'torch BLAS':>16s} {'x (med)':>8s} "
          f"{'drec min':>9s} {'torch min':>9s} {'x (min)':>8s} {'GFLOP/s':>8s} {'% peak':>7s}")
    for op, (ms, best, gflop) in d.items():
        cand = [(torch[b][0][op][0], torch[b][0][op][1], b) for b in blases if op in torch[b][0]]
        tmed, tmin, tb = min(cand) if cand else (float("nan"), float("nan"), "-")
        tmin = min((c[1] for c in cand), default=float("nan"))
        gfs = gflop / (best / 1e3) if gflop > 0 else 0
        gcol = f"{gfs:8.1f}" if gflop > 0 else f"{'-':>8s}"
        pcol = f"{100 * gfs / peak:6.0f}%" if gflop > 0 and peak else f"{'-':>7s}"
        print(f"{op:26s} {ms:9.4f} {tmed:9.4f} {tb:>16s} {tmed / ms:7.2f}x {best:9.4f} {tmin:9.4f} "
              f"{tmin / best:7.2f}x {gcol} {pcol}")
PY
