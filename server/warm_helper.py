"""A second compiler for a cold start: ``python -m convscope.server.warm_helper CONFIG``.

On the first start after an install every kernel compiles (about a minute on 2 cores), and Numba
compiles on one core under a global lock.  ``Registry.warm`` then starts this helper beside itself:
the helper builds the same registry (the same models, no warm-up of its own) and runs the warm-up
steps the server hands it, one index per line on stdin, answering ``ok`` or ``failed`` per line on
stdout.  What it compiles lands in the shared disk cache, so the server's own run of that step
afterwards only loads it.  A failure here costs nothing but time: the server runs every step itself
in the end.  CONFIG is JSON: {"paths": [...], "trace": bool, "lab": bool, "warm_more": bool}.
"""
from __future__ import annotations

import json
import sys


def main(argv=None) -> int:
    config = json.loads((argv or sys.argv[1:])[0])
    from convscope.server.registry import Registry
    registry = Registry(config["paths"], warm=False, warm_lab=False, warm_more=config["warm_more"])
    steps = registry.warmups(config["trace"], config["lab"])
    for line in sys.stdin:
        try:
            steps[int(line)][1]()
            answer = "ok"
        except Exception:  # noqa: BLE001  (the server compiles this step itself)
            answer = "failed"
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
