"""Embedding: the sentence-transformers encoder and embedders tuned to a collection."""
