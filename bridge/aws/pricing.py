"""What a running Studio instance costs per hour, from the AWS Price List API.

``pricing:GetProducts`` (service code ``AmazonSageMaker``) answers from a few endpoints only
(botocore's ``api.pricing``: us-east-1, eu-central-1, ap-south-1 in the aws partition), for
every region's products. A price is shown only when the API gives exactly one on-demand hourly
figure for the product: AccessDenied, no match or several matches mean "no price", never a
guess. Answers (found or not) are cached for a day in a file that is validated on read, so
``smconnect list`` does not call the API each time and a damaged cache is only a miss.

How Studio instances map to Price List products is not verifiable without an account that
bills them: ``product_filters`` holds that guess, in one place (docs/design/pricing.md).
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

from bridge.aws.session import client_config
from bridge.paths import write_private_file

__all__ = ["HourlyPrice", "PriceCache", "PriceClient", "parse_price_list", "product_filters"]

log = logging.getLogger(__name__)

SERVICE_CODE = "AmazonSageMaker"
CACHE_SECONDS = 86400.0  # a day: list prices change rarely, and a stale one is still close
DENIED_SECONDS = 3600.0  # after AccessDenied, ask again only an hour later (policies change)
# botocore's endpoints.json, partition by partition: the regions that serve api.pricing.
PRICING_REGIONS = ("us-east-1", "eu-central-1", "ap-south-1", "cn-northwest-1")
_AMOUNT = re.compile(r"[0-9]{1,9}(\.[0-9]{1,12})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_CACHE_VERSION = 1


def product_filters(region: str, instance_type: str, app_type: str) -> list[dict[str, str]]:
    """The GetProducts filters naming one Studio space instance of one app type in one region.

    [I] Assumption, not verified against the live API (docs/design/aws-facts.md section 8): a
    Studio JupyterLab / Code Editor instance is the product with ``productFamily`` = ``ML
    Instance``, ``regionCode`` = the space's region, ``instanceType`` = the instance type
    (``ml.m5.large``) and a ``usagetype`` containing ``Studio:<AppType>-<instance type>``
    (``USE1-Studio:JupyterLab-ml.t3.large``). A wrong guess matches nothing or several
    prices, both shown as "no price", never a wrong figure: fix it here, in this one place.
    """
    return [
        {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
        {"Type": "TERM_MATCH", "Field": "instanceType", "Value": instance_type},
        {"Type": "CONTAINS", "Field": "usagetype", "Value": f"Studio:{app_type}-{instance_type}"},
    ]


def pricing_region(region: str) -> str:
    """The Price List endpoint region for a space in ``region``: itself where it serves the
    API, else the partition's main one (every endpoint answers for all the partition's regions)."""
    if region in PRICING_REGIONS:
        return region
    return "cn-northwest-1" if region.startswith("cn-") else "us-east-1"


@dataclass(frozen=True, slots=True)
class HourlyPrice:
    amount: str  # a decimal string as the API gives it, normalised ("0.0500")
    currency: str  # ISO 4217, e.g. USD
    emulated: bool = False  # the smconnect emulator's figure, not an AWS price

    def as_float(self) -> float:
        return float(self.amount)


def parse_price_list(items: list[Any]) -> HourlyPrice | None:
    """The one on-demand hourly price in GetProducts' ``PriceList`` (JSON strings), or None
    when there is none or several different ones (we do not pick for the user)."""
    found: set[HourlyPrice] = set()
    for item in items:
        try:
            product = json.loads(item) if isinstance(item, str) else None
        except json.JSONDecodeError:
            product = None
        if not isinstance(product, dict):
            log.warning("GetProducts returned an item that is not a JSON object")
            continue
        found.update(_hourly_prices(product))
    if len(found) != 1:
        if len(found) > 1:
            log.info("GetProducts matched %d different prices: showing none", len(found))
        return None
    return found.pop()


def _hourly_prices(product: dict[str, Any]) -> list[HourlyPrice]:
    attributes = (product.get("product") or {}).get("attributes") or {}
    emulated = isinstance(attributes, dict) and attributes.get("emulated") == "true"
    prices = []
    for term in _dicts((product.get("terms") or {}).get("OnDemand")):
        for dimension in _dicts(term.get("priceDimensions")):
            if dimension.get("unit") not in ("Hrs", "Hr", "hours"):
                continue
            for currency, amount in (dimension.get("pricePerUnit") or {}).items():
                price = _price(str(amount), str(currency), emulated)
                if price is not None and price.as_float() > 0:
                    prices.append(price)
    return prices


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value.values() if isinstance(v, dict)] if isinstance(value, dict) else []


def _price(amount: str, currency: str, emulated: bool) -> HourlyPrice | None:
    if not _AMOUNT.fullmatch(amount) or not _CURRENCY.fullmatch(currency):
        return None
    try:
        normal = Decimal(amount).normalize()
    except InvalidOperation:
        return None
    return HourlyPrice(amount=f"{normal:f}", currency=currency, emulated=emulated)


class PriceCache:
    """``{region}/{instance type}`` -> the price (or "none") and when it was fetched, in a
    private JSON file. Every entry is checked on read; anything odd is a miss."""

    def __init__(self, path: Path | None, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bool, HourlyPrice | None]:
        """(hit, price): a hit may carry no price (the API found none a short while ago)."""
        entry = self._read().get(key)
        if not isinstance(entry, dict):
            return False, None
        fetched = entry.get("fetched_at")
        if not isinstance(fetched, (int, float)) or not math.isfinite(fetched):
            return False, None
        age = self._clock() - fetched
        if not 0 <= age < CACHE_SECONDS:
            return False, None
        if entry.get("amount") is None:
            return True, None
        amount, currency = entry.get("amount"), entry.get("currency")
        if not isinstance(amount, str) or not isinstance(currency, str):
            return False, None
        price = _price(amount, currency, entry.get("emulated") is True)
        return (price is not None), price

    def put(self, key: str, price: HourlyPrice | None) -> None:
        if self._path is None:
            return
        with self._lock:
            entries = {k: v for k, v in self._read().items() if isinstance(v, dict)}
            entries[key] = {
                "fetched_at": self._clock(),
                "amount": price.amount if price else None,
                "currency": price.currency if price else None,
                "emulated": price.emulated if price else False,
            }
            data = json.dumps({"version": _CACHE_VERSION, "prices": entries}, sort_keys=True)
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                write_private_file(self._path, data)
            except OSError as exc:
                log.warning("could not write the price cache %s: %s", self._path, exc)

    def _read(self) -> dict[str, Any]:
        if self._path is None:
            return {}
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("ignoring the price cache %s: %s", self._path, exc)
            return {}
        if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION:
            return {}
        prices = data.get("prices")
        return prices if isinstance(prices, dict) else {}


class PriceClient:
    """Hourly prices for one AWS session; every failure is "no price" (logged), never an error:
    the price is a courtesy next to the space, not something a command may fail on."""

    def __init__(
        self,
        session: boto3.Session,
        cache: PriceCache,
        *,
        endpoint_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._cache = cache
        self._endpoint_url = endpoint_url
        self._clock = clock
        self._client: Any = None
        self._denied_until = 0.0

    def hourly(self, region: str, instance_type: str, app_type: str) -> HourlyPrice | None:
        key = f"{self._endpoint_url or 'aws'}|{region}|{app_type}|{instance_type}"
        hit, price = self._cache.get(key)
        if hit:
            return price
        if self._clock() < self._denied_until:
            return None
        try:
            price = self._fetch(region, instance_type, app_type)
        except botocore.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code.startswith("AccessDenied"):
                log.info("pricing:GetProducts is not allowed: no prices shown")
                self._denied_until = self._clock() + DENIED_SECONDS
            else:
                log.warning("pricing:GetProducts failed (%s): no price shown", code[:80])
            return None
        except (botocore.exceptions.BotoCoreError, ValueError) as exc:
            log.warning("pricing:GetProducts failed (%s): no price shown", type(exc).__name__)
            return None
        self._cache.put(key, price)
        return price

    def _fetch(self, region: str, instance_type: str, app_type: str) -> HourlyPrice | None:
        if self._client is None:
            self._client = self._session.client(
                "pricing",
                region_name=pricing_region(region),
                # Short: a slow price must not hold up `smconnect list` for long.
                config=client_config(connect_timeout=5.0, read_timeout=10.0, attempts=2),
                endpoint_url=self._endpoint_url,
            )
        items: list[Any] = []
        for page in self._client.get_paginator("get_products").paginate(
            ServiceCode=SERVICE_CODE,
            Filters=product_filters(region, instance_type, app_type),
            FormatVersion="aws_v1",
        ):
            items.extend(page.get("PriceList", []))
            if len(items) > 100:  # a filter this loose matched far more than one product
                break
        return parse_price_list(items)
