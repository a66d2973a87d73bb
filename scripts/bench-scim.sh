#!/usr/bin/env bash
# Benchmark of issue 14 (SCIM target), one run:
#   1. a plain sequential Python http.client create loop (a new connection per
#      request: scim2-server is HTTP/1.0 without keep-alive) into one tenant of
#      a scim2-server, as the baseline;
#   2. `hrsync sync --full` of WORKERS emulated workers with builtin:sf-to-scim
#      into another tenant of the same server, in the same run;
#   3. CHANGES HR changes (job title transfers) and one incremental
#      `hrsync sync`: its seconds and the SCIM requests it sent (counted in the
#      server's own request log).
#
#   scripts/bench-scim.sh [WORKERS] [CHANGES]     (defaults: 10000, 100)
#   BENCH_CONCURRENCY sets [target.connection] concurrency (default 4).
#   BENCH_RUNS=N repeats steps 1-2 N times (default 1), each into fresh
#   tenants, alternating which goes first, and prints the median ratio.
#   BENCH_WARMUP=0 skips the emulator warm-up (one `plan --full`) before run 1.
#   With two or more CPUs and taskset, the SCIM server runs alone on CPU 1 and
#   everything else (emulator, hrsync, the baseline) on CPU 0, so neither side
#   takes the server's CPU (BENCH_PIN=0 turns this off).
# Needs scripts/test.sh to have made target/pyvenv (it installs scim2-server).
set -euo pipefail
cd "$(dirname "$0")/.."
workers="${1:-10000}"
changes="${2:-100}"
venv="${BENCH_VENV:-${CARGO_TARGET_DIR:-target}/pyvenv}"
[ -x "$venv/bin/scim2-server" ] || venv=target/pyvenv
if [ ! -x "$venv/bin/scim2-server" ]; then
  echo "bench-scim: $venv/bin/scim2-server not found; run scripts/test.sh first (it installs scim2-server)" >&2
  exit 1
fi
cargo build --release -q -p hrsync
bin="${CARGO_TARGET_DIR:-target}/release/hrsync"
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

pin_server=()
pin_client=()
if [ "${BENCH_PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin_server=(taskset -c 1)
  pin_client=(taskset -c 0)
  echo "pinned: SCIM server on CPU 1, emulator, hrsync and the baseline on CPU 0"
fi
token=bench-scim-token
sp=$(free_port)
"${pin_server[@]}" "$venv/bin/scim2-server" --hostname 127.0.0.1 --port "$sp" --bearer-token "$token" --dynamic-tenants 2>"$dir/scim.log" &
pids+=($!)
ep=$(free_port)
"${pin_client[@]}" "$bin" emulator --workers "$workers" --seed 14 --listen "127.0.0.1:$ep" >"$dir/emu.log" 2>&1 &
pids+=($!)
wait_port "$sp"
wait_port "$ep"
echo "1-minute load average before: $(cut -d' ' -f1 /proc/loadavg)"

cat >"$dir/hrsync.template" <<EOF
[source]
url = "http://127.0.0.1:$ep"
company_id = "HRSYNCTEST"
page_size = 1000
[source.auth]
method = "basic"
username = "sfapi"
password_env = "BENCH_SF_PASSWORD"

[target]
kind = "scim"
[target.connection]
url = "http://127.0.0.1:$sp/TENANT/v2"
method = "bearer"
token_env = "BENCH_SCIM_TOKEN"
concurrency = ${BENCH_CONCURRENCY:-4}

[flow]
mapping = "builtin:sf-to-scim"
time_zone = "UTC"
actions = ["create", "update", "disable"]

[state]
path = "$dir/STATE.sqlite"
EOF
export BENCH_SF_PASSWORD=hrsync-emulator BENCH_SCIM_TOKEN="$token"

# One run's two halves: hrsync's full sync into tenant hr$1, and the
# baseline's creates into tenant py$1.
hrsync_full() {
  local tenant="hr$1"
  sed -e "s|TENANT|$tenant|" -e "s|STATE|state-$1|" "$dir/hrsync.template" >"$dir/hrsync.toml"
  local start
  start=$(date +%s.%N)
  "${pin_client[@]}" "$bin" sync --full --config "$dir/hrsync.toml" >"$dir/full.out" 2>"$dir/full.err"
  hr_s=$(echo "$(date +%s.%N) - $start" | bc)
  created=$(grep -oE 'create [0-9]+' "$dir/full.out" | head -1 | awk '{print $2}')
  full_requests=$(grep -cE "\"(GET|POST|PATCH|DELETE|PUT) /$tenant/" "$dir/scim.log" || true)
  by_method=$(grep -oE "\"(GET|POST|PATCH) /$tenant/" "$dir/scim.log" | sort | uniq -c | awk '{printf "%s %s, ", $1, substr($2, 2)}')
}
cat >"$dir/baseline.py" <<'EOF'
import http.client, json, sys, time
port, n, token, tenant = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
t0 = time.perf_counter()
for i in range(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    # The shape builtin:sf-to-scim sends: core User and the enterprise extension.
    ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ent], "userName": f"u{i}@example.com",
            "externalId": f"e{i}", "active": True, "displayName": f"Given Family{i}", "title": "Engineer",
            "name": {"givenName": "Given", "familyName": f"Family{i}"},
            "emails": [{"type": "work", "value": f"u{i}@example.com", "primary": True}],
            "phoneNumbers": [{"type": "work", "value": "5551234", "primary": True}],
            ent: {"employeeNumber": f"e{i}", "department": "Sales", "costCenter": "CC 1",
                  "division": "Products", "organization": "ACE Corporation"}}
    c.request("POST", f"/{tenant}/v2/Users", body=json.dumps(body),
              headers={"Content-Type": "application/scim+json", "Authorization": f"Bearer {token}"})
    r = c.getresponse(); r.read(); c.close()
    assert r.status == 201, r.status
