"""Extract hotel entities with spaCy rules, and grade complaint severity with cue lists.

The `hotel_entity_rules` component reads `hotel_nlu.lexicon` and writes two things on the doc:
`doc.spans["hotel_entities"]` (label = entity name, `kb_id_` = normalised value) and
`doc.user_data["hotel_entities"]` (Rasa-style dicts with exact character offsets and a confidence).
Text is expected to have gone through `text.char_normalise` (same length as the original, so offsets hold).
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from hotel_nlu import lexicon
from hotel_nlu.spelling import default_speller
from hotel_nlu.text import (
    BARE_HOUR_PATTERN,
    TIME_PATTERN,
    char_normalise,
    fold,
    lower_same_length,
    time_from_match,
)

SPANS_KEY = "hotel_entities"
ORIGINAL_TEXT_KEY = "hotel_original_text"  # set by the normalising tokenizer: the text before normalisation
INTENT_KEY = "hotel_intent"  # optional: the message intent, which switches category and bare-name modes
NORM_COMPONENT = "hotel_norm"
RULES_COMPONENT = "hotel_entity_rules"

# Candidate classes: higher wins an overlap first, then the longer span, then a value over a category.
_CLASS_EXPLICIT = 2   # guest_name, room_number, check-in/out with a time
_CLASS_STRONG = 1     # lexicon phrases, floors, degrees
_CLASS_WEAK = 0       # contextual phrases and preference categories


@Language.component(NORM_COMPONENT)
def set_folded_norms(doc: Doc) -> Doc:
    """Set each token's NORM to its folded form (lower-case, no accents, repeated letters collapsed)."""
    for token in doc:
        token.norm_ = fold(token.norm_)
    return doc


@dataclass
class _Cand:
    """Hold one candidate entity before negation and overlap resolution."""

    start: int  # token index
    end: int  # token index (exclusive)
    char_start: int
    char_end: int
    entity: str
    value: str
    rank: int
    is_category: bool = False
    confidence: float = 1.0
    negatable: bool = True
    explicit: bool = False  # an allergy phrase that names its cue ("allergic to feathers")


def _alternation(words: Iterable[str]) -> str:
    """Build a regex alternation of phrases, longest first, with flexible whitespace."""
    parts = sorted({w for w in words if w}, key=len, reverse=True)
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in parts)


def _word_re(words: Iterable[str]) -> re.Pattern[str]:
    """Compile a whole-word, case-insensitive regex for a list of phrases."""
    return re.compile(rf"(?<!\w)(?:{_alternation(words)})(?!\w)", re.IGNORECASE)


