#!/bin/bash
# load_speed.sh — how fast the text readers load a large ratings file.
#
#   bench/load_speed.sh [build/drec] [LINES]
#
# Writes a u.data-like file (user \t item \t rating \t ts, random order,
# LINES lines, default 5,000,000: about 116 MB) under /tmp, then times
# `drec info` on it through movielens: and csv: (parse, intern ids, build the
# user and item indexes), three runs each, and prints the best as MB/s of
# wall and of CPU time.
# The file is removed at the end.
set -euo pipefail
DREC=${1:-build/drec}
LINES=${2:-5000000}
DIR=$(mktemp -d /tmp/drec-load-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
awk -v n="$LINES" 'BEGIN { srand(7); for (i = 0; i < n; i++)
    printf "%d\t%d\t%d\t%d\n", int(rand() * 70000) + 1, int(rand() * 20000) + 1, int(rand() * 5) + 1,
           880000000 + int(rand() * 10000000) }' > "$DIR/u.data"
BYTES=$(stat -c %s "$DIR/u.data")
cat "$DIR/u.data" > /dev/null   # from the page cache from here on
for spec in "movielens:$DIR" "csv:$DIR/u.data"; do
    best=
    for run in 1 2 3; do
        # wall and CPU (user + sys) seconds; the CPU figure is the one to
        # trust on a shared machine, where wall time includes waiting.
        read -r w u s < <( { /usr/bin/time -f "%e %U %S" "$DREC" info "$spec" > /dev/null; } 2>&1 | tail -1)
        cpu=$(echo "$u + $s" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$w < $best" | bc -l)" = 1 ]; then best=$w; bcpu=$cpu; fi
    done
    mb=$(echo "$BYTES / 1000000" | bc -l)
    printf '%-10s %d lines, %.1f MB: best of 3 wall %.2f s = %.0f MB/s (CPU %.2f s = %.0f MB/s)\n' "${spec%%:*}" \
        "$LINES" "$mb" "$best" "$(echo "$mb / $best" | bc -l)" "$bcpu" "$(echo "$mb / $bcpu" | bc -l)"
done
# The peer, same file, same work: numpy.loadtxt + np.unique + stable argsorts.
mb=$(echo "$BYTES / 1000000" | bc -l)
pw=$(/usr/bin/python3 "$(dirname "$0")/load_peer.py" "$DIR/u.data")
printf '%-10s %d lines, %.1f MB: best of 3 wall %.2f s = %.0f MB/s (numpy %s loadtxt + unique + argsort)\n' numpy \
    "$LINES" "$mb" "$pw" "$(echo "$mb / $pw" | bc -l)" "$(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)')"
