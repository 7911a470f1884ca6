#!/usr/bin/env bash
# Bazel on this repository, offline: installs Debian's Bazel 4 if missing (scripts/ensure_bazel.sh),
# points the three repositories Bazel would download at local stand-ins, and uses the pinned venv.
#   bash scripts/bazel.sh test //:test_models        bash scripts/bazel.sh query //...
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/ensure_bazel.sh >&2
py="$(bash scripts/ensure_env.sh | tail -n 1)"
command="$1"
shift
overrides=(
  "--override_repository=rules_cc=$root/third_party/bazel/rules_cc"
  "--override_repository=rules_java=/usr/share/bazel/rules/java"
  "--override_repository=remote_coverage_tools=$root/third_party/bazel/remote_coverage_tools"
)
case "$command" in
  build|test|run|coverage) exec bazel --batch "$command" "${overrides[@]}" "--python_path=$py" "$@" ;;
  *) exec bazel --batch "$command" "${overrides[@]}" "$@" ;;
esac
