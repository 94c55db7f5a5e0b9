"""Test-only preset directories: a `config.json` each, no weights.

Load them with `LoReTrack.from_preset(TINY_TEST, load_weights=False)` or pass
`--preset TINY_TEST --no-weights` on the command line.

- `TINY_TEST`: two blocks of width 32, patch 16, search 64 / template 32.
- `TINY_TEST_CE`: four blocks of width 32, search 128 / template 64, candidate
  elimination in blocks 1 and 2 (keep ratio 0.7).
"""

import os

_HERE = os.path.dirname(os.path.abspath(__file__))
TINY_TEST = os.path.join(_HERE, "tiny_test")
TINY_TEST_CE = os.path.join(_HERE, "tiny_test_ce")
