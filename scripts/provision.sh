#!/usr/bin/env bash
# Installs the system tools the test suite needs (`make test` runs this first). Idempotent and
# silent when everything is present. Which tools, where the tests look for them and which
# Debian package brings each live in tests/tools.py, the code the tests themselves use.
#
# Installs with apt-get as root (or through passwordless sudo); otherwise it names the packages
# to install by hand and exits non-zero. Package installs must not start services: Debian's
# prometheus and postgresql would start a server the tests do not want (they start their own on
# free ports), so while installing, a policy-rc.d that forbids starts is in place unless the
# machine already has one (invoke-rc.d and deb-systemd-invoke consult it; see
# /usr/share/doc/init-system-helpers/README.policy-rc.d.gz: exit 101 = "action forbidden").
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
wanted=$("$PYTHON" tests/tools.py missing)
[ -z "$wanted" ] && exit 0
mapfile -t packages <<<"$wanted"

by_hand() {
  echo "provision: $1" >&2
  echo "provision: install by hand: apt-get install --no-install-recommends ${packages[*]}" >&2
  echo "provision: (\`make test-unit\` runs the tests that need none of them)" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || by_hand "no apt-get on this machine; the tests need Debian's ${packages[*]}"
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  by_hand "not root and no passwordless sudo; cannot install ${packages[*]}"
fi

echo "provision: installing Debian ${packages[*]} for the tests (apt-get, once)" >&2
policy=/usr/sbin/policy-rc.d
log=$(mktemp)
cleanup() {
  if [ -n "${ours:-}" ]; then "${as_root[@]}" rm -f "$policy"; fi
  rm -f "$log"
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
  ours=1
  printf '#!/bin/sh\n# temporary, from shadow scripts/provision.sh\nexit 101\n' |
    "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod 755 "$policy"
fi

export DEBIAN_FRONTEND=noninteractive
if ! { "${as_root[@]}" apt-get update -qq &&
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  by_hand "apt-get failed (its last lines are above)"
fi
# A policy-rc.d that was already here may allow starts: stop what these packages started.
for service in prometheus postgresql; do
  if printf '%s\n' "${packages[@]}" | grep -qx "$service"; then
    "${as_root[@]}" service "$service" stop >/dev/null 2>&1 || true
  fi
done

still=$("$PYTHON" tests/tools.py missing)
[ -z "$still" ] || by_hand "installed ${packages[*]}, but the tests still cannot find the binaries of: $still"
