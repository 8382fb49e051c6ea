"""LAN mode (server/lan.py): the class code gates every page and API route, expensive routes are
rate-limited per client with 429 + Retry-After, and no response names a library version."""
import threading
import urllib.request

import pytest

from convscope.server import cli, create_app, serving

CODE = "K7P2QX"
GOOD_DIGIT = {"image": [[0.0] * 8] + [[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]] * 6 + [[0.0] * 8]}
LAB = {"image": [[0.0, 0.5, 1.0]] * 5, "kernel": [[1]]}


@pytest.fixture
def coded(test_config):
    return create_app({**test_config, "CLASS_CODE": CODE}).test_client()


def api_routes(app):
    """Every (method, path) under /api/ the app has, built by the app's own URL map."""
    values = {"name": "conv1", "sample_id": 0, "position": 0, "job_id": "abcd1234"}
    urls = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = urls.build(rule.endpoint, {arg: values[arg] for arg in rule.arguments})
            for method in sorted(rule.methods):
                yield method, path


def test_without_the_code_every_api_route_but_health_is_refused(coded):
    routes = list(api_routes(coded.application))
    assert len(routes) >= 7 and ("GET", "/api/samples/0") in routes and ("OPTIONS", "/api/forward") in routes
    for method, path in routes:
        r = coded.open(path, method=method, json=GOOD_DIGIT if method == "POST" else None)
        if path == "/api/health":
            assert r.status_code == 200
        elif method == "HEAD":
            assert r.status_code == 403 and r.data == b"", path
        else:
            assert r.status_code == 403 and r.get_json()["error"]["code"] == "class_code_required", (method, path)


def test_pages_send_a_student_to_the_join_form_and_back(coded):
    for page in ("/", "/kernels", "/train"):
        r = coded.get(page)
        assert r.status_code == 302 and r.headers["Location"].startswith("/join?next=" + page)
    with coded.get("/static/css/app.css") as css:                        # the join page's styles
        assert css.status_code == 200
    form = coded.get("/join?next=/kernels")
    assert form.status_code == 200 and b'name="code"' in form.data and b"<script" not in form.data
    wrong = coded.post("/join", data={"code": "NOPE", "next": "/kernels"})
    assert wrong.status_code == 403 and b"not the class code" in wrong.data
    assert coded.get("/api/model").status_code == 403
    ok = coded.post("/join", data={"code": f" {CODE} ", "next": "/kernels"})
    assert ok.status_code == 302 and ok.headers["Location"] == "/kernels"
    assert coded.get("/kernels").status_code == 200 and coded.get("/").status_code == 200
    assert coded.post("/api/forward", json=GOOD_DIGIT).status_code == 200
    assert coded.post("/api/convolve", json=LAB).status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "evil"])
def test_join_never_redirects_off_the_site(coded, target):
    r = coded.get(f"/join?code={CODE}&next={target}")
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_a_link_with_the_code_joins_in_one_click(coded):
    r = coded.get(f"/join?code={CODE}")
    assert r.status_code == 302 and coded.get("/api/model").status_code == 200


