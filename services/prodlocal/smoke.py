"""A smoke walk through nginx: signup, approval, a document, its text done;
then what an attacker would try on the edges.

    bash with_prod_local.sh python smoke.py      (make prod-smoke)

Where prod-local is comes from PROD_BASE, PROD_CERT (its self-signed
certificate: TLS is verified against it), PROD_ADMIN_EMAIL/PASSWORD, and
its env file: WEB_PORT (gunicorn, behind nginx) and TRUSTED_PROXIES (nginx's
own address, the only one whose X-Forwarded-For is believed).

Beyond the walk it checks: a 60 kB body saved through nginx comes back
whole; nginx's own answers (413, 414, 431, 404) carry the app's security
headers and its error page; pages are not gzipped; HTTP/0.9 and CBC suites
are refused; gunicorn's port does not believe a forged X-Forwarded-For; and,
started as root, nginx's workers (and, where they can, gunicorn and Celery)
run as prod-local's own user.

Prints one JSON line; exits non-zero at the first step that fails.
"""

import http.client
import json
import os
import pwd
import re
import socket
import ssl
import subprocess
import sys
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import requests

PASSWORD = "smoke walk through nginx " + uuid.uuid4().hex[:8]
# docdraft/security.py's, read off an app page and expected on nginx's own.
SECURITY_HEADERS = (
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "X-Frame-Options",
    "Strict-Transport-Security",
)
PUBLIC_ADDRESS = "93.184.216.34"  # public (documentation ranges count as private)


class Forms(HTMLParser):
    """Each form's target and what a browser sends unasked: its hidden inputs
    (CSRF token, form key, base revision) and each select's chosen option."""

    def __init__(self, page_path):
        super().__init__()
        self.page_path = page_path
        self.forms = []  # (path it posts to, {name: value})
        self.select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            target = urlsplit(attrs.get("action") or self.page_path).path
            self.forms.append((target, {}))
        elif not self.forms:
            return
        elif tag == "input" and attrs.get("type") == "hidden" and attrs.get("name"):
            self.forms[-1][1][attrs["name"]] = attrs.get("value") or ""
        elif tag == "select":
            self.select = attrs.get("name")
        elif tag == "option" and self.select and "selected" in attrs:
            self.forms[-1][1][self.select] = attrs.get("value") or ""

    def fields(self, target):
        return next(fields for path, fields in self.forms if path == target)


class Visitor:
    certificate = None

    def __init__(self, base):
        self.base = base
        self.session = requests.Session()

    def get(self, path):
        response = self.session.get(
            self.base + path, timeout=30, verify=self.certificate
        )
        response.raise_for_status()
        return response

    def submit(self, path, data, form_path=None):
        """Post `data` as the form on `form_path` (default: `path`) would."""
        form_path = form_path or path
        forms = Forms(form_path)
        forms.feed(self.get(form_path).text)
        response = self.session.post(
            self.base + path,
            data={**forms.fields(path), **data},
            # Over HTTPS, Flask-WTF also checks the Referer, as browsers send it.
            headers={"Referer": self.base + form_path},
            allow_redirects=False,
            timeout=30,
            verify=self.certificate,
        )
        assert response.status_code == 302, (path, response.status_code)
        return response


