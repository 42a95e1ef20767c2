"""Stage 1: fetch the pinned documentation packages without installing them.

``apt-get download PKG=VERSION`` only fetches the .deb; ``dpkg-deb -x`` unpacks it
into ``data/raw/<pkg>/`` so nothing on the system changes.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from pipeline.config import PipelineConfig, SourcePackage

log = logging.getLogger("pipeline")


def deb_filename_glob(pkg: SourcePackage) -> str:
    """Glob matching the .deb apt-get writes (':' in epochs becomes '%3a')."""
    return f"{pkg.name}_{pkg.version.replace(':', '%3a')}_*.deb"


def _run(cmd: list[str], cwd: Path) -> None:
    log.info("$ %s", " ".join(cmd))
    subprocess.run(cmd, cwd=cwd, check=True)


def download_sources(config: PipelineConfig, update: bool = True) -> list[Path]:
    """Download and unpack every pinned package; skip those already unpacked."""
    debs_dir = config.raw_dir / "debs"
    debs_dir.mkdir(parents=True, exist_ok=True)
    todo = [
        p for p in config.sources if not (config.raw_dir / p.name / ".done").exists()
    ]
    if todo and update:
        # One index refresh so the pinned versions are known to apt.
        _run(["apt-get", "update"], cwd=debs_dir)
    trees = []
    for pkg in config.sources:
        tree = config.raw_dir / pkg.name
        marker = tree / ".done"
        if not marker.exists():
            if not list(debs_dir.glob(deb_filename_glob(pkg))):
                _run(["apt-get", "download", f"{pkg.name}={pkg.version}"], cwd=debs_dir)
            (deb,) = sorted(debs_dir.glob(deb_filename_glob(pkg)))
            shutil.rmtree(tree, ignore_errors=True)
            tree.mkdir(parents=True)
            _run(
                ["dpkg-deb", "-x", str(deb.resolve()), str(tree.resolve())],
                cwd=debs_dir,
            )
            marker.write_text(f"{pkg.name}={pkg.version}\n", encoding="utf-8")
        trees.append(tree)
    return trees
