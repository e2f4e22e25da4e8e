"""Train, persist, load and run the HotelLanguage Rasa component through its GraphComponent API."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("rasa")

from rasa.engine.graph import ExecutionContext, GraphSchema  # noqa: E402
from rasa.engine.storage.local_model_storage import LocalModelStorage  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402

from hotel_nlu.rasa_component import HotelLanguage  # noqa: E402

from .conftest import COMPLAINTS  # noqa: E402

CONFIG = {**HotelLanguage.get_default_config(), "epochs": 10}


def _write_nlu(path: Path) -> Path:
    lines = ['version: "3.1"', "nlu:", "- intent: complain", "  examples:"]
    for text, category in COMPLAINTS:
        lines += [f"  - text: {text}", "    metadata:", f"      category: {category}"]
    lines += ["- intent: share_preference", "  examples: |",
              '    - I\'d like [feather pillows]{"entity": "pillow", "value": "feather"}',
              "    - a high floor please"]
    file = path / "nlu.yml"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return file


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalModelStorage, Resource, ExecutionContext]:
    """Train the component once into a real LocalModelStorage."""
    tmp = tmp_path_factory.mktemp("hotel_component")
    (tmp / "storage").mkdir()
    storage = LocalModelStorage(tmp / "storage")
    resource = Resource("hotel_language")
    context = ExecutionContext(GraphSchema({}), "test-model")
    component = HotelLanguage.create(CONFIG, storage, resource, context)
    training_data = load_data(str(_write_nlu(tmp)))
    assert component.process_training_data(training_data) is training_data
    assert component.train(training_data) == resource
    return storage, resource, context


def _message(text: str, intent: str, ranking: list[tuple[str, float]] | None = None) -> Message:
    data = {"text": text, "intent": {"name": intent, "confidence": 0.9}}
    if ranking:
        data["intent_ranking"] = [{"name": n, "confidence": c} for n, c in ranking]
    return Message(data=data)


def _by_entity(message: Message) -> dict[str, dict]:
    return {e["entity"]: e for e in message.get("entities", [])}


def test_metadata_category_is_stored_under_example_key(tmp_path: Path) -> None:
    data = load_data(str(_write_nlu(tmp_path)))
    complaint = next(m for m in data.intent_examples if m.get("intent") == "complain")
    assert complaint.get("metadata")["example"]["category"] == "cleanliness"


def test_component_loaded_from_storage_classifies_complaint(trained) -> None:  # type: ignore[no-untyped-def]
    storage, resource, context = trained
    loaded = HotelLanguage.load(CONFIG, storage, resource, context)
    text = "the shower in my room is broken"
    [message] = loaded.process([_message(text, "complain")])
    found = _by_entity(message)
    assert found["complaint_category"]["value"] == "maintenance"
    assert (found["complaint_category"]["start"], found["complaint_category"]["end"]) == (0, len(text))
    assert found["severity"]["value"] == "medium"
    assert all(e["extractor"] == "HotelLanguage" for e in message.get("entities"))


def test_component_fallback_with_complain_on_top_still_classifies(trained) -> None:  # type: ignore[no-untyped-def]
    loaded = HotelLanguage.load(CONFIG, *trained)
    message = _message("there is smoke in the corridor", "nlu_fallback",
                       [("nlu_fallback", 0.45), ("complain", 0.4), ("greet", 0.1)])
    found = _by_entity(loaded.process([message])[0])
    assert found["complaint_category"]["value"] == "safety"
    assert found["severity"]["value"] == "high"


def test_component_other_intent_gets_rule_entities_only(trained) -> None:  # type: ignore[no-untyped-def]
    loaded = HotelLanguage.load(CONFIG, *trained)
    found = _by_entity(loaded.process([_message("no feather pillows, room 412", "share_preference")])[0])
    assert found["pillow"]["value"] == "hypoallergenic"
    assert found["room_number"]["value"] == "412"
    assert "complaint_category" not in found


def test_component_below_threshold_gives_other(trained) -> None:  # type: ignore[no-untyped-def]
    loaded = HotelLanguage.load({**CONFIG, "threshold": 1.01}, *trained)
    found = _by_entity(loaded.process([_message("the shower is broken", "complain")])[0])
    assert found["complaint_category"]["value"] == "other"


def test_component_keeps_existing_entities(trained) -> None:  # type: ignore[no-untyped-def]
    loaded = HotelLanguage.load(CONFIG, *trained)
    message = _message("room 412", "inform")
    message.set("entities", [{"entity": "x", "value": "y", "start": 0, "end": 1}])
    entities = loaded.process([message])[0].get("entities")
    assert entities[0]["entity"] == "x" and any(e["entity"] == "room_number" for e in entities)


def test_component_load_without_persisted_model_uses_rules(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    storage = LocalModelStorage(tmp_path / "empty")
    loaded = HotelLanguage.load(CONFIG, storage, Resource("never_trained"), ExecutionContext(GraphSchema({}), "m"))
    found = _by_entity(loaded.process([_message("the shower in 412 is broken", "complain")])[0])
    assert found["complaint_category"]["value"] == "other"
    assert found["room_number"]["value"] == "412"


def test_fingerprint_addon_is_stable_and_hashes_sources() -> None:
    first = HotelLanguage.fingerprint_addon(CONFIG)
    assert first and first == HotelLanguage.fingerprint_addon(CONFIG)


def test_hotel_spelling_sets_lemmas_of_misspelt_tokens(tmp_path: Path):
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer

    from hotel_nlu.rasa_component import HotelSpelling

    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("hotel_spelling")
    context = ExecutionContext(GraphSchema({}), "test-model")
    training_data = load_data(str(_write_nlu(tmp_path)))
    component = HotelSpelling.create(HotelSpelling.get_default_config(), storage, resource, context)
    assert component.train(training_data) == resource
    loaded = HotelSpelling.load(HotelSpelling.get_default_config(), storage, resource, context)
    tokenizer = WhitespaceTokenizer.create(WhitespaceTokenizer.get_default_config(), storage, resource, context)
    message = Message(data={"text": "the showr is brokn"})
    tokenizer.process([message])
    loaded.process([message])
    tokens = message.get("text_tokens")
    assert [t.text for t in tokens] == ["the", "showr", "is", "brokn"]
    assert [t.lemma for t in tokens] == ["the", "shower", "is", "broken"]
    assert tokens[1].start == 4 and tokens[1].end == 9

