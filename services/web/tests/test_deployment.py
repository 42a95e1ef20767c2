"""Static checks of what real users deploy with (no Docker engine needed)."""

import ipaddress
import os
import re
import runpy
import shutil
import stat
import string
import subprocess
import tempfile
from pathlib import Path

import pytest
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
    assert set(services) == {
        "nginx",
        "web",
        "worker",
        "trainer",
        "beat",
        "mailer",
        "redis",
        "db",
    }
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"
        assert service.get("restart") == "unless-stopped", name
    assert services["web"]["build"]["target"] == "web"
    assert services["worker"]["build"]["target"] == "worker"
    assert services["web"]["environment"]["JOB_BACKEND"] == "celery"
    assert "gunicorn" not in str(services["worker"]["command"])
    assert "--pool" in services["worker"]["command"]
    # Fine-tuning has a worker of its own; both read the one model store.
    assert services["trainer"]["build"]["target"] == "worker"
    train = services["trainer"]["command"]
    assert train[train.index("--queues") + 1] == "train"
    # Mail goes out from the web image (no TensorFlow), on the mail queue.
    assert services["mailer"]["build"]["target"] == "web"
    mail = services["mailer"]["command"]
    assert mail[mail.index("-A") + 1] == "docdraft.mail.worker"
    assert mail[mail.index("--queues") + 1] == "mail"
    for name in ("worker", "trainer"):
        assert "model-store:/models" in services[name]["volumes"]
        assert services[name]["environment"]["MODEL_STORE"] == "/models"


def test_prod_compose_keeps_data_and_runs_our_images_as_non_root():
    compose = prod_compose()
    services = compose["services"]
    assert "postgres-data:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "postgres-data" in compose["volumes"]
    assert "model-store" in compose["volumes"]
    for name in ("web", "worker", "trainer", "beat", "mailer"):
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
        "heavy = {'tensorflow', 'transformers', 'tf_keras'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
        "engine = {m for m in sys.modules if m.split('.')[0] == 'textgen'}\n"
        "assert engine <= {'textgen', 'textgen.lengths'}, engine\n"
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


# What nginx, gunicorn and prod-local do at the edge (issue 21). Both nginx
# configs (compose's template and prod-local's) must carry each rule.
NGINX = ROOT / "services" / "nginx"
PRODLOCAL = ROOT / "services" / "prodlocal"


def nginx_configs():
    """{name: text} of both configs, prod-local's `$$` read as nginx's `$`."""
    return {
        "compose": (NGINX / "docdraft.conf.template").read_text(),
        "prod-local": (PRODLOCAL / "nginx.conf.in").read_text().replace("$$", "$"),
    }


def directive_values(conf, name):
    """Every value given to the directive `name` in an nginx config."""
    return re.findall(rf"^\s*{name}\s+([^;]*);", conf, re.MULTILINE)


def block(conf, opener):
    """The lines of the block that `opener` starts, up to its lone `}`."""
    lines = conf.split(opener, 1)[1].splitlines()[1:]
    return "\n".join(lines[: next(i for i, s in enumerate(lines) if s.strip() == "}")])


def test_nginx_sends_the_apps_security_headers_on_its_own_answers():
    """One snippet, included at the http level by both configs, so every
    server and location inherits it: none may have an add_header of its own.
    Its values are the app's (docdraft/security.py, production)."""
    from flask import Flask

    from docdraft import security

    app = Flask("headers")
    app.config["APP_ENV"] = "production"
    security.init_app(app)
    app.add_url_rule("/", "page", lambda: "page")
    apps = app.test_client().get("/").headers
    snippet = (NGINX / "security-headers.conf").read_text()
    added = dict(
        (name, variable)
        for name, variable in (
            value.split()[:2] for value in directive_values(snippet, "add_header")
        )
    )
    assert all(
        value.endswith(" always") for value in directive_values(snippet, "add_header")
    )
    for name in (
        "Content-Security-Policy",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "X-Frame-Options",
        "Strict-Transport-Security",
    ):
        # map $upstream_http_<name> $var { "" "<the app's value>"; default ""; }
        upstream = "$upstream_http_" + name.lower().replace("-", "_")
        block = snippet.split(f"map {upstream} {added[name]} {{", 1)[1].split("}")[0]
        assert f'"" "{apps[name]}";' in block, name
        assert 'default "";' in block, name
    assert directive_values(snippet, "server_tokens") == ["off"]
    for where, conf in nginx_configs().items():
        assert "security-headers.conf;" in conf, where
        assert "add_header" not in conf, f"{where}: an add_header stops inheritance"


