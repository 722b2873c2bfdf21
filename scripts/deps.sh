#!/usr/bin/env bash
# Installs, from Debian's packages, whatever drec needs to build and test and
# is not yet on this machine.  Does nothing (and needs no network) when all
# of it is already there.  Run as root on Debian 12.
set -euo pipefail
need=(cmake make gcc pkg-config libopenblas-dev libmicrohttpd-dev libjansson-dev
      libsqlite3-dev libxxhash-dev libomp-dev)
if [ "${1:-}" = "--test" ]; then
  need+=(chromium curl sqlite3)
fi
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "drec: installing missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" != 0 ]; then
  echo "drec: run as root (or install these packages yourself): ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
