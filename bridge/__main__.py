"""Console entry point.

``smconnect proxy`` runs for every ssh connection, and ``smconnect credentials P`` for AWS SDKs'
credential_process, so both are routed here before typer and rich are imported; every other
command goes to the typer app. The ssh config we
write puts the AWS context first (``smconnect --profile P proxy HOST``), so leading context
options are accepted too.
"""

from __future__ import annotations

import sys

_CONTEXT_OPTIONS = frozenset({"--profile", "--region", "--endpoint-url"})


def _proxy_argv(argv: list[str]) -> list[str] | None:
    """The proxy's own argv if this is a proxy invocation, else None."""
    i = 0
    while i < len(argv) and argv[i] in _CONTEXT_OPTIONS:
        i += 2
    if i < len(argv) and argv[i] == "proxy":
        return argv[:i] + argv[i + 1 :]
    return None


def main() -> None:
    argv = sys.argv[1:]
    if len(argv) == 2 and argv[0] == "credentials":
        # credential_process: every AWS SDK runs it (often near expiry); skip typer and rich.
        from bridge.aws.credentials import process_main

        raise SystemExit(process_main(argv[1]))
    proxy_argv = _proxy_argv(argv)
    if proxy_argv is not None:
        from bridge.proxy import main as proxy_main  # small import graph, guarded by a test

        raise SystemExit(proxy_main(proxy_argv))
    from bridge.cli.app import run

    run()


if __name__ == "__main__":
    main()
