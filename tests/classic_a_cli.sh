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
. "$(dirname "$0")/lib.bash"

for m in itemknn userknn timeknn mf svdpp; do
  model_roundtrip movielens:$data "$tmp" $([ $m != userknn ] && echo 1 || echo 0) $m
done
"$bin" train --model itemknn --data movielens:$data --set sim=bogus >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q "sim must be" "$tmp/err" && ok "bad sim is a usage error" || { bad "bad sim (rc $rc)"; cat "$tmp/err"; }

summary
