#!/usr/bin/env python3
"""Regenerate the root schema.prisma (``--check`` only verifies it is current)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from extensions.db.schema_sync import main
from extensions.litellm import litellm_schema_path

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if schema.prisma is stale")
    args = parser.parse_args()
    sys.exit(main(litellm_schema_path(), ROOT / "prisma" / "atrium.prisma", ROOT / "schema.prisma", check=args.check))
