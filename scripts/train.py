"""Train the Rasa model (NLU, dialogue and the hotel-language component); print time and memory."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    """Run `rasa train` with a fixed model name and report its budget."""
    started = time.monotonic()
    cmd = [
        sys.executable, "-m", "rasa", "train",
        "--data", "data", "--domain", "domain", "--config", "config.yml",
        "--out", "models", "--fixed-model-name", "hotel",
    ]
    log_path = REPO / "var" / "log" / "train.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"train: training the model (log: {log_path.relative_to(REPO)}) ...", flush=True)
    with open(log_path, "wb") as log:
        code = subprocess.call(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        print(log_path.read_text(errors="replace")[-5000:])
    elapsed = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"train: seconds={elapsed:.0f} peak_rss_mb={peak_mb:.0f} exit={code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
