"""The Price List API's ``GetProducts`` (``AWSPriceListService``, signing name ``pricing``) for
the emulated region's Studio instances, in the real response shape: ``PriceList`` is a list
of JSON *strings*, each a product with its ``OnDemand`` terms.

The figures are made up, and say so: every product carries the attribute ``emulated`` =
``"true"`` and its price dimension's description starts with "Emulated price". They scale
with the instance size so tables look plausible; they are not AWS prices. The products (one per
instance type and app type) follow the attribute names smconnect assumes
(``bridge.aws.pricing.product_filters``), so the emulator exercises the client, not the
assumption (docs/design/pricing.md).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from bridge.emulator.control.errors import ApiError, validation
from bridge.emulator.control.pagination import paginate
from bridge.emulator.control.sagemaker import Handler, instance_types

if TYPE_CHECKING:
    from bridge.emulator.control.plane import ControlPlane

SERVICE_CODE = "AmazonSageMaker"
ON_DEMAND_TERM = "JRTCKXETXF"  # the on-demand offer term code AWS uses in every price list
HOURLY_RATE = "6YS6EN2CT7"
# Emulated price of one "large" (2 vCPU) of a family: accelerated families cost more.
_FAMILY_BASE = (("g", 0.6), ("p", 1.9), ("trn", 1.4), ("inf", 0.3), ("t", 0.05), ("r", 0.15))
_DEFAULT_BASE = 0.12
_SIZE = re.compile(r"(?:(\d+)?x)?large|medium|metal.*")


def emulated_price(instance_type: str) -> str:
    """A made-up hourly price in USD for ``ml.<family>.<size>``, as the API formats it."""
    _, family, size = [*instance_type.split("."), "", ""][:3]
    base = next((b for prefix, b in _FAMILY_BASE if family.startswith(prefix)), _DEFAULT_BASE)
    match = _SIZE.fullmatch(size)
    if size == "medium":
        units = 0.5
    elif match is not None and size.endswith("xlarge"):
        units = 2.0 * int(match.group(1) or 1)
    elif size.startswith("metal"):
        units = 48.0
    else:
        units = 1.0
    return f"{base * units:.10f}"


APP_TYPES = ("JupyterLab", "CodeEditor")


def _product(region: str, instance_type: str, app_type: str) -> dict[str, Any]:
    sku = hashlib.sha256(f"{region}/{app_type}/{instance_type}".encode()).hexdigest()[:16].upper()
    price = emulated_price(instance_type)
    return {
        "product": {
            "productFamily": "ML Instance",
            "attributes": {
                "servicecode": SERVICE_CODE,
                "servicename": "Amazon SageMaker",
                "regionCode": region,
                "instanceType": instance_type,
                "platoinstancetype": f"Studio-{app_type}",
                "usagetype": f"{_usage_prefix(region)}-Studio:{app_type}-{instance_type}",
                "operation": "RunInstance",
                "emulated": "true",
            },
            "sku": sku,
        },
        "serviceCode": SERVICE_CODE,
        "terms": {
            "OnDemand": {
                f"{sku}.{ON_DEMAND_TERM}": {
                    "priceDimensions": {
                        f"{sku}.{ON_DEMAND_TERM}.{HOURLY_RATE}": {
                            "unit": "Hrs",
                            "endRange": "Inf",
                            "description": f"Emulated price (smconnect emulator) of "
                            f"{instance_type} Studio {app_type} instance per hour; "
                            "not an AWS price",
                            "appliesTo": [],
                            "rateCode": f"{sku}.{ON_DEMAND_TERM}.{HOURLY_RATE}",
                            "beginRange": "0",
                            "pricePerUnit": {"USD": price},
                        }
                    },
                    "sku": sku,
                    "effectiveDate": "2026-01-01T00:00:00Z",
                    "offerTermCode": ON_DEMAND_TERM,
                    "termAttributes": {},
                }
            }
        },
        "version": "emulated",
        "publicationDate": "2026-01-01T00:00:00Z",
    }


def _usage_prefix(region: str) -> str:
    """AWS's usage-type region prefix (``USE1`` for us-east-1); others spelled out."""
    return {"us-east-1": "USE1", "us-west-2": "USW2", "eu-west-1": "EU"}.get(region, region.upper())


def _matches(product: dict[str, Any], filters: list[Any]) -> bool:
    fields = {"productFamily": product["product"]["productFamily"]}
    fields.update(product["product"]["attributes"])
    for f in filters:
        if not isinstance(f, dict) or not all(
            isinstance(f.get(k), str) for k in ("Field", "Value")
        ):
            raise validation("Each filter must have Type, Field and Value.")
        kind, value = f.get("Type", "TERM_MATCH"), fields.get(f["Field"])
        wanted = f["Value"]
        if kind in ("TERM_MATCH", "EQUALS"):
            ok = value == wanted
        elif kind == "CONTAINS":
            ok = value is not None and wanted in value
        elif kind == "ANY_OF":
            ok = value in wanted.split(",")
        elif kind == "NONE_OF":
            ok = value not in wanted.split(",")
        else:
            raise validation(
                f"1 validation error detected: Value '{kind}' at 'filters.member.type' failed to "
                "satisfy constraint: Member must satisfy enum value set: "
                "[TERM_MATCH, EQUALS, CONTAINS, ANY_OF, NONE_OF]"
            )
        if not ok:
            return False
    return True


def get_products(plane: ControlPlane, params: dict[str, Any]) -> dict[str, Any]:
    if plane.faults.deny_pricing:
        raise ApiError(
            "AccessDeniedException",
            "User is not authorized to perform: pricing:GetProducts (emulated fault)",
        )
    service = params.get("ServiceCode")
    if not isinstance(service, str) or not service:
        raise validation("ServiceCode is required.")
    filters = params.get("Filters") or []
    if not isinstance(filters, list):
        raise validation("Filters must be a list.")
    products = []
    if service == SERVICE_CODE:
        region = plane.account.region
        every = (_product(region, t, app) for app in APP_TYPES for t in instance_types())
        products = [p for p in every if _matches(p, filters)]
    page, token = paginate(products, {"MaxResults": 100, **params}, "GetProducts")
    out: dict[str, Any] = {
        "FormatVersion": "aws_v1",
        "PriceList": [json.dumps(p, sort_keys=True) for p in page],
    }
    if token is not None:
        out["NextToken"] = token
    return out


OPERATIONS: dict[str, Handler] = {"GetProducts": get_products}
