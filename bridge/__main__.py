"""Console entry point.

``smconnect proxy`` runs for every ssh connection, so it is routed here before anything heavy
(typer, rich, boto3) is imported; every other command goes to the typer app.
"""

from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["proxy"]:
        from bridge.proxy import main as proxy_main  # small import graph, guarded by a test

        raise SystemExit(proxy_main(argv[1:]))
    from bridge.cli.app import run

    run()


if __name__ == "__main__":
    main()
