"""The HTTP service (``tailwise serve``): FastAPI over a fitted pipeline, with an SQLite
feedback store, items added while serving (cold start) and model swaps after a retrain.

Needs the ``serve`` extra (fastapi, uvicorn). Importing this package imports neither and
builds nothing; :func:`tailwise.service.app.create_app` builds an app. See ``docs/service.md``.
"""
