#!/usr/bin/env bash
# test_report.sh — `drec bench --report DIR` end to end: the table, the JSON
# and a self-contained HTML report that headless Chromium renders to a PNG
# of the expected size, not blank, with the charts' colours on it.
# Chromium comes from Debian's chromium package (scripts/deps.sh --test);
# set DREC_NO_CHROMIUM=1 only on a machine that lacks it on purpose.
set -u
BIN=${DREC_BIN:?DREC_BIN not set}
DATA=${DREC_DATA:?DREC_DATA not set}
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$BIN" bench --models pop,userknn --data "movielens:$DATA/movielens-100k" --protocol loo-sampled:100 \
    --report "$tmp/out" --json -q >"$tmp/bench.json" 2>"$tmp/err" || { cat "$tmp/err"; fail "drec bench failed"; }
"$PY" - "$tmp/bench.json" <<'PYEOF' || fail "bench JSON"
import json, sys
d = json.load(open(sys.argv[1]))
res = d["results"]
assert [r["model"] for r in res] == ["pop", "userknn"], res
for r in res:
    for k in ("data", "protocol", "metrics", "train_seconds", "eval_seconds", "threads", "seed"):
        assert k in r, k
    assert r["protocol"] == "loo-sampled:100"
    assert 0 < r["metrics"]["hr@10"] < 1 and 0 < r["metrics"]["ndcg@10"] < r["metrics"]["hr@10"]
    assert r["evaluated"] == 943, r["evaluated"]
assert d["best"]["hr@10"]["model"] in ("pop", "userknn")
assert "significant" in d["best"]["hr@10"]
print("json ok")
PYEOF
"$BIN" bench --models pop,userknn --data "movielens:$DATA/movielens-100k" --protocol loo-sampled:100 --bootstrap 0 -q \
    >"$tmp/table.txt" 2>&1 || fail "drec bench (table) failed"
grep -q "^pop " "$tmp/table.txt" && grep -q "^userknn " "$tmp/table.txt" && grep -q "hr@10" "$tmp/table.txt" \
    || { cat "$tmp/table.txt"; fail "table"; }

html="$tmp/out/index.html"
[ -s "$html" ] || fail "no report at $html"
# self-contained: no scripts, no external resources
if grep -Eiq "<script|(src|href)=['\"]?(https?:)?//|@import|url\(" "$html"; then fail "report refers to outside resources"; fi
for want in "<svg" "Leaderboard" "Training curves" "Popularity long tail" "hr@10" "userknn"; do
    grep -q "$want" "$html" || fail "report lacks $want"
done

CHROME=/usr/bin/chromium
if [ ! -x "$CHROME" ]; then
    if [ "${DREC_NO_CHROMIUM:-0}" = 1 ]; then
        echo "SKIP: chromium is not installed (DREC_NO_CHROMIUM=1): the report was checked as text only"
        exit 0
    fi
    fail "chromium not found at $CHROME: install it with scripts/deps.sh --test (or set DREC_NO_CHROMIUM=1 where it is absent on purpose)"
fi
prof="$tmp/profile"
mkdir -p "$prof"
timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$prof" \
    --screenshot="$tmp/report.png" --window-size=1200,2000 "file://$html" >"$tmp/chrome.log" 2>&1
[ -s "$tmp/report.png" ] || { tail -5 "$tmp/chrome.log"; fail "chromium wrote no screenshot"; }
"$PY" - "$tmp/report.png" <<'PYEOF' || fail "the screenshot does not look rendered"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
assert (w, h) == (1200, 2000), (w, h)
assert depth == 8 and ctype in (2, 6), (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
try:
    import numpy as np
except ImportError:
    np = None

def unfilter(f, line, prev):
    """One PNG scanline back from its filter (numpy for the filters that
    vectorise; Paeth and Average byte by byte)."""
    if np is not None and f in (0, 1, 2):
        x = np.frombuffer(bytes(line), dtype=np.uint8).astype(np.int64)
        if f == 2:
            x = (x + np.frombuffer(bytes(prev), dtype=np.uint8)) & 255
        elif f == 1:
            x = np.cumsum(x.reshape(-1, bpp), axis=0).ravel() & 255
        return bytearray(x.astype(np.uint8).tobytes())
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + ((a + b) >> 1)) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    return line

def near_count(colours, rgb, tol=12):
    return sum(c for px, c in colours.items() if all(abs(px[i] - rgb[i]) <= tol for i in range(3)))

prev = bytearray(stride)
colours, ink, pos, rows = {}, 0, 0, 0
for y in range(h):
    f = raw[pos]; line = bytearray(raw[pos + 1:pos + 1 + stride]); pos += 1 + stride
    line = unfilter(f, line, prev)
    prev = line
    rows = y + 1
    if y % 4: continue
    for x in range(0, stride, bpp * 4):
        px = bytes(line[x:x + 3])
        if px != b"\xff\xff\xff": ink += 1
        colours[px] = colours.get(px, 0) + 1
    # the leaderboard and the metric bars fill the top half: stop once they are seen
    if y >= 1000 and y % 100 == 0 and near_count(colours, (0x1f, 0x77, 0xb4)) > 50 \
            and near_count(colours, (0xd6, 0x27, 0x28)) > 50:
        break
total = sum(colours.values())
assert ink > total * 0.03, "almost blank: %d of %d sampled pixels not white" % (ink, total)
blue, red = near_count(colours, (0x1f, 0x77, 0xb4)), near_count(colours, (0xd6, 0x27, 0x28))
assert blue > 50 and red > 50, "the model colours of the bar charts are missing (blue %d, red %d)" % (blue, red)
print("png ok: %dx%d, %d%% ink, %d distinct sampled colours in the top %d rows" % (w, h, 100 * ink // total, len(colours), rows))
PYEOF
echo "ok"
