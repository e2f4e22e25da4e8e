"""Benchmark the hotel language component: train on data/nlu, score the holdout, time every message.

    python -m hotel_nlu.bench [--data data/nlu] [--holdout tests/nlu/holdout.yml] [--architecture charbow]
"""
from __future__ import annotations

import argparse
import random
import resource
import statistics
import time
from collections import Counter
from pathlib import Path

from hotel_nlu.nlu_data import NluExample, complaint_pairs, load_examples
from hotel_nlu.pipeline import CategoryClassifier, build_rules_nlp, extract_entities, severity


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _entity_scores(examples: list[NluExample], nlp) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """Count (true positives, predicted, gold) over annotated (entity, value) pairs."""
    tp = predicted = gold = 0
    for ex in examples:
        want = {(e["entity"], str(e["value"])) for e in ex.entities}
        got = {(e["entity"], str(e["value"])) for e in extract_entities(ex.text, nlp, ex.intent)
               if e["entity"] not in ("complaint_category", "severity")}
        if not want and ex.intent not in ("share_preference", "introduce", "inform", "delete_preference"):
            continue
        tp += len(want & got)
        predicted += len(got)
        gold += len(want)
    return tp, predicted, gold


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="data/nlu")
    parser.add_argument("--holdout", default="tests/nlu/holdout.yml")
    parser.add_argument("--architecture", default="charbow")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threshold", type=float, default=0.35)
    parser.add_argument("--repeat", type=int, default=5, help="timing passes over all messages")
    args = parser.parse_args(argv)

    train_examples = load_examples([args.data])
    pairs = complaint_pairs(train_examples)
    print(f"training data: {len(train_examples)} examples, {len(pairs)} complaints with a category "
          f"{dict(sorted(Counter(c for _, c in pairs).items()))}")
    clf = CategoryClassifier.create(args.architecture)
    clf.train(pairs, epochs=args.epochs)

    holdout = load_examples([args.holdout]) if Path(args.holdout).exists() else []
    test_pairs = complaint_pairs(holdout)
    if test_pairs:
        correct = correct_t = 0
        confusions: Counter[tuple[str, str]] = Counter()
        for text, cat in test_pairs:
            label, conf = clf.predict(text)
            correct += label == cat
            correct_t += (label if conf >= args.threshold else "other") == cat
            if label != cat:
                confusions[(cat, label)] += 1
        print(f"category accuracy on {len(test_pairs)} holdout complaints: {correct / len(test_pairs):.3f} "
              f"(with threshold {args.threshold}: {correct_t / len(test_pairs):.3f})")
        print("  most common confusions (gold -> predicted):", confusions.most_common(5))
    else:
        print("no holdout complaints with a category found")

    nlp = build_rules_nlp()
    for name, examples in (("train", train_examples), ("holdout", holdout)):
        tp, predicted, gold = _entity_scores(examples, nlp)
        if gold:
            print(f"rule entities vs annotations ({name}): precision {tp / max(predicted, 1):.3f}, "
                  f"recall {tp / gold:.3f} ({gold} annotated)")

    texts = [e.text for e in train_examples + holdout]
    random.Random(0).shuffle(texts)
    for text in texts[:50]:  # warm up caches
        extract_entities(text, nlp)
        clf.predict(text)
    timings = []
    for _ in range(args.repeat):
        for text in texts:
            started = time.perf_counter()
            entities = extract_entities(text, nlp)
            label, conf = clf.predict(text)
            severity(text, label)
            timings.append((time.perf_counter() - started) * 1000)
            del entities
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"latency per message (rules + classifier + severity, {len(timings)} runs): "
          f"p50 {_percentile(timings, 0.5):.2f} ms, p95 {_percentile(timings, 0.95):.2f} ms, "
          f"p99 {_percentile(timings, 0.99):.2f} ms, mean {statistics.mean(timings):.2f} ms; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
