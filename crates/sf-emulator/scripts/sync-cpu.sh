#!/usr/bin/env bash
# CPU seconds the emulator spends serving one full sync, for each hrsync binary
# given, in turn (ROUNDS times), so a baseline and a candidate share run
# conditions. Each run is scripts/bench-sync.sh with that binary.
#
#   [SELECT=all|mapped] [ROUNDS=1] crates/sf-emulator/scripts/sync-cpu.sh WORKERS BIN [BIN...]
set -euo pipefail
WORKERS="${1:?usage: sync-cpu.sh WORKERS BIN [BIN...]}"
shift
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
for _ in $(seq 1 "${ROUNDS:-1}"); do
  for bin in "$@"; do
    echo "== $bin"
    HRSYNC_BIN="$bin" "$ROOT/scripts/bench-sync.sh" "$WORKERS" 2>&1 | grep -E "^== full sync|cycle 1 |emulator CPU"
  done
done
