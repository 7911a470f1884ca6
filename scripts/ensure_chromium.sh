#!/usr/bin/env bash
# Installs Debian's Chromium (the `chromium` package) if missing: the tests render the run report in
# it headless. From the Debian package registry; idempotent and quiet; `apt-get update` runs only
# when the package lists do not know `chromium` yet. Prints the browser's path on its last line.
set -euo pipefail
if path="$(command -v chromium)"; then
  echo "$path"
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "error: Chromium is missing; install it as root: apt-get install chromium" >&2
    exit 1
  }
  sudo="sudo"
fi
echo "[chromium] installing Debian's chromium (~1-2 minutes the first time)" >&2
export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes
if ! apt-cache show chromium >/dev/null 2>&1; then
  $sudo apt-get update -q >/dev/null
fi
$sudo apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null || {
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
}
command -v chromium
