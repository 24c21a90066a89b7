"""The runtime around the pipeline: CLI, broker, thin actors, ingest."""
