"""Plug the hotel language component into Rasa 3.6 (the only hotel_nlu module that imports rasa).

config.yml, after DIETClassifier and FallbackClassifier:

    - name: hotel_nlu.rasa_component.HotelLanguage
      threshold: 0.35

Training reads complaint examples and their category from the per-example YAML metadata
(`message.get("metadata")["example"]["category"]`), trains the `CategoryClassifier` and persists it through
the `ModelStorage` resource, so it travels inside the model archive. The rule lexicon is code: it is rebuilt
from `hotel_nlu` at load time, and `fingerprint_addon` hashes the hotel_nlu sources so a code change retrains.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    METADATA,
    METADATA_EXAMPLE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from hotel_nlu import lexicon, rasa_patches
from hotel_nlu.pipeline import CategoryClassifier, build_rules_nlp, extract_entities, severity
from hotel_nlu.vocabulary import Vocabulary, WordCorrector

logger = logging.getLogger(__name__)

# Rasa imports this module when it loads the model: install our fixes to Rasa internals (hotel_nlu/rasa_patches.py).
rasa_patches.install()


def lexicon_words() -> list[str]:
    """Return every word that appears in the lexicon's string data (category terms, values)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.extend(value.replace("_", " ").split())
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for item in value:
                walk(item)

    for name in dir(lexicon):
        if name.isupper():
            walk(getattr(lexicon, name))
    return found

CLASSIFIER_DIR = "category_classifier"
CORRECTOR_FILE = "word_counts.json"
VOCABULARY_FILE = "vocabulary.json"
_PACKAGE_DIR = Path(__file__).resolve().parent
# Source files whose content changes the trained model or the extraction (hashed into the fingerprint).
_FINGERPRINTED_SOURCES = ("lexicon.py", "text.py", "rules.py", "classifier.py", "pipeline.py", "vocabulary.py",
                          "spelling.py", "survey_tagging.py")