class HotelEntityRules:
    """Find preference, room, name and time entities in a doc using the hotel lexicon."""

    def __init__(self, nlp: Language, name: str = RULES_COMPONENT) -> None:
        """Build the phrase matcher and regexes from the lexicon."""
        self.name = name
        self.vocab = nlp.vocab
        self._make_doc = nlp.make_doc
        self.matcher = PhraseMatcher(nlp.vocab, attr="NORM")
        self._add_phrases()
        self._compile_cues()
        self._compile_regexes()

    # ------------------------------------------------------------------------------------------------ build
    def _pattern(self, phrase: str) -> Doc:
        doc = self._make_doc(char_normalise(phrase))
        return set_folded_norms(doc)

    def _add(self, key: str, phrases: Iterable[str]) -> None:
        docs: dict[tuple[str, ...], Doc] = {}
        for phrase in phrases:
            doc = self._pattern(phrase)
            docs.setdefault(tuple(t.norm_ for t in doc), doc)
        if docs:
            self.matcher.add(key, list(docs.values()))

    def _add_phrases(self) -> None:
        for entity, table in lexicon.PHRASES.items():
            for value, phrases in table.items():
                self._add(f"v|{entity}|{value}", phrases)
        for value, adjectives in lexicon.PILLOW_ADJECTIVES.items():
            combos = [f"{a} {n}" for a in adjectives for n in lexicon.PILLOW_NOUNS]
            self._add(f"v|pillow|{value}", combos)
        for entity, table in lexicon.CONTEXTUAL_PHRASES.items():
            for value, phrases in table.items():
                self._add(f"w|{entity}|{value}", phrases)
        for value, phrases in lexicon.PILLOW_BARE.items():
            self._add(f"w|pillow|{value}", phrases)
        for entity, phrases in lexicon.PREFERENCE_CATEGORY_PHRASES.items():
            self._add(f"c|{entity}", phrases)
        for value, phrases in lexicon.ALLERGENS.items():
            self._add(f"a|{value}", phrases)
        for entity, phrases in lexicon.TIME_TRIGGERS.items():
            self._add(f"t|{entity}", phrases)

    def _folded(self, phrase: str) -> tuple[str, ...]:
        return tuple(t.norm_ for t in self._pattern(phrase))

    def _compile_cues(self) -> None:
        self.neg_cues = self._by_last(lexicon.NEGATION_CUES)
        self.neg_after = {self._folded(c)[0] for c in lexicon.NEGATION_CUES_AFTER}
        self.neg_blockers = {self._folded(c)[0] for c in lexicon.NEGATION_BLOCKERS}
        self.breakers = {self._folded(c)[0] for c in lexicon.CLAUSE_BREAKERS}
        self.allergy_before = self._by_last(lexicon.ALLERGY_CUES_BEFORE)
        self.allergy_after = [self._folded(c) for c in lexicon.ALLERGY_CUES_AFTER]
        self.sentence_breakers = {".", "!", "?", ";", "but", "however"}
        self.context = {e: {fold(w) for w in words} for e, words in lexicon.CONTEXT_WORDS.items()}
        self.pillow_context = {fold(w) for w in lexicon.PILLOW_CONTEXT}
        self.bare_reject_next = {fold(w) for w in lexicon.BARE_REJECT_NEXT}
        # Name stop words are compared lower-case, not folded ("been" must not block "Ben").
        single_words = {
            p.lower()
            for table in lexicon.PHRASES.values()
            for phrases in table.values()
            for p in phrases
            if " " not in p
        }
        single_words |= {p.lower() for ps in lexicon.PREFERENCE_CATEGORY_PHRASES.values() for p in ps if " " not in p}
        self.name_stop = set(lexicon.NAME_STOPLIST) | single_words | {w.lower() for w in lexicon.NAME_STOP_EXTRA} | {
            "anyone", "someone", "everyone", "nobody", "somebody", "everybody", "anybody", "is", "am", "are",
        }
        self.name_confirm = _word_re(lexicon.NAME_FOLLOWERS_CONFIRM)
        self.spatial = {fold(w) for w in lexicon.SPATIAL_WORDS}

    def _by_last(self, cues: Iterable[str]) -> dict[str, list[tuple[str, ...]]]:
        table: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for cue in cues:
            folded = self._folded(cue)
            if folded:
                table[folded[-1]].append(folded)
        for seqs in table.values():
            seqs.sort(key=len, reverse=True)
        return dict(table)

    def _compile_regexes(self) -> None:
        room_words = _alternation(lexicon.ROOM_WORDS)
        not_after = _alternation(lexicon.NOT_ROOM_AFTER)
        guard = rf"(?![:.,]\d)(?!\s*(?:{not_after})(?!\w))"
        room = r"(?P<room>\d{1,4}[a-z]?)\b"
        self.room_res = [
            re.compile(
                rf"\b(?:{room_words})s?\.?(?:\s+(?:number|num|nr|no\.?|n°))?(?:\s+is|'s|\s*[:=])?\s*#?\s*{room}{guard}"
            ),
            re.compile(rf"(?<![\w&])#\s?(?P<room>\d{{2,4}}[a-z]?)\b{guard}"),
            re.compile(
                r"\b(?:i'?m|i am|we'?re|we are|staying|stay|i'm staying|currently|im)\s+(?:in|at)\s+(?:the\s+)?"
                rf"(?P<room>\d{{2,4}}[a-z]?)\b{guard}"
            ),
            re.compile(rf"\b(?:in|at|from|to)\s+(?P<room>\d{{1,4}}[a-f])\b{guard}"),
            re.compile(rf"\b(?:in|of|from|outside|opposite|next to)\s+(?P<room>(?!19\d\d|20\d\d)\d{{3,4}})\b{guard}"),
            re.compile(r"^\s*(?:it's|its|it is|room|#|number|no\.?)?\s*(?P<room>\d{3,4}[a-z]?|\d{1,3}[a-f])"
                       r"(?=\s*(?:[.!,]|please\b|thanks\b|thank you\b|is (?:our|my|the) room\b|here\b|$))"),
        ]
        self.room_list_re = re.compile(rf"\s*(?:,|and|&|or|\+)\s*(?:room\s+)?(?P<room>\d{{1,4}}[a-z]?)\b{guard}")
        ordinals = _alternation(lexicon.ORDINAL_WORDS)
        self.floor_res = [
            re.compile(r"\b(?P<n>\d{1,2})(?:st|nd|rd|th)?\s+floor\b"),
            re.compile(r"\bfloor\s+(?:number\s+|no\.?\s*|#\s*)?(?P<n>\d{1,2})\b(?![:.,]\d)"),
            re.compile(rf"\b(?P<w>{ordinals})\s+floor\b"),
        ]
        self.degree_res = [
            re.compile(
                r"(?<![\w.])(?P<n>\d{2}(?:[.,]\d)?)\s*(?:°|º|deg\b\.?|degrees?\b)?\s*"
                r"(?P<u>celsius|centigrade|fahrenheit|c|f)\b"
            ),
            re.compile(
                r"(?<![\w.])(?P<n>\d{2}(?:[.,]\d)?)\s*(?:°|º|degrees?\b|deg\b\.?)"
                r"(?!\s*(?:c|f|celsius|centigrade|fahrenheit)\b)"
            ),
        ]
        connectors = _alternation(lexicon.TIME_CONNECTORS)
        self.time_after_re = re.compile(rf"\s*(?:(?:{connectors})(?!\w)\.?\s*){{0,4}}\b{TIME_PATTERN}")
        self.bare_after_re = re.compile(rf"\s*(?:(?:{connectors})(?!\w)\.?\s*){{1,4}}\b{BARE_HOUR_PATTERN}")
        self.time_before_re = re.compile(rf"\b{TIME_PATTERN}\s*(?:-\s*)?$")
        strong = _alternation(lexicon.NAME_INTROS_STRONG)
        weak = _alternation(lexicon.NAME_INTROS_WEAK)
        weakest = _alternation(lexicon.NAME_INTROS_WEAKEST)
        self.name_intro_re = re.compile(
            rf"(?:^|(?<=[\s,.!?;:(]))(?:(?P<strong>{strong})|(?P<weak>{weak})|(?P<weakest>{weakest}))\s+"
        )
        self.name_token_re = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
        self.name_bare_re = re.compile(
            r"^\W*(?:(?:hi|hello|hey|good (?:morning|afternoon|evening))(?: there)?[\s,!.]+)?", re.IGNORECASE
        )
        self.name_bare_follow = _word_re(lexicon.NAME_BARE_FOLLOWERS)
        self.name_here_re = re.compile(
            r"^\s*(?:(?:hi|hello|hey|good (?:morning|afternoon|evening))[\s,!.]*)?"
            r"(?P<name>[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)\s+(?:here|speaking)\b"
        )

    # ------------------------------------------------------------------------------------------------ run
    def __call__(self, doc: Doc) -> Doc:
        """Annotate `doc` with hotel entities (spans and Rasa-style dicts)."""
        text = doc.text
        original = doc.user_data.get(ORIGINAL_TEXT_KEY, text)
        if len(original) != len(text):
            original = text
        low = lower_same_length(char_normalise(text))
        norms = [t.norm_ for t in doc]
        norm_set = set(norms)
        intent = doc.user_data.get(INTENT_KEY)
        category_mode = intent in lexicon.CATEGORY_INTENTS

        values: list[_Cand] = []
        categories: list[_Cand] = []
        allergens: list[_Cand] = []
        triggers: list[_Cand] = []
        for match_id, start, end in self.matcher(doc):
            kind, _, rest = self.vocab.strings[match_id].partition("|")
            span = doc[start:end]
            cand = _Cand(start, end, span.start_char, span.end_char, "", "", _CLASS_STRONG)
            if kind == "v":
                cand.entity, cand.value = rest.split("|")
                if cand.entity == "allergy":
                    cand.explicit = True
                    allergens.append(cand)
                else:
                    values.append(cand)
            elif kind == "w":
                cand.entity, cand.value = rest.split("|")
                context = self.pillow_context if cand.entity == "pillow" else self.context.get(cand.entity, set())
                at_clause_end = end == len(doc) or doc[end].is_punct
                if not (category_mode or context & norm_set or (cand.entity == "bed_type" and at_clause_end)):
                    continue
                if end < len(doc) and norms[end] in self.bare_reject_next:
                    continue
                cand.rank, cand.confidence = _CLASS_WEAK, 0.8
                values.append(cand)
            elif kind == "c":
                cand.entity, cand.value = "preference_category", rest
                cand.rank, cand.is_category, cand.negatable = _CLASS_WEAK, True, False
                categories.append(cand)
            elif kind == "a":
                cand.entity, cand.value = "allergy", rest
                allergens.append(cand)
            elif kind == "t":
                cand.entity = rest
                triggers.append(cand)

        values += self._time_candidates(doc, low, triggers)
        values += self._regex_candidates(doc, low, self.floor_res, self._floor_value, "floor")
        values += self._regex_candidates(doc, low, self.degree_res, self._degree_value, "temperature")
        explicit = self._room_candidates(doc, low) + self._name_candidates(
            doc, original, bare=intent in lexicon.NAME_INTENTS
        )

        if category_mode:
            # "remove the nut allergy", "I don't want the FT anymore": the mention names a category.
            for c in values + allergens:
                c.entity, c.value, c.is_category = "preference_category", c.entity, True
                c.rank = _CLASS_STRONG
            allergy = []
            values = [c for c in values + allergens if not c.value.startswith("_")]
        else:
            allergy, extra_values = self._resolve_allergens(allergens, norms)
            allergy = _select(allergy)
            allergy_ranges = {(c.start, c.end) for c in allergy}
            values = [c for c in values if not (c.entity == "pillow" and (c.start, c.end) in allergy_ranges)]
            values = self._apply_negation(values + extra_values, norms)
        main = _select(explicit + values + categories)

        present = {c.entity for c in main if not c.is_category}
        present |= {c.entity for c in allergy}
        result = [c for c in main if not (c.is_category and c.value in present)] + allergy
        if any(c.entity == "newspaper" and c.value != "any" for c in result):
            result = [c for c in result if not (c.entity == "newspaper" and c.value == "any")]
        timed = {c.entity for c in result if c.entity in lexicon.TIME_TRIGGERS and ":" in c.value}
        result = [c for c in result if not (c.entity in timed and ":" not in c.value)]
        if any(c.entity == "dietary" and c.value == "pescatarian" for c in result):
            result = [c for c in result if not (c.entity == "dietary" and c.value == "vegetarian")]
        result = _dedupe(sorted(result, key=lambda c: (c.char_start, c.char_end)))

        doc.spans[SPANS_KEY] = [Span(doc, c.start, c.end, label=c.entity, kb_id=c.value) for c in result]
        doc.user_data[SPANS_KEY] = [
            {
                "entity": c.entity,
                "value": c.value,
                "start": c.char_start,
                "end": c.char_end,
                "confidence": c.confidence,
            }
            for c in result
        ]
        return doc

    # ------------------------------------------------------------------------------------------------ negation
    def _is_negated(self, norms: list[str], start: int, end: int, window: int) -> bool:
        if end < len(norms) and norms[end] in self.neg_after:
            return True
        j = start - 1
        while j >= max(0, start - window):
            tok = norms[j]
            if tok in self.breakers:
                return False
            for cue in self.neg_cues.get(tok, ()):
                first = j - len(cue) + 1
                if first >= 0 and tuple(norms[first : j + 1]) == cue:
                    following = norms[j + 1] if j + 1 < len(norms) else ""
                    if following not in self.neg_blockers:
                        return True
            j -= 1
        return False

    def _apply_negation(self, cands: list[_Cand], norms: list[str]) -> list[_Cand]:
        out = []
        for c in cands:
            if c.negatable:
                window = (
                    lexicon.NEGATION_WINDOW_WIDE
                    if c.entity in lexicon.WIDE_NEGATION_ENTITIES
                    else lexicon.NEGATION_WINDOW
                )
                if self._is_negated(norms, c.start, c.end, window) and (
                    c.value != "_noise_source" or self.spatial & set(norms[max(0, c.start - 3) : c.start])
                ):
                    mapped = lexicon.NEGATION_MAP.get((c.entity, c.value))
                    if mapped is None:
                        continue
                    c.entity, c.value = mapped
            if c.value.startswith("_"):
                continue
            out.append(c)
        return out

    def _resolve_allergens(self, allergens: list[_Cand], norms: list[str]) -> tuple[list[_Cand], list[_Cand]]:
        allergy: list[_Cand] = []
        others: list[_Cand] = []
        for c in allergens:
            if c.explicit:
                allergy.append(c)
            elif self._allergy_cue_before(norms, c.start) or self._allergy_cue_after(norms, c.end):
                allergy.append(c)
            elif self._is_negated(norms, c.start, c.end, lexicon.NEGATION_WINDOW):
                mapped = lexicon.NEGATED_ALLERGEN.get(c.value)
                if mapped is None:
                    allergy.append(c)
                else:
                    c.entity, c.value = mapped
                    c.negatable = False
                    others.append(c)
        return allergy, others

    def _allergy_cue_before(self, norms: list[str], start: int) -> bool:
        for j in range(start - 1, max(-1, start - 9), -1):
            tok = norms[j]
            if tok in self.sentence_breakers:
                return False
            for cue in self.allergy_before.get(tok, ()):
                first = j - len(cue) + 1
                if first >= 0 and tuple(norms[first : j + 1]) == cue:
                    return True
        return False

    def _allergy_cue_after(self, norms: list[str], end: int) -> bool:
        return any(tuple(norms[end : end + len(cue)]) == cue for cue in self.allergy_after)

    # ------------------------------------------------------------------------------------------------ regexes
    @staticmethod
    def _to_tokens(doc: Doc, start: int, end: int) -> tuple[int, int] | None:
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is None or len(span) == 0:
            return None
        return span.start, span.end

    def _regex_candidates(self, doc: Doc, low: str, patterns: list[re.Pattern[str]], to_value: Any,
                          entity: str) -> list[_Cand]:
        out = []
        for pattern in patterns:
            for m in pattern.finditer(low):
                value = to_value(m)
                toks = self._to_tokens(doc, m.start(), m.end())
                if value is None or toks is None:
                    continue
                out.append(_Cand(toks[0], toks[1], m.start(), m.end(), entity, value, _CLASS_STRONG))
        return out

    @staticmethod
    def _floor_value(m: re.Match[str]) -> str | None:
        if m.groupdict().get("w"):
            return str(lexicon.ORDINAL_WORDS[m.group("w")])
        return str(int(m.group("n")))

    @staticmethod
    def _degree_value(m: re.Match[str]) -> str | None:
        raw = m.group("n").replace(",", ".")
        number = float(raw)
        unit = (m.groupdict().get("u") or "").lower()
        if unit:
            scale = "F" if unit.startswith("f") else "C"
        else:
            scale = "F" if number >= 45 else "C"
        if (scale == "C" and not 10 <= number <= 35) or (scale == "F" and not 50 <= number <= 95):
            return None
        shown = str(int(number)) if number.is_integer() else f"{number:g}"
        return f"{shown}{scale}"

    def _room_candidates(self, doc: Doc, low: str) -> list[_Cand]:
        out = []
        for index, pattern in enumerate(self.room_res):
            for m in pattern.finditer(low):
                if index >= 2 and _looks_like_degrees(m.group("room")):
                    continue
                toks = self._to_tokens(doc, m.start("room"), m.end("room"))
                if toks is None:
                    continue
                out.append(
                    _Cand(toks[0], toks[1], m.start("room"), m.end("room"), "room_number",
                          m.group("room").upper(), _CLASS_EXPLICIT, negatable=False)
                )
                end = m.end()
                while (more := self.room_list_re.match(low, end)) is not None:
                    toks = self._to_tokens(doc, more.start("room"), more.end("room"))
                    if toks is None:
                        break
                    out.append(
                        _Cand(toks[0], toks[1], more.start("room"), more.end("room"), "room_number",
                              more.group("room").upper(), _CLASS_EXPLICIT, negatable=False)
                    )
                    end = more.end()
        return out

    def _time_candidates(self, doc: Doc, low: str, triggers: list[_Cand]) -> list[_Cand]:
        out = []
        for t in triggers:
            if t.entity == "early_checkin" and low[max(0, t.char_start - 5) : t.char_start].strip().endswith("late"):
                continue
            value = None
            start, end = t.char_start, t.char_end
            m = self.time_after_re.match(low, t.char_end) or self.bare_after_re.match(low, t.char_end)
            if m is not None:
                value, end = time_from_match(m), m.end()
            else:
                b = self.time_before_re.search(low, max(0, t.char_start - 25), t.char_start)
                if b is not None:
                    value, start = time_from_match(b), b.start()
            if value is None:
                continue
            toks = self._to_tokens(doc, start, end)
            if toks is None:
                continue
            out.append(_Cand(toks[0], toks[1], start, end, t.entity, value, _CLASS_EXPLICIT, negatable=False))
        return out

    def _name_candidates(self, doc: Doc, text: str, bare: bool = False) -> list[_Cand]:
        norm_text = char_normalise(text)
        low = lower_same_length(norm_text)
        out = []
        if bare and not self.name_intro_re.search(low):
            m = self.name_bare_re.match(norm_text)
            if m is not None:
                cand = self._read_name(doc, norm_text, text, m.end(), "bare")
                if cand is not None:
                    rest = low[cand.char_end :]
                    if not rest.strip(" ,.!?") or self.name_bare_follow.match(rest.lstrip(" ,")):
                        out.append(cand)
        for m in self.name_intro_re.finditer(low):
            strength = "strong" if m.group("strong") else "weak" if m.group("weak") else "weakest"
            cand = self._read_name(doc, norm_text, text, m.end(), strength)
            if cand is not None:
                out.append(cand)
        here = self.name_here_re.match(norm_text)
        if here is not None:
            words = here.group("name").split()
            if all(w.lower() not in self.name_stop and not default_speller().is_lexicon_word(w.lower())
                   for w in words):
                cand = self._name_cand(doc, text, here.start("name"), here.end("name"), 0.85)
                if cand is not None:
                    out.append(cand)
        return out

    def _read_name(self, doc: Doc, norm_text: str, text: str, pos: int, strength: str) -> _Cand | None:
        words: list[re.Match[str]] = []
        title = re.compile(r"(?:mr|mrs|ms|miss|dr|mister|doctor|prof|professor|sir|madam)\b\.?\s+", re.IGNORECASE)
        t = title.match(norm_text, pos)
        if t is not None:
            pos = t.end()
        speller = default_speller()
        while len(words) < 3:
            m = self.name_token_re.match(norm_text, pos)
            if m is None:
                break
            word = m.group()
            lw = word.lower().replace("’", "'")
            capitalised = word[0].isupper()
            if lw in self.name_stop or len(lw) < 2:
                break
            if t is None and speller.is_lexicon_word(lw):  # "I'm vgean": a misspelt preference, not a name
                break
            if not words:
                if strength in ("weak", "bare") and not capitalised and lw.endswith(lexicon.NAME_REJECT_SUFFIXES):
                    return None
                if strength == "weakest" and not capitalised:
                    rest = norm_text[m.end() :].lower()
                    if not self.name_confirm.match(rest.lstrip(" ,")):
                        return None
                first_capitalised = capitalised
            else:
                if not capitalised and (first_capitalised or lw.endswith(lexicon.NAME_REJECT_SUFFIXES)):
                    break
            words.append(m)
            nxt = m.end()
            if nxt < len(norm_text) and norm_text[nxt] == " ":
                pos = nxt + 1
            else:
                break
        if not words:
            return None
        confidence = {"strong": 0.95, "weak": 0.85, "weakest": 0.8, "bare": 0.7}[strength]
        if not words[0].group()[0].isupper():
            confidence -= 0.1
        return self._name_cand(doc, text, words[0].start(), words[-1].end(), confidence)

    def _name_cand(self, doc: Doc, text: str, start: int, end: int, confidence: float) -> _Cand | None:
        toks = self._to_tokens(doc, start, end)
        if toks is None:
            return None
        written = text[start:end]
        value = written.title() if written.islower() or written.isupper() else written
        return _Cand(toks[0], toks[1], start, end, "guest_name", value, _CLASS_EXPLICIT,
                     confidence=round(confidence, 2), negatable=False)


