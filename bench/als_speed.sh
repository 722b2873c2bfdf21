#!/bin/bash
# als_speed.sh — ALS training speed: drec's als (C, OpenMP + OpenBLAS) against
# the same CG-ALS written in numpy (bench/als_numpy.py; the `implicit`
# package is not installable here), on MovieLens-100K at 64 factors (drec reads u.data, 100,000 ratings; the peer reads the NCF
# training file, 99,057 of them), then drec alone on a synthetic world of
# about 1M interactions.
# The numpy peer runs under every BLAS Debian offers; the fastest counts.
# Usage: bench/als_speed.sh [THREADS]   (from the repository root, after the build)
set -e
T=${1:-2}
DATA=../shared/data/ncf-ml-100k/ml-100k
DREC=build/drec
echo "== drec als, MovieLens-100K (u.data, 100,000 ratings), dim 64, 15 iterations, $T threads"
for run in 1 2 3; do
  $DREC train --model als --data movielens:../shared/data/movielens-100k --dim 64 --epochs 15 --threads $T --json 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print("drec als: %.4f s/iteration (%.1f iterations/s)" % (r["seconds_per_epoch"], 1/r["seconds_per_epoch"]))'
done
for blas in blas openblas-pthread openblas-openmp; do
  echo "== numpy CG-ALS peer, $blas, $T threads"
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/$blas OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T \
    /usr/bin/python3 bench/als_numpy.py $DATA --dim 64 --epochs 15
done
SYN=${SYN:-synthetic:users=25000,items=5000,events=40}
echo "== drec als, $SYN, dim 64, 5 iterations, $T threads"
$DREC train --model als --data $SYN --dim 64 --epochs 5 --threads $T --json 2>&1 |
  /usr/bin/python3 -c 'import json,sys
for line in sys.stdin:
    line=line.strip()
    if line.startswith("{"):
        r=json.loads(line); print("drec als: %.3f s/iteration" % r["seconds_per_epoch"])
    elif "loaded" in line: print(line)'
