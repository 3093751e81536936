"""Shared by the benchmark scripts: where the release `acrm` binary is, and how a side is timed."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def acrm_binary() -> str:
    """The release binary under $CARGO_TARGET_DIR (or ROOT/target); exits if it is not built."""
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    path = os.path.join(target, "release", "acrm")
    if not os.path.exists(path):
        sys.exit(f"{path} missing: run `cargo build --release` first")
    return path


def timed(cmd: list[str], **kw) -> tuple[float, int, str]:
    """Runs cmd under /usr/bin/time -v; returns (wall seconds, max RSS in MiB, stdout)."""
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed:\n{p.stderr[-4000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", p.stderr)
    h, m, s = wall.groups()
    seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return seconds, rss_kib // 1024, p.stdout
