"""Run the Rasa test stories against the trained model and print a one-line summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
STORIES = REPO / "tests" / "stories"
OUT = REPO / "var" / "results" / "core"


def count_stories(path: Path) -> int:
    """Count the stories in a YAML file (0 for a file with no stories)."""
    data = yaml.safe_load(path.read_text()) or {}
    return len(data.get("stories") or [])


def main() -> int:
    """Run `rasa test core --fail-on-prediction-errors`; print the failures and the totals."""
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = REPO / "var" / "log" / "test-stories.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        code = subprocess.call(
            [sys.executable, "-m", "rasa", "test", "core", "--stories", str(STORIES),
             "--model", str(REPO / "models" / "hotel.tar.gz"), "--out", str(OUT),
             "--fail-on-prediction-errors", "--no-plot"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )
    total = sum(count_stories(p) for p in STORIES.glob("*.yml"))
    failed_path = OUT / "failed_test_stories.yml"
    failed = count_stories(failed_path) if failed_path.exists() else 0
    if code != 0 or failed:
        if failed_path.exists():
            print(failed_path.read_text()[:8000])
        print(log_path.read_text(errors="replace")[-3000:])
    print(f"stories: {total - failed} passed, {failed} failed")
    return 1 if code != 0 or failed else 0


if __name__ == "__main__":
    sys.exit(main())
