"""Check the rule extraction of every preference entity, rooms and names with normalised values."""
from __future__ import annotations

import pytest
from spacy.language import Language

from hotel_nlu import lexicon
from hotel_nlu.pipeline import SPANS_KEY, extract_entities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a king size bed please", ("bed_type", "king")),
        ("two separate beds for us", ("bed_type", "twin")),
        ("we need a cot for the baby", ("bed_type", "crib")),
        ("can we have a sofa bed", ("bed_type", "sofa_bed")),
        ("I'd like feather pillows", ("pillow", "feather")),
        ("a firm pillow please", ("pillow", "firm")),
        ("memory foam pillows are the best", ("pillow", "memory_foam")),
        ("could I get two extra pillows", ("pillow", "extra")),
        ("a high floor please", ("floor", "high")),
        ("top floor if possible", ("floor", "high")),
        ("ground floor please", ("floor", "ground")),
        ("I'd like the 5th floor", ("floor", "5")),
        ("floor 12 would be great", ("floor", "12")),
        ("the fifth floor please", ("floor", "5")),
        ("a quiet room please", ("quiet_room", "quiet")),
        ("I'm a light sleeper", ("quiet_room", "quiet")),
        ("non smoking room please", ("smoking", "non_smoking")),
        ("I'd like a smoking room", ("smoking", "smoking")),
        ("I like a cool room", ("temperature", "cool")),
        ("I prefer my room cold", ("temperature", "cool")),
        ("please keep the room at 21 degrees", ("temperature", "21C")),
        ("set the thermostat to 70F", ("temperature", "70F")),
        ("22°C is perfect", ("temperature", "22C")),
        ("I'm vegetarian", ("dietary", "vegetarian")),
        ("we only eat halal food", ("dietary", "halal")),
        ("I need gluten-free meals", ("dietary", "gluten_free")),
        ("I'm lactose intolerant", ("dietary", "lactose_free")),
        ("I'm allergic to peanuts", ("allergy", "peanuts")),
        ("I have a shellfish allergy", ("allergy", "shellfish")),
        ("I'd like the Financial Times every morning", ("newspaper", "financial_times")),
        ("the New York Times please", ("newspaper", "new_york_times")),
        ("can I get a newspaper in the morning", ("newspaper", "any")),
        ("early check-in please", ("early_checkin", "early")),
        ("can I check in at 10am", ("early_checkin", "10:00")),
        ("late checkout please", ("late_checkout", "late")),
        ("can I check out at 2pm", ("late_checkout", "14:00")),
        ("checkout at noon would be great", ("late_checkout", "12:00")),
        ("I use a wheelchair", ("accessibility", "wheelchair")),
        ("a walk-in shower please", ("accessibility", "walk_in_shower")),
        ("I'm hard of hearing", ("accessibility", "hearing")),
        ("we need grab bars in the bathroom", ("accessibility", "grab_bars")),
        ("we love golf", ("interest", "golf")),
        ("I'm into hiking", ("interest", "hiking")),
        ("I'm here on business", ("interest", "business")),
    ],
)
def test_extract_entities_preference_phrase_gives_normalised_value(ents, text: str, expected: tuple[str, str]) -> None:
    assert expected in ents(text)


def test_extract_entities_every_preference_entity_is_covered_by_a_case() -> None:
    covered = {"bed_type", "pillow", "floor", "quiet_room", "smoking", "temperature", "dietary", "allergy",
               "newspaper", "early_checkin", "late_checkout", "accessibility", "interest"}
    assert covered == set(lexicon.PREFERENCE_ENTITIES)


def test_extract_entities_dict_has_rasa_keys_and_offsets(nlp: Language) -> None:
    text = "No feather pillows please, I'm in room 412"
    entities = extract_entities(text, nlp)
    assert {tuple(sorted(e)) for e in entities} == {("confidence", "end", "entity", "start", "value")}
    room = next(e for e in entities if e["entity"] == "room_number")
    assert text[room["start"] : room["end"]] == "412"


def test_rules_nlp_spans_carry_label_and_value_in_kb_id(nlp: Language) -> None:
    doc = nlp("a high floor and extra pillows")
    assert {(s.label_, s.kb_id_) for s in doc.spans[SPANS_KEY]} == {("floor", "high"), ("pillow", "extra")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no feather pillows please", ("pillow", "hypoallergenic")),
        ("I sleep badly on feather pillows", ("pillow", "hypoallergenic")),
        ("I don't want down pillows", ("pillow", "hypoallergenic")),
        ("feather-free pillows please", ("pillow", "hypoallergenic")),
        ("allergic to feathers", ("allergy", "feathers")),
        ("non-smoking please", ("smoking", "non_smoking")),
        ("I don't smoke", ("smoking", "non_smoking")),
        ("not near the elevator please", ("quiet_room", "quiet")),
        ("a room away from the lift", ("quiet_room", "quiet")),
        ("nothing facing the road please", ("quiet_room", "quiet")),
        ("not a high floor", ("floor", "low")),
        ("no dairy please", ("dietary", "lactose_free")),
        ("I don't eat meat", ("dietary", "vegetarian")),
        ("the room is too hot", ("temperature", "cool")),
    ],
)
def test_extract_entities_negated_preference_is_inverted(ents, text: str, expected: tuple[str, str]) -> None:
    assert expected in ents(text)


