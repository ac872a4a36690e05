"""Flower with its metrics behind its login. `salam flower` runs it as

    python -m salam.cli.flower_server -A workers.app flower --port=5555

which is `celery -A workers.app flower` after one change: Flower (2.x) asks for the basic-auth
login on its pages and its API, but serves /metrics, the Prometheus export naming every worker
and task type, to anyone who can reach the port. Before Flower builds its application, the
/metrics route is given a handler that asks for the same login. /healthcheck stays open: it
answers "OK" and nothing else.
"""

from __future__ import annotations

import tornado.web
from flower import urls
from flower.views.monitor import Metrics

METRICS_ROUTE = "/metrics"


class LoggedInMetrics(Metrics):
    """Flower's /metrics, answered only to a request carrying the login."""

    def prepare(self) -> None:
        options = self.application.options
        # Reading current_user checks the Authorization header (a wrong login raises 401);
        # with no login configured at all there is nothing to check against: refuse.
        if not (options.basic_auth or options.auth) or not self.current_user:
            raise tornado.web.HTTPError(401)


def require_login_for_metrics() -> None:
    """Point Flower's /metrics route at `LoggedInMetrics`; the route list is shared with
    `flower.app`, so this must run before the Flower application is created."""
    for position, handler in enumerate(urls.handlers):
        if isinstance(handler, tuple) and handler[0] == METRICS_ROUTE:
            urls.handlers[position] = (METRICS_ROUTE, LoggedInMetrics)
            return
    raise RuntimeError(f"this Flower has no {METRICS_ROUTE} route to put behind its login")


def main() -> None:
    require_login_for_metrics()
    from celery.__main__ import main as celery_main

    celery_main()


if __name__ == "__main__":
    main()
