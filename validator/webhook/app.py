"""The Flask application: POST /validate, GET /healthz, /readyz and /metrics.

Every answer is JSON, errors included. A request that is not a well-formed AdmissionReview gets a 4xx (the
API server then applies the webhook's failurePolicy); a failure inside the webhook is logged, counted, and
answered as `--on-error` says (deny by default), so nothing is ever allowed silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from ..config import Config
from ..model import DEFAULT_MAX_BODY_BYTES
from .admission import AdmissionRequest, BadRequest, decode, parse_review, response
from .decision import Decision, Mode, judge
from .metrics import Metrics, now
from .routes import HEALTH_PATH, JUDGED_KINDS, METRICS_PATH, READY_PATH, VALIDATE_PATH
from .state import State

LOG = logging.getLogger("ippool_validator.webhook")
DRAIN_FACTOR = 4  # a refused body is read (and dropped) up to 4 times the limit, then the connection closes


@dataclass(frozen=True)
class Settings:
    mode: Mode = "enforce"
    on_error: str = "deny"  # "deny" or "allow"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


def json_response(body: Any, status: int = 200) -> Response:
    import json

    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")


def create_app(state: State, config: Config | None = None, settings: Settings | None = None,
               metrics: Metrics | None = None) -> Flask:
    """The webhook's WSGI application over `state` (already started by the caller)."""
    config = config or Config()
    settings = settings or Settings()
    metrics = metrics or Metrics()
    app = Flask("ippool_validator")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    state.subscribe(lambda: metrics.observe_state(state))  # gauges current even in a worker never scraped

    @app.post(VALIDATE_PATH)
    def validate() -> Response:
        started = now()
        try:
            return _validate(state, config, settings, metrics)
        finally:
            metrics.latency.observe(now() - started)

    @app.get(HEALTH_PATH)
    def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.get(READY_PATH)
    def readyz() -> Response:
        if state.ready():
            return json_response({"status": "ready"})
        return json_response({"status": "not ready", "reason": "cluster state not synced yet"}, 503)

    @app.get(METRICS_PATH)
    def prometheus() -> Response:
        return Response(metrics.render(state), mimetype=metrics.content_type.split(";")[0],
                        content_type=metrics.content_type)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        status = err.code or 500
        if request.path == VALIDATE_PATH:
            metrics.bad_requests.labels("too-large" if status == 413 else f"http-{status}").inc()
        message = f"the body is larger than the {settings.max_body_bytes:,}-byte limit" if status == 413 \
            else (err.description or err.name)
        return json_response({"error": message, "status": status}, status)

    return app


def _validate(state: State, config: Config, settings: Settings, metrics: Metrics) -> Response:
    try:
        review = _read_review(settings)
    except BadRequest as err:
        metrics.bad_requests.labels(err.reason).inc()
        metrics.requests.labels("", "", "bad_request").inc()
        return json_response(err.body(), err.status)
    snapshot = state.current()
    try:
        if snapshot is None:
            raise RuntimeError("the cluster state is not synced yet")
        decision = judge(snapshot, review, config, settings.mode)
    except BadRequest as err:
        metrics.bad_requests.labels(err.reason).inc()
        metrics.requests.labels(review.operation, _kind(review), "bad_request").inc()
        return json_response(err.body(), err.status)
    except Exception as err:  # noqa: BLE001  (answered per --on-error, logged and counted)
        return _internal_error(review, err, settings, metrics)
    _count(review, decision, metrics)
    return json_response(response(review.uid, decision.allowed, decision.message, decision.warnings))


def _read_review(settings: Settings) -> AdmissionRequest:
    if request.mimetype != "application/json":
        raise BadRequest(415, f"Content-Type must be application/json, not {request.mimetype or 'missing'!r}",
                         "content-type")
    length = request.content_length
    if length is not None and length > settings.max_body_bytes:
        _drain(length, settings.max_body_bytes * DRAIN_FACTOR)
        raise BadRequest(413, f"the body is larger than the {settings.max_body_bytes:,}-byte limit",
                         "too-large")
    return parse_review(decode(request.get_data(cache=False)))


def _drain(length: int, most: int) -> None:
    """Read and drop a refused body (up to `most` bytes), so that a client that sends all of it before
    reading the answer gets the 413 instead of a broken connection."""
    stream = request.environ.get("wsgi.input")
    left = min(length, most)
    while stream is not None and left > 0:
        chunk = stream.read(min(left, 1 << 16))
        if not chunk:
            return
        left -= len(chunk)


def _internal_error(review: AdmissionRequest, err: Exception, settings: Settings,
                    metrics: Metrics) -> Response:
    LOG.error("could not judge %s %s/%s (uid %s): %s", review.operation, review.kind, review.name, review.uid,
              err, exc_info=not isinstance(err, RuntimeError))
    metrics.internal_errors.inc()
    metrics.requests.labels(review.operation, _kind(review), "error").inc()
    node = review.group == "" and review.kind == "Node"
    allowed = node or settings.on_error == "allow"
    text = f"ippool-validator could not judge this change ({err}); " + (
        "allowed: a Node write is never refused for the webhook's own fault" if node
        else "allowed because the webhook runs with --on-error allow" if allowed
        else "denied because the webhook runs with --on-error deny; retry, or see the webhook's logs")
    return json_response(response(review.uid, allowed, text, [text] if allowed else [], code=500))


def _kind(review: AdmissionRequest) -> str:
    """The kind as a metrics label: judged kinds by name, anything else as "other" (bounded labels)."""
    return review.kind if (review.group, review.kind) in JUDGED_KINDS else "other"


def _count(review: AdmissionRequest, decision: Decision, metrics: Metrics) -> None:
    outcome = "skip" if not decision.judged else ("allow" if decision.allowed else "deny")
    metrics.requests.labels(review.operation, _kind(review), outcome).inc()
    for rule in decision.denied_rules if not decision.allowed else ():
        metrics.denials.labels(rule).inc()
    if not decision.allowed:
        LOG.info("denied %s %s/%s%s: %s", review.operation, review.kind, review.name,
                 " (dry run)" if review.dry_run else "", ", ".join(decision.denied_rules))
