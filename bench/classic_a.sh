#!/bin/sh
# classic_a.sh — the figures of docs/RESULTS.md and docs/PERFORMANCE.md for
# the neighbourhood and matrix-factorization models on MovieLens-100K:
#  1. drec bench, kfold:5 (drec's own seeded random 5-fold split): RMSE/MAE
#  2. drec bench, loo-full: HR@10 etc. of the ranking models against pop
#  3. the official u1..u5 base/test folds (bench/ml100k_folds.c)
#  4. the time of mf over five folds, training + evaluation, 1 and 2 threads
# Run from the repository root after building (build/drec, build/ml100k_folds).
set -e
DATA=${DATA:-../shared/data/movielens-100k}

echo "== drec bench kfold:5"
build/drec bench --models mf,svdpp,itemknn,userknn --data movielens:$DATA --protocol kfold:5 --json 2>/dev/null |
  /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin)["results"]:
    print("%-8s rmse %.4f (std %.4f)  mae %.4f  train %.2fs  eval %.2fs" % (r["model"], r["metrics"]["rmse"],
          r["std"]["rmse"], r["metrics"]["mae"], r["train_seconds"], r["eval_seconds"]))'

echo "== drec bench loo-full"
build/drec bench --models pop,itemknn,userknn,timeknn,mf,svdpp --data movielens:$DATA --protocol loo-full --json 2>/dev/null |
  /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin)["results"]:
    m = r["metrics"]
    print("%-8s hr@10 %.4f  ndcg@10 %.4f  coverage@10 %.4f" % (r["model"], m["hr@10"], m["ndcg@10"], m["coverage@10"]))'

echo "== official u1..u5 folds"
OMP_NUM_THREADS=1 build/ml100k_folds $DATA official mf svdpp itemknn userknn
echo "== kfold:5 with Surprise's settings (mf: lr 0.005, reg 0.02, init 0.1; svdpp: init 0.1)"
for spec in "mf --lr 0.005 --reg 0.02" "svdpp"; do
  build/drec bench --models $spec --set init_std=0.1 --data movielens:$DATA --protocol kfold:5 --json 2>/dev/null |
    /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin)["results"]:
    print("%-8s rmse %.4f (std %.4f)  mae %.4f" % (r["model"], r["metrics"]["rmse"], r["std"]["rmse"], r["metrics"]["mae"]))'
done

echo "== time of mf kfold:5 (whole command: load, 5 x (split, train, evaluate))"
for t in 1 2; do
  for b in 0 1000; do
    /usr/bin/time -f "threads=$t bootstrap=$b: %e s wall, %U s user" build/drec bench --models mf \
      --data movielens:$DATA --protocol kfold:5 --threads $t --bootstrap $b --json 2>&1 >/dev/null | grep -v "^drec:"
  done
done
