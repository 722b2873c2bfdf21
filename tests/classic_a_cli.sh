#!/usr/bin/env bash
# The neighbourhood and factorization models through the command: train on
# MovieLens-100K, save, recommend for a user, list similar items, and reject
# a bad similarity name with exit code 1.  Under DREC_SANITIZED=1 the data
# is u1.test (20,000 ratings) instead of u.data.
set -u
bin=${DREC_BIN:?}
data=${DREC_DATA:?}/movielens-100k
[ "${DREC_SANITIZED:-0}" != 0 ] && data=$data/u1.test
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0
ok()  { passes=$((passes+1)); echo "ok      $1"; }
bad() { fails=$((fails+1)); echo "NOT OK  $1"; }

for m in itemknn userknn timeknn mf svdpp; do
  if "$bin" train --model $m --data movielens:$data --out "$tmp/$m.drec" >"$tmp/out" 2>"$tmp/err"; then
    ok "$m trains and saves"
  else
    bad "$m trains and saves"; cat "$tmp/err"; continue
  fi
  "$bin" recommend --model "$tmp/$m.drec" --user 196 -k 5 --json >"$tmp/rec" 2>"$tmp/err"
  n=$(grep -o '"item"' "$tmp/rec" | wc -l)
  [ "$n" = 5 ] && ok "$m recommends 5 items for user 196" || { bad "$m recommends 5 items ($n)"; cat "$tmp/rec" "$tmp/err"; }
  if [ $m != userknn ]; then
    "$bin" similar --model "$tmp/$m.drec" --item 50 -k 3 --json >"$tmp/sim" 2>"$tmp/err"
    n=$(grep -o '"item"' "$tmp/sim" | wc -l)
    [ "$n" -ge 3 ] && ok "$m lists items similar to 50" || { bad "$m lists similar items ($n)"; cat "$tmp/sim" "$tmp/err"; }
  fi
done
"$bin" train --model itemknn --data movielens:$data --set sim=bogus >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q "sim must be" "$tmp/err" && ok "bad sim is a usage error" || { bad "bad sim (rc $rc)"; cat "$tmp/err"; }

echo "$passes passed, $fails failed"
[ $fails = 0 ]