print(f"{time.perf_counter() - t0:.2f}")
EOF
baseline() {
  py_s=$("${pin_client[@]}" "$venv/bin/python" "$dir/baseline.py" "$sp" "$created" "$token" "py$1")
}
# The emulator builds its answers on first use: a `plan --full` into an
# empty tenant reads every worker once (and writes nothing), so that cost
# does not land on whichever run happens to be first (BENCH_WARMUP=0: off).
if [ "${BENCH_WARMUP:-1}" = 1 ]; then
  sed -e "s|TENANT|warmup|" -e "s|STATE|state-warmup|" "$dir/hrsync.template" >"$dir/warmup.toml"
  "${pin_client[@]}" "$bin" plan --full --config "$dir/warmup.toml" >/dev/null 2>"$dir/warmup.err"
fi
ratios=()
created="${BENCH_BASELINE_N:-}"
for run in $(seq 1 "${BENCH_RUNS:-1}"); do
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  if [ $((run % 2)) = 1 ] || [ -z "$created" ]; then
    order="hrsync first"
    hrsync_full "$run"
    baseline "$run"
  else
    order="baseline first"
    baseline "$run"
    hrsync_full "$run"
  fi
  ratio=$(echo "scale=2; $py_s / $hr_s" | bc)
  ratios+=("$ratio")
  echo "run $run ($order, load $load_before -> $(cut -d' ' -f1 /proc/loadavg)): hrsync created $created users in $hr_s s ($(echo "$created / $hr_s" | bc) users/s, including reading SuccessFactors and the lookups); python http.client: $created creates in $py_s s ($(echo "$created / $py_s" | bc) users/s); hrsync/python rate ratio $ratio; hrsync sent $full_requests SCIM requests (${by_method%, })"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
echo "full sync: ${#ratios[@]} run(s), ratios ${ratios[*]}, median $median"

# 3. CHANGES transfers, then one incremental cycle.
"$venv/bin/python" - "$ep" "$changes" <<'EOF'
import json, sys, urllib.request
port, n = int(sys.argv[1]), int(sys.argv[2])
scen = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/scenarios"))
active = scen.get("Active") or scen.get("active")
events = [{"type": "transfer", "personIdExternal": p, "jobTitle": f"Bench Title {i}"} for i, p in enumerate(active[:n])]
req = urllib.request.Request(f"http://127.0.0.1:{port}/_emulator/events", data=json.dumps(events).encode(),
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
EOF
sleep 1.2
tenant="hr$run"
before=$(grep -cE "\"(GET|POST|PATCH|DELETE|PUT) /$tenant/" "$dir/scim.log" || true)
start=$(date +%s.%N)
"${pin_client[@]}" "$bin" sync --config "$dir/hrsync.toml" >"$dir/inc.out" 2>"$dir/inc.err"
inc_s=$(echo "$(date +%s.%N) - $start" | bc)
after=$(grep -cE "\"(GET|POST|PATCH|DELETE|PUT) /$tenant/" "$dir/scim.log" || true)
patches=$(grep -E "\"(GET|POST|PATCH|DELETE|PUT) /$tenant/" "$dir/scim.log" | tail -n +"$((before + 1))" | grep -cE '"PATCH /' || true)
echo "incremental: $changes changes among $created users in $inc_s s, $((after - before)) SCIM requests ($patches PATCH): $(grep -oE 'update [0-9]+' "$dir/inc.out" | head -1)"
echo "1-minute load average after: $(cut -d' ' -f1 /proc/loadavg)"
