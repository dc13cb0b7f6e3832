#!/usr/bin/env python3
"""HEALTHCHECK of the portal image: GET /healthz on this container's gunicorn, exit 0 or 1.

The port comes from CAOSKOL_PORTAL_BIND (as gunicorn.conf.py reads it). Standard library
only; no curl in a slim image.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    bind = os.environ.get("CAOSKOL_PORTAL_BIND", "0.0.0.0:8000")
    port = bind.rsplit(":", 1)[-1]
    host = bind.rsplit(":", 1)[0] if ":" in bind else "127.0.0.1"
    if host in ("", "0.0.0.0", "[::]", "::"):
        host = "127.0.0.1"
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=3) as resp:
            return 0 if resp.status == 200 else 1
    except OSError as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
