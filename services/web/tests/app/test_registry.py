"""The model registry: base models, activation for a trained model's audience
only, the audit of it, /admin/models(.json), usage counts and the loss plot."""

import re
import threading

import pytest
from sqlalchemy import func, select

from docdraft.extensions import db
from docdraft.models import (
    AuditEvent,
    LanguageModel,
    ModelActivation,
    ModelOrigin,
    ModelStatus,
    Role,
    User,
)
from docdraft.training import registry
from docdraft.training.plot import loss_curve_svg

from .conftest import FakeGeneratorInfo, csrf_token

BASE_SHA = "a" * 64
RULE = "a trained model serves only the sponsors whose documents trained it"


def register_seed(app, sha=BASE_SHA, name="seed-tiny"):
    with app.app_context():
        return registry.register_base(name, "models/seedmodels/tiny", "seed", sha).id


def add_trained(app, base_id, audience, name="team-model", sha=None, **columns):
    """A trained model row, as the training job will leave it."""
    with app.app_context():
        model = LanguageModel(
            name=name,
            origin=ModelOrigin.trained,
            reference=f"store/{sha}",
            sha256=sha,
            base_id=base_id,
            status=columns.pop("status", ModelStatus.ready),
            audience=[db.session.get(User, user_id) for user_id in audience],
            **columns,
        )
        db.session.add(model)
        db.session.commit()
        return model.id


def active_models(app):
    with app.app_context():
        rows = db.session.execute(
            select(ModelActivation.sponsor_id, ModelActivation.model_id)
        )
        return dict(rows.all())


def served_by(app, sponsor_id):
    with app.app_context():
        model = registry.model_for_sponsor(sponsor_id)
        return None if model is None else model.id


def audit_entries(app, action):
    with app.app_context():
        rows = db.session.execute(
            select(AuditEvent.actor_id, AuditEvent.target_id, AuditEvent.detail)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
        return [tuple(row) for row in rows]


def post_activation(browser, model_id, sponsor_ids, verb="activate", back=None):
    page = browser.get("/admin/models").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "sponsor_ids": [str(i) for i in sponsor_ids],
    }
    if back:
        data["back"] = back
    return browser.client.post(f"/admin/models/{model_id}/{verb}", data=data)


@pytest.fixture
def team(app, admin, make_user):
    """Ann and Bob trained `model`; Cy did not. The seed model is the base."""
    ann, _ = make_user(Role.sponsor, name="Ann")
    bob, _ = make_user(Role.sponsor, name="Bob")
    cy, _ = make_user(Role.sponsor, name="Cy")
    base = register_seed(app)
    model = add_trained(app, base, [ann, bob], sha="b" * 64)
    return {"ann": ann, "bob": bob, "cy": cy, "base": base, "model": model}


def test_register_base_is_idempotent_by_sha(app):
    first = register_seed(app)
    again = register_seed(app, name="the same weights, another name")
    assert first == again
    with app.app_context():
        model = db.session.get(LanguageModel, first)
        assert (model.status, model.base_id, model.origin) == (
            ModelStatus.ready,
            None,
            ModelOrigin.seed,
        )
        assert db.session.scalar(select(func.count(LanguageModel.id))) == 1


def test_two_workers_registering_at_once_share_one_row(app, monkeypatch):
    """Both workers look, find nothing, then both insert: one insert wins,
    the other reads the winner's row."""
    barrier, found, errors = threading.Barrier(2, timeout=30), [], []
    looked = threading.local()
    by_sha = registry._by_sha

    def look_then_wait(sha256):
        model = by_sha(sha256)
        if not getattr(looked, "once", False):
            looked.once = True
            barrier.wait()  # the other worker has looked too, and found nothing
        return model

    monkeypatch.setattr(registry, "_by_sha", look_then_wait)

    def worker():
        try:
            with app.app_context():
                model = registry.register_base("hub-gpt2", "gpt2", "hub", BASE_SHA)
                found.append(model.id)
                db.session.remove()
        except Exception as error:  # reported below, with the thread's error
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(found) == 2 and found[0] == found[1]
    with app.app_context():
        assert db.session.scalar(select(func.count(LanguageModel.id))) == 1


def test_the_base_model_is_the_newest_untrained_one(app, team):
    hub = register_seed(app, sha="c" * 64, name="gpt2")
    with app.app_context():
        assert registry.base_model().id == hub
    assert served_by(app, team["ann"]) == hub


def test_nothing_registered_serves_no_model(app, make_user):
    sponsor_id, _ = make_user(Role.sponsor)
    assert served_by(app, sponsor_id) is None


