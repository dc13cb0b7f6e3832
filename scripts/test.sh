#!/usr/bin/env bash
# Run Caoskol's tests (unit, integration, end to end) against the real local services.
# Arguments go to pytest, e.g. `bash scripts/test.sh -m "not e2e"`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh
# Tests choose their own rate-limit storage and keys; a developer's portal settings must not leak in.
unset CAOSKOL_RATELIMIT_STORAGE_URI CAOSKOL_SECRET_KEY
exec .venv/bin/python -m pytest "$@"
