"""`idr serve`: the HTTP lookup service over the published snapshot (docs/serve.md).

app.py assembles it: settings (idr.settings.ServeSettings), the snapshot index
(index.py, switched by snapshots.py), API keys (keys.py), rate limits and the lookup cache,
shared through Redis when REDIS_URL is set (shared.py, ratelimit.py, cache.py), one error
shape (errors.py), request ids, logs and metrics (middleware.py, metrics.py), and one
router per resource (routers/). FastAPI and friends are the `serve` extra: nothing here is
imported by the rest of idr.
"""