def test_activation_for_the_audience(app, admin, team):
    assert served_by(app, team["ann"]) == team["base"]
    response = post_activation(admin, team["model"], [team["ann"], team["bob"]])
    assert response.status_code == 302 and response.location == "/admin/models"
    page = admin.get(response.location).get_data(as_text=True)
    assert "team-model now writes the suggestions of Ann, Bob." in page
    assert active_models(app) == {
        team["ann"]: team["model"],
        team["bob"]: team["model"],
    }
    assert served_by(app, team["ann"]) == team["model"]
    assert served_by(app, team["cy"]) == team["base"]
    detail = f"model {team['model']} (team-model) for sponsor "
    assert audit_entries(app, "model_activated") == [
        (admin.user_id, team["ann"], f"{detail}{team['ann']}"),
        (admin.user_id, team["bob"], f"{detail}{team['bob']}"),
    ]


def test_a_sponsor_outside_the_audience_is_refused_and_nothing_changes(
    app, admin, team
):
    response = post_activation(admin, team["model"], [team["ann"], team["cy"]])
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert RULE in page and "Cy (id" in page
    # The refusal sits next to the field, and Ann is still chosen.
    field = page.split(f'id="sponsor-ids-{team["model"]}"')[1].split("</div>")[0]
    assert f'<option value="{team["ann"]}" selected>' in field
    assert f'<option value="{team["bob"]}">' in field
    assert 'class="error"' in field and RULE in field
    assert active_models(app) == {}
    assert audit_entries(app, "model_activated") == []


@pytest.mark.parametrize(
    ("sponsor_ids", "message"),
    [
        ([], "Choose at least one sponsor."),
        (["999999"], "No sponsor has the id 999999."),
        (["999998", "999999"], "No sponsors have the ids 999998, 999999."),
        (["two"], "A sponsor id must be a whole number"),
        ([str(2**40)], "A sponsor id must be a whole number"),
    ],
)
def test_unknown_sponsor_ids_are_refused(app, admin, team, sponsor_ids, message):
    response = post_activation(admin, team["model"], sponsor_ids, back="model")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and "<h1>" in page and "Progress" in page
    assert active_models(app) == {}


def test_an_admin_or_editor_id_is_no_sponsor(app, admin, team):
    response = post_activation(admin, team["model"], [admin.user_id])
    assert response.status_code == 400
    assert f"No sponsor has the id {admin.user_id}." in response.get_data(as_text=True)


@pytest.mark.parametrize("status", [ModelStatus.training, ModelStatus.failed])
def test_only_a_ready_model_is_activated(app, admin, team, status):
    model = add_trained(
        app, team["base"], [team["ann"]], name="unfinished", status=status
    )
    response = post_activation(admin, model, [team["ann"]])
    assert response.status_code == 400
    assert f"unfinished is {status.value}" in response.get_data(as_text=True)
    assert active_models(app) == {}


def test_the_base_model_is_not_activated(app, admin, team):
    response = post_activation(admin, team["base"], [team["ann"]])
    assert response.status_code == 400
    assert "the deployment&#39;s base model" in response.get_data(as_text=True)
    assert active_models(app) == {}


def test_activating_another_model_replaces_the_active_one(app, admin, team):
    newer = add_trained(app, team["model"], [team["ann"]], name="newer", sha="d" * 64)
    assert post_activation(admin, team["model"], [team["ann"]]).status_code == 302
    assert post_activation(admin, newer, [team["ann"]]).status_code == 302
    assert active_models(app) == {team["ann"]: newer}
    assert served_by(app, team["ann"]) == newer


