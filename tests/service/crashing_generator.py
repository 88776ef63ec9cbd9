"""A generator that dies as a native crash does: the fake, until a question asks it to segfault.

Registered by the tests under a module-level factory, so the service runs it in a child process
(service/generator_host.py) as it would llama.cpp.
"""

from __future__ import annotations

import os
import signal

from ragkit.testing import FakeGenerator

CRASH_WORD = "segfault"


class CrashingGenerator(FakeGenerator):
    model_id = "crashing"

    def generate(self, messages, *args, **kwargs):
        if any(CRASH_WORD in m.content for m in messages):
            os.kill(os.getpid(), signal.SIGSEGV)
        return super().generate(messages, *args, **kwargs)


def from_settings(settings) -> CrashingGenerator:
    return CrashingGenerator()
