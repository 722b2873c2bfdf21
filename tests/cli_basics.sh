#!/usr/bin/env bash
# The command's surface: every verb answers --help, usage errors exit 1 with
# a "drec: ..." message on stderr, a model trains, saves, loads and answers.
set -u
bin=${DREC_BIN:?}
. "$(dirname "$0")/lib.bash"
out=$(mktemp); err=$(mktemp)

expect_rc() { # name rc cmd...
  local name=$1 want=$2; shift 2
  "$@" >$out 2>$err; local rc=$?
  if [ "$rc" = "$want" ]; then ok "$name"; else bad "$name (rc $rc, want $want)"; cat $err; fi
}
expect_err() { # name pattern  (on the last command's stderr)
  if grep -q -- "$2" $err; then ok "$1"; else bad "$1: stderr lacks '$2'"; cat $err; fi
}

expect_rc "drec --help" 0 "$bin" --help
for v in demo train eval bench recommend similar serve simulate ope info; do
  expect_rc "drec $v --help" 0 "$bin" "$v" --help
  grep -q "usage: drec $v" $out && ok "$v help has usage" || bad "$v help has usage"
done
expect_rc "no verb" 1 "$bin"
expect_rc "unknown verb" 1 "$bin" frobnicate
expect_err "unknown verb message" 'drec: unknown verb "frobnicate"'
expect_rc "unknown option" 1 "$bin" train --bogus 1
expect_err "unknown option message" 'unknown option "--bogus"'
expect_rc "missing value" 1 "$bin" train --model
expect_err "missing value message" "option --model needs a value"
expect_rc "unknown model" 1 "$bin" train --model nosuch --data synthetic
expect_err "unknown model message" 'unknown model "nosuch"'
expect_rc "bad spec kind" 1 "$bin" train --model pop --data nosuch:x
expect_err "bad spec message" 'unknown kind "nosuch"'
expect_rc "missing file" 1 "$bin" train --model pop --data movielens:/nonexistent/u.data
expect_rc "bad threads" 1 "$bin" train --model pop --data synthetic --threads x
expect_err "bad threads message" '\-\-threads: "x" is not an integer'

tmp=$(mktemp -d)
expect_rc "train pop" 0 "$bin" train --model pop --data synthetic --out "$tmp/pop.drec" --quiet
expect_rc "info" 0 "$bin" info "$tmp/pop.drec"
grep -q "model:       pop" $out && ok "info names the model" || bad "info names the model"
expect_rc "recommend" 0 "$bin" recommend --model "$tmp/pop.drec" --user u1 -k 5 --json
grep -q '"items": \[' $out && ok "recommend json" || bad "recommend json"
# an iterative model's timing: wall and CPU seconds an epoch, both measured
expect_rc "train json" 0 "$bin" train --model mf --data synthetic --epochs 2 --threads 1 --json --quiet
sec() { grep -o "\"$1\": [0-9.e+-]*" $out | awk '{print $2}'; }
awk -v w="$(sec seconds_per_epoch)" -v c="$(sec cpu_seconds_per_epoch)" \
  'BEGIN { exit !(w > 0 && c > 0 && c < 3 * w + 0.05) }' && ok "train json timing" || bad "train json timing"
# a corrupt model file is refused with a clear reason
cp "$tmp/pop.drec" "$tmp/bad.drec"
printf 'XXXX' | dd of="$tmp/bad.drec" bs=1 seek=$(( $(stat -c %s "$tmp/bad.drec") - 8 )) conv=notrunc 2>/dev/null
expect_rc "corrupt model" 1 "$bin" info "$tmp/bad.drec"
expect_err "corrupt model message" "checksum mismatch"
head -c 100 "$tmp/pop.drec" > "$tmp/trunc.drec"
expect_rc "truncated model" 1 "$bin" info "$tmp/trunc.drec"
echo "not a model" > "$tmp/text.drec"
expect_rc "not a model" 1 "$bin" info "$tmp/text.drec"
expect_err "not a model message" "not a drec model file"
rm -rf "$tmp" "$out" "$err"
summary