def _sources_digest(names: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in names:
        path = _PACKAGE_DIR / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class HotelLanguage(GraphComponent, EntityExtractorMixin):
    """Extract hotel entities with rules and add complaint_category/severity to complaints."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Return the default config (see the module docstring)."""
        return {
            # below this classifier confidence the category is "other"
            "threshold": 0.35,
            "complain_intent": "complain",
            "fallback_intent": "nlu_fallback",
            # when the intent is nlu_fallback, act on the top real intent of the ranking (e.g. still classify
            # a complaint whose DIET confidence was below the fallback threshold)
            "classify_on_fallback": True,
            "architecture": "charbow",
            "epochs": 20,
            "random_seed": 42,
            "prior_weight": 0.4,
            "augment_with_keywords": True,
            # classify the category on the clauses that are not purely positive ("loved the breakfast but the
            # room smelled of smoke" -> "the room smelled of smoke")
            "focus_negative_clauses": True,
            # a message in which fewer than this share of words is known (one typo allowed per word) is
            # gibberish or another language: its intent becomes nlu_fallback, whatever DIET said
            "min_known_ratio": 0.25,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        """Return the packages whose versions are part of the training fingerprint."""
        return ["spacy"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Hash the hotel_nlu sources so a change to the lexicon or classifier code invalidates the cache."""
        return _sources_digest(_FINGERPRINTED_SOURCES)

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 classifier: Optional[CategoryClassifier] = None,
                 vocabulary: Optional[Vocabulary] = None) -> None:
        """Create the component; the rule pipeline is built here, the classifier comes from training or storage."""
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._classifier = classifier
        self._vocabulary = vocabulary
        self._nlp = build_rules_nlp()

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> HotelLanguage:
        """Create an untrained component."""
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> HotelLanguage:
        """Load the trained classifier from the model storage (rules only if none was persisted)."""
        classifier = None
        vocabulary = None
        try:
            with model_storage.read_from(resource) as directory:
                path = Path(directory) / CLASSIFIER_DIR
                if path.exists():
                    classifier = CategoryClassifier.load(path)
                    classifier.prior_weight = float({**cls.get_default_config(), **config}["prior_weight"])
                if (Path(directory) / VOCABULARY_FILE).exists():
                    vocabulary = Vocabulary.load(Path(directory) / VOCABULARY_FILE)
        except ValueError:
            logger.warning("HotelLanguage: no trained category classifier in the model; "
                           "complaints will be categorised as 'other'.")
        return cls(config, model_storage, resource, classifier, vocabulary)

    # ------------------------------------------------------------------------------------------------ training
    def _complaint_pairs(self, training_data: TrainingData) -> list[tuple[str, str]]:
        pairs, skipped = [], 0
        for message in training_data.intent_examples:
            if message.get(INTENT) != self._config["complain_intent"]:
                continue
            category = ((message.get(METADATA) or {}).get(METADATA_EXAMPLE) or {}).get("category")
            text = message.get(TEXT)
            if category in lexicon.COMPLAINT_CATEGORIES and text:
                pairs.append((text, category))
            else:
                skipped += 1
        if skipped:
            logger.warning(f"HotelLanguage: {skipped} complain examples have no valid metadata category "
                           f"(one of {', '.join(lexicon.COMPLAINT_CATEGORIES)}) and were skipped.")
        return pairs

    def train(self, training_data: TrainingData) -> Resource:
        """Train the complaint category classifier and persist it in the model storage."""
        self._vocabulary = Vocabulary.from_texts(
            (m.get(TEXT) or "" for m in training_data.training_examples), extra=lexicon_words()
        )
        pairs = self._complaint_pairs(training_data)
        if not pairs:
            self.persist()
            logger.warning("HotelLanguage: no complain examples with a metadata category; "
                           "only the entity rules will run.")
            return self._resource
        classifier = CategoryClassifier.create(self._config["architecture"],
                                               prior_weight=float(self._config["prior_weight"]),
                                               focus=bool(self._config["focus_negative_clauses"]))
        classifier.train(pairs, epochs=int(self._config["epochs"]), seed=int(self._config["random_seed"]),
                         augment_with_keywords=bool(self._config["augment_with_keywords"]))
        self._classifier = classifier
        self.persist()
        return self._resource

    def persist(self) -> None:
        """Write the classifier and the vocabulary into this component's model-storage resource."""
        if self._classifier is None and self._vocabulary is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            if self._classifier is not None:
                self._classifier.save(Path(directory) / CLASSIFIER_DIR)
            if self._vocabulary is not None:
                self._vocabulary.save(Path(directory) / VOCABULARY_FILE)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Return the training data unchanged (the entity annotations are ground truth, not predictions)."""
        return training_data

    # ------------------------------------------------------------------------------------------------ inference
    def _effective_intent(self, message: Message) -> Optional[str]:
        """Return the intent name, or the top real intent of the ranking when the intent is the fallback."""
        name = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        if name == self._config["fallback_intent"] and self._config["classify_on_fallback"]:
            for ranked in message.get(INTENT_RANKING_KEY) or []:
                if ranked.get(INTENT_NAME_KEY) != self._config["fallback_intent"]:
                    return ranked.get(INTENT_NAME_KEY)
            return None
        return name

    def _complaint_entities(self, text: str) -> list[dict[str, Any]]:
        if self._classifier is None:
            category, confidence = "other", 0.0
        else:
            category, confidence = self._classifier.predict(text)
            if confidence < float(self._config["threshold"]):
                category = "other"
        return [
            {"entity": "complaint_category", "value": category, "start": 0, "end": len(text),
             "confidence": round(confidence, 4)},
            {"entity": "severity", "value": severity(text, category), "start": 0, "end": len(text),
             "confidence": 1.0},
        ]

    def _guard_gibberish(self, message: Message, text: str) -> None:
        """Turn the intent into nlu_fallback when too few of the message's words are known."""
        if self._vocabulary is None:
            return
        ratio = self._vocabulary.known_ratio(text)
        if ratio is None or ratio >= float(self._config["min_known_ratio"]):
            return
        fallback = {INTENT_NAME_KEY: self._config["fallback_intent"], "confidence": round(1.0 - ratio, 4)}
        ranking = [r for r in (message.get(INTENT_RANKING_KEY) or [])
                   if r.get(INTENT_NAME_KEY) != self._config["fallback_intent"]]
        message.set(INTENT, fallback, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [fallback, *ranking], add_to_output=True)

    def process(self, messages: List[Message]) -> List[Message]:
        """Add rule entities, and complaint_category/severity for complaints, to each message."""
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            self._guard_gibberish(message, text)
            intent = self._effective_intent(message)
            entities = extract_entities(text, self._nlp, intent)
            if intent == self._config["complain_intent"]:
                entities += self._complaint_entities(text)
            message.set(ENTITIES, message.get(ENTITIES, []) + self.add_extractor_name(entities),
                        add_to_output=True)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class HotelSpelling(GraphComponent):
    """Give misspelt tokens the training word they most likely mean, for the featurizers that follow.

    config.yml, right after the tokenizer:

        - name: WhitespaceTokenizer
        - name: hotel_nlu.rasa_component.HotelSpelling

    Training counts the words of the NLU examples. At inference, a token the training data never contains
    ("brokn", "recieve", "brekfast") gets as its *lemma* the most frequent training word one edit away; its text
    and offsets are untouched, so entities still point at what the guest typed. CountVectorsFeaturizer reads
    lemmas (`use_lemma`, the default), so DIET sees the word it was trained on.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Return the default config (the component has no options)."""
        return {}

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Hash the correction code so a change to it invalidates the cache."""
        return _sources_digest(("vocabulary.py", "text.py", "rasa_component.py"))

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 corrector: Optional[WordCorrector] = None) -> None:
        """Create the component with an optional trained corrector."""
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._corrector = corrector

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> HotelSpelling:
        """Create an untrained component."""
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> HotelSpelling:
        """Load the word counts from the model storage."""
        corrector = None
        try:
            with model_storage.read_from(resource) as directory:
                path = Path(directory) / CORRECTOR_FILE
                if path.exists():
                    corrector = WordCorrector.load(path)
        except ValueError:
            logger.warning("HotelSpelling: no word counts in the model; tokens are left as typed.")
        return cls(config, model_storage, resource, corrector)

    def train(self, training_data: TrainingData) -> Resource:
        """Count the words of the training examples and persist them."""
        self._corrector = WordCorrector.from_texts(m.get(TEXT) or "" for m in training_data.training_examples)
        with self._model_storage.write_to(self._resource) as directory:
            self._corrector.save(Path(directory) / CORRECTOR_FILE)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Correct the training examples too (a no-op for the data the counts came from)."""
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Set the lemma of each misspelt token to the training word it most likely means."""
        if self._corrector is None:
            return messages
        for message in messages:
            for token in message.get(TOKENS_NAMES[TEXT]) or []:
                fixed = self._corrector.correct(token.text)
                if fixed is not None:
                    token.lemma = fixed
        return messages

