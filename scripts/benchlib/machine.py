"""Describe the machine and the run: CPU, memory, load, git commit; CPU used by others during a phase."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.benchlib.rss import descendants

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    """Return the CPU model name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gb() -> float:
    """Return the total memory in GB."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def git_commit(repo: Path) -> str:
    """Return the short commit, with a note when the working tree has uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit} (with uncommitted changes)" if dirty else commit


def _busy_s() -> float:
    """Return the machine's busy CPU seconds since boot (all cores)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / TICKS


def _process_cpu_s(pid: int) -> float:
    """Return utime+stime+cutime+cstime of a process in seconds (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2:].split()
    return sum(int(v) for v in fields[11:15]) / TICKS


@dataclass
class CpuSnapshot:
    """Busy CPU seconds of the machine and of this benchmark's process tree at one moment."""

    at: float
    busy_s: float
    ours_s: float

    @classmethod
    def take(cls) -> CpuSnapshot:
        """Read the counters now."""
        ours = sum(_process_cpu_s(pid) for pid in descendants(os.getpid()))
        return cls(time.monotonic(), _busy_s(), ours)

    def since(self, earlier: CpuSnapshot) -> tuple[float, float]:
        """Return (cores busy in total, cores busy outside this benchmark) on average since ``earlier``."""
        elapsed = self.at - earlier.at
        if elapsed <= 0:
            return float("nan"), float("nan")
        total = (self.busy_s - earlier.busy_s) / elapsed
        others = max(0.0, total - (self.ours_s - earlier.ours_s) / elapsed)
        return total, others


def describe(repo: Path) -> dict[str, str]:
    """Return the facts about this machine and checkout the report starts with."""
    load = os.getloadavg()
    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": cpu_model(),
        "ram_gb": f"{ram_gb():.1f}",
        "load_at_start": f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
        "commit": git_commit(repo),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
