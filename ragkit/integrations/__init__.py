"""Adapters for other libraries: a LlamaIndex retriever."""
