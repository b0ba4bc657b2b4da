"""The outside world: chat models, embeddings, the index, web search, loaders and ingestion."""
