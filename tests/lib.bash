# lib.bash — what the shell tests share (sourced, not run): pass/fail
# counting with the harness's "N passed, N failed" summary, and the
# train -> save -> recommend -> similar round trip through the command.
fails=0; passes=0
ok()  { passes=$((passes+1)); echo "ok      $1"; }
bad() { fails=$((fails+1)); echo "NOT OK  $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
summary() { echo "$passes passed, $fails failed"; [ "$fails" = 0 ]; }

# model_roundtrip DATA TMP SIMILAR MODEL [train flags...]: trains MODEL on
# DATA, saves it under TMP, asks for 5 items for user 196 and (when SIMILAR
# is 1) 3 items similar to item 50.
model_roundtrip() {
  local data=$1 tmp=$2 similar=$3 m=$4; shift 3
  if "$bin" train --model "$@" --data "$data" --out "$tmp/$m.drec" >"$tmp/out" 2>"$tmp/err"; then
    ok "$m trains and saves"
  else
    bad "$m trains and saves"; cat "$tmp/err"; return
  fi
  "$bin" recommend --model "$tmp/$m.drec" --user 196 -k 5 --json >"$tmp/rec" 2>"$tmp/err"
  local n=$(grep -o '"item"' "$tmp/rec" | wc -l)
  [ "$n" = 5 ] && ok "$m recommends 5 items for user 196" || { bad "$m recommends 5 items ($n)"; cat "$tmp/rec" "$tmp/err"; }
  if [ "$similar" = 1 ]; then
    "$bin" similar --model "$tmp/$m.drec" --item 50 -k 3 --json >"$tmp/sim" 2>"$tmp/err"
    n=$(grep -o '"item"' "$tmp/sim" | wc -l)
    [ "$n" -ge 3 ] && ok "$m lists items similar to 50" || { bad "$m lists similar items ($n)"; cat "$tmp/sim" "$tmp/err"; }
  fi
}
