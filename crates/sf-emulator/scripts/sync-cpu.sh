#!/usr/bin/env bash
# CPU seconds the emulator spends serving one full sync. For each hrsync binary
# given: start `hrsync emulator` as its own process (N workers, seed 42, the
# real clock as scripts/bench-sync.sh does, so pre-hires are re-queried), run
# `hrsync sync --full` from the same binary against it into the embedded target
# (bench-sync.sh's set-up), and print the emulator's utime+stime during the sync
# (generation excluded), the sync's wall time, the number of OData requests and
# the load average. Give the baseline and the candidate binaries in one call so
# they share run conditions.
#
#   [SELECT=all|mapped] [ROUNDS=1] crates/sf-emulator/scripts/sync-cpu.sh WORKERS BIN [BIN...]
set -euo pipefail
WORKERS="${1:?usage: sync-cpu.sh WORKERS BIN [BIN...]}"
shift
PORT="${BENCH_PORT:-18777}"
TICK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_one() {
  local bin="$1" dir emu before after
  dir="$(mktemp -d)"
  "$bin" emulator --workers "$WORKERS" --seed 42 --listen "127.0.0.1:$PORT" >"$dir/emulator.log" 2>&1 &
  emu=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$PORT/_emulator/clock" >/dev/null && break
    sleep 0.2
  done
  cat >"$dir/hrsync.toml" <<TOML
[source]
url = "http://127.0.0.1:$PORT"
company_id = "HRSYNCTEST"
page_size = 200
select = "${SELECT:-all}"
[source.auth]
method = "basic"
username = "sfapi"
password_env = "BENCH_SF_PASSWORD"
[target]
kind = "embedded"
path = "target.sqlite"
unique = ["userPrincipalName", "sAMAccountName"]
[flow]
mapping = "builtin:sf-to-ad"
time_zone = "UTC"
[guard]
max_count = 1000000
max_share = 1.0
[state]
path = "state.sqlite"
TOML
  curl -sf -X DELETE "http://127.0.0.1:$PORT/_emulator/requests" >/dev/null
  before="$(cpu_ticks "$emu")"
  local start end
  start="$(date +%s.%N)"
  (cd "$dir" && BENCH_SF_PASSWORD=hrsync-emulator "$bin" sync --full --config "$dir/hrsync.toml" >"$dir/sync.log" 2>&1) || { echo "sync failed:"; tail -5 "$dir/sync.log"; }
  end="$(date +%s.%N)"
  after="$(cpu_ticks "$emu")"
  local requests
  requests="$(curl -sf "http://127.0.0.1:$PORT/_emulator/requests" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r.get("requests", r) if isinstance(r, dict) else r))')"
  kill "$emu" 2>/dev/null || true
  wait "$emu" 2>/dev/null || true
  rm -rf "$dir"
  awk -v b="$before" -v a="$after" -v t="$TICK" -v s="$start" -v e="$end" -v bin="$bin" -v n="$requests" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" -v sel="${SELECT:-all}" \
    'BEGIN { printf "%-50s SELECT=%-6s emulator CPU %6.2f s  sync wall %6.1f s  requests %d  load %s\n", bin, sel, (a - b) / t, e - s, n, load }'
}

for _ in $(seq 1 "${ROUNDS:-1}"); do
  for bin in "$@"; do
    run_one "$bin"
  done
done
