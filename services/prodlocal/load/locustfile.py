"""50 people on prod-local: sponsors and editors browse, save and poll.

Accounts come from LOAD_ACCOUNTS (a JSON file written by load.py): approved
sponsors and editors, each sponsor with documents assigned to one editor.
"""

import json
import os
import random
import re

from locust import HttpUser, between, task

TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
REVISION_RE = re.compile(r'name="base_revision"[^>]*value="(\d+)"')
with open(os.environ["LOAD_ACCOUNTS"]) as accounts:
    ACCOUNTS = json.load(accounts)
WORDS = ["the", "package", "maintainer", "should", "update", "the", "archive", "before", "the", "release"]


class Person(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    role = None

    def on_start(self):
        self.client.trust_env = False  # verify against prod-local's own certificate
        self.client.verify = ACCOUNTS["certificate"]
        account = random.choice(ACCOUNTS[self.role])
        self.documents = account["documents"]
        page = self.client.get("/login", name="/login").text
        self.post(
            "/login",
            page,
            {"email": account["email"], "password": ACCOUNTS["password"]},
        )

    def post(self, path, page, data, name=None):
        """POST a form; 302 is success, and so is 409 (someone saved first:
        the app refused a stale form, as it must)."""
        token = TOKEN_RE.search(page).group(1)
        with self.client.post(
            path,
            data={"csrf_token": token, **data},
            headers={"Referer": self.host + path},
            name=name or path,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code in (302, 409):
                response.success()
            else:
                response.failure(f"status {response.status_code}")

    def document_url(self, document_id):
        return f"/{self.role}/documents/{document_id}"

    @task(4)
    def browse_list(self):
        self.client.get(f"/{self.role}/documents", name=f"/{self.role}/documents")

    @task(4)
    def open_document(self):
        document_id = random.choice(self.documents)
        self.client.get(
            self.document_url(document_id), name=f"/{self.role}/documents/<id>"
        )

    @task(8)
    def poll_status(self):
        document_id = random.choice(self.documents)
        self.client.get(
            f"/documents/{document_id}/status.json", name="/documents/<id>/status.json"
        )

    @task(1)
    def save_edit(self):
        document_id = random.choice(self.documents)
        url = self.document_url(document_id)
        page = self.client.get(url, name=f"/{self.role}/documents/<id>").text
        revision = REVISION_RE.search(page)
        if revision is None:  # approved or archived: nothing to edit
            return
        body = " ".join(random.choices(WORDS, k=12))
        data = {
            "document_name": "Load test",
            "document_body": body,
            "base_revision": revision.group(1),
        }
        if self.role == "sponsor":
            data["editor_id"] = re.search(
                r'<option selected value="(\d+)"', page
            ).group(1)
        self.post(url, page, data, name=f"/{self.role}/documents/<id>")


class Sponsor(Person):
    role = "sponsor"


class Editor(Person):
    role = "editor"
