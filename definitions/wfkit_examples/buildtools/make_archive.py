"""Build step: pack the checked files into a reproducible archive.

Env: ``SOURCE_DIR``, ``DIST_DIR``, ``NAME``, ``VERSION``, ``FORMAT`` (``tar.gz`` or
``zip``), ``FILES`` (JSON list of relative paths), optionally ``SOURCE_DATE_EPOCH``.
Every entry gets the same timestamp, owner and mode, in sorted order, under the folder
``<NAME>-<VERSION>/``, so the same files always give the same bytes and checksum. The
archive is written in ``DIST_DIR/.staging`` and renamed into ``DIST_DIR`` when complete;
``DIST_DIR/SHA256SUMS`` gets its checksum line.
Output: ``archive`` (path), ``sha256``, ``bytes``, ``entries``, ``format``.
"""

import gzip
import hashlib
import io
import os
import re
import tarfile
import time
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

__all__ = ["FORMATS", "STAGING", "build_archive", "main", "tar_gz_bytes", "zip_bytes"]

#: Archive formats and their file suffixes.
FORMATS = ("tar.gz", "zip")
#: Folder inside DIST_DIR where archives are written before they are complete.
STAGING = ".staging"
_DEFAULT_EPOCH = 315532800  # 1980-01-01, the earliest time a zip file can hold
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def tar_gz_bytes(root: Path, files: list[str], prefix: str, epoch: int) -> bytes:
    """A gzip-compressed tar of ``files`` under ``prefix/``, identical for identical input."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for rel in sorted(files):
            data = (root / rel).read_bytes()
            info = tarfile.TarInfo(f"{prefix}/{rel}")
            info.size, info.mtime, info.mode = len(data), epoch, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def zip_bytes(root: Path, files: list[str], prefix: str, epoch: int) -> bytes:
    """A deflated zip of ``files`` under ``prefix/``, identical for identical input."""
    stamp = time.gmtime(max(epoch, _DEFAULT_EPOCH))[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for rel in sorted(files):
            info = zipfile.ZipInfo(f"{prefix}/{rel}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, (root / rel).read_bytes())
    return out.getvalue()


def _update_sums(dist: Path, filename: str, digest: str) -> None:
    sums = dist / "SHA256SUMS"
    lines = sums.read_text(encoding="utf-8").splitlines() if sums.exists() else []
    lines = [line for line in lines if not line.endswith(f"  {filename}")]
    lines.append(f"{digest}  {filename}")
    sums.write_text("\n".join(sorted(lines, key=lambda x: x[66:])) + "\n", encoding="utf-8")


def build_archive(
    root: Path, dist: Path, name: str, version: str, fmt: str, files: list[str], epoch: int
) -> dict[str, Any]:
    """Write the archive into ``dist`` (through the staging folder); describe the result."""
    if fmt not in FORMATS:
        raise StepFailed(f"FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    for label, value in (("NAME", name), ("VERSION", version)):
        if not _NAME.match(value):
            raise StepFailed(f"{label} {value!r} cannot be part of a file name")
    missing = [f for f in files if not (root / f).is_file()]
    if missing:
        raise StepFailed(f"files listed but not in {root}: {', '.join(missing[:5])}")
    prefix = f"{name}-{version}"
    pack = tar_gz_bytes if fmt == "tar.gz" else zip_bytes
    data = pack(root, files, prefix, epoch)
    staging = dist / STAGING
    staging.mkdir(parents=True, exist_ok=True)
    target = dist / f"{prefix}.{fmt}"
    partial = staging / f"{target.name}.partial"
    partial.write_bytes(data)
    os.replace(partial, target)
    digest = hashlib.sha256(data).hexdigest()
    _update_sums(dist, target.name, digest)
    return {
        "archive": str(target),
        "sha256": digest,
        "bytes": len(data),
        "entries": len(files),
        "format": fmt,
    }


def main() -> None:
    """Build the archive described by the environment."""
    write_output(
        build_archive(
            env_path("SOURCE_DIR"),
            env_path("DIST_DIR"),
            env_str("NAME"),
            env_str("VERSION"),
            env_str("FORMAT", "tar.gz"),
            env_json("FILES"),
            int(env_str("SOURCE_DATE_EPOCH", str(_DEFAULT_EPOCH))),
        )
    )


if __name__ == "__main__":
    run(main)
