#!/usr/bin/env bash
# The one test command: installs what the tests need (idempotent, non-interactive)
# and runs the whole suite. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# System packages the test harness needs. Installed only when missing, so a
# second run costs nothing. Later targets (slapd, Samba AD, scim2-server) add
# their packages here.
APT_PACKAGES=(slapd ldap-utils samba samba-ad-dc samba-ad-provision python3-samba winbind krb5-user ldb-tools openssl xmlsec1 python3-venv nodejs)
PIP_PACKAGES=()

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
# Debian's nodejs comes without npm (NodeSource's includes it).
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  # Debian starts slapd/samba on install; the tests run their own servers on
  # private addresses, so keep the packaged daemons from starting (and from
  # holding port 389 on every address).
  policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo_cmd[@]}" chmod +x /usr/sbin/policy-rc.d
    policy_added=1
  fi
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ "$policy_added" = 1 ]; then "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d; fi
fi
if ((${#PIP_PACKAGES[@]})); then
  log "ensuring Python packages: ${PIP_PACKAGES[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}"
fi

# OData v2 clients hrsync did not write, for the emulator's client tests
# (crates/sf-emulator/tests/it/odata_clients.rs): SAP's pyodata in a private
# virtualenv, SAP Cloud SDK's generator and OData v2 runtime in a private
# node_modules. Versions are pinned; a stamp file holding the package list
# makes a second run a no-op, and a changed list reinstalls. scim2-server
# (in-memory SCIM 2.0) is the SCIM target's test server (crates/testkit).
PYVENV=target/pyvenv
PYVENV_PACKAGES=(pyodata==1.12.1 requests==2.32.3 scim2-server==0.8.3)
if [ "$(cat "$PYVENV/.hrsync-packages" 2>/dev/null)" != "${PYVENV_PACKAGES[*]}" ]; then
  log "creating $PYVENV with ${PYVENV_PACKAGES[*]}"
  rm -rf "$PYVENV"
  python3 -m venv "$PYVENV"
  "$PYVENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${PYVENV_PACKAGES[@]}"
  printf '%s' "${PYVENV_PACKAGES[*]}" > "$PYVENV/.hrsync-packages"
fi
NODE_CLIENTS=target/odata-node
NODE_PACKAGES=(@sap-cloud-sdk/generator@4.5.1 @sap-cloud-sdk/generator-common@4.5.1 @sap-cloud-sdk/odata-v2@4.5.1 @sap-cloud-sdk/odata-v4@4.5.1 @sap-cloud-sdk/odata-common@4.5.1 @sap-cloud-sdk/connectivity@4.5.1 @sap-cloud-sdk/http-client@4.5.1 @sap-cloud-sdk/resilience@4.5.1 @sap-cloud-sdk/util@4.5.1)
if [ "$(cat "$NODE_CLIENTS/.hrsync-packages" 2>/dev/null)" != "${NODE_PACKAGES[*]}" ]; then
  log "installing ${NODE_PACKAGES[*]} into $NODE_CLIENTS"
  rm -rf "$NODE_CLIENTS"
  mkdir -p "$NODE_CLIENTS"
  printf '{"name":"hrsync-odata-clients","private":true}\n' > "$NODE_CLIENTS/package.json"
  (cd "$NODE_CLIENTS" && npm install --no-audit --no-fund --loglevel=error "${NODE_PACKAGES[@]}")
  printf '%s' "${NODE_PACKAGES[*]}" > "$NODE_CLIENTS/.hrsync-packages"
fi

# promtool (Prometheus' linter) for the API's /metrics test
# (crates/server/tests/api.rs): the binary alone, taken out of Debian's
# prometheus package without installing it (no user, no service).
PROMTOOL_DIR=target/promtool
if [ ! -x "$PROMTOOL_DIR/promtool" ]; then
  log "extracting promtool from Debian's prometheus package into $PROMTOOL_DIR"
  tmp="$(mktemp -d)"
  as_root=(); [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  if ! (cd "$tmp" && apt-get download -qq prometheus 2>/dev/null); then
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    (cd "$tmp" && apt-get download -qq prometheus)
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
  mkdir -p "$PROMTOOL_DIR"
  cp "$tmp/x/usr/bin/promtool" "$PROMTOOL_DIR/promtool"
  rm -rf "$tmp"
fi
PROMTOOL="$(pwd)/$PROMTOOL_DIR/promtool"
export PROMTOOL

# schemathesis (OpenAPI contract testing) for the API's live-server test
# (crates/server/tests/api.rs), in a virtualenv of its own.
ST_VENV=target/st-venv
ST_PACKAGES=(schemathesis==4.32.5)
if [ "$(cat "$ST_VENV/.hrsync-packages" 2>/dev/null)" != "${ST_PACKAGES[*]}" ]; then
  log "creating $ST_VENV with ${ST_PACKAGES[*]}"
  rm -rf "$ST_VENV"
  python3 -m venv "$ST_VENV"
  "$ST_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${ST_PACKAGES[@]}"
  printf '%s' "${ST_PACKAGES[*]}" > "$ST_VENV/.hrsync-packages"
fi
SCHEMATHESIS="$(pwd)/$ST_VENV/bin/schemathesis"
export SCHEMATHESIS

# A clean run gains nothing from incremental caches, and they were a quarter
# of target/ on disk; a caller may still turn them on.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Formatting and lints are part of the suite: CI keeps the tree as clean as
# it is now.
log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy (workspace, all targets, -D warnings)"
cargo clippy --workspace --locked --all-targets -- -D warnings

log "cargo test (workspace)"
cargo test --workspace --locked --all-targets --no-fail-fast "$@"
