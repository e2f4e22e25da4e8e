"""Building blocks of `make bench` (scripts/bench.py): statistics, RSS sampling, the recording Bot API, guests."""
