"""Check the rasa-free NLU YAML reader used by the benchmark."""
from __future__ import annotations

from pathlib import Path

from hotel_nlu.nlu_data import complaint_pairs, load_examples, strip_annotations


def test_strip_annotations_gives_text_and_entities() -> None:
    text, entities = strip_annotations('I\'d like [feather pillows]{"entity": "pillow", "value": "feather"} in [412](room_number)')
    assert text == "I'd like feather pillows in 412"
    assert entities[0] == {"entity": "pillow", "value": "feather", "start": 9, "end": 24}
    assert entities[1]["entity"] == "room_number" and text[entities[1]["start"] : entities[1]["end"]] == "412"


def test_load_examples_reads_metadata_category(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: complain\n  examples:\n  - text: the tap leaks\n    metadata:\n'
        "      category: maintenance\n- intent: greet\n  examples: |\n    - hi\n",
        encoding="utf-8",
    )
    examples = load_examples([tmp_path])
    assert complaint_pairs(examples) == [("the tap leaks", "maintenance")]
    assert [e.intent for e in examples] == ["complain", "greet"]
