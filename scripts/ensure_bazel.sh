#!/usr/bin/env bash
# Installs Debian's Bazel 4 (bazel-bootstrap) and its Java rules (bazel-rules-java) if missing.
# Both come from the Debian package registry; idempotent.
set -euo pipefail
if command -v bazel >/dev/null 2>&1 && [ -f /usr/share/bazel/rules/java/WORKSPACE ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "error: Bazel is missing; install it as root: apt-get install bazel-bootstrap bazel-rules-java" >&2
    exit 1
  }
  sudo="sudo"
fi
echo "[bazel] installing bazel-bootstrap and bazel-rules-java (Debian, ~15 s)" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q bazel-bootstrap bazel-rules-java >/dev/null || {
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q bazel-bootstrap bazel-rules-java >/dev/null
}