def test_extract_entities_negated_preference_without_inverse_is_dropped(ents) -> None:
    assert ents("I don't want a twin room") == set()
    assert ("quiet_room", "quiet") not in ents("the room was not quiet at all")


def test_extract_entities_negation_blocked_by_dont_mind_keeps_value(ents) -> None:
    assert ("floor", "high") in ents("I don't mind a high floor")


def test_extract_entities_noise_source_without_negation_gives_nothing(ents) -> None:
    assert ents("a room near the lift would be handy") == set()


def test_extract_entities_allergy_and_pillow_both_found(ents) -> None:
    found = ents("I'm allergic to feather pillows")
    assert {("allergy", "feathers"), ("pillow", "hypoallergenic")} <= found


def test_extract_entities_allergen_list_after_cue_gives_each_allergy(ents) -> None:
    assert {("allergy", "nuts"), ("allergy", "shellfish")} <= ents("I'm allergic to nuts and shellfish")


def test_extract_entities_allergen_without_cue_is_not_an_allergy(ents) -> None:
    assert ents("the eggs at breakfast were lovely") == set()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("extra piilow please", ("pillow", "extra")),
        ("FEATHER PILOWS", ("pillow", "feather")),
        ("I am vegeterian", ("dietary", "vegetarian")),
        ("glutenfree please", ("dietary", "gluten_free")),
        ("late chekout please", ("late_checkout", "late")),
        ("a hypoalergenic pillow", ("pillow", "hypoallergenic")),
    ],
)
def test_extract_entities_typo_still_matches(ents, text: str, expected: tuple[str, str]) -> None:
    assert expected in ents(text)


@pytest.mark.parametrize(
    ("text", "room"),
    [
        ("I'm in room 412", "412"),
        ("rm 305 here", "305"),
        ("rm305", "305"),
        ("the tv in #1203 is broken", "1203"),
        ("we're in 12B", "12B"),
        ("my room number is 718", "718"),
        ("412", "412"),
        ("neighbours in 1104 are yelling", "1104"),
    ],
)
def test_extract_entities_room_number_found(ents, text: str, room: str) -> None:
    assert ("room_number", room) in ents(text)


def test_extract_entities_rooms_list_gives_each_room(ents) -> None:
    assert {("room_number", "302"), ("room_number", "303")} <= ents("rooms 302 and 303")


@pytest.mark.parametrize(
    "text",
    ["I waited 412 minutes", "my room is 5 minutes from the lift", "I paid 300 euros", "in 2024 we came here",
     "I like it at 70F", "a room for 2 people"],
)
def test_extract_entities_number_not_after_room_word_is_not_a_room(ents, text: str) -> None:
    assert not {e for e in ents(text) if e[0] == "room_number"}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("my name is anna", "Anna"),
        ("My name is John Smith", "John Smith"),
        ("call me bob", "Bob"),
        ("I'm Pierre from room 305", "Pierre"),
        ("hi, i'm anna", "Anna"),
        ("this is John", "John"),
        ("my name is anna-marie o'brien", "Anna-Marie O'Brien"),
        ("MY NAME IS JOHN SMITH", "John Smith"),
        ("I'm Ben", "Ben"),
        ("I am Dr. Watson", "Watson"),
        ("the booking is under Müller", "Müller"),
    ],
)
def test_extract_entities_guest_name_title_cased(ents, text: str, name: str) -> None:
    assert ("guest_name", name) in ents(text)


@pytest.mark.parametrize(
    "text",
    ["I'm sorry", "I'm tired", "I'm in room 412", "I'm looking for my booking", "This is ridiculous",
     "I'm allergic to nuts", "I'm so disappointed", "it's broken", "I am not happy", "I'm gonna be late"],
)
def test_extract_entities_stoplisted_word_is_not_a_name(ents, text: str) -> None:
    assert not {e for e in ents(text) if e[0] == "guest_name"}


def test_extract_entities_bare_name_only_for_introduce_intent(ents) -> None:
    assert ("guest_name", "Ingrid") in ents("Ingrid", intent="introduce")
    assert ("guest_name", "Emma") in ents("emma here", intent="introduce")
    assert ents("Ingrid") == set()


def test_extract_entities_category_intent_turns_values_into_categories(ents) -> None:
    assert ents("remove the nut allergy", intent="delete_preference") == {("preference_category", "allergy")}
    assert ents("I don't want the FT anymore", intent="delete_preference") == {("preference_category", "newspaper")}
    assert ("preference_category", "pillow") in ents("delete my pillow preference")


def test_extract_entities_complain_intent_keeps_only_rooms_and_names(ents) -> None:
    assert ents("the feather pillows in 412 made me sneeze", intent="complain") == {("room_number", "412")}


def test_extract_entities_category_not_emitted_when_value_present(ents) -> None:
    found = ents("I'd like feather pillows")
    assert ("preference_category", "pillow") not in found


def test_extract_entities_contextual_word_without_context_is_ignored(ents) -> None:
    assert ents("cool, thanks") == set()
    assert ents("I was double charged for my room") == set()


def test_extract_entities_empty_text_gives_nothing(nlp: Language) -> None:
    assert extract_entities("", nlp) == []
    assert extract_entities("   ", nlp) == []
