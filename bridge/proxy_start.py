"""The ssh ProxyCommand's entry point: ``python -I -S <this file> [--profile P …] proxy ARGS``.

ssh starts the ProxyCommand for every connection, and the console script (``smconnect proxy``)
pays for ``site`` first: site-packages, every ``.pth`` file, an editable install's import hook
(15-40 ms here, before any of our code runs). The proxy needs only the standard library and
this package, so the ssh config we write runs this file with the interpreter in isolated mode
without ``site`` (``bridge.ssh.command.smconnect_command``): the package's parent directory is
appended to ``sys.path`` by hand, after the standard library, so nothing shadows it. The
arguments are those of ``smconnect … proxy`` (``bridge.__main__``), which keeps working too.
"""

import os
import sys

if __name__ == "__main__":
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    from bridge.__main__ import _proxy_argv
    from bridge.proxy import main

    argv = _proxy_argv(sys.argv[1:])
    if argv is None:
        sys.stderr.write("smconnect: this entry point only runs the ssh ProxyCommand\n")
        raise SystemExit(2)
    raise SystemExit(main(argv))
