#!/usr/bin/env bash
# als, bpr, fm, tfidf and hybrid through the command: train on MovieLens-100K
# (titles, genres, user attributes), save, recommend for a user, list items
# similar to an item, and reject a bad hyper-parameter with exit code 1.
# Under DREC_SANITIZED=1 the data is u1.test (20,000 ratings).
set -u
bin=${DREC_BIN:?}
data=${DREC_DATA:?}/movielens-100k
[ "${DREC_SANITIZED:-0}" != 0 ] && data=$data/u1.test
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.bash"

for spec in "als --epochs 5" "bpr --epochs 5" "fm --epochs 2 --set task=classification" "tfidf" \
            "hybrid --epochs 5"; do
  set -- $spec
  model_roundtrip movielens:$data "$tmp" $([ $1 != fm ] && echo 1 || echo 0) $spec
done
"$bin" train --model hybrid --data movielens:$data --set cf=nosuch >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q "cf=nosuch" "$tmp/err" && ok "bad cf is a usage error" || { bad "bad cf (rc $rc)"; cat "$tmp/err"; }
"$bin" train --model als --data movielens:$data --dim 0 >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q "dim must be" "$tmp/err" && ok "als --dim 0 is a usage error" || { bad "als --dim 0 (rc $rc)"; cat "$tmp/err"; }

summary
