"""Scaffolding for running the real CLI, daemon and OpenSSH against the emulator.

Used by the tests, ``scripts/bench_*.py`` and ``scripts/demo``; never imported by production code.
It sits above both the emulator and the daemon (it starts one and talks to the other), which is
why it is not part of ``bridge.emulator``: the emulator must not depend on the daemon.
"""
