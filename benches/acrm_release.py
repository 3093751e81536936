"""Shared by the benchmark scripts: where the release `acrm` binary is."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def acrm_binary() -> str:
    """The release binary under $CARGO_TARGET_DIR (or ROOT/target); exits if it is not built."""
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    path = os.path.join(target, "release", "acrm")
    if not os.path.exists(path):
        sys.exit(f"{path} missing: run `cargo build --release` first")
    return path
