#!/usr/bin/env bash
# Benchmark of issue 4: a full sync of N workers from the emulator into the
# embedded target (workers/s, peak RSS of the sync process), then an
# incremental cycle with 100 changes among them (seconds, requests sent).
# The emulator runs as its own process so its memory is not counted; the CPU
# seconds it spends serving the full sync are printed (generation excluded).
#
#   [SELECT=all|mapped] [HRSYNC_BIN=path] [PERF=perf.data] scripts/bench-sync.sh [WORKERS]
#   (defaults: all, as the config, 100000). HRSYNC_BIN runs a binary built before (to
#   compare two builds in one session) instead of building; PERF records the
#   full sync with `perf record -g` into that file.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS="${1:-100000}"
PORT="${BENCH_PORT:-18765}"
if [ -n "${HRSYNC_BIN:-}" ]; then
  BIN="$HRSYNC_BIN"
else
  cargo build --release -p hrsync >/dev/null
  BIN="${CARGO_TARGET_DIR:-target}/release/hrsync"
fi
DIR="$(mktemp -d)"
trap 'kill "$EMU" 2>/dev/null || true; rm -rf "$DIR"' EXIT

"$BIN" emulator --workers "$WORKERS" --seed 42 --listen "127.0.0.1:$PORT" >"$DIR/emulator.log" 2>&1 &
EMU=$!
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/_emulator/clock" >/dev/null && break
  sleep 0.2
done

cat >"$DIR/hrsync.toml" <<TOML
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
export BENCH_SF_PASSWORD=hrsync-emulator

echo "== full sync of $WORKERS workers, select = ${SELECT:-all} (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
emulator_ticks() { awk '{print $14 + $15}' "/proc/$EMU/stat"; }
TICKS_BEFORE="$(emulator_ticks)"
if [ -n "${PERF:-}" ]; then
  perf record ${PERF_ARGS:--g} -o "$PERF" -- "$BIN" sync --full --config "$DIR/hrsync.toml"
else
  /usr/bin/time -f "peak RSS %M KiB, wall %e s" "$BIN" sync --full --config "$DIR/hrsync.toml"
fi
awk -v b="$TICKS_BEFORE" -v a="$(emulator_ticks)" -v t="$(getconf CLK_TCK)" 'BEGIN { printf "emulator CPU during the full sync: %.2f s\n", (a - b) / t }'

# 100 changes: transfers of 100 active workers.
python3 - "$PORT" <<'PY'
import json, sys, urllib.request
port = sys.argv[1]
scen = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/scenarios"))
active = scen["active"][:100]
events = [{"type": "transfer", "personIdExternal": p, "jobTitle": f"Bench Title {i}"} for i, p in enumerate(active)]
req = urllib.request.Request(f"http://127.0.0.1:{port}/_emulator/events", data=json.dumps(events).encode(), headers={"Content-Type": "application/json"}, method="POST")
urllib.request.urlopen(req).read()
urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/_emulator/requests", method="DELETE")).read()
PY
sleep 1.1
echo "== incremental cycle with 100 changes among $WORKERS"
/usr/bin/time -f "peak RSS %M KiB, wall %e s" "$BIN" sync --config "$DIR/hrsync.toml"
python3 - "$PORT" <<'PY'
import json, sys, urllib.request
reqs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/_emulator/requests"))
reqs = reqs.get("requests", reqs) if isinstance(reqs, dict) else reqs
print(f"SuccessFactors requests in the incremental cycle: {len(reqs)}")
PY
