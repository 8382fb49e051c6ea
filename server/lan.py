"""Serving beyond this machine: a class code and per-client rate limits.

``convscope serve --host 0.0.0.0`` (any address but loopback) turns on LAN mode: every expensive API
route is rate-limited per client address (429 with ``Retry-After``), and, with ``--class-code``, the
pages and the API answer only browsers that entered the code once (``/join``; a student's link may
carry it as ``/join?code=…``).  On loopback none of this applies unless configured.

Config: ``CLASS_CODE`` (None: no code), ``RATE_LIMITS`` ({endpoint: (requests per second, burst)};
None: no limits).  Limits are per worker process: with ``--workers N`` a client may get up to N times
the rate, which the defaults allow for.
"""
from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict

from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, redirect, render_template_string, request, session, url_for

from .errors import ApiError

bp = Blueprint("lan", __name__)

# endpoint → (sustained requests per second, burst) per client in LAN mode.  A student drawing sends
# about 20 forwards a second while the pen moves; the kernel lab's 512×512 calls cost 100× more.
LAN_RATE_LIMITS = {"convscope.forward": (40.0, 80), "convscope.convolve": (8.0, 16),
                   "convscope.samples": (20.0, 40), "convscope.sample": (40.0, 80),
                   "convscope.layer_weights": (20.0, 40), "convscope.upload_model": (0.1, 3),
                   "convscope.explain_route": (10.0, 20), "convscope.synthesize_route": (1.0, 5),
                   "convscope.embedding": (1.0, 5), "convscope.top_images": (5.0, 10),
                   "training.start": (0.05, 2), "training.snapshot_now": (1.0, 5), "training.save": (0.2, 5),
                   "training.download": (0.5, 5), "training.check_design": (5.0, 20),
                   "lan.join": (0.2, 10)}
OPEN_ENDPOINTS = {"lan.join", "lan.class_page", "static", "convscope.plotly_js", "convscope.health"}
CLIENTS_KEPT = 10_000   # rate-limit state kept for at most this many client addresses (oldest dropped)


class TokenBuckets:
    """One token bucket per key: ``take(key)`` → 0 if allowed, else seconds until a token is back."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.lock = threading.Lock()

    def take(self, key: str) -> float:
        with self.lock:
            now = self.clock()
            tokens, last = self.buckets.pop(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self.buckets[key] = (tokens - 1 if tokens >= 1 else tokens, now)
            while len(self.buckets) > CLIENTS_KEPT:
                self.buckets.popitem(last=False)
            return wait


JOIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>ConvScope · class code</title>
<link rel="stylesheet" href="{{ url_for('static', filename='css/tokens.css') }}">
<link rel="stylesheet" href="{{ url_for('static', filename='css/app.css') }}"></head>
<body><main id="main" class="join"><section class="panel">
<h1>ConvScope</h1><p>Your teacher's screen shows a class code. Enter it once to open ConvScope.</p>
<form method="post" action="{{ url_for('lan.join') }}">
<input type="hidden" name="next" value="{{ next }}">
<label>Class code <input name="code" autocomplete="off" autofocus required maxlength="64"></label>
<button type="submit">Open</button></form>
{% if wrong %}<p class="error" role="alert">That is not the class code. Check it and try again.</p>{% endif %}
</section></main></body></html>"""


def _safe_next(target: str | None) -> str:
    """Only a path on this site: printable ASCII with no spaces or control characters (browsers drop
    a tab or newline, turning "/\t/evil" into "//evil"), no backslash, no scheme, no host."""
    if (not target or not target.startswith("/") or "\\" in target
            or any(not 0x21 <= ord(ch) <= 0x7E for ch in target)):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return "/"
    return target


@bp.route("/join", methods=["GET", "POST"])
def join():
    code = current_app.config.get("CLASS_CODE")
    nxt = _safe_next(request.values.get("next"))
    if not code:
        return redirect(nxt)
    given = request.values.get("code")
    if given is not None:
        if hmac.compare_digest(given.strip().upper().encode(), code.upper().encode()):
            session["class"] = _token(code)      # a browser-session cookie: gone when the browser closes
            session["browser"] = secrets.token_hex(8)   # this browser's own rate-limit bucket
            return redirect(nxt)
        return render_template_string(JOIN_PAGE, next=nxt, wrong=True), 403
    return render_template_string(JOIN_PAGE, next=nxt, wrong=False)


