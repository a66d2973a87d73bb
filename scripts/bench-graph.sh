#!/usr/bin/env bash
# Benchmark of issue 16 (Microsoft Graph target), one run, against the Graph
# test double (`hrsync emulator-graph`, loopback, no network latency: it is
# not Microsoft Graph) and the SuccessFactors emulator:
#   a. `hrsync sync --full` of WORKERS emulated workers with
#      builtin:sf-to-entra into a double without a write limit (certificate
#      auth; the target's own write budget lifted to 3,000 per 1 s): seconds,
#      workers/s, requests by method, batches, writes, read from the
#      double's /_emulator/stats. The double counts `$batch` items one each
#      under their method (reads are batched too), and `batches` counts
#      read and write batches, so HTTP requests lie between `batches` and
#      `batches` + GET. Baseline in the same run: a plain
#      sequential Python http.client loop (one keep-alive connection) sending
#      the same writes one by one to a second, fresh double: a POST
#      /v1.0/users of each user hrsync created (its stored properties), then
#      a PUT .../manager/$ref of each manager link hrsync made.
#   b. the same sync into a third double that enforces a sliding-window
#      limit of LIMIT writes per WINDOW s, the target's write_budget BUDGET
#      per WINDOW s below it (Graph's shape, 3,000 per 150 s with the
#      default budget 2,500, scaled in time so a run takes minutes): elapsed
#      seconds against the floor, total writes / (BUDGET / WINDOW).
#
#   scripts/bench-graph.sh [WORKERS]     (default 10000)
#   BENCH_LIMIT (1200), BENCH_BUDGET (1000), BENCH_WINDOW (5) set part b;
#   BENCH_CONCURRENCY sets [target.connection] concurrency (default: the
#   target's default, 4).
set -euo pipefail
cd "$(dirname "$0")/.."
workers="${1:-10000}"
limit="${BENCH_LIMIT:-1200}"
budget="${BENCH_BUDGET:-1000}"
window="${BENCH_WINDOW:-5}"
cargo build --release -q -p hrsync
bin="${CARGO_TARGET_DIR:-target}/release/hrsync"
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }
# gstat PORT EXPR: EXPR over the double's /_emulator/stats as `s`.
gstat() { python3 -c 'import json,sys,urllib.request; s=json.load(urllib.request.urlopen(sys.argv[1]+"/_emulator/stats")); print(eval(sys.argv[2]))' "http://127.0.0.1:$1" "$2"; }

client=6f1e0c8a-3b2d-4e5f-9a7b-1c2d3e4f5a6b
"$bin" keys generate --out "$dir/keys" >/dev/null
export BENCH_SF_PASSWORD=hrsync-emulator BENCH_BASELINE_SECRET=bench-graph-baseline-secret

ep=$(free_port)
"$bin" emulator --workers "$workers" --seed 16 --listen "127.0.0.1:$ep" >"$dir/emu.log" 2>&1 &
pids+=($!)
gp=$(free_port)
"$bin" emulator-graph --listen "127.0.0.1:$gp" --domain contoso.com \
  --app-certificate "$client=$dir/keys/certificate.pem" >"$dir/graph.log" 2>&1 &
pids+=($!)
pp=$(free_port)
"$bin" emulator-graph --listen "127.0.0.1:$pp" --domain contoso.com \
  --app-secret baseline=BENCH_BASELINE_SECRET >"$dir/graph-py.log" 2>&1 &
pids+=($!)
lp=$(free_port)
"$bin" emulator-graph --listen "127.0.0.1:$lp" --domain contoso.com --write-limit "$limit" \
  --write-window-secs "$window" --app-certificate "$client=$dir/keys/certificate.pem" \
  >"$dir/graph-limited.log" 2>&1 &
pids+=($!)
for p in "$ep" "$gp" "$pp" "$lp"; do wait_port "$p"; done

# config NAME GRAPH_PORT EXTRA: a config in $dir/NAME/.
config() {
  mkdir -p "$dir/$1"
  cat >"$dir/$1/hrsync.toml" <<EOF
[source]
url = "http://127.0.0.1:$ep"
company_id = "HRSYNCTEST"
page_size = 1000
[source.auth]
method = "basic"
username = "sfapi"
password_env = "BENCH_SF_PASSWORD"

[target]
kind = "graph"
[target.connection]
tenant_id = "contoso"
client_id = "$client"
certificate_file = "$dir/keys/certificate.pem"
private_key_file = "$dir/keys/private-key.pem"
graph_url = "http://127.0.0.1:$2"
login_url = "http://127.0.0.1:$2"
domain = "contoso.com"
${BENCH_CONCURRENCY:+concurrency = $BENCH_CONCURRENCY}
$3

[flow]
mapping = "builtin:sf-to-entra"
time_zone = "UTC"
actions = ["create", "update", "disable"]

[state]
path = "$dir/$1/state.sqlite"
EOF
}
# Part a lifts the target's own budget (default 2,500 per 150 s, which would
# otherwise bound the run) to the most it allows per the shortest window.
config free "$gp" "write_budget = 3000
write_window_secs = 1"
config limited "$lp" "write_budget = $budget
write_window_secs = $window"

