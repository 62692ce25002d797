"""``kerasviz serve``: a local browser page and its HTTP API (FastAPI; ``pip install "kerasviz[web]"``).

:func:`create_app` builds the app over models loaded once; :func:`serve` runs it with uvicorn.
The page (``static/``, plain JavaScript) calls the same API a script can call; see ``docs/serve.md``.
"""
from kerasviz.apps.web.server import Limits, create_app, serve

__all__ = ["Limits", "create_app", "serve"]
