#!/usr/bin/env bash
# Benchmark of issue 5, repeated: RUNS full syncs of WORKERS emulated workers
# into a fresh slapd, each against `ldapadd -c` of the same entries into a
# second fresh slapd in the same run (see
# crates/targets/ldap/examples/bench_ldap.rs). One line per run, then the
# median ratio: single runs on a shared 2-core machine spread by +-15 %.
#
#   scripts/bench-ldap.sh [RUNS] [WORKERS]     (defaults: 10, 10000)
#   BENCH_CONCURRENCY, BENCH_PAGE_SIZE, BENCH_POOL=connections:in_flight try
#   other settings than the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
workers="${2:-10000}"
# The benchmark starts its own slapd servers and runs ldapadd: say what to
# install instead of letting the benchmark panic half-way.
missing=()
for tool in slapd slapadd ldapadd; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "bench-ldap: ${missing[*]} not found. Install OpenLDAP's server and tools first," >&2
  echo "  Debian/Ubuntu: sudo apt-get install slapd ldap-utils   (scripts/test.sh does this too)" >&2
  echo "  Fedora/RHEL:   sudo dnf install openldap-servers openldap-clients" >&2
  exit 1
fi
cargo build --release -q -p hrsync-target-ldap --example bench_ldap
bin="${CARGO_TARGET_DIR:-target}/release/examples/bench_ldap"
echo "1-minute load average before: $(cut -d' ' -f1 /proc/loadavg)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq 1 "$runs"); do
  "$bin" openldap "$workers" 2>&1 | awk '
    /sync: hrsync/ { h = $3 }
    /CPU: hrsync/  { own = $6; a = $9 }
    /ldapadd -c:/  { l = $3 }
    /CPU: slapd/   { b = $3 }
    /ratio/        { r = $NF }
    END { printf "hrsync %s s, ldapadd %s s, ratio %s; CPU s: hrsync+emulator %s, slapd %s (ldapadd run: slapd %s)\n", h, l, r, own, a, b }' | tee -a "$out"
done
sed -E 's/.*ratio ([0-9.]+);.*/\1/' "$out" | sort -n | awk '
  { v[NR] = $1 }
  END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%d runs: median ratio %.2f, min %.2f, max %.2f\n", NR, m, v[1], v[NR] }'
echo "1-minute load average after: $(cut -d' ' -f1 /proc/loadavg)"