def wait_ready(base, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/readyz", verify=Visitor.certificate, timeout=5).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise SystemExit(f"{base}/readyz never answered 200")


def signup(base, role):
    visitor = Visitor(base)
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    visitor.submit(
        f"/signup/{role}",
        {
            "name": f"Smoke {role}",
            "email": email,
            "password": PASSWORD,
            "confirm": PASSWORD,
            "organization": "Smoke",
        },
    )
    return visitor, email


def walk(base, admin_email, admin_password):
    """Signup, approval, a document and its suggestion done: (sponsor, id, status)."""
    sponsor, sponsor_email = signup(base, "sponsor")
    editor, editor_email = signup(base, "editor")
    admin = Visitor(base)
    admin.submit("/login", {"email": admin_email, "password": admin_password})
    users = admin.get("/admin/users").text
    for email in (sponsor_email, editor_email):
        row = users[users.index(email) :]
        user_id = re.search(r"/admin/users/(\d+)/approve", row).group(1)
        admin.submit(f"/admin/users/{user_id}/approve", {}, "/admin/users")
    sponsor.submit("/login", {"email": sponsor_email, "password": PASSWORD})
    editor.submit("/login", {"email": editor_email, "password": PASSWORD})
    form = sponsor.get("/sponsor/documents/new").text
    editor_id = re.search(r'<option value="(\d+)">Smoke editor', form).group(1)
    created = sponsor.submit(
        "/sponsor/documents/new",
        {
            "document_name": "Smoke walk",
            "document_body": "To install a package with apt,",
            "editor_id": editor_id,
        },
    )
    document_id = created.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = sponsor.get(f"/documents/{document_id}/status.json").json()
        if status["status"] in ("done", "failed"):
            break
        time.sleep(1)
    assert status["status"] == "done", status
    assert "Smoke walk" in editor.get(f"/editor/documents/{document_id}").text
    return sponsor, document_id, status


def save_a_large_body(sponsor, document_id):
    """60 kB of UTF-8 (180 kB urlencoded): nginx keeps it on disk on the way."""
    body = "é" * 30_000
    page = f"/sponsor/documents/{document_id}"
    sponsor.submit(page, {"document_name": "Smoke walk", "document_body": body})
    assert body in sponsor.get(page).text, "the 60 kB body did not come back whole"
    return len(body.encode())


def nginx_connection(base, certificate):
    address = urlsplit(base)
    context = ssl.create_default_context(cafile=certificate)
    return http.client.HTTPSConnection(
        address.hostname, address.port, context=context, timeout=10
    )


def nginx_answer(base, certificate, method, path, headers=None, length=None):
    """What nginx answers by itself: status, headers, page. With `length`, the
    request announces a body of that size and sends none."""
    connection = nginx_connection(base, certificate)
    try:
        connection.putrequest(method, path)
        for name, value in {**(headers or {}), "Content-Length": length}.items():
            if value is not None:
                connection.putheader(name, str(value))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        connection.close()


def check_nginx_answers(base, certificate):
    """nginx's own refusals carry the app's headers, its error page, and no
    version; a request line or header too long for gunicorn never reaches it."""
    app_page = requests.get(base + "/login", verify=certificate, timeout=10)
    expected = {name: app_page.headers[name] for name in SECURITY_HEADERS}
    cases = {
        413: ("POST", "/login", {}, 2_000_000, "Too large · Docdraft"),
        414: ("GET", "/" + "a" * 5000, {}, None, "Address too long · Docdraft"),
        431: ("GET", "/", {"X-Big": "a" * 5000}, None, "Headers too large"),
        404: ("GET", "/metrics", {}, None, "Not found · Docdraft"),
    }
    for code, (method, path, headers, length, title) in cases.items():
        status, got, page = nginx_answer(
            base, certificate, method, path, headers, length
        )
        assert status == code, (path[:40], status, page[:200])
        for name, value in expected.items():
            assert got.get(name) == value, (code, name, got.get(name))
        assert got.get("Server") == "nginx", got.get("Server")
        assert title in page, (code, page[:200])
    return sorted(cases)


def check_compression(sponsor):
    """Pages (they carry CSRF tokens) are never gzipped; static files are."""
    gzip = {"Accept-Encoding": "gzip"}
    page = sponsor.session.get(
        sponsor.base + "/sponsor/documents", headers=gzip, verify=Visitor.certificate
    )
    assert "Content-Encoding" not in page.headers, page.headers
    css = sponsor.session.get(
        sponsor.base + "/static/css/app.css", headers=gzip, verify=Visitor.certificate
    )
    assert css.headers.get("Content-Encoding") == "gzip", css.headers
    return css.headers.get("Cache-Control")


def check_http09_and_ciphers(base, certificate):
    """HTTP/0.9 gets no answer; TLS 1.2 offers AEAD suites only, in nginx's
    order (a client that prefers ChaCha20 still gets nginx's first choice)."""
    address = urlsplit(base)

    def handshake(ciphers):
        context = ssl.create_default_context(cafile=certificate)
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(ciphers)
        raw = socket.create_connection((address.hostname, address.port), timeout=10)
        return context.wrap_socket(raw, server_hostname=address.hostname)

    with handshake("ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256") as tls:
        chosen = tls.cipher()[0]
        tls.sendall(b"GET /\r\n")
        try:
            answer = tls.recv(1024)
        except (ssl.SSLError, ConnectionError):
            answer = b""  # closed without a word: refused
        assert answer == b"", f"nginx answered an HTTP/0.9 request: {answer[:80]}"
    assert chosen == "ECDHE-RSA-AES128-GCM-SHA256", chosen
    cbc = "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA256:AES128-SHA"
    try:
        handshake(cbc).close()
    except ssl.SSLError:
        return chosen
    raise AssertionError("nginx accepted a CBC suite")


def ask_gunicorn(path, source, forwarded_for):
    """Straight to gunicorn's port, from `source`, forwarding `forwarded_for`."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", int(os.environ["WEB_PORT"]), timeout=10, source_address=(source, 0)
    )
    try:
        connection.request("GET", path, headers={"X-Forwarded-For": forwarded_for})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def check_forwarded_for():
    """A local caller that forges a public address is still itself (/metrics
    stays open to it); nginx's address is believed (/metrics closes, and
    /readyz tells that outsider only ready or not)."""
    proxy = os.environ["TRUSTED_PROXIES"]
    assert proxy != "127.0.0.1", "nginx must have an address of its own"
    status, _ = ask_gunicorn("/metrics", "127.0.0.1", PUBLIC_ADDRESS)
    assert status == 200, f"gunicorn believed a forged X-Forwarded-For ({status})"
    status, _ = ask_gunicorn("/metrics", proxy, PUBLIC_ADDRESS)
    assert status == 404, f"gunicorn did not believe nginx ({status})"
    status, body = ask_gunicorn("/readyz", proxy, PUBLIC_ADDRESS)
    assert (status, json.loads(body)) == (200, {"ready": True}), (status, body)
    return proxy


def check_mail_sent(timeout=60):
    """The walk's approvals and assignment were mailed: the mailer took each
    from the outbox and sent it (to the log: prod-local sets no MAIL_SERVER)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(os.environ["DATABASE_URL"]) as connection:
            rows = connection.execute(
                "SELECT status, count(*) FROM mail_outbox GROUP BY status"
            )
            counts = dict(rows.fetchall())
        if counts.get("sent") and set(counts) == {"sent"}:
            return counts["sent"]
        assert time.monotonic() < deadline, f"mail not sent: {counts}"
        time.sleep(1)


