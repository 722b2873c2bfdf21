#!/bin/bash
# neumf.sh — one NeuMF epoch, drec against PyTorch, same data, settings and
# thread count: the NCF MovieLens-100K split, factors 8, MLP 64,32,16,8,
# 4 negatives per positive, batch 256, Adam 0.001.  PyTorch runs once under
# each BLAS alternative (LD_LIBRARY_PATH) and is compared at its fastest.
# Peak memory of each process comes from /usr/bin/time -v.
#
#   bench/neumf.sh                 # 2 threads, 5 epochs each
#   THREADS=1 EPOCHS=20 bench/neumf.sh
#
# Needs build/drec (make) and Debian's python3-torch.  Prints a table and
# one JSON line per run under $OUT (default /tmp/neumf-bench).
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
field() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print(d$2)" "$1"; }

HP=(--epochs "$EPOCHS" --dim 8 --layers 64,32,16,8 --neg 4 --batch 256 --lr 0.001 --threads "$THREADS" --seed "$SEED")

printf '%-34s %12s %10s\n' "run ($THREADS threads, $EPOCHS epochs)" "s/epoch" "peak MiB"
best=""; best_t=""; best_rss=""
for b in openblas-pthread openblas-openmp blas; do
    [ -e "$LIBDIR/$b/libblas.so.3" ] || continue
    LD_LIBRARY_PATH="$LIBDIR/$b" OMP_NUM_THREADS="$THREADS" /usr/bin/time -v -o "$OUT/torch-$b.time" \
        $PY bench/neumf_torch.py --data "$DATA" --model neumf "${HP[@]}" >"$OUT/torch-$b.json" 2>"$OUT/torch-$b.log"
    t=$(field "$OUT/torch-$b.json" "['seconds_per_epoch']")
    used=$(field "$OUT/torch-$b.json" "['blas']")
    rss=$(rss_mb "$OUT/torch-$b.time")
    printf '%-34s %12s %10s   (BLAS loaded: %s)\n' "pytorch, $b" "$t" "$rss" "$used"
    if [ -z "$best_t" ] || $PY -c "import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))" "$t" "$best_t"; then
        best=$b; best_t=$t; best_rss=$rss
    fi
done

OMP_NUM_THREADS="$THREADS" /usr/bin/time -v -o "$OUT/drec.time" \
    "$DREC" train --model neumf --data "ncf:$DATA" "${HP[@]}" --out "$OUT/neumf.drec" --json -q >"$OUT/drec.json"
d_t=$(field "$OUT/drec.json" "['seconds_per_epoch']")
d_rss=$(rss_mb "$OUT/drec.time")
printf '%-34s %12.4f %10s\n' "drec" "$d_t" "$d_rss"
$PY - "$best" "$best_t" "$best_rss" "$d_t" "$d_rss" <<'PYEOF'
import sys
blas, tt, tr, dt, dr = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
print(f"pytorch's fastest BLAS: {blas}")
print(f"epoch time: drec {dt:.4f} s, pytorch {tt:.4f} s -> drec is {tt / dt:.1f}x faster")
print(f"peak memory: drec {dr:.1f} MiB, pytorch {tr:.1f} MiB -> drec uses {dr / tr:.2f} of pytorch's")
PYEOF