def test_expensive_routes_are_rate_limited_per_client(test_config, monkeypatch):
    app = create_app({**test_config, "RATE_LIMITS": {"convscope.convolve": (1.0, 3)}})
    now = [1000.0]
    app.extensions["convscope.lan"]["convscope.convolve"].clock = lambda: now[0]
    client = app.test_client()
    statuses = [client.post("/api/convolve", json=LAB).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    r = client.post("/api/convolve", json=LAB)
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
    other = client.post("/api/convolve", json=LAB, environ_overrides={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200                                       # another computer is not held back
    assert client.post("/api/forward", json=GOOD_DIGIT).status_code == 200  # an unlimited route is not either
    now[0] += 1.0
    assert client.post("/api/convolve", json=LAB).status_code == 200      # a token came back


@pytest.mark.parametrize("host, limited", [("0.0.0.0", True), ("192.168.1.20", True), ("::", True),
                                           ("127.0.0.1", False), ("localhost", False), ("::1", False)])
def test_serving_beyond_loopback_turns_the_limits_on(host, limited):
    settings = cli.lan_settings(host, None, False)
    assert ("RATE_LIMITS" in settings) == limited and "CLASS_CODE" not in settings
    assert "RATE_LIMITS" not in cli.lan_settings(host, None, True)


def test_an_automatic_class_code_is_six_unambiguous_characters():
    codes = {cli.lan_settings("0.0.0.0", "auto", False)["CLASS_CODE"] for _ in range(20)}
    assert len(codes) > 15
    assert all(len(c) == 6 and not set(c) & set("01OI") for c in codes)


def test_the_server_header_names_no_library_or_version(test_config):
    app = create_app(dict(test_config))
    server = serving.make_werkzeug(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for path in ("/", "/api/health", "/api/nope", "/static/css/app.css"):
            try:
                r = urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{path}")
            except urllib.error.HTTPError as exc:
                r = exc
            with r:
                r.read()    # the whole body, so the server finishes (and closes) what it sends
                assert r.headers["Server"] == "ConvScope", path
                assert "Werkzeug" not in str(r.headers) and "Python/" not in str(r.headers)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/x", "/\r\n/x", "/ /evil", "/\x7f/x"])
def test_join_refuses_control_characters_in_next(coded, target):
    r = coded.get("/join", query_string={"code": CODE, "next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_a_page_path_with_a_newline_is_a_redirect_not_a_500(coded):
    r = coded.get("/%0a")
    assert r.status_code == 302 and r.headers["Location"].startswith("/join")
    r = coded.get("/?a=1&code=x")                   # the original query stays inside next, encoded
    assert r.status_code == 302 and "code=x" not in r.headers["Location"].split("next=")[0]


def test_codes_are_case_insensitive_strings_and_gated_answers_are_private(test_config):
    app = create_app({**test_config, "CLASS_CODE": 123456})
    client = app.test_client()
    assert client.get("/api/model").status_code == 403          # a numeric code works, not a 500
    assert client.get("/join?code=123456").status_code == 302
    model = client.get("/api/model")
    assert model.status_code == 200 and "private" in model.headers["Cache-Control"]
    assert "public" not in model.headers["Cache-Control"] and "Set-Cookie" not in model.headers
    lower = create_app({**test_config, "CLASS_CODE": CODE}).test_client()
    assert lower.get(f"/join?code={CODE.lower()}").status_code == 302 and lower.get("/").status_code == 200


def test_an_empty_class_code_is_a_one_line_error(capsys):
    assert cli.main(["--class-code", " "]) == 2
    assert "--class-code must not be empty" in capsys.readouterr().err


def test_behind_one_address_each_joined_browser_has_its_own_bucket(test_config):
    app = create_app({**test_config, "CLASS_CODE": CODE, "RATE_LIMITS": {"convscope.convolve": (0.001, 2)}})
    a, b = app.test_client(), app.test_client()
    for client in (a, b):
        assert client.get(f"/join?code={CODE}").status_code == 302
    assert [a.post("/api/convolve", json=LAB).status_code for _ in range(3)] == [200, 200, 429]
    assert b.post("/api/convolve", json=LAB).status_code == 200       # same address, another browser


def test_the_class_page_shows_the_link_code_and_qr_only_on_this_machine(test_config):
    client = create_app({**test_config, "CLASS_CODE": CODE}).test_client()
    page = client.get("/class")                               # the teacher, on loopback, needs no code
    assert page.status_code == 200 and CODE.encode() in page.data and b"<svg" in page.data
    assert b"<script" not in page.data and b"/join?code=" + CODE.encode() in page.data
    far = client.get("/class", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert far.status_code == 404


def test_the_terminal_banner_has_the_address_and_a_qr_code_of_it():
    from convscope.server import lan
    text = cli.class_banner("0.0.0.0", 8123, CODE)
    url = lan.join_url(lan.lan_address(), 8123, CODE)
    assert f"students open {url}" in text and f"class code: {CODE}" in text and "/class" in text
    qr = lan.qr_text(url)
    assert qr in text and set(qr) <= set(" \xa0▀▄█\n") and len(qr.splitlines()) >= 12
    # the QR code decodes to the URL: rebuild the module matrix from the block characters
    import qrcode
    q = qrcode.QRCode(border=2)
    q.add_data(url)
    q.make(fit=True)
    matrix = q.get_matrix()
    rows = qr.splitlines()
    top = {"█": (1, 1), "▀": (1, 0), "▄": (0, 1), " ": (0, 0), "\xa0": (0, 0)}
    rebuilt = []
    for line in rows:
        pairs = [top[ch] for ch in line]
        rebuilt += [[1 - a for a, _ in pairs], [1 - b for _, b in pairs]]   # printed inverted
    assert [list(map(int, r)) for r in matrix] == rebuilt[:len(matrix)]
    assert cli.class_banner("192.168.5.5", 80, None).count("http://192.168.5.5:80/") == 1
