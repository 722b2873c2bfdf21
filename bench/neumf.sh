#!/bin/bash
# neumf.sh — one NeuMF epoch, drec against PyTorch, same data, settings and
# thread count: the NCF MovieLens-100K split, factors 8, MLP 64,32,16,8,
# 4 negatives per positive, batch 256, Adam 0.001.  PyTorch runs once under
# each BLAS alternative (LD_LIBRARY_PATH) and is compared at its fastest.
# An epoch is timed in wall-clock seconds and in CPU seconds (all threads;
# the process's own cost, which is what counts on a shared machine): for
# PyTorch around each epoch, for drec as (CPU of E epochs - CPU of 0) / E.
# Peak memory of each process comes from /usr/bin/time -v.
#
#   bench/neumf.sh                 # 2 threads, 5 epochs each
#   THREADS=1 EPOCHS=20 bench/neumf.sh
#
# Needs build/drec (make) and Debian's python3-torch.  Prints a table; the
# raw outputs are left under $OUT (default /tmp/neumf-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
EPOCHS=${EPOCHS:-5}
SEED=${SEED:-1}
DATA=${DATA:-../shared/data/ncf-ml-100k/ml-100k}
OUT=${OUT:-/tmp/neumf-bench}
DREC=${DREC:-build/drec}
PY=/usr/bin/python3
LIBDIR=/usr/lib/x86_64-linux-gnu
mkdir -p "$OUT"
[ -x "$DREC" ] || { echo "neumf.sh: $DREC not built (run make)" >&2; exit 1; }

rss_mb() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$1"; }
cpu_s() { awk -F': ' '/User time|System time/ {s += $2} END {printf "%.3f", s}' "$1"; }
field() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print(d$2)" "$1"; }

HP=(--dim 8 --layers 64,32,16,8 --neg 4 --batch 256 --lr 0.001 --threads "$THREADS" --seed "$SEED")

printf '%-26s %14s %14s %10s\n' "run ($THREADS threads)" "wall s/epoch" "CPU s/epoch" "peak MiB"
best=""; best_t=""; best_c=""; best_rss=""
for b in openblas-pthread openblas-openmp blas; do
    [ -e "$LIBDIR/$b/libblas.so.3" ] || continue
    LD_LIBRARY_PATH="$LIBDIR/$b" OMP_NUM_THREADS="$THREADS" /usr/bin/time -v -o "$OUT/torch-$b.time" \
        $PY bench/neumf_torch.py --data "$DATA" --model neumf --epochs "$EPOCHS" "${HP[@]}" \
        >"$OUT/torch-$b.json" 2>"$OUT/torch-$b.log"
    t=$(field "$OUT/torch-$b.json" "['seconds_per_epoch']")
    c=$(field "$OUT/torch-$b.json" "['cpu_seconds_per_epoch']")
    used=$(field "$OUT/torch-$b.json" "['blas']")
    rss=$(rss_mb "$OUT/torch-$b.time")
    printf '%-26s %14s %14s %10s   BLAS loaded: %s\n' "pytorch, $b" "$t" "$c" "$rss" "$used"
    if [ -z "$best_t" ] || $PY -c "import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))" "$t" "$best_t"; then
        best=$b; best_t=$t; best_c=$c; best_rss=$rss
    fi
done

for e in 0 "$EPOCHS"; do
    OMP_NUM_THREADS="$THREADS" /usr/bin/time -v -o "$OUT/drec-$e.time" \
        "$DREC" train --model neumf --data "ncf:$DATA" --epochs "$e" "${HP[@]}" --out "$OUT/neumf.drec" --json -q \
        >"$OUT/drec-$e.json"
done
d_t=$(field "$OUT/drec-$EPOCHS.json" "['seconds_per_epoch']")
d_c=$($PY -c "import sys; print(round((float(sys.argv[1]) - float(sys.argv[2])) / int(sys.argv[3]), 4))" \
      "$(cpu_s "$OUT/drec-$EPOCHS.time")" "$(cpu_s "$OUT/drec-0.time")" "$EPOCHS")
d_rss=$(rss_mb "$OUT/drec-$EPOCHS.time")
printf '%-26s %14.4f %14s %10s\n' "drec" "$d_t" "$d_c" "$d_rss"
$PY - "$best" "$best_t" "$best_c" "$best_rss" "$d_t" "$d_c" "$d_rss" <<'PYEOF'
import sys
blas = sys.argv[1]
tt, tc, tr, dt, dc, dr = map(float, sys.argv[2:])
print(f"pytorch's fastest BLAS (by wall time): {blas}")
print(f"NeuMF epoch, wall: drec {dt:.4f} s, pytorch {tt:.4f} s -> drec {tt / dt:.1f}x faster")
print(f"NeuMF epoch, CPU:  drec {dc:.4f} s, pytorch {tc:.4f} s -> drec {tc / dc:.1f}x faster")
print(f"peak memory: drec {dr:.1f} MiB, pytorch {tr:.1f} MiB -> drec uses {dr / tr:.2f} of pytorch's")
PYEOF
