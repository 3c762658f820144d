"""The wall-tablet panel: a Flask app over the running service.

``create_app(config, services)`` builds the app the way Flask's tutorial
does (an app factory and blueprints): pages (``web/pages.py``), the live
event stream (``web/events.py``), the JSON API (``web/api*.py``) and the
access rules (``web/auth.py``). ``services`` is the running
``rig.service.Service``; the app only reads its live state and history and
asks its ``commands`` to act. ``web/server.py`` serves the app with
waitress inside the service's process (never Flask's development server).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import Flask

from rig import __version__
from web import api, api_report, api_rigcheck, api_sessions, auth, errors, events, pages


@dataclass
class Panel:
    """What the views need, kept in ``app.extensions["stairrig"]``."""
    config: object                 # rig.config.RigConfig
    service: object                # rig.service.Service
    shutdown: threading.Event = field(default_factory=threading.Event)
    hub: object = None             # web.events.EventHub
    throttle: object = None        # web.auth.LoginThrottle
    logins: object = None          # web.auth.LoginRegistry
    version: str = __version__


def stream_limit(threads: int) -> int:
    """Open event streams allowed: each holds a waitress thread, and four stay for pages and the API."""
    return max(1, threads - events.SPARE_THREADS)


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def create_app(config, services) -> Flask:
    """The panel's Flask app for ``services`` (a running ``rig.service.Service``) and its ``config``."""
    app = Flask(__name__)
    panel = Panel(config=config, service=services)
    app.extensions["stairrig"] = panel
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    errors.init_app(app)
    auth.init_app(app)
    panel.hub = events.EventHub(services, units=config.web.units, rig=config.layout.to_header(),
                                stream_limit=stream_limit(config.web.threads), shutdown=panel.shutdown)
    app.register_blueprint(pages.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api.health_bp)
    app.register_blueprint(api_sessions.bp)
    app.register_blueprint(api_rigcheck.bp)
    app.register_blueprint(api_report.bp)

    @app.after_request
    def _headers(response):
        # no framing (the PIN pages), no sniffing, and no cached health data
        response.headers.setdefault("X-Frame-Options", "DENY")
        # everything comes from the panel itself: no CDN, no inline script, no framing
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if errors.wants_json() and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response

    return app
