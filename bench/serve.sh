#!/usr/bin/env bash
# Throughput and latency of `drec serve` on loopback: GET /v1/recommend
# (k=10, a random known user each request) for an ALS model trained on
# MovieLens-100K, driven by wrk (Debian's package) from a second process.
# Usage: bench/serve.sh [build/drec] [seconds] [workers]
set -eu
bin=${1:-build/drec}; secs=${2:-10}; workers=${3:-2}
data=${DREC_DATA:-../shared/data}/movielens-100k
command -v wrk >/dev/null || { echo "bench/serve.sh needs wrk (apt-get install wrk)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
"$bin" train --model als --data movielens:$data --out "$tmp/als.drec" --quiet
"$bin" serve --model "$tmp/als.drec" --port 0 --workers "$workers" --quiet >"$tmp/out" 2>/dev/null &
pid=$!
for _ in $(seq 50); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/listening/{print $2}' "$tmp/out")
cat > "$tmp/req.lua" <<'LUA'
math.randomseed(1)
request = function() return wrk.format("GET", "/v1/recommend?user=" .. math.random(1, 943) .. "&k=10") end
LUA
echo "drec serve, ALS (64 factors, 1,682 items), GET /v1/recommend k=10, $workers workers, wrk 2 threads x 16 connections, ${secs}s"
wrk -t2 -c16 -d"${secs}s" --latency -s "$tmp/req.lua" "http://127.0.0.1:$port" | sed -n '3,13p'
kill $pid; wait $pid 2>/dev/null
# The peer: the same model file served by Python's standard library + numpy.
peer_port=$((port + 1))
/usr/bin/python3 "$(dirname "$0")/serve_peer.py" "$tmp/als.drec" $peer_port >"$tmp/peer" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q listening "$tmp/peer" 2>/dev/null && break; sleep 0.1; done
echo "Python peer (ThreadingHTTPServer + numpy $(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)')), same model and requests"
wrk -t2 -c16 -d"${secs}s" --latency -s "$tmp/req.lua" "http://127.0.0.1:$peer_port" | sed -n '3,13p'
