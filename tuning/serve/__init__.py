"""`straw serve`: main's production model over HTTP (an OpenAI-compatible subset).

- model.py: load a stored model and run it with scores;
- swapper.py: follow main's models.lock and swap models atomically;
- batcher.py: dynamic micro-batching with a bounded queue;
- app.py: the FastAPI routes; server.py: uvicorn around them."""
