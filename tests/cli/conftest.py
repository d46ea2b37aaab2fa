"""Fixtures: a real emulator per test and a ``Cli`` in a private HOME pointed at it."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bridge.emulator import EmulatorThread, start_in_thread
from bridge.emulator.config import DomainConfig

from .accounts_helpers import PROFILES, account_config, write_profiles
from .cli_helpers import DOMAIN, Cli, cli_config
from .help_helpers import close_renderer


@pytest.fixture(autouse=True, scope="module")
def _renderer_closed_after_each_module() -> Iterator[None]:
    yield
    close_renderer()


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with start_in_thread(cli_config()) as handle:
        yield handle


@contextlib.contextmanager
def _private_cli() -> Iterator[Cli]:
    root = Path(tempfile.mkdtemp(prefix="smc-"))  # short: unix socket paths max out at 107 bytes
    cli = Cli.offline(root)
    try:
        yield cli
    finally:
        try:
            cli.stop_daemon()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def offline_cli() -> Iterator[Cli]:
    """A Cli with no AWS endpoint or credentials at all."""
    with _private_cli() as cli:
        yield cli


@pytest.fixture(scope="module")
def module_cli() -> Iterator[Cli]:
    """Like ``cli``, one for the whole module (its emulator, HOME, daemon and the apps it
    started): for a module whose tests each close what they open, so the daemon start and the
    JupyterLab app start are paid once, not per test."""
    with start_in_thread(cli_config()) as handle, _private_cli() as cli:
        cli.env.update(handle.env)
        yield cli


@pytest.fixture
def home_cli(module_cli: Cli) -> Iterator[Cli]:
    """``module_cli`` for tests that change only files in its HOME and its environment: each
    test finds both as the module's first test did (HOME emptied, environment put back), and
    the daemon and emulator are started once per module."""
    env = dict(module_cli.env)
    try:
        yield module_cli
    finally:
        module_cli.env.clear()
        module_cli.env.update(env)
        for entry in module_cli.home.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


@pytest.fixture
def empty_cli(offline_cli: Cli) -> Iterator[Cli]:
    """A Cli whose region has a domain but no space (spaces elsewhere, as far as it knows)."""
    config = replace(cli_config(), domains=(DomainConfig(DOMAIN, "empty", ("default-user",), ()),))
    with start_in_thread(config) as handle:
        offline_cli.env.update(handle.env)
        yield offline_cli
        offline_cli.stop_daemon()  # before the emulator goes


@pytest.fixture
def cli(emu: EmulatorThread, offline_cli: Cli) -> Cli:
    # emu first: the daemon is stopped (offline_cli teardown) before the emulator.
    offline_cli.env.update(emu.env)
    return offline_cli


@pytest.fixture
def accounts() -> Iterator[dict[str, EmulatorThread]]:
    """Two accounts (profiles ``a`` and ``b``), each an emulator with a space ``demo``."""
    with (
        start_in_thread(account_config("a", "111111111111")) as a,
        start_in_thread(account_config("b", "222222222222")) as b,
    ):
        yield dict(zip(PROFILES, (a, b), strict=True))


@pytest.fixture
def accounts_cli(accounts: dict[str, EmulatorThread], offline_cli: Cli) -> Cli:
    """A Cli whose ``~/.aws`` has profiles ``a`` and ``b`` for the two accounts."""
    write_profiles(offline_cli, accounts)
    return offline_cli