def _looks_like_degrees(room: str) -> bool:
    """Tell whether a room-like token such as "70f" or "21c" is more likely a temperature."""
    m = re.fullmatch(r"(\d{2})([cf])", room)
    if m is None:
        return False
    n = int(m.group(1))
    return 10 <= n <= 35 if m.group(2) == "c" else 50 <= n <= 95


def _select(cands: list[_Cand]) -> list[_Cand]:
    """Keep non-overlapping candidates: higher class first, then longer, then values before categories."""
    ordered = sorted(cands, key=lambda c: (-c.rank, -(c.end - c.start), c.is_category, c.start))
    taken: set[int] = set()
    kept = []
    for c in ordered:
        tokens = set(range(c.start, c.end))
        if tokens & taken:
            continue
        taken |= tokens
        kept.append(c)
    return kept


def _dedupe(cands: list[_Cand]) -> list[_Cand]:
    """Drop repeated (entity, value) pairs, keeping the first."""
    seen: set[tuple[str, str]] = set()
    out = []
    for c in cands:
        key = (c.entity, c.value)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


@Language.factory(RULES_COMPONENT)
def make_hotel_entity_rules(nlp, name):  # type: ignore[no-untyped-def]  # spaCy's config resolver needs no string annotations
    """Create the hotel entity rule component."""
    return HotelEntityRules(nlp, name)


