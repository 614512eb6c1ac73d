"""Who reads: the viewer a request comes from, and the units it may see.

With a viewers file (``MONITOR_VIEWERS``) every read of the API, the
console's data, the reports and the event stream must come from a viewer:

- a trusted proxy's user header (``MONITOR_AUTH_PROXY_HEADER``, e.g.
  ``X-Forwarded-Email`` set by oauth2-proxy), matched against the viewers'
  ``users``;
- else a bearer token (``Authorization: Bearer …``), matched by its hash;
- else the console's session cookie, which holds a viewer's token
  (``POST /api/v1/session`` sets it: an ``EventSource`` and a link to a CSV
  or a report cannot send a header).

None of these is a 401 (with ``WWW-Authenticate: Bearer``), unless the
file lets anonymous readers read (``anonymous``): then it reads their units,
as nobody. One that matches no viewer is a 403. Without a viewers file every
request reads every unit (``OPEN``), as nobody. Nobody may act on an alert
(``actor_refusal``).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie

from monitor.http.answers import Answer, json_answer
from monitor.http.ingest import bearer
from monitor.http.protocol import WorkerView
from monitor.viewers import Scope

__all__ = [
    "OPEN",
    "SESSION_COOKIE",
    "actor_refusal",
    "forward_headers",
    "metrics_refusal",
    "session_cookie",
    "sign_in",
    "sign_out",
    "unit_refusal",
    "viewer_answer",
    "who_reads",
]

#: The scope of every request when no viewers file is configured.
OPEN = Scope("", "", None)
#: The console's session cookie: a viewer's token, sent by the browser with every request to the worker.
SESSION_COOKIE = "monitor_viewer"
_SESSION_SECONDS = 12 * 3600
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="compliance-monitor"'}
_COOKIE_SAFE = re.compile(r"[A-Za-z0-9._~+/=-]{1,512}")


def _cookie(header: str | None) -> str | None:
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


def who_reads(worker: WorkerView, headers: Mapping[str, str]) -> Scope | Answer:
    """The scope of the viewer the request comes from, or the 401 or 403 that refuses it."""
    viewers = worker.viewers
    if viewers is None:
        return OPEN
    access = viewers.access()
    proxy = worker.settings.auth_proxy_header
    user = headers.get(proxy) if proxy is not None else None
    getall = getattr(headers, "getall", None)
    if user and getall is not None and len(getall(proxy, ())) > 1:  # which one did the proxy set? neither is believed
        return json_answer({"error": f"the {proxy} header came more than once"}, status=400)
    if user:
        scope = access.for_user(user)
        if scope is None:
            return json_answer({"error": f"user {user[:200]!r} is no viewer's (viewers {access.version})"}, status=403)
        return scope
    authorization = headers.get("Authorization")
    token: str | None = _cookie(headers.get("Cookie"))
    if authorization:
        sent = bearer(authorization)
        if not isinstance(sent, str):
            return json_answer(sent.body, status=sent.status, headers=_CHALLENGE if sent.status == 401 else None)
        token = sent
    if token is None:
        if access.anonymous is not None:
            return access.anonymous
        how = f"sign in through the proxy ({proxy}), or " if proxy else ""
        return json_answer(
            {"error": f"who is asking? {how}send a viewer's token: Authorization: Bearer TOKEN"},
            status=401,
            headers=_CHALLENGE,
        )
    scope = access.for_token(token)
    if scope is None:
        return json_answer({"error": f"wrong token: it is no viewer's (viewers {access.version})"}, status=403)
    return scope


def unit_refusal(scope: Scope, unit_id: str) -> Answer | None:
    """The 403 for a viewer asking about a unit outside its scope, else ``None``."""
    if scope.admits(unit_id):
        return None
    return json_answer({"error": f"viewer '{scope.viewer}' may not see unit '{unit_id[:100]}'"}, status=403)


def actor_refusal(worker: WorkerView, scope: Scope, unit_id: str) -> Answer | None:
    """The refusal for a reader who may not act on an alert of ``unit_id``, else ``None``.

    Acting needs a viewer (a token, a session or the proxy's user): a reader
    who is nobody gets a 401 when viewers can sign in, a 403 without a
    viewers file; a viewer of other units gets a 403.
    """
    if not scope.identified:
        if worker.viewers is None:
            message = "acting on an alert needs a viewer's identity: this worker has no viewers file (MONITOR_VIEWERS)"
            return json_answer({"error": message}, status=403)
        return json_answer(
            {
                "error": "acting on an alert needs a viewer: sign in, or send a viewer's token: Authorization: Bearer TOKEN"
            },
            status=401,
            headers=_CHALLENGE,
        )
    if scope.admits(unit_id):
        return None
    return json_answer(
        {"error": f"viewer '{scope.viewer}' may not act on alerts of unit '{unit_id[:100]}'"}, status=403
    )


def forward_headers(worker: WorkerView, headers: Mapping[str, str]) -> dict[str, str]:
    """The request's credentials, for the worker that holds the unit asked about: it checks the viewer again."""
    names = ["Authorization", "Cookie"]
    if worker.settings.auth_proxy_header is not None:
        names.append(worker.settings.auth_proxy_header)
    return {name: headers[name] for name in names if name in headers}


def session_cookie(token: str | None, *, secure: bool) -> str:
    """The ``Set-Cookie`` value that starts (``token``) or ends (``None``) a console session."""
    value = token if token is not None else ""
    age = _SESSION_SECONDS if token is not None else 0
    secure_flag = "; Secure" if secure else ""
    return f"{SESSION_COOKIE}={value}; Max-Age={age}; Path=/; HttpOnly; SameSite=Strict{secure_flag}"


def viewer_answer(worker: WorkerView, scope: Scope) -> Answer:
    """``/api/v1/viewers/me``: who reads, and which units (``open``: no viewers file, every unit to anyone)."""
    names = worker.pack.unit_names
    body: dict[str, object] = {"open": worker.viewers is None, "anonymous": not scope.identified, **scope.as_json()}
    if scope.units is not None:
        body["units"] = [{"unit_id": u, "unit_name": names.get(u, u)} for u in sorted(scope.units)]
    return json_answer(body)


def sign_in(worker: WorkerView, body: bytes, *, secure: bool) -> Answer:
    """``POST /api/v1/session`` with ``{"token": …}``: the viewer's scope, and the cookie that carries the token."""
    if worker.viewers is None:
        return json_answer({"error": "no viewers file is configured: every unit is open to anyone"}, status=404)
    try:
        token = json.loads(body).get("token")
    except (ValueError, AttributeError, RecursionError):
        token = None
    if not isinstance(token, str) or not token.strip():
        return json_answer({"error": 'send {"token": "…"}: a viewer\'s token'}, status=400)
    if not _COOKIE_SAFE.fullmatch(token):
        return json_answer({"error": "a viewer's token is letters, digits and -._~+/= only"}, status=400)
    access = worker.viewers.access()
    scope = access.for_token(token)
    if scope is None:
        return json_answer({"error": f"wrong token: it is no viewer's (viewers {access.version})"}, status=403)
    answer = viewer_answer(worker, scope)
    return Answer(answer.status, answer.body, answer.content_type, {"Set-Cookie": session_cookie(token, secure=secure)})


def sign_out() -> Answer:
    """``DELETE /api/v1/session``: the cookie removed."""
    return json_answer({"signed_out": True}, headers={"Set-Cookie": session_cookie(None, secure=False)})


def metrics_refusal(worker: WorkerView, authorization: str | None) -> Answer | None:
    """The 401 or 403 for a scrape without ``MONITOR_METRICS_TOKEN`` (when one is set), else ``None``."""
    expected = worker.settings.metrics_token
    if expected is None:
        return None
    sent = bearer(authorization)
    if not isinstance(sent, str):
        return json_answer(sent.body, status=401, headers=_CHALLENGE)
    if not hmac.compare_digest(sent.encode(), expected.get_secret_value().encode()):
        return json_answer({"error": "wrong token for /metrics"}, status=403)
    return None
