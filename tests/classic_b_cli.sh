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
fails=0; passes=0
ok()  { passes=$((passes+1)); echo "ok      $1"; }
bad() { fails=$((fails+1)); echo "NOT OK  $1"; }

for spec in "als --epochs 5" "bpr --epochs 5" "fm --epochs 2 --set task=classification" "tfidf" \
            "hybrid --epochs 5"; do
  set -- $spec
  m=$1
  if "$bin" train --model $spec --data movielens:$data --out "$tmp/$m.drec" >"$tmp/out" 2>"$tmp/err"; then
    ok "$m trains and saves"
  else
    bad "$m trains and saves"; cat "$tmp/err"; continue
  fi
  "$bin" recommend --model "$tmp/$m.drec" --user 196 -k 5 --json >"$tmp/rec" 2>"$tmp/err"
  n=$(grep -o '"item"' "$tmp/rec" | wc -l)
  [ "$n" = 5 ] && ok "$m recommends 5 items for user 196" || { bad "$m recommends 5 items ($n)"; cat "$tmp/rec" "$tmp/err"; }
  if [ $m != fm ]; then
    "$bin" similar --model "$tmp/$m.drec" --item 50 -k 3 --json >"$tmp/sim" 2>"$tmp/err"
    n=$(grep -o '"item"' "$tmp/sim" | wc -l)
    [ "$n" -ge 3 ] && ok "$m lists items similar to 50" || { bad "$m lists similar items ($n)"; cat "$tmp/sim" "$tmp/err"; }
  fi
done
"$bin" train --model hybrid --data movielens:$data --set cf=nosuch >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q "cf=nosuch" "$tmp/err" && ok "bad cf is a usage error" || { bad "bad cf (rc $rc)"; cat "$tmp/err"; }
"$bin" train --model als --data movielens:$data --dim 0 >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q "dim must be" "$tmp/err" && ok "als --dim 0 is a usage error" || { bad "als --dim 0 (rc $rc)"; cat "$tmp/err"; }

echo "$passes passed, $fails failed"
[ $fails = 0 ]