echo "1-minute load average before: $(cut -d' ' -f1 /proc/loadavg)"

# a. Without a write limit.
start=$(date +%s.%N)
"$bin" sync --full --config "$dir/free/hrsync.toml" >"$dir/free.out" 2>"$dir/free.err"
hr_s=$(echo "$(date +%s.%N) - $start" | bc)
created=$(grep -oE 'create [0-9]+' "$dir/free.out" | head -1 | awk '{print $2}')
free_stats=$(gstat "$gp" "json.dumps(s)")
writes=$(gstat "$gp" 's["writes"]')
batches=$(gstat "$gp" 's["batches"]')
gets=$(gstat "$gp" 's["requests_by_method"].get("GET", 0)')
echo "a. hrsync sync --full, $workers workers, no write limit: $created users created in $hr_s s ($(echo "$workers / $hr_s" | bc) workers/s read, $(echo "$writes / $hr_s" | bc) writes/s); $writes writes and $gets GETs (\$batch items counted one each) in $batches \$batch requests and single GETs (HTTP requests to /v1.0 between $batches and $((gets + batches))); double's stats: $free_stats"

# Baseline: the same writes, one by one, sequential, one keep-alive connection.
py=$(python3 - "$gp" "$pp" <<'EOF'
import http.client, json, sys, time, urllib.parse, urllib.request
src, port = int(sys.argv[1]), int(sys.argv[2])
v = json.load(urllib.request.urlopen(f"http://127.0.0.1:{src}/_emulator/users"))
users = v if isinstance(v, list) else v["value"]
form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "baseline",
                               "client_secret": "bench-graph-baseline-secret",
                               "scope": "https://graph.microsoft.com/.default"}).encode()
token = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/contoso/oauth2/v2.0/token", form))["access_token"]
bodies = []
for u in users:
    b = {k: x for k, x in u.items() if k not in ("id", "_managerId") and not k.startswith("@")}
    pp = dict(b.get("passwordProfile") or {})
    pp["password"] = "Bench-Pa55word!"
    b["passwordProfile"] = pp
    bodies.append(json.dumps(b))
h = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
t0 = time.perf_counter()
new = {}
for u, body in zip(users, bodies):
    c.request("POST", "/v1.0/users", body=body, headers=h)
    r = c.getresponse(); data = r.read()
    assert r.status == 201, (r.status, data[:300])
    new[u["id"]] = json.loads(data)["id"]
links = 0
for u in users:
    m = u.get("_managerId")
    if not m:
        continue
    ref = json.dumps({"@odata.id": f"http://127.0.0.1:{port}/v1.0/users/{new[m]}"})
    c.request("PUT", f"/v1.0/users/{new[u['id']]}/manager/$ref", body=ref, headers=h)
    r = c.getresponse(); data = r.read()
    assert r.status == 204, (r.status, data[:300])
    links += 1
print(f"{time.perf_counter() - t0:.2f} {len(users)} {links}")
EOF
)
read -r py_s py_users py_links <<<"$py"
py_writes=$((py_users + py_links))
echo "   baseline, python http.client keep-alive, sequential: $py_users POST /v1.0/users + $py_links PUT manager/\$ref = $py_writes writes in $py_s s ($(echo "$py_writes / $py_s" | bc) writes/s); hrsync/baseline rate ratio (writes/s) $(echo "scale=2; ($writes / $hr_s) / ($py_writes / $py_s)" | bc)"

# b. With the limit's shape enforced, scaled in time.
start=$(date +%s.%N)
"$bin" sync --full --config "$dir/limited/hrsync.toml" >"$dir/limited.out" 2>"$dir/limited.err"
lim_s=$(echo "$(date +%s.%N) - $start" | bc)
lim_stats=$(gstat "$lp" "json.dumps(s)")
lim_writes=$(gstat "$lp" 's["writes"]')
floor=$(echo "scale=1; $lim_writes * $window / $budget" | bc)
echo "b. double limited to $limit writes per $window s, target write_budget $budget per $window s: $lim_writes writes in $lim_s s; floor $lim_writes / ($budget / $window) = $floor s; elapsed/floor $(echo "scale=2; $lim_s / $floor" | bc); double's stats: $lim_stats"
echo "1-minute load average after: $(cut -d' ' -f1 /proc/loadavg)"
