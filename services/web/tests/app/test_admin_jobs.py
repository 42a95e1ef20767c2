"""/admin/jobs: the queue by person and by worker, for admins only."""

import re

import pytest
from sqlalchemy import select

from docdraft.extensions import db
from docdraft.jobs.queue import report_worker
from docdraft.jobs.runner import claim
from docdraft.models import Autodoc, Revision, Role

WORKER = "gpu<1>:42"


def jobs_of(app, document_id):
    with app.app_context():
        return db.session.scalars(
            select(Autodoc.id).join(Revision).where(Revision.document_id == document_id)
        ).all()


@pytest.fixture
def queue(app, login_as, editor, create_document):
    """Ann (a name with markup) has two jobs, one running on WORKER; Bob one."""
    ann = login_as(Role.sponsor, name="<b>Ann</b>")
    bob = login_as(Role.sponsor, name="Bob")
    ann_docs = [create_document(ann, editor.user_id, name=f"A{n}") for n in (1, 2)]
    bob_doc = create_document(bob, editor.user_id, name="B")
    [running] = jobs_of(app, ann_docs[0])
    with app.app_context():
        assert claim(running, WORKER)
        report_worker(WORKER, "tf", 8, 1)
    return {
        "running": running,
        "ann_waiting": jobs_of(app, ann_docs[1])[0],
        "bob_waiting": jobs_of(app, bob_doc)[0],
    }


def section(page, anchor):
    return page.split(f'id="{anchor}"')[1].split("<h2")[0]


def test_the_page_shows_the_queue_by_person_and_by_worker(admin, queue):
    page = admin.get("/admin/jobs").get_data(as_text=True)
    assert "<b>Ann</b>" not in page and "&lt;b&gt;Ann&lt;/b&gt;" in page
    assert "gpu<1>" not in page and "gpu&lt;1&gt;:42" in page
    assert re.search(r"2 waiting \(the oldest for \d+ s\),\s+1 running\.", page)
    people = section(page, "by-person")
    ann_row = re.search(r"Ann.*?</tr>", people, re.S).group(0)
    assert re.findall(r'class="count">(\d+)<', ann_row) == ["1", "1"]
    workers = section(page, "by-worker")
    assert "tf · batch size 8 · 1 of 8 rows in use" in workers
    assert "last heartbeat" in workers
    assert f'id="job-{queue["running"]}"' in workers
    # Waiting jobs in the order workers take them: Ann has one running, so
    # Bob's only job goes first.
    waiting = section(page, "waiting")
    rows = re.findall(r'id="job-(\d+)">\s*<td class="count">(\w+)</td>', waiting)
    assert rows == [
        (str(queue["bob_waiting"]), "1st"),
        (str(queue["ann_waiting"]), "2nd"),
    ]
    for job in ("running", "ann_waiting", "bob_waiting"):
        assert f'action="/admin/jobs/{queue[job]}/cancel"' in page


def test_an_empty_queue_says_so(admin):
    page = admin.get("/admin/jobs").get_data(as_text=True)
    assert "No job is waiting or running." in page
    assert "0 waiting" in page


@pytest.mark.parametrize("role", [Role.sponsor, Role.editor])
def test_only_admins_see_the_queue(login_as, role):
    assert login_as(role).get("/admin/jobs").status_code == 403


def test_the_admin_navigation_links_the_queue(admin):
    assert 'href="/admin/jobs"' in admin.get("/admin/users").get_data(as_text=True)