def test_nginx_shows_its_own_error_pages_and_refuses_before_gunicorn(monkeypatch):
    """414 and 431 come from nginx (4k buffers), never gunicorn's bare 400
    (its limits are above nginx's); each error page exists and is the app's
    plain page."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/nonexistent/metrics")
    gunicorn = runpy.run_path(str(WEB / "gunicorn.conf.py"))
    for where, conf in nginx_configs().items():
        assert directive_values(conf, "large_client_header_buffers") == ["4 4k"], where
        pages = {}
        for value in directive_values(conf, "error_page"):
            *codes, target = value.split()
            pages.update({code.lstrip("="): target for code in codes})
        for code in ("400", "404", "413", "414", "429", "431", "494", "500", "502"):
            name = pages[code].rsplit("/", 1)[1]
            assert (NGINX / "errors" / name).is_file(), (where, code)
        assert "internal;" in block(conf, "location ^~ /_errors/ {")
    assert gunicorn["limit_request_line"] > 4096
    assert gunicorn["limit_request_field_size"] > 4096
    # 4 buffers of 4k hold at most ~4,100 header lines of 4 bytes.
    assert gunicorn["limit_request_fields"] > 4 * 4096 // 4


def test_nginx_error_pages_look_like_the_apps_plain_error_page(tmp_path, monkeypatch):
    from flask import render_template

    from docdraft import create_app

    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/db"}
    )
    for page in sorted((NGINX / "errors").glob("*.html")):
        text = page.read_text()
        title = text.split("<h1>", 1)[1].split("</h1>", 1)[0]
        message = text.split('<p role="status">', 1)[1].split("</p>", 1)[0]
        with app.test_request_context("/"):
            rendered = render_template(
                "errors/plain.html", title=title, message=message
            )
        assert rendered.strip() == text.strip(), page.name


def test_nginx_tls_http09_workers_connections_and_compression():

    for where, conf in nginx_configs().items():
        assert directive_values(conf, "ssl_prefer_server_ciphers") == ["on"], where
        (ciphers,) = directive_values(conf, "ssl_ciphers")
        for suite in ciphers.split(":"):
            # AEAD with forward secrecy: no CBC (…-SHA, …-SHA256/384 without GCM).
            assert suite.startswith("ECDHE-"), suite
            assert "GCM" in suite or "CHACHA20-POLY1305" in suite, suite
        assert directive_values(conf, "ssl_protocols") == ["TLSv1.2 TLSv1.3"]
        # HTTP/0.9: closed without an answer (each server block).
        assert conf.count('if ($status = "009") { return 444; }') == conf.count(
            "listen "
        )
        assert directive_values(conf, "limit_conn_zone") == [
            "$binary_remote_addr zone=per_client:10m"
        ]
        assert directive_values(conf, "limit_conn") == ["per_client 64"], where
        assert directive_values(conf, "limit_conn_status") == ["429"], where
        # Pages carry CSRF tokens (BREACH): gzip only inside /static/.
        static = block(conf, "location /static/ {")
        assert directive_values(static, "gzip") == ["on"], where
        assert directive_values(conf, "gzip") == ["off", "on"], where
        assert "text/html" not in conf, where
    prodlocal = nginx_configs()["prod-local"]
    assert directive_values(prodlocal, "worker_processes") == ["auto"]


def test_gunicorn_believes_forwarded_headers_from_nginx_only(monkeypatch):
    """forwarded_allow_ips is TRUSTED_PROXIES, the list the app reads too
    (docdraft.proxies); never "*". gunicorn listens on loopback unless told."""
    from gunicorn.config import Config

    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/nonexistent/metrics")
    default = runpy.run_path(str(WEB / "gunicorn.conf.py"))
    assert default["bind"] == ["127.0.0.1:8000"]
    assert default["forwarded_allow_ips"] == "127.0.0.1,::1"
    monkeypatch.setenv("TRUSTED_PROXIES", "172.30.80.2")
    settings = runpy.run_path(str(WEB / "gunicorn.conf.py"))
    config = Config()
    config.set("forwarded_allow_ips", settings["forwarded_allow_ips"])
    assert config.forwarded_allow_ips == ["172.30.80.2"]


def test_gunicorns_metrics_directory_is_never_a_shared_fixed_name(monkeypatch):

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    runpy.run_path(str(WEB / "gunicorn.conf.py"))
    first = os.environ.pop("PROMETHEUS_MULTIPROC_DIR")
    runpy.run_path(str(WEB / "gunicorn.conf.py"))
    second = os.environ.pop("PROMETHEUS_MULTIPROC_DIR")
    try:
        assert first != second
        assert os.path.join(tempfile.gettempdir(), "docdraft-metrics") not in (
            first,
            second,
        )
        assert stat.S_IMODE(os.stat(first).st_mode) == 0o700
    finally:
        shutil.rmtree(first)
        shutil.rmtree(second)
    supervisord = (PRODLOCAL / "supervisord.conf.in").read_text()
    web = supervisord.split("[program:web]", 1)[1].split("[program:", 1)[0]
    assert 'PROMETHEUS_MULTIPROC_DIR="${STATE}/run/metrics"' in web


def test_prod_compose_lets_only_nginx_reach_gunicorn():

    compose = prod_compose()
    services = compose["services"]
    proxy = compose["networks"]["proxy"]
    assert proxy["internal"] is True
    subnet = ipaddress.ip_network(proxy["ipam"]["config"][0]["subnet"])
    on_proxy = {
        name
        for name, service in services.items()
        if "proxy" in service.get("networks", {})
    }
    assert on_proxy == {"nginx", "web"}
    nginx_address = services["nginx"]["networks"]["proxy"]["ipv4_address"]
    web_address = services["web"]["networks"]["proxy"]["ipv4_address"]
    assert {
        ipaddress.ip_address(nginx_address),
        ipaddress.ip_address(web_address),
    } <= set(subnet)
    assert "default" not in services["nginx"]["networks"]  # no database, no Redis
    web = services["web"]
    assert "ports" not in web
    assert web["environment"]["TRUSTED_PROXIES"] == nginx_address
    assert web["environment"]["TRUSTED_PROXY_HOPS"] == "1"
    assert web["environment"]["GUNICORN_BIND"].split() == [
        f"{web_address}:8000",
        "127.0.0.1:8000",
    ]
    dockerfile = (NGINX / "Dockerfile").read_text()
    assert "COPY nginx/security-headers.conf /etc/nginx/docdraft/" in dockerfile
    assert "COPY nginx/errors /srv/errors" in dockerfile


def test_prod_local_binds_gunicorn_to_loopback_and_believes_nginx_alone():

    run = (PRODLOCAL / "run.sh").read_text()
    supervisord = (PRODLOCAL / "supervisord.conf.in").read_text()
    nginx = nginx_configs()["prod-local"]
    (proxy_address,) = re.findall(r"^PROXY_ADDRESS=(\S+)$", run, re.MULTILINE)
    assert proxy_address not in ("127.0.0.1", "0.0.0.0")
    assert "TRUSTED_PROXIES=$PROXY_ADDRESS" in run
    assert directive_values(nginx, "proxy_bind") == ["${PROXY_ADDRESS}"]
    assert "--bind 127.0.0.1:${WEB_PORT}" in supervisord


def test_prod_local_runs_its_programs_as_their_own_user():
    """Started as root: nginx's workers get the `user` directive, gunicorn and
    Celery user= (root only where the venv's Python is out of that user's
    reach); the state directory lets them through to what they write (nginx's
    request bodies: the 500 for any body over 16k)."""
    run = (PRODLOCAL / "run.sh").read_text()
    supervisord = (PRODLOCAL / "supervisord.conf.in").read_text()
    for program in ("web", "worker", "beat"):
        section = supervisord.split(f"[program:{program}]", 1)[1].split("[program:")[0]
        assert "user=${APP_USER}" in section, program
    nginx = (PRODLOCAL / "nginx.conf.in").read_text()
    assert nginx.splitlines()[5] == "${NGINX_USER}"
    assert 'NGINX_USER="user $RUN_USER' in run
    for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (path,) = directive_values(nginx, f"{temp}_temp_path")
        assert path.startswith("${STATE}/nginx/"), temp
    assert 'chown -R "$APP_USER:" "$STATE/run" "$STATE/instance"' in run
    assert 'chown -R "$RUN_USER:" "$STATE/nginx"' in run
    assert 'as_run_user "$BIN/python"' in run
    assert 'chmod 711 "$STATE"' in run
    assert "useradd --system" in run


def test_no_database_password_on_a_command_line():
    """`ps` shows every process's arguments to every user of the machine."""
    run = (PRODLOCAL / "run.sh").read_text()
    for line in run.splitlines():
        if re.search(r"\bpsql\b", line) and "$password" in line:
            before_psql = line.split("psql", 1)[0]
            assert before_psql.lstrip().startswith("printf") and "|" in before_psql
        assert not re.search(r'\$BIN/python".*"\$DATABASE_URL"', line), line
    entrypoint = (WEB / "entrypoint.sh").read_text()
    assert "pg_isready" in entrypoint
    assert not re.search(r"pg_isready[^\n]*DATABASE_URL", entrypoint)


def test_prod_local_nginx_config_is_valid(tmp_path):
    """nginx -t on prod-local's config as run.sh renders it."""

    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        pytest.skip("no nginx here")
    for name in ("logs", "nginx"):
        (tmp_path / name).mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-nodes", "-days", "1"]
        + ["-pkeyopt", "ec_paramgen_curve:prime256v1", "-subj", "/CN=localhost"]
        + ["-keyout", tmp_path / "key.pem", "-out", tmp_path / "cert.pem"],
        capture_output=True,
        check=True,
    )
    values = {
        "NGINX_USER": "# test",
        "STATE": str(tmp_path),
        "ROOT": str(ROOT),
        "WEB": str(WEB),
        "PORT": "8443",
        "WEB_PORT": "8000",
        "PROXY_ADDRESS": "127.0.0.2",
    }
    template = string.Template((PRODLOCAL / "nginx.conf.in").read_text())
    conf = tmp_path / "nginx.conf"
    conf.write_text(template.substitute(values))
    result = subprocess.run(
        [shutil.which("nginx") or "/usr/sbin/nginx", "-t", "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
