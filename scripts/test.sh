#!/usr/bin/env bash
# The one test command: installs what the tests need (idempotent, non-interactive)
# and runs the whole suite. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# System packages the test harness needs. Installed only when missing, so a
# second run costs nothing. Later targets (slapd, Samba AD, scim2-server) add
# their packages here.
APT_PACKAGES=(slapd ldap-utils samba samba-ad-dc samba-ad-provision python3-samba winbind krb5-user ldb-tools openssl xmlsec1)
PIP_PACKAGES=()

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if ((${#PIP_PACKAGES[@]})); then
  log "ensuring Python packages: ${PIP_PACKAGES[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}"
fi

log "cargo test (workspace)"
cargo test --workspace --locked --all-targets --no-fail-fast "$@"
