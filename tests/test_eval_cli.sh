#!/usr/bin/env bash
# test_eval_cli.sh — drec train --split / drec eval --protocol / drec bench
# through the command line: a model trained on a protocol's training part
# and evaluated with the same protocol gives the numbers train reported;
# --test SPEC; k-fold JSON with std; the ncf: negatives; usage errors.
set -u
BIN=${DREC_BIN:?DREC_BIN not set}
DATA=${DREC_DATA:?DREC_DATA not set}
PY=/usr/bin/python3
ML="movielens:$DATA/movielens-100k"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# train on loo-full's training part, then eval the saved model with the same protocol
"$BIN" train --model pop --data "$ML" --split loo-full --out "$tmp/pop.drec" --json -q >"$tmp/train.json" \
    || fail "train --split"
"$BIN" eval --model "$tmp/pop.drec" --data "$ML" --protocol loo-full --json -q >"$tmp/eval.json" || fail "eval"
"$BIN" eval --model "$tmp/pop.drec" --data "ncf:$DATA/ncf-ml-100k/ml-100k" --json -q >"$tmp/ncf.json" || fail "eval ncf"
"$BIN" bench --models pop --data "$ML" --protocol kfold:3 --metrics hr@10,ndcg@10 --json -q >"$tmp/kfold.json" \
    || fail "bench kfold"
"$BIN" bench --models pop --data "$ML/u1.base" --test "$ML/u1.test" --protocol loo-full --json -q \
    >"$tmp/test.json" 2>/dev/null || fail "bench --test"
"$PY" - "$tmp" <<'PYEOF' || fail "JSON checks"
import json, sys, os
d = sys.argv[1]
tr = json.load(open(os.path.join(d, "train.json")))
ev = json.load(open(os.path.join(d, "eval.json")))
assert tr["protocol"] == "loo-full" and "validation" in tr, tr
for k in ("hr@10", "ndcg@10", "coverage@10"):
    assert abs(tr["validation"][k] - ev["metrics"][k]) < 1e-12, (k, tr["validation"][k], ev["metrics"][k])
assert ev["evaluated"] == 943 and ev["users_skipped"] == 0
assert ev["ci95"]["hr@10"][0] <= ev["metrics"]["hr@10"] <= ev["ci95"]["hr@10"][1]
ncf = json.load(open(os.path.join(d, "ncf.json")))
# ncf: ids are its own, matched to the model by name; every test row is evaluated or counted
assert ncf["protocol"] == "loo-sampled:100" and ncf["evaluated"] + ncf["test_rows_dropped"] == 943, ncf
kf = json.load(open(os.path.join(d, "kfold.json")))["results"][0]
assert kf["folds"] == 3 and set(kf["std"]) == {"hr@10", "ndcg@10"} and kf["std"]["hr@10"] > 0, kf
te = json.load(open(os.path.join(d, "test.json")))["results"][0]
assert te["test_rows_dropped"] + te["evaluated"] > 0 and 0 < te["metrics"]["hr@10"] < 1, te
print("json ok")
PYEOF

# end to end against an independent computation: pop on the NCF files, the files' own negatives,
# ties against the held-out item, hr@10 and ndcg@10 worked out here in Python
NCF="$DATA/ncf-ml-100k/ml-100k"
"$BIN" bench --models pop --data "ncf:$NCF" --protocol loo-sampled:100 --metrics hr@10,ndcg@10 --bootstrap 0 \
    --json -q >"$tmp/ncfpop.json" || fail "bench pop on ncf"
"$PY" - "$NCF" "$tmp/ncfpop.json" <<'PYEOF' || fail "pop on ncf: drec and the Python reference disagree"
import collections, json, math, sys
p, got = sys.argv[1], json.load(open(sys.argv[2]))["results"][0]["metrics"]
cnt = collections.Counter(line.split("\t")[1] for line in open(p + ".train.rating"))
hr = nd = n = 0
for line in open(p + ".test.negative"):
    f = line.rstrip("\n").split("\t")
    item = f[0].strip("()").split(",")[1]
    rank = 1 + sum(1 for j in f[1:] if j and cnt[j] >= cnt[item])
    n += 1
    hr += rank <= 10
    nd += 1 / math.log2(rank + 1) if rank <= 10 else 0
assert n == 943
assert abs(got["hr@10"] - hr / n) < 1e-12 and abs(got["ndcg@10"] - nd / n) < 1e-12, (got, hr / n, nd / n)
print("pop on ncf matches the reference: hr@10 %.4f ndcg@10 %.4f" % (hr / n, nd / n))
PYEOF

