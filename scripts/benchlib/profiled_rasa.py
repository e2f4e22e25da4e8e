"""Run ``rasa`` with a cProfile profiler that SIGUSR1 switches on and SIGUSR2 switches off and saves.

    python -m scripts.benchlib.profiled_rasa OUT.prof run --enable-api ...   (the arguments of `rasa`)

Only the window between the two signals is profiled (not the model loading), in the main thread, where Rasa
runs its event loop: HTTP, NLU, policies, tracker store and action-server calls.
"""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys


def main() -> None:
    """Install the signal handlers and run Rasa's command line."""
    out = sys.argv[1]
    profiler = cProfile.Profile()

    def start(_signum: int, _frame: object) -> None:
        profiler.enable()

    def stop(_signum: int, _frame: object) -> None:
        profiler.disable()
        profiler.dump_stats(out)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    sys.argv = ["rasa", *sys.argv[2:]]
    runpy.run_module("rasa", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