CLASS_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>ConvScope · join the class</title>
<link rel="stylesheet" href="{{ url_for('static', filename='css/tokens.css') }}">
<link rel="stylesheet" href="{{ url_for('static', filename='css/app.css') }}"></head>
<body><main id="main" class="join class-link"><section class="panel">
<h1>Join the class</h1><p>Scan the code, or type the address into a browser on this network:</p>
<p class="class-url"><strong>{{ url }}</strong></p>
{% if code %}<p>Class code: <strong class="class-code">{{ code }}</strong></p>{% endif %}
<div class="class-qr" role="img" aria-label="QR code of {{ url }}">{{ svg|safe }}</div>
</section></main></body></html>"""


def lan_address() -> str:
    """This machine's address on its LAN, as students would type it: the source address the OS picks
    for a route out (a UDP socket's connect sends nothing), else the loopback address."""
    import socket
    for family, target in ((socket.AF_INET, ("10.255.255.255", 1)), (socket.AF_INET6, ("fd00::1", 1))):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect(target)
                address = s.getsockname()[0]
                if not address.startswith("127.") and address != "::1":
                    return address if family == socket.AF_INET else f"[{address}]"
        except OSError:
            continue
    return "127.0.0.1"


def join_url(address: str, port: int, code: str | None) -> str:
    return f"http://{address}:{port}/join?code={code}" if code else f"http://{address}:{port}/"


def qr_text(url: str) -> str:
    """The URL as a QR code in block characters, for a terminal (dark on light: inverted)."""
    import io
    import qrcode
    q = qrcode.QRCode(border=2)
    q.add_data(url)
    q.make(fit=True)
    out = io.StringIO()
    q.print_ascii(out=out, invert=True)
    return out.getvalue()


def qr_svg(url: str) -> str:
    import qrcode
    from qrcode.image.svg import SvgPathImage
    svg = qrcode.make(url, image_factory=SvgPathImage, border=2).to_string(encoding="unicode")
    return svg[svg.index("<svg"):]


@bp.get("/class")
def class_page():
    """For the teacher's screen (this machine only): the class's address, code and QR code."""
    if not _is_loopback_client():
        from flask import abort
        abort(404)
    port = request.host.rsplit(":", 1)[1] if ":" in request.host.rsplit("]", 1)[-1] else "80"
    code = current_app.config.get("CLASS_CODE")
    url = join_url(lan_address(), int(port), code)
    return render_template_string(CLASS_PAGE, url=url, code=code, svg=qr_svg(url))


def _is_loopback_client() -> bool:
    addr = request.remote_addr or ""
    return addr.startswith("127.") or addr == "::1"


def _token(code: str) -> str:
    """What the session holds: tied to the code, so a new code (a new class) needs a new join."""
    return hmac.new(current_app.secret_key, code.upper().encode(), "sha256").hexdigest()


def _gate():
    endpoint = request.endpoint or ""
    limits = current_app.extensions.get("convscope.lan")
    code = current_app.config.get("CLASS_CODE")
    if limits and endpoint in limits:
        # Behind a NAT a whole class shares one address: once joined, each browser has its own bucket.
        browser = session.get("browser") if code else None
        wait = limits[endpoint].take(f"{request.remote_addr}/{browser}" if browser else request.remote_addr or "?")
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ApiError(429, "rate_limited", f"Too many requests from this computer; try again in "
                           f"{seconds} s.", headers={"Retry-After": str(seconds)})
    if not code or endpoint in OPEN_ENDPOINTS or session.get("class") == _token(code):
        return None
    if request.path.startswith("/api/"):
        raise ApiError(403, "class_code_required", "This ConvScope asks for the class code: open it in a "
                       "browser and enter the code your teacher shows.")
    return redirect(url_for("lan.join", next=_safe_next(request.full_path.rstrip("?"))))


def private_when_gated(response):
    """Behind a class code nothing may sit in a shared cache (a proxy would hand it to anyone)."""
    if current_app.config.get("CLASS_CODE") and response.cache_control.public:
        response.cache_control.public = False
        response.cache_control.private = True
    return response


def init_app(app: Flask) -> None:
    code = app.config.get("CLASS_CODE")
    if code is not None:
        code = str(code).strip()     # CONVSCOPE_CLASS_CODE=123456 arrives as a number
        if not code:
            raise ValueError("the class code must not be empty")
        app.config["CLASS_CODE"] = code
    if code and not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secrets.token_bytes(32)   # one per start: a restart asks again
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False   # no Set-Cookie on every answer
    app.after_request(private_when_gated)
    limits = app.config.get("RATE_LIMITS")
    if limits:
        app.extensions["convscope.lan"] = {ep: TokenBuckets(rate, burst) for ep, (rate, burst) in limits.items()}
    app.register_blueprint(bp)
    app.before_request(_gate)