# and loo-full on u.data: the latest rating per user (file order breaking ties) held out, ranked by
# training popularity against every item the user did not rate in training
"$BIN" bench --models pop --data "$ML" --protocol loo-full --metrics hr@10,ndcg@10,mrr@10 --bootstrap 0 \
    --json -q >"$tmp/loofull.json" || fail "bench pop loo-full"
"$PY" - "$DATA/movielens-100k/u.data" "$tmp/loofull.json" <<'PYEOF' || fail "pop loo-full: drec and the Python reference disagree"
import collections, json, math, sys
rows = [line.split("\t") for line in open(sys.argv[1])]
got = json.load(open(sys.argv[2]))["results"][0]["metrics"]
by_user = collections.defaultdict(list)
for k, (u, i, r, t) in enumerate(rows):
    by_user[u].append((int(t), k, i))
items = {r[1] for r in rows}
held, train = {}, collections.defaultdict(set)
for u, evs in by_user.items():
    evs.sort()
    held[u] = evs[-1][2]
    train[u] = {i for _, _, i in evs[:-1]}
cnt = collections.Counter(i for u in train for _, _, i in by_user[u][:-1])
hr = nd = mrr = 0
for u, target in held.items():
    s = cnt[target]
    rank = 1 + sum(1 for j in items if j != target and j not in train[u] and cnt[j] >= s)
    if rank <= 10:
        hr += 1; nd += 1 / math.log2(rank + 1); mrr += 1 / rank
n = len(held)
want = {"hr@10": hr / n, "ndcg@10": nd / n, "mrr@10": mrr / n}
assert all(abs(got[k] - v) < 1e-12 for k, v in want.items()), (got, want)
print("pop loo-full matches the reference:", want)
PYEOF

# usage errors: exit code 1 and a "drec: " message
for args in "bench --models pop --data $ML --protocol bogus" \
            "bench --models nosuchmodel --data $ML" \
            "eval --model $tmp/pop.drec --data $ML --metrics ndcg@0" \
            "bench --models pop --data $ML --protocol holdout:1.5"; do
    "$BIN" $args -q >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc -eq 1 ] || fail "expected exit 1 from: drec $args (got $rc)"
    grep -q "^drec: " "$tmp/err" || fail "no 'drec: ' message from: drec $args"
done
# ctr: a model that cannot predict rows is reported and left out, the others still run (exit 1)
"$BIN" bench --models pop,fm --data "ctr:$DATA/criteo-kaggle-tiny/train.tiny.csv" --protocol ctr:0.2 --json -q \
    >"$tmp/ctr.json" 2>"$tmp/err"
[ $? -eq 1 ] || fail "bench with a failing model should exit 1"
grep -q "pop" "$tmp/err" || fail "the failing model is not named: $(cat "$tmp/err")"
"$PY" -c "
import json, sys
r = json.load(open(sys.argv[1]))['results']
assert [x['model'] for x in r] == ['fm'], r
assert 0.5 < r[0]['metrics']['auc'] <= 1 and r[0]['metrics']['logloss'] > 0, r
" "$tmp/ctr.json" || fail "ctr JSON"
# ratings are not click labels
"$BIN" bench --models pop --data "$ML" --protocol ctr:0.2 -q >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "labels in \[0, 1\]" "$tmp/err" || fail "ctr on ratings: $(cat "$tmp/err")"
# early stopping: --patience holds a validation part out of the training part; without it the
# per-epoch curve is the test part's and says so
SYN="synthetic:users=300,items=200,events=30,seed=5"
"$BIN" train --model bpr --data "$SYN" --split loo-full --epochs 40 --lr 0.3 --dim 32 --patience 2 --threads 1 \
    --json -q >"$tmp/es.json" || fail "train --patience"
"$BIN" train --model bpr --data "$SYN" --split loo-full --epochs 3 --threads 1 --json -q >"$tmp/noes.json" \
    || fail "train without --patience"
"$BIN" train --model bpr --data "$SYN" --split loo-full --patience 2 --val 1.5 -q >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "val" "$tmp/err" || fail "--val 1.5: $(cat "$tmp/err")"
"$PY" - "$tmp/es.json" "$tmp/noes.json" <<'PYEOF' || fail "early stopping JSON"
import json, sys
es, no = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert es["val_on"] == "validation" and no["val_on"] == "test", (es.get("val_on"), no.get("val_on"))
curve = es["val_curve"]
assert es["epochs"] == len(curve) <= 40 and "best_epoch" not in no
assert curve[es["best_epoch"] - 1] == max(curve), (es["best_epoch"], curve)
print("early stopping: %d epochs, kept %d" % (es["epochs"], es["best_epoch"]))
PYEOF
"$BIN" eval --help | grep -q -- "--protocol" || fail "eval --help"
"$BIN" bench --help | grep -q -- "--report" || fail "bench --help"
echo ok
