"""Packaging hook: a wheel carries the data files Atrium reads at run time.

``pip install .`` (the production image) leaves the checkout behind, so the migrations,
the root ``schema.prisma`` and the WebAssembly engine project (without ``node_modules``:
the image's ``python -m extensions.prisma_engine install`` creates it from the lockfile)
are copied into ``extensions/_bundle/`` of the built package. An editable install reads
them from the checkout instead (``extensions/resources.py`` resolves both layouts).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLE = "_bundle"
# The engine project as the repository holds it; node_modules and npm's own files stay out.
ENGINE_FILES = ("package.json", "package-lock.json", "server.mjs", "README.md", "bin/*", "lib/*.mjs")


class BuildWithBundle(build_py):  # type: ignore[misc]
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "extensions" / BUNDLE
        # A stale build/ would otherwise keep a migration or engine file that was removed.
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        (target / "__init__.py").write_text('"""Data files shipped with a non-editable install."""\n')
        shutil.copy2(ROOT / "schema.prisma", target / "schema.prisma")
        for sql in sorted((ROOT / "prisma" / "migrations").glob("*/migration.sql")):
            dest = target / "migrations" / sql.parent.name / sql.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(sql, dest)
        engine = ROOT / "prisma" / "engine"
        for pattern in ENGINE_FILES:
            for src in sorted(engine.glob(pattern)):
                dest = target / "engine" / src.relative_to(engine)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)  # copy2 keeps bin/*'s executable bit; the wheel records it


setup(cmdclass={"build_py": BuildWithBundle})
