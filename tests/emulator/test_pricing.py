"""The emulator's Price List API: GetProducts over HTTP with unmodified boto3, SigV4-checked,
in the real response shape (PriceList as JSON strings), figures marked as emulated."""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions
import pytest

from bridge.aws.pricing import product_filters
from bridge.emulator import EmulatorThread

from .emulator_helpers import client


def _products(pricing: Any, filters: list[dict[str, str]]) -> list[dict[str, Any]]:
    answer = pricing.get_products(
        ServiceCode="AmazonSageMaker", Filters=filters, FormatVersion="aws_v1"
    )
    assert answer["FormatVersion"] == "aws_v1"
    assert all(isinstance(item, str) for item in answer["PriceList"])  # JSON strings, as AWS
    return [json.loads(item) for item in answer["PriceList"]]


def test_get_products_answers_one_emulated_hourly_price_per_studio_instance(
    emu: EmulatorThread,
) -> None:
    pricing = client(emu, "pricing", region="us-east-1")
    region = emu.env["AWS_DEFAULT_REGION"]
    (product,) = _products(pricing, product_filters(region, "ml.m5.large", "JupyterLab"))
    attributes = product["product"]["attributes"]
    assert attributes["instanceType"] == "ml.m5.large"
    assert attributes["usagetype"].endswith("Studio:JupyterLab-ml.m5.large")
    assert attributes["emulated"] == "true"
    (term,) = product["terms"]["OnDemand"].values()
    (dimension,) = term["priceDimensions"].values()
    assert dimension["unit"] == "Hrs"
    assert dimension["description"].startswith("Emulated price")
    assert float(dimension["pricePerUnit"]["USD"]) > 0
    # Bigger instances cost more; another region's products are not there.
    (big,) = _products(pricing, product_filters(region, "ml.m5.4xlarge", "JupyterLab"))
    (big_term,) = big["terms"]["OnDemand"].values()
    (big_dim,) = big_term["priceDimensions"].values()
    assert float(big_dim["pricePerUnit"]["USD"]) > float(dimension["pricePerUnit"]["USD"])
    assert _products(pricing, product_filters("eu-west-3", "ml.m5.large", "JupyterLab")) == []
    assert _products(pricing, product_filters(region, "ml.bogus.large", "JupyterLab")) == []
    # Without the Studio usage type, the JupyterLab and Code Editor products both match.
    assert len(_products(pricing, product_filters(region, "ml.m5.large", "JupyterLab")[:3])) == 2


def test_get_products_checks_the_signature_and_the_pricing_region(emu: EmulatorThread) -> None:
    wrong_key = client(emu, "pricing", region="us-east-1", secret="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        wrong_key.get_products(ServiceCode="AmazonSageMaker")
    assert denied.value.response["Error"]["Code"] == "InvalidSignatureException"
    elsewhere = client(emu, "pricing", region="us-west-2")  # Pricing has no us-west-2 endpoint
    with pytest.raises(botocore.exceptions.ClientError) as scoped:
        elsewhere.get_products(ServiceCode="AmazonSageMaker")
    assert scoped.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_denied_pricing_answers_access_denied(emu: EmulatorThread) -> None:
    emu.emulator.plane.faults.deny_pricing = True
    pricing = client(emu, "pricing", region="us-east-1")
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        pricing.get_products(ServiceCode="AmazonSageMaker")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
