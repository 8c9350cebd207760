#!/usr/bin/env bash
# Every test tier: `cargo xtask test` (xtask/, the runner `make test` calls). Kept so the
# command that older notes and some tests' ignore reasons name still works; arguments
# are passed on (e.g. `scripts/test.sh --tier lint`).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo xtask test "$@"
