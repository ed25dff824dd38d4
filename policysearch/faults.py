"""Named crash points for fault-injection tests of resume (tests/test_resume_faults.py).

A long-running entry point calls `crash_point("<name>", generation)` at the moments where a kill
could land. Nothing happens unless the environment asks for it:

    POLICYSEARCH_CRASH_AT=checkpoint@10     # crash at point "checkpoint" when generation == 10
    POLICYSEARCH_CRASH_AT=export            # crash at the first "export" point
    POLICYSEARCH_CRASH_MODE=kill | raise    # SIGKILL this process (default) | raise InjectedCrash

`raise` lets a test crash an in-process run cheaply; `InjectedCrash` is a BaseException so no
`except Exception` on the way (a report failure handler, say) can swallow it.
"""

from __future__ import annotations

import os
import signal

ENV_AT = "POLICYSEARCH_CRASH_AT"
ENV_MODE = "POLICYSEARCH_CRASH_MODE"


class InjectedCrash(BaseException):
    """A crash asked for by POLICYSEARCH_CRASH_AT (mode `raise`)."""


def crash_point(name: str, generation: int | None = None) -> None:
    spec = os.environ.get(ENV_AT)
    if not spec:
        return
    want, _, at = spec.partition("@")
    if want != name or (at and (generation is None or int(at) != int(generation))):
        return
    if os.environ.get(ENV_MODE, "kill") == "raise":
        raise InjectedCrash(f"{name}@{generation}" if generation is not None else name)
    os.kill(os.getpid(), signal.SIGKILL)
