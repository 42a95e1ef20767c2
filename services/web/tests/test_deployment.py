"""Static checks of what real users deploy with (no Docker engine needed)."""

from pathlib import Path

import yaml

WEB = Path(__file__).resolve().parents[1]
ROOT = WEB.parents[1]


def test_dev_compose_keeps_database_in_a_named_volume():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    db = compose["services"]["db"]
    assert any(v.startswith("postgres-data:") for v in db["volumes"])
    assert "postgres-data" in compose["volumes"]
    web = compose["services"]["web"]
    assert (ROOT / web["build"] / "Dockerfile").exists()
    assert all(port.startswith("127.0.0.1:") for port in web["ports"])


def test_image_can_generate_and_never_drops_tables():
    requirements = (WEB / "requirements.txt").read_text()
    for package in ("tensorflow-cpu==", "transformers==", "tf-keras==", "gunicorn=="):
        assert package in requirements.lower().replace("_", "-")
    assert "pip install -r requirements.txt" in (WEB / "Dockerfile").read_text()
    entrypoint = (WEB / "entrypoint.sh").read_text()
    assert "db upgrade" in entrypoint
    assert "drop_all" not in entrypoint and "drop table" not in entrypoint.lower()
    assert 'exec "$@"' in entrypoint


def test_every_requirement_is_pinned():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (WEB / name).read_text().splitlines():
            if line and not line.startswith(("#", "-r")):
                assert "==" in line, f"{name}: {line} is not pinned"


def test_dev_env_file_holds_no_secret_key():
    env = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.dev").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert "SECRET_KEY" not in env
    assert env["APP_ENV"] == "development"
