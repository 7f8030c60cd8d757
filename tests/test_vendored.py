"""The browser libraries vendored under web/vendor/ are the files their VENDOR.json names (checked
against the npm package itself by `make vendor-check`), with their licence beside them."""

from __future__ import annotations

import hashlib
import json

from conftest import REPO_ROOT

VENDOR = REPO_ROOT / "web" / "vendor"


def test_vendored_files_are_the_pinned_ones() -> None:
    manifests = sorted(VENDOR.glob("*/VENDOR.json"))
    assert manifests
    for manifest in manifests:
        m = json.loads(manifest.read_text(encoding="utf-8"))
        file = manifest.parent / m["file"].rsplit("/", 1)[-1]
        assert hashlib.sha256(file.read_bytes()).hexdigest() == m["sha256"], file
        assert f"v{m['version']}" in file.read_text(encoding="utf-8")[:200]
        assert (manifest.parent / "LICENSE.md").exists()
