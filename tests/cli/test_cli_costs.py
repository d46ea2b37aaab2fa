"""What a running space costs, as `list`, `list --running` and `status` show it (real CLI,
real daemon, the emulator's SageMaker and Price List APIs over HTTP)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bridge.emulator import start_in_thread
from bridge.emulator.config import DomainConfig, EmulatorConfig, FaultsConfig, SpaceConfig
from bridge.timestamps import parse_rfc3339

from .cli_helpers import DOMAIN, FAST, Cli


def _config(**changes: object) -> EmulatorConfig:
    spaces = (
        SpaceConfig("pricey", app_type="CodeEditor", app_running=True, idle_timeout_minutes=60),
        SpaceConfig("forever", app_type="CodeEditor", app_running=True),
        SpaceConfig("asleep", app_type="CodeEditor"),
    )
    config = EmulatorConfig(
        delays=FAST, domains=(DomainConfig(DOMAIN, "costs", ("default-user",), spaces),)
    )
    return replace(config, **changes)


def test_list_shows_uptime_idle_shutdown_and_price_of_running_spaces(offline_cli: Cli) -> None:
    with start_in_thread(_config()) as emu:
        offline_cli.env.update(emu.env)
        spaces = {s["name"]: s for s in offline_cli.run("list", "--json").ok().json()}
        pricey, forever, asleep = spaces["pricey"], spaces["forever"], spaces["asleep"]
        assert pricey["running_since"] == pricey["app_created"]
        assert pricey["idle_timeout_minutes"] == 60
        since = parse_rfc3339(pricey["last_activity"] or pricey["running_since"])
        assert parse_rfc3339(pricey["idle_shutdown_at"]) == since + timedelta(minutes=60)
        assert pricey["price_per_hour"] > 0
        assert (pricey["currency"], pricey["price_source"]) == ("USD", "emulated")
        assert forever["running_since"] and forever["idle_shutdown_at"] is None  # no timeout
        assert {asleep[k] for k in ("running_since", "idle_shutdown_at", "price_per_hour")} == {
            None
        }

        running = offline_cli.run("list", "--running", "--json").ok().json()
        assert sorted(s["name"] for s in running) == ["forever", "pricey"]
        table = offline_cli.run("list", "--running", COLUMNS="200").ok().stdout
        assert "USD/h (emulated)" in table and "in 59m" in table and "off" in table
        assert "asleep" not in table

        status = offline_cli.run("status", "--json").ok().json()
        assert sorted(s["name"] for s in status["spaces"]) == ["forever", "pricey"]
        assert "Running spaces" in offline_cli.run("status", COLUMNS="200").ok().stdout


def test_no_price_is_shown_when_the_price_list_api_is_denied(offline_cli: Cli) -> None:
    with start_in_thread(_config(faults=FaultsConfig(deny_pricing=True))) as emu:
        offline_cli.env.update(emu.env)
        spaces = {s["name"]: s for s in offline_cli.run("list", "--json").ok().json()}
        assert spaces["pricey"]["running_since"] is not None
        assert (spaces["pricey"]["price_per_hour"], spaces["pricey"]["currency"]) == (None, None)
        result = offline_cli.run("list", "--running", COLUMNS="200").ok()
        assert "USD" not in result.stdout and "Traceback" not in result.stderr