# ---------------------------------------------------------------------------------------------------- severity
@lru_cache(maxsize=1)
def _severity_res() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    return (
        _word_re(lexicon.SEVERITY_HIGH_CUES),
        _word_re(lexicon.SEVERITY_LOW_CUES),
        _word_re(lexicon.SEVERITY_NEGATABLE),
    )


_NEGATION_BEFORE = re.compile(r"(?:\bno|\bnot|n't|\bnever|\bnothing|\bnor|\bwithout)\W+(?:\w+\W+){0,2}$")


def severity(text: str, category: str | None = None) -> str:
    """Grade a complaint "low", "medium" or "high": safety is always high, then high cues, then low cues."""
    if category == "safety":
        return "high"
    low = lower_same_length(char_normalise(text))
    high_re, low_re, negatable_re = _severity_res()
    for m in high_re.finditer(low):
        if negatable_re.fullmatch(m.group()) and _NEGATION_BEFORE.search(low[max(0, m.start() - 30) : m.start()]):
            continue
        return "high"
    if low_re.search(low):
        return "low"
    return "medium"


# ---------------------------------------------------------------------------------------------------- category prior
@lru_cache(maxsize=4)
def _keyword_res(table_name: str) -> dict[str, re.Pattern[str]]:
    table: dict[str, tuple[str, ...]] = getattr(lexicon, table_name)
    return {name: _word_re(words) for name, words in table.items() if words}


def keyword_hits(text: str, table_name: str = "CATEGORY_KEYWORDS") -> dict[str, int]:
    """Count keyword hits per category (or aspect) of a lexicon table in `text`."""
    low = lower_same_length(char_normalise(text))
    hits = {}
    for name, pattern in _keyword_res(table_name).items():
        n = len(pattern.findall(low))
        if n:
            hits[name] = n
    return hits


def category_prior(text: str) -> dict[str, float]:
    """Return a keyword prior over complaint categories (hits normalised to sum 1; empty if none)."""
    hits = keyword_hits(text)
    total = sum(hits.values())
    return {name: n / total for name, n in hits.items()} if total else {}
