"""Storage: the manifest (SQLite), the vector index (Chroma), BM25, the home layout, and the one write path (CollectionStore)."""
