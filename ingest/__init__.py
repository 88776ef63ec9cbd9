"""What data owners run: discovery, parsers, chunking and the sync pipeline behind `ragkit ingest`."""
