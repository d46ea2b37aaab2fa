"""Hourly prices: the Price List answer parsed strictly (one price or none), the day-long cache
validated on read, and the client against the emulator's GetProducts over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from bridge.aws.pricing import (
    CACHE_SECONDS,
    HourlyPrice,
    PriceCache,
    PriceClient,
    parse_price_list,
    pricing_region,
)
from bridge.emulator import EmulatorThread


def _item(amount: str, currency: str = "USD", unit: str = "Hrs") -> str:
    dimension = {"unit": unit, "pricePerUnit": {currency: amount}}
    term = {"priceDimensions": {"R": dimension}}
    return json.dumps({"product": {"attributes": {}}, "terms": {"OnDemand": {"T": term}}})


def test_one_hourly_price_is_taken_and_anything_else_is_no_price() -> None:
    assert parse_price_list([_item("0.2300000000")]) == HourlyPrice("0.23", "USD")
    assert parse_price_list([_item("0.23"), _item("0.2300")]) == HourlyPrice("0.23", "USD")
    assert parse_price_list([]) is None
    assert parse_price_list([_item("0.23"), _item("0.46")]) is None  # which one? not ours to pick
    assert parse_price_list([_item("0.0000000000")]) is None  # a free tier line is not a price
    assert parse_price_list([_item("0.23", unit="GB-Mo")]) is None
    assert parse_price_list([_item("1e3"), _item("0.1", currency="usd"), "{not json", 7]) is None


def test_the_cache_keeps_a_price_for_a_day_and_ignores_what_it_cannot_trust(
    tmp_path: Path,
) -> None:
    now = [1_000_000.0]
    path = tmp_path / "state" / "prices.json"
    cache = PriceCache(path, clock=lambda: now[0])
    cache.put("k", HourlyPrice("0.23", "USD"))
    cache.put("none", None)
    assert path.stat().st_mode & 0o777 == 0o600
    assert cache.get("k") == (True, HourlyPrice("0.23", "USD"))
    assert cache.get("none") == (True, None)  # "the API found none" is remembered too
    assert cache.get("other") == (False, None)
    now[0] += CACHE_SECONDS
    assert cache.get("k") == (False, None)  # a day old: asked again
    now[0] -= 2 * CACHE_SECONDS
    assert cache.get("k") == (False, None)  # from the future: not trusted

    now[0] += CACHE_SECONDS
    data: dict[str, Any] = json.loads(path.read_text())
    data["prices"]["k"]["amount"] = "0.23; rm -rf"
    data["prices"]["none"]["fetched_at"] = "yesterday"
    path.write_text(json.dumps(data))
    assert cache.get("k") == (False, None)
    assert cache.get("none") == (False, None)
    path.write_text("[not json")
    assert cache.get("k") == (False, None)
    cache.put("k", HourlyPrice("0.5", "EUR"))  # a broken file is replaced, not kept
    assert cache.get("k") == (True, HourlyPrice("0.5", "EUR"))


def test_pricing_region_is_an_endpoint_that_serves_the_api() -> None:
    assert pricing_region("eu-central-1") == "eu-central-1"
    assert pricing_region("us-west-2") == "us-east-1"
    assert pricing_region("cn-north-1") == "cn-northwest-1"


def test_the_client_reads_the_emulator_and_answers_from_the_cache_afterwards(
    price_emu: EmulatorThread, price_session: boto3.Session, tmp_path: Path
) -> None:
    url = price_emu.endpoint_url
    cache = PriceCache(tmp_path / "prices.json")
    region = str(price_session.region_name)
    price = PriceClient(price_session, cache, endpoint_url=url).hourly(
        region, "ml.m5.large", "CodeEditor"
    )
    assert price is not None and price.emulated and price.currency == "USD"
    assert (
        PriceClient(price_session, cache, endpoint_url=url).hourly(
            region, "ml.nope.x", "CodeEditor"
        )
        is None
    )

    price_emu.emulator.plane.faults.deny_pricing = True
    fresh = PriceClient(price_session, cache, endpoint_url=url)
    assert (
        fresh.hourly(region, "ml.m5.large", "CodeEditor") == price
    )  # from the cache: no call made
    assert (
        fresh.hourly(region, "ml.m5.xlarge", "CodeEditor") is None
    )  # AccessDenied: no price, no error
    price_emu.emulator.plane.faults.deny_pricing = False
    assert fresh.hourly(region, "ml.m5.xlarge", "CodeEditor") is None  # not asked again for an hour
    assert PriceClient(price_session, cache, endpoint_url=url).hourly(
        region, "ml.m5.xlarge", "CodeEditor"
    )
