#!/usr/bin/env python3
"""The portal container's entrypoint: secrets into the environment, then exec the command.

    caoskol-entrypoint gunicorn -c /etc/caoskol/gunicorn.conf.py 'caoskol_portal:create_app()'

The portal reads plain environment variables (web/caoskol_portal/settings.py). In a stack,
passwords are files (Swarm or Compose secrets), so before the command starts:

* every ``CAOSKOL_<NAME>_FILE=/run/secrets/x`` sets ``CAOSKOL_<NAME>`` to the file's
  content (trailing newline removed); setting both is an error;
* ``CAOSKOL_DB_PASSWORD`` (usually from ``CAOSKOL_DB_PASSWORD_FILE``) is written,
  URL-quoted, into ``CAOSKOL_COLEGIO_URL`` and ``CAOSKOL_REPORTES_URL`` when those name a
  user without a password, so the stack files carry no password and any character works.

The rehearsal (scripts/rehearse_swarm.py) starts its gunicorn processes through this same
file. Standard library only: it runs before anything else in the image.
"""

from __future__ import annotations

import os
import sys
from typing import MutableMapping
from urllib.parse import quote, urlsplit, urlunsplit

PREFIX = "CAOSKOL_"
URL_VARS = ("CAOSKOL_COLEGIO_URL", "CAOSKOL_REPORTES_URL")
PASSWORD_VAR = "CAOSKOL_DB_PASSWORD"


class EntrypointError(RuntimeError):
    pass


def with_password(url: str, password: str) -> str:
    """``scheme://user@host/db`` -> ``scheme://user:PASSWORD@host/db``; other URLs unchanged."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, hostinfo = parts.netloc.rsplit("@", 1)
    if ":" in userinfo or not userinfo:
        return url  # the URL already has a password: it wins
    netloc = f"{userinfo}:{quote(password, safe='')}@{hostinfo}"
    return urlunsplit(parts._replace(netloc=netloc))


def resolve(env: MutableMapping[str, str]) -> list[str]:
    """Apply the rules above to ``env`` in place; returns the names set (for the log)."""
    done: list[str] = []
    for key in sorted(k for k in env if k.startswith(PREFIX) and k.endswith("_FILE")):
        name = key[: -len("_FILE")]
        path = env[key]
        if not path:
            continue
        if env.get(name):
            raise EntrypointError(f"both {name} and {key} are set: keep one")
        try:
            with open(path, encoding="utf-8") as fh:
                value = fh.read().rstrip("\r\n")
        except OSError as exc:
            raise EntrypointError(f"{key}={path}: cannot read the secret ({exc.strerror})") from exc
        if not value:
            raise EntrypointError(f"{key}={path}: the secret is empty")
        env[name] = value
        done.append(name)
    password = env.get(PASSWORD_VAR)
    if password:
        for var in URL_VARS:
            if env.get(var):
                new = with_password(env[var], password)
                if new != env[var]:
                    env[var] = new
                    done.append(f"{var} (password)")
    return done


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: caoskol-entrypoint COMMAND [ARG...]", file=sys.stderr)
        return 2
    try:
        done = resolve(os.environ)
    except EntrypointError as exc:
        print(f"caoskol-entrypoint: {exc}", file=sys.stderr)
        return 1
    if done:
        print(f"caoskol-entrypoint: from secrets: {', '.join(done)}", file=sys.stderr, flush=True)
    os.execvp(argv[0], argv)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
