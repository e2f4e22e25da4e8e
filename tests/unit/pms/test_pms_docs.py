"""Check that the published PMS webhook description agrees with the code."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.pms_webhook import MAX_BODY_BYTES, PATH, SIGNATURE_HEADER
from crm_store.services.stays import EVENT_TYPES, STATUSES

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_openapi_pms_matches_the_webhook() -> None:
    spec = yaml.safe_load((DOCS / "openapi-pms.yml").read_text(encoding="utf-8"))
    operation = spec["paths"][PATH]["post"]
    assert set(operation["responses"]) == {"200", "400", "401", "409", "413", "422", "503"}
    assert operation["parameters"][0]["name"] == SIGNATURE_HEADER
    schemas = spec["components"]["schemas"]
    assert schemas["PmsEvent"]["properties"]["type"]["enum"] == list(EVENT_TYPES)
    assert schemas["Applied"]["properties"]["stay_status"]["enum"] == list(STATUSES)
    assert str(MAX_BODY_BYTES) in operation["requestBody"]["description"]


def test_pms_feed_doc_shows_the_csv_header() -> None:
    from bot.pms_import import HEADER

    assert ",".join(HEADER) in (DOCS / "pms-feed.md").read_text(encoding="utf-8")
