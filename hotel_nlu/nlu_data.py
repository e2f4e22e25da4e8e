"""Read complaint examples and entity annotations from Rasa 3 NLU YAML without importing rasa."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?P<meta>\{[^}]*\}|\([^)]*\))")


@dataclass(frozen=True)
class NluExample:
    """Hold one training example: plain text, intent, metadata and annotated entities."""

    text: str
    intent: str
    metadata: dict[str, Any] = field(default_factory=dict)
    entities: tuple[dict[str, Any], ...] = ()


def strip_annotations(annotated: str) -> tuple[str, list[dict[str, Any]]]:
    """Turn "room [412]{"entity": "room_number"}" into plain text and Rasa-style entity dicts."""
    import json

    out, entities, pos = [], [], 0
    for m in _ANNOTATION.finditer(annotated):
        out.append(annotated[pos : m.start()])
        start = sum(len(p) for p in out)
        surface = m.group("text")
        meta = m.group("meta")
        if meta.startswith("{"):
            info = json.loads(meta)
            entity, value = info.get("entity"), info.get("value", surface)
        else:
            name = meta[1:-1]
            entity, _, value = name.partition(":")
            value = value or surface
        entities.append({"entity": entity, "value": value, "start": start, "end": start + len(surface)})
        out.append(surface)
        pos = m.end()
    out.append(annotated[pos:])
    return "".join(out).strip(), entities


def _examples_of(block: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    examples = block.get("examples")
    if isinstance(examples, str):
        for line in examples.splitlines():
            line = line.strip()
            if line.startswith("- "):
                yield line[2:], {}
    elif isinstance(examples, list):
        for item in examples:
            if isinstance(item, dict):
                yield str(item.get("text", "")), dict(item.get("metadata") or {})
            else:
                yield str(item), {}


def load_examples(paths: Iterable[str | Path]) -> list[NluExample]:
    """Load every intent example from the given YAML files or directories."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        files += sorted(p.rglob("*.yml")) + sorted(p.rglob("*.yaml")) if p.is_dir() else [p]
    out = []
    for file in files:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if not isinstance(block, dict) or "intent" not in block:
                continue
            for raw, metadata in _examples_of(block):
                text, entities = strip_annotations(raw)
                if text:
                    out.append(NluExample(text, str(block["intent"]), metadata, tuple(entities)))
    return out


def complaint_pairs(examples: Iterable[NluExample], intent: str = "complain") -> list[tuple[str, str]]:
    """Return (text, category) for complaint examples that carry a metadata category."""
    return [(e.text, str(e.metadata["category"])) for e in examples if e.intent == intent and e.metadata.get("category")]
