#!/usr/bin/env bash
# drec serve over real HTTP on loopback: the JSON API, limits, the API key,
# durable feedback (in the database before the acknowledgement), group
# commit under a burst, and a hot reload that bumps the model version.
set -u
bin=${DREC_BIN:?}
. "$(dirname "$0")/lib.bash"

tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
"$bin" train --model pop --data synthetic:users=300,items=200 --out "$tmp/pop.drec" --quiet || exit 1
"$bin" serve --model "main=$tmp/pop.drec" --port 0 --events "$tmp/ev.db" --api-key k3y --quiet \
  >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 50); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/listening/{print $2}' "$tmp/out")
check "server reports its port" '[ -n "$port" ]'
url="http://127.0.0.1:$port"
get()  { curl -s -o "$tmp/body" -w '%{http_code}' "$@"; }

check "health 200"          '[ "$(get $url/v1/health)" = 200 ] && grep -q "\"status\":\"ok\"" $tmp/body'
check "models lists main"   '[ "$(get $url/v1/models)" = 200 ] && grep -q "\"name\":\"main\"" $tmp/body'
check "recommend 200"       '[ "$(get "$url/v1/recommend?user=u1&k=5")" = 200 ]'
check "recommend has 5"     '[ "$(grep -o "\"item\":" $tmp/body | wc -l)" = 5 ]'
check "recommend names version" 'grep -q "\"model\":\"main@1\"" $tmp/body'
check "unknown user gets fallback" '[ "$(get "$url/v1/recommend?user=nobody&k=3")" = 200 ] && grep -q "\"known_user\":false" $tmp/body'
check "batch recommend"     '[ "$(get -XPOST $url/v1/recommend -d "{\"requests\":[{\"user\":\"u1\",\"k\":2},{\"user\":\"u2\"}]}")" = 200 ] && [ "$(grep -o "\"user\":" $tmp/body | wc -l)" = 2 ]'
check "k out of range 400"  '[ "$(get "$url/v1/recommend?user=u1&k=100000")" = 400 ] && grep -q "\"error\":\"bad parameter\"" $tmp/body'
check "missing user 400"    '[ "$(get "$url/v1/recommend?k=3")" = 400 ]'
check "unknown model 404"   '[ "$(get "$url/v1/recommend?user=u1&model=zzz")" = 404 ]'
check "bad JSON 400"        '[ "$(get -XPOST $url/v1/recommend -d "{nope")" = 400 ] && grep -q "bad JSON" $tmp/body'
head -c 2000000 /dev/zero | tr "\0" "a" > "$tmp/big"
check "oversized body 413"  '[ "$(get -XPOST $url/v1/recommend --data-binary @$tmp/big)" = 413 ]'
check "unknown path 404"    '[ "$(get $url/v2/x)" = 404 ]'
check "wrong method 405"    '[ "$(get -XDELETE $url/v1/health)" = 405 ]'
check "feedback needs key"  '[ "$(get -XPOST $url/v1/feedback -d "{\"user\":\"u1\",\"item\":\"i1\"}")" = 401 ]'
check "feedback stored"     '[ "$(get -XPOST -H "X-API-Key: k3y" $url/v1/feedback -d "{\"user\":\"u1\",\"item\":\"i7\",\"event\":\"click\",\"value\":1}")" = 200 ]'
# durable before the acknowledgement: another connection to the database sees it now
check "feedback durable"    '[ "$(sqlite3 $tmp/ev.db "select count(*) from events where user=\"u1\" and item=\"i7\"")" = 1 ]'
check "feedback validates"  '[ "$(get -XPOST -H "X-API-Key: k3y" $url/v1/feedback -d "{\"item\":\"i1\"}")" = 400 ]'
# a burst of concurrent events: all stored, fewer commits than events (group commit)
for i in $(seq 40); do
  curl -s -o /dev/null -XPOST -H "X-API-Key: k3y" $url/v1/feedback -d "{\"user\":\"b$i\",\"item\":\"i1\"}" &
done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null
check "burst all stored"    '[ "$(sqlite3 $tmp/ev.db "select count(*) from events where user like \"b%\"")" = 40 ]'
get $url/metrics >/dev/null
ev=$(awk '/^drec_feedback_events_total /{print $2}' $tmp/body); cm=$(awk '/^drec_feedback_commits_total /{print $2}' $tmp/body)
check "metrics count events (41)" '[ "$ev" = 41 ]'
echo "    ($ev events in $cm commits)"
check "metrics prometheus format" 'grep -q "^# TYPE drec_recommend_seconds histogram" $tmp/body'
check "dashboard served"    '[ "$(get $url/)" = 200 ] && grep -q "<title>drec serve</title>" $tmp/body'
# hot reload: retrain into the same path, reload, version bumps
"$bin" train --model pop --data synthetic:users=300,items=200,seed=2 --out "$tmp/pop.drec" --quiet
check "reload needs key"    '[ "$(get -XPOST $url/v1/models/reload -d "{}")" = 401 ]'
check "reload ok"           '[ "$(get -XPOST -H "X-API-Key: k3y" $url/v1/models/reload -d "{\"model\":\"main\"}")" = 200 ]'
check "version bumped"      '[ "$(get "$url/v1/recommend?user=u1&k=1")" = 200 ] && grep -q "main@2" $tmp/body'
echo garbage > "$tmp/pop.drec"
check "bad reload refused"  '[ "$(get -XPOST -H "X-API-Key: k3y" $url/v1/models/reload -d "{}")" = 500 ]'
check "old model still serves" '[ "$(get "$url/v1/recommend?user=u1&k=1")" = 200 ] && grep -q "main@2" $tmp/body'
kill -TERM $pid; wait $pid; rc=$?
check "clean shutdown"      '[ $rc = 0 ]'
summary