def check_program_users(state):
    """Started as root, nginx's workers run as prod-local's own user, and so do
    gunicorn and Celery where it can run the venv's Python (APP_USER says
    which); gunicorn's metrics are in the state directory."""
    metrics = list(Path(state, "run", "metrics").glob("*.db"))
    assert metrics, "no metrics files in the state directory"
    if os.geteuid() != 0:
        return "one user (not started as root)"
    expected = {
        "nginx workers": pwd.getpwnam(os.environ["RUN_USER"]).pw_uid,
        "web": pwd.getpwnam(os.environ["APP_USER"]).pw_uid,
    }
    expected["worker"] = expected["beat"] = expected["mailer"] = expected["web"]
    # Root only by run.sh's stated fallback: a checkout its user cannot reach.
    fallback = os.environ["RUN_USER"] == "root"
    assert fallback or expected["nginx workers"] != 0, "nginx's workers as root"
    for program, uid in expected.items():
        pid = supervisor_pid(state, program.split()[0])
        pids = children(pid) if program == "nginx workers" else [pid]
        assert pids and {owner(p) for p in pids} == {uid}, (program, pids, uid)
    return {program: pwd.getpwuid(uid).pw_name for program, uid in expected.items()}


def supervisor_pid(state, program):
    out = subprocess.run(
        [
            Path(sys.executable).parent / "supervisorctl",
            "-c",
            f"{state}/supervisord.conf",
        ]
        + ["pid", program],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip())


def children(pid):
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def owner(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(
        next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1]
    )


def main(base, certificate, admin_email, admin_password):
    started = time.monotonic()
    Visitor.certificate = certificate
    wait_ready(base, 300)
    sponsor, document_id, status = walk(base, admin_email, admin_password)
    results = {
        "smoke": "ok",
        "document": int(document_id),
        "suggestion_chars": len(status["text"]),
        "large_body_bytes": save_a_large_body(sponsor, document_id),
        "static_cache_control": check_compression(sponsor),
        "nginx_pages_with_headers": check_nginx_answers(base, certificate),
        "tls12_cipher": check_http09_and_ciphers(base, certificate),
        "trusted_proxy": check_forwarded_for(),
        "program_users": check_program_users(os.environ["PROD_LOCAL_STATE"]),
        "mail_sent": check_mail_sent(),
    }
    results["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main(
        os.environ["PROD_BASE"],
        os.environ["PROD_CERT"],
        os.environ["PROD_ADMIN_EMAIL"],
        os.environ["PROD_ADMIN_PASSWORD"],
    )
