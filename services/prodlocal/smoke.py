"""A smoke walk through nginx: signup, approval, a document, its text done.

    bash with_prod_local.sh python smoke.py      (make prod-smoke)

Where prod-local is comes from PROD_BASE, PROD_CERT (its self-signed
certificate: TLS is verified against it) and PROD_ADMIN_EMAIL/PASSWORD.

Prints one JSON line; exits non-zero at the first step that fails.
"""

import json
import os
import re
import time
import uuid

import requests

TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PASSWORD = "smoke walk through nginx " + uuid.uuid4().hex[:8]


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
        form_url = self.base + (form_path or path)
        token = TOKEN_RE.search(self.get(form_path or path).text).group(1)
        response = self.session.post(
            self.base + path,
            data={"csrf_token": token, **data},
            # Over HTTPS, Flask-WTF also checks the Referer, as browsers send it.
            headers={"Referer": form_url},
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


def main(base, certificate, admin_email, admin_password):
    started = time.monotonic()
    Visitor.certificate = certificate
    wait_ready(base, 300)
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
    page = editor.get(f"/editor/documents/{document_id}").text
    assert "Smoke walk" in page
    static = sponsor.get("/static/css/app.css")
    hidden = requests.get(base + "/metrics", verify=Visitor.certificate, timeout=10)
    assert hidden.status_code == 404, "nginx must not expose /metrics"
    print(
        json.dumps(
            {
                "smoke": "ok",
                "document": int(document_id),
                "suggestion_chars": len(status["text"]),
                "static_cache_control": static.headers.get("Cache-Control"),
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main(
        os.environ["PROD_BASE"],
        os.environ["PROD_CERT"],
        os.environ["PROD_ADMIN_EMAIL"],
        os.environ["PROD_ADMIN_PASSWORD"],
    )
