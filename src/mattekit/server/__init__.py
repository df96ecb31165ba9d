"""``mattekit serve``: an HTTP API and a web page for interactive matting on ``mattekit.interactive.Session``.

The app (``create_app``) holds sessions (``sessions``), runs matting on a bounded worker pool (``pool``), refuses
oversized bodies before reading them (``limits``) and serves the page in ``static/``; ``docs/server.md`` has the API.

Example:
    >>> from mattekit.server import Settings
    >>> Settings(max_sessions=4).max_sessions
    4
"""

from mattekit.server.app import Settings, create_app

__all__ = ["Settings", "create_app"]
