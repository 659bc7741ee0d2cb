"""Build step: check that the archive is the one built and holds exactly the files.

Env: ``ARCHIVE`` (path), ``SHA256``, ``PREFIX`` (the folder inside the archive),
``FILES`` (JSON list of the relative paths expected inside it).
Output: ``ok``, ``entries``, ``sha256``.
"""

import hashlib
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from wfkit_examples.buildtools._step import (
    StepFailed,
    env_json,
    env_path,
    env_str,
    run,
    write_output,
)

__all__ = ["main", "members", "verify"]


def members(archive: Path) -> list[str]:
    """Names of the files inside a ``.tar.gz`` or ``.zip`` archive, sorted."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            bad = z.testzip()
            if bad is not None:
                raise StepFailed(f"{archive}: entry {bad} is corrupt")
            return sorted(i.filename for i in z.infolist() if not i.is_dir())
    try:
        with tarfile.open(archive, "r:gz") as tar:
            return sorted(m.name for m in tar.getmembers() if m.isfile())
    except (tarfile.TarError, OSError) as exc:
        raise StepFailed(f"{archive}: not a readable tar.gz ({exc})") from None


def verify(archive: Path, sha256: str, prefix: str, files: list[str]) -> dict[str, Any]:
    """Compare the archive with what the package step reported; raise StepFailed if not."""
    if not archive.is_file():
        raise StepFailed(f"{archive} does not exist")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != sha256:
        raise StepFailed(f"{archive}: sha256 {digest} differs from the built {sha256}")
    found = members(archive)
    expected = sorted(f"{prefix}/{f}" for f in files)
    if found != expected:
        extra = sorted(set(found) - set(expected))
        lost = sorted(set(expected) - set(found))
        raise StepFailed(f"{archive}: unexpected entries {extra[:5]}, missing {lost[:5]}")
    return {"ok": True, "entries": len(found), "sha256": digest}


def main() -> None:
    """Verify the archive named by the environment."""
    write_output(
        verify(env_path("ARCHIVE"), env_str("SHA256"), env_str("PREFIX"), env_json("FILES"))
    )


if __name__ == "__main__":
    run(main)