def test_two_admins_activating_at_once_leave_one_activation(
    app, admin, team, monkeypatch
):
    """Both pass the checks before either writes: the sponsor ends with one
    active model, not an error and not two rows."""
    newer = add_trained(app, team["base"], [team["ann"]], name="newer", sha="d" * 64)
    barrier, errors = threading.Barrier(2, timeout=30), []
    checked = registry._checked_sponsors

    def check_then_wait(*args):
        sponsors = checked(*args)
        barrier.wait()
        return sponsors

    monkeypatch.setattr(registry, "_checked_sponsors", check_then_wait)

    def activate(model_id):
        try:
            with app.app_context():
                model = db.session.get(LanguageModel, model_id)
                actor = db.session.get(User, admin.user_id)
                registry.activate(model, [team["ann"]], actor)
                db.session.remove()
        except Exception as error:  # reported below, with the thread's error
            errors.append(error)

    threads = [
        threading.Thread(target=activate, args=(m,)) for m in (team["model"], newer)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert list(active_models(app)) == [team["ann"]]
    assert active_models(app)[team["ann"]] in (team["model"], newer)
    assert len(audit_entries(app, "model_activated")) == 2


def test_deactivation_returns_the_sponsor_to_the_base(app, admin, team):
    post_activation(admin, team["model"], [team["ann"], team["bob"]])
    response = post_activation(
        admin, team["model"], [team["ann"]], "deactivate", back="model"
    )
    assert response.status_code == 302
    assert response.location == f"/admin/models/{team['model']}"
    assert active_models(app) == {team["bob"]: team["model"]}
    assert served_by(app, team["ann"]) == team["base"]
    assert audit_entries(app, "model_deactivated") == [
        (
            admin.user_id,
            team["ann"],
            f"model {team['model']} (team-model) for sponsor {team['ann']}",
        )
    ]
    again = post_activation(
        admin, team["model"], [team["ann"], team["bob"]], "deactivate"
    )
    assert again.status_code == 400
    assert "team-model is not active for Ann" in again.get_data(as_text=True)
    assert active_models(app) == {team["bob"]: team["model"]}


def test_unknown_model_is_404_and_csrf_is_required(app, admin, team):
    assert post_activation(admin, 999999, [team["ann"]]).status_code == 404
    assert admin.get("/admin/models/999999").status_code == 404
    response = admin.client.post(
        f"/admin/models/{team['model']}/activate", data={"sponsor_ids": team["ann"]}
    )
    assert response.status_code == 400
    assert active_models(app) == {}


def test_models_json_lists_every_model(app, admin, team):
    metrics = {"train_documents": 180, "val_perplexity": 21.5, "seconds": 840.0}
    with app.app_context():
        db.session.get(LanguageModel, team["model"]).metrics = metrics
        db.session.commit()
    post_activation(admin, team["model"], [team["bob"]])
    listed = admin.get("/admin/models.json").get_json()
    assert [entry["id"] for entry in listed] == [team["base"], team["model"]]
    base, trained = listed
    keys = {"id", "name", "sha256", "base_id", "status", "audience", "active_for"}
    assert set(trained) == keys | {"metrics", "usage"}
    assert set(trained["metrics"]) == set(registry.METRIC_KEYS) and len(
        registry.METRIC_KEYS
    ) == len(trained["metrics"])
    assert set(trained["usage"]) == {
        "suggestions",
        "accepted",
        "dismissed",
        "acceptance_rate",
        "machine_share_at_approval",
    }
    assert base["base_id"] is None and base["audience"] == base["active_for"] == []
    assert base["status"] == "ready" and base["sha256"] == BASE_SHA
    assert trained["name"] == "team-model" and trained["base_id"] == team["base"]
    assert trained["audience"] == [team["ann"], team["bob"]]
    assert trained["active_for"] == [team["bob"]]
    assert trained["metrics"]["train_documents"] == 180
    assert trained["metrics"]["val_perplexity"] == 21.5
    assert trained["metrics"]["memorized_share"] is None
    page = admin.get(f"/admin/models/{team['model']}").get_data(as_text=True)
    assert 'Training time</th><td class="count">14 min 00 s<' in page
    assert 'Training documents</th><td class="count">180<' in page
    assert trained["usage"] == {
        "suggestions": 0,
        "accepted": 0,
        "dismissed": 0,
        "acceptance_rate": None,
        "machine_share_at_approval": None,
    }


def test_the_pages_show_lineage_audience_and_metrics(app, admin, team):
    with app.app_context():
        model = db.session.get(LanguageModel, team["model"])
        model.name = "<b>team</b>"
        model.metrics = {"memorized_share": 0.0125, "val_perplexity": 21.456}
        db.session.commit()
    post_activation(admin, team["model"], [team["ann"]])
    page = admin.get("/admin/models").get_data(as_text=True)
    assert "<b>team</b>" not in page and "&lt;b&gt;team&lt;/b&gt;" in page
    section = page.split(f'id="model-{team["model"]}"')[1].split("</section>")[0]
    lineage = f'<a href="/admin/models/{team["base"]}"><bdi>seed-tiny</bdi></a> →'
    assert lineage in section
    assert "Audience: <bdi>Ann</bdi>, <bdi>Bob</bdi>." in section
    assert "Active for: <bdi>Ann</bdi>." in section
    assert "1.2%" in section and "21.46" in section and "—" in section
    assert f'action="/admin/models/{team["model"]}/activate"' in section
    assert f'formaction="/admin/models/{team["model"]}/deactivate"' in section
    # The base model has no activation form: it serves everyone else.
    base = page.split(f'id="model-{team["base"]}"')[1].split("</section>")[0]
    assert "/activate" not in base and "Active for: —." in base
    assert 'href="/admin/models"' in admin.get("/admin/users").get_data(as_text=True)


def test_the_model_page_plots_its_progress(app, admin, team):
    losses = [[0, 4.0, 4.2], [50, 3.1, 3.5], [100, 2.6, 3.2]]
    progress = {"step": 100, "planned_steps": 400, "losses": losses}
    with app.app_context():
        db.session.get(LanguageModel, team["model"]).progress = progress
        db.session.commit()
    page = admin.get(f"/admin/models/{team['model']}").get_data(as_text=True)
    assert "Step 100 of 400." in page
    svg = re.search(r"<svg .*?</svg>", page, re.S).group(0)
    assert svg.count("<polyline") == 2 and "step 100" in svg
    assert admin.get(f"/admin/models/{team['base']}").status_code == 200


def test_the_loss_plot_escapes_its_text():
    svg = str(loss_curve_svg([[0, 2.0, None], [1, 1.5, 1.7]], '<script>"x"</script>&'))
    assert "<script>" not in svg and '"x"' not in svg
    assert "&lt;script&gt;&#34;x&#34;&lt;/script&gt;&amp;" in svg
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert loss_curve_svg([]) is None and loss_curve_svg([[0, None, None]]) is None


@pytest.mark.parametrize(
    "url",
    ["/admin/models", "/admin/models.json", "/admin/models/1"],
)
@pytest.mark.parametrize("role", [Role.sponsor, Role.editor])
def test_only_admins_see_the_registry(login_as, url, role):
    assert login_as(role).get(url).status_code == 403


@pytest.mark.parametrize("role", [Role.sponsor, Role.editor])
def test_only_admins_activate(app, login_as, team, role):
    someone = login_as(role)
    page = someone.get("/account").get_data(as_text=True)
    response = someone.client.post(
        f"/admin/models/{team['model']}/activate",
        data={"csrf_token": csrf_token(page), "sponsor_ids": team["ann"]},
    )
    assert response.status_code == 403
    assert active_models(app) == {}


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/admin/models")
    assert response.status_code == 302 and "/login" in response.location


# Usage: the suggestions a model wrote, and what became of them.
TEAM_SHA = "e" * 64


@pytest.fixture
def team_generator(fake_generator):
    fake_generator.info = FakeGeneratorInfo(name="team-model", weights_sha256=TEAM_SHA)
    return fake_generator


def review(browser, document_id, action, page):
    return browser.submit(
        f"/documents/{document_id}/review",
        {"action": action, "comment": "Fine."},
        form_url=page,
    )


def test_usage_counts_accepted_dismissed_and_ignored_suggestions(
    app, admin, sponsor, editor, team_generator, drafted, run_queued
):
    """Suggestion 1 is accepted, 2 dismissed, 3 ignored; then the document is
    approved with suggestion 1's words in it."""
    base = register_seed(app)
    model = add_trained(app, base, [sponsor.user_id], sha=TEAM_SHA)
    assert drafted.post(sponsor, "accept").status_code == 302
    run_queued()
    assert drafted.post(sponsor, "dismiss").status_code == 302
    team_generator.texts = [" ignored words"]
    assert drafted.post(sponsor, "suggest", {"mode": "beam"}).status_code == 302
    run_queued()
    # Until a document is approved, its machine text counts for nothing.
    before = admin.get("/admin/models.json").get_json()[-1]["usage"]
    assert before["machine_share_at_approval"] is None and before["accepted"] == 1
    submitted = review(sponsor, drafted.id, "submit", drafted.sponsor_page)
    assert submitted.status_code == 302
    assert review(editor, drafted.id, "approve", drafted.editor_page).status_code == 302
    listed = {
        entry["id"]: entry for entry in admin.get("/admin/models.json").get_json()
    }
    usage = listed[model]["usage"]
    body = "Intro." + " one two three four five six seven eight"
    machine = len(" one two three four five six seven eight") - 1  # from "one"
    assert usage == {
        "suggestions": 3,
        "accepted": 1,
        "dismissed": 1,
        "acceptance_rate": pytest.approx(1 / 3),
        "machine_share_at_approval": pytest.approx(machine / len(body)),
    }
    # The seed model wrote none of these.
    assert listed[base]["usage"]["suggestions"] == 0
    with app.app_context():
        assert registry.usage(db.session.get(LanguageModel, model)).accepted == 1
    page = admin.get(f"/admin/models/{model}").get_data(as_text=True)
    assert "3 suggestions written, 1 accepted, 1 dismissed" in page
    assert "acceptance rate 33.3%" in page
