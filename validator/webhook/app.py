"""The Flask application: POST /validate, GET /healthz, /readyz and /metrics.

Every answer is JSON, errors included. A request that is not a well-formed AdmissionReview gets a 4xx (the
API server then applies the webhook's failurePolicy); a failure inside the webhook is logged, counted, and
answered as `--on-error` says (deny by default), so nothing is ever allowed silently.

The request path reads forward, as Kyverno's handler chain does (pkg/webhooks/handlers): `handle` parses,
filters (a judged kind; the objects its operation needs), judges, and answers per the failure mode, each
step able to end the request with an `Outcome`; `count` then counts and logs that outcome, in one place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, NamedTuple

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_options_header
from werkzeug.sansio.utils import get_content_length

from ..config import Config
from ..model import DEFAULT_MAX_BODY_BYTES
from .admission import AdmissionRequest, BadRequest, decode, parse_review, require_objects, response
from .decision import Decision, Mode, failure_mode, is_judged, judge, judging_mode
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
        outcome = handle(state, config, settings)
        count(outcome, metrics)
        metrics.latency.observe(now() - started)
        return json_response(outcome.body, outcome.status)

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
        message = f"the body is larger than the {settings.max_body_bytes:,}-byte limit" if status == 413 \
            else (err.description or err.name)
        if request.path == VALIDATE_PATH:
            reason = "too-large" if status == 413 else f"http-{status}"
            count(refused(BadRequest(status, message, reason), None), metrics)
        return json_response({"error": message, "status": status}, status)

    return app


class Outcome(NamedTuple):
    """What became of one POST /validate: the answer, and what metrics and logs say about it."""

    status: int
    body: dict[str, Any]
    decision: str  # allow, deny, skip (kind not judged), error, bad_request
    request: AdmissionRequest | None = None
    reason: str = ""  # why a bad request was refused (a metrics label)
    denied_rules: tuple[str, ...] = ()


def handle(state: State, config: Config, settings: Settings) -> Outcome:
    """The request path, one step after another: parse, filter, judge; each step may end it."""
    try:
        review = _read_review(settings)
    except BadRequest as err:
        return refused(err, None)
    if not is_judged(review):
        return Outcome(200, response(review.uid, True), "skip", review)
    try:
        require_objects(review)
    except BadRequest as err:
        return refused(err, review)
    try:
        decision = _judge(state, review, config, settings)
    except Exception as err:  # noqa: BLE001  (answered per the failure mode, logged and counted)
        return _failed(review, err, settings)
    return Outcome(200, response(review.uid, decision.allowed, decision.message, decision.warnings),
                   "allow" if decision.allowed else "deny", review, denied_rules=decision.denied_rules)


def refused(err: BadRequest, review: AdmissionRequest | None) -> Outcome:
    return Outcome(err.status, err.body(), "bad_request", review, err.reason)


def _judge(state: State, review: AdmissionRequest, config: Config, settings: Settings) -> Decision:
    snapshot = state.current()
    if snapshot is None:
        raise RuntimeError("the cluster state is not synced yet")
    return judge(snapshot, review, config, judging_mode(review, settings.mode))


def _read_review(settings: Settings) -> AdmissionRequest:
    # The request's environ read as werkzeug's Request reads it (`mimetype`, `content_length`), with
    # werkzeug's own functions, but without building its header view: a few µs of every POST.
    environ = request.environ
    mimetype = parse_options_header(environ.get("CONTENT_TYPE", ""))[0].lower()
    if mimetype != "application/json":
        raise BadRequest(415, f"Content-Type must be application/json, not {mimetype or 'missing'!r}",
                         "content-type")
    length = get_content_length(environ.get("CONTENT_LENGTH"), environ.get("HTTP_TRANSFER_ENCODING"))
    if length is not None and length > settings.max_body_bytes:
        _drain(length, settings.max_body_bytes * DRAIN_FACTOR)
        raise BadRequest(413, f"the body is larger than the {settings.max_body_bytes:,}-byte limit",
                         "too-large")
    stream = environ.get("wsgi.input")
    if length is not None and stream is not None:  # what the front always sends: the whole body, counted
        return parse_review(decode(stream.read(length)))
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


def _failed(review: AdmissionRequest, err: Exception, settings: Settings) -> Outcome:
    LOG.error("could not judge %s %s/%s (uid %s): %s", review.operation, review.kind, review.name, review.uid,
              err, exc_info=not isinstance(err, RuntimeError))
    on_error = failure_mode(review, settings.on_error)
    allowed = on_error != "deny"
    text = f"ippool-validator could not judge this change ({err}); " + (
        "allowed: a Node write is never refused for the webhook's own fault" if on_error == "allow-node"
        else "allowed because the webhook runs with --on-error allow" if allowed
        else "denied because the webhook runs with --on-error deny; retry, or see the webhook's logs")
    answer = response(review.uid, allowed, text, [text] if allowed else [], code=500)
    return Outcome(200, answer, "error", review)


def _kind(review: AdmissionRequest | None) -> str:
    """The kind as a metrics label: judged kinds by name, anything else as "other" (bounded labels)."""
    if review is None:
        return ""
    return review.kind if (review.group, review.kind) in JUDGED_KINDS else "other"


def count(outcome: Outcome, metrics: Metrics) -> None:
    """The one place a request is counted (and a denial logged), whichever step ended it."""
    review = outcome.request
    metrics.count_request(review.operation if review else "", _kind(review), outcome.decision)
    if outcome.decision == "bad_request":
        metrics.bad_requests.labels(outcome.reason).inc()
    elif outcome.decision == "error":
        metrics.internal_errors.inc()
    elif outcome.decision == "deny":
        for rule in outcome.denied_rules:
            metrics.denials.labels(rule).inc()
    if outcome.decision == "deny" and review is not None:
        LOG.info("denied %s %s/%s%s: %s", review.operation, review.kind, review.name,
                 " (dry run)" if review.dry_run else "", ", ".join(outcome.denied_rules))
