#!/usr/bin/env bash
# Run Caoskol's tests (unit, integration, end to end) against the real local services.
# Arguments go to pytest, e.g. `bash scripts/test.sh -m "not e2e"`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh
exec .venv/bin/python -m pytest "$@"
