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
    assert (ROOT / web["build"]["context"] / "Dockerfile").exists()
    assert all(port.startswith("127.0.0.1:") for port in web["ports"])


def test_worker_image_can_generate_and_nothing_drops_tables():
    requirements = (WEB / "requirements.txt").read_text()
    for package in ("tensorflow-cpu==", "transformers==", "tf-keras=="):
        assert package in requirements.lower().replace("_", "-")
    assert "-r requirements-web.txt" in requirements
    worker_stage = (WEB / "Dockerfile").read_text().split("FROM base AS worker")[1]
    assert "pip install -r requirements.txt" in worker_stage.split("FROM")[0]
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


def prod_compose():
    return yaml.safe_load((ROOT / "docker-compose.prod.yml").read_text())


def test_prod_compose_has_the_whole_topology():
    services = prod_compose()["services"]
    assert set(services) == {"nginx", "web", "worker", "beat", "redis", "db"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
        assert service.get("restart") == "unless-stopped", name
    assert services["web"]["build"]["target"] == "web"
    assert services["worker"]["build"]["target"] == "worker"
    assert services["web"]["environment"]["JOB_BACKEND"] == "celery"
    assert "gunicorn" not in str(services["worker"]["command"])
    assert "--pool" in services["worker"]["command"]


def test_prod_compose_keeps_data_and_runs_our_images_as_non_root():
    compose = prod_compose()
    services = compose["services"]
    assert "postgres-data:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "postgres-data" in compose["volumes"]
    for name in ("web", "worker", "beat"):
        assert services[name]["user"] == "app"
    dockerfile = (WEB / "Dockerfile").read_text()
    assert dockerfile.count("USER app") == 2
    nginx = (ROOT / "services" / "nginx" / "Dockerfile").read_text()
    assert "nginx-unprivileged" in nginx
    assert "--save" in services["redis"]["command"]  # nothing kept on disk


def test_web_image_has_no_tensorflow_and_serves_with_gunicorn():
    lines = (WEB / "requirements-web.txt").read_text().lower().splitlines()
    packages = {line.split("==")[0] for line in lines if "==" in line}
    assert not packages & {"tensorflow", "tensorflow-cpu", "transformers", "keras"}
    web = "\n".join(lines)
    assert "gunicorn==" in web and "celery==" in web
    dockerfile = (WEB / "Dockerfile").read_text()
    web_stage = dockerfile.split("FROM base AS web", 1)[1]
    assert "requirements.txt" not in web_stage
    assert web_stage.rstrip().endswith(
        'CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]'
    )
    assert "--preload" not in dockerfile + (WEB / "gunicorn.conf.py").read_text()


def test_nothing_secret_is_committed_for_production():
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.prod.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert example["SECRET_KEY"] == "" and example["POSTGRES_PASSWORD"] == ""
    assert example["APP_ENV"] == "production"
    gitignore = (ROOT / ".gitignore").read_text().split()
    assert ".env.prod" in gitignore
    text = (ROOT / "docker-compose.prod.yml").read_text()
    assert "SECRET_KEY" not in text and "PASSWORD" not in text


def test_nginx_limits_bodies_serves_static_and_sets_one_proxy_hop():
    conf = (ROOT / "services" / "nginx" / "docdraft.conf.template").read_text()
    for directive in (
        "client_max_body_size",
        "proxy_read_timeout",
        "gzip on",
        "location /static/",
        "expires",
        "proxy_set_header X-Forwarded-For $remote_addr",
    ):
        assert directive in conf
    assert prod_compose()["services"]["web"]["environment"]["TRUSTED_PROXY_HOPS"] == "1"


def test_web_processes_never_import_tensorflow(tmp_path):
    """gunicorn's app, serving pages and sending a job, without TensorFlow."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from wsgi import app\n"
        "client = app.test_client()\n"
        "assert client.get('/login').status_code == 200\n"
        "assert client.get('/healthz').status_code == 200\n"
        "heavy = {'tensorflow', 'transformers', 'textgen', 'tf_keras'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "JOB_BACKEND": "celery",
        "INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=WEB, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
