"""Service images built here from the same binaries the processes backend runs; nothing is pulled.

An image is ``FROM scratch`` plus what the service's ``image_files`` names (its binary; the sidecar's
also Envoy and Istio's bootstrap template) and, for each dynamically linked one (Envoy always; Go
binaries built with cgo), the shared libraries ``ldd`` names and the dynamic loader, at the paths
the binary expects. The image is labelled with its files' identity (path, size, mtime), so it is
reused until the binary changes, and tagged like ``wasm-workshop/registry:v3.1.2``. The tag always
names the image in use: an image found again (say, Envoy from another virtualenv, then this one) is
tagged again, and the service's older images that lost the tag and that no container uses are removed.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workshop.env import supervisor
from workshop.env.service import Service
from workshop.env.service_records import ServiceError

if TYPE_CHECKING:
    from docker import DockerClient

REPO = "wasm-workshop"
BINARY_LABEL = "wasm-workshop.binary"
SERVICE_LABEL = "wasm-workshop.image-of"
IN_IMAGE = "/usr/local/bin"


Files = list[tuple[Path, str]]  # (file on this machine, path in the image); the first is the entrypoint


def identity(files: Files) -> str:
    """What an image is built from: each file's real path, size and time, and where it goes."""
    h = hashlib.sha256()
    for src, inside in files:
        real = Path(os.path.realpath(src))
        st = real.stat()
        h.update(f"{real}:{st.st_size}:{st.st_mtime_ns}:{inside}\n".encode())
    return h.hexdigest()[:20]


def shared_libraries(binary: Path) -> list[str]:
    """The absolute paths of the libraries ``binary`` loads (with the loader); [] for a static binary."""
    ldd = shutil.which("ldd")
    if not ldd:
        return []
    out = supervisor.run([ldd, str(binary)], timeout=20, label="ldd").output
    if "not a dynamic executable" in out or "statically linked" in out:
        return []
    missing = re.findall(r"^\s*(\S+) => not found", out, re.MULTILINE)
    if missing:
        raise ServiceError(f"{binary} needs libraries this machine lacks ({', '.join(missing)}): reinstall it with `workshop prepare`")
    return re.findall(r"(/\S+) \(0x[0-9a-f]+\)", out)


def _add(tar: tarfile.TarFile, src: str, arcname: str, *, executable: bool = True) -> None:
    real = os.path.realpath(src)
    info = tar.gettarinfo(real, arcname=arcname)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode |= 0o555 if executable else 0o444
    with open(real, "rb") as f:
        tar.addfile(info, f)


def build_context(files: Files) -> tempfile.SpooledTemporaryFile[bytes]:
    """A tar build context: the Dockerfile and rootfs/ (the files, the libraries each loads, an empty /tmp)."""
    dockerfile = f'FROM scratch\nCOPY rootfs/ /\nENTRYPOINT ["{files[0][1]}"]\n'.encode()
    out: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 - returned open
    added: set[str] = set()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        for src, inside in files:
            wanted = [(str(src), inside)]
            if os.access(src, os.X_OK):
                wanted += [(lib, lib) for lib in shared_libraries(Path(src))]
            for path, arc in wanted:
                if arc not in added:
                    added.add(arc)
                    _add(tar, path, f"rootfs{arc}", executable=os.access(path, os.X_OK))
        tmp = tarfile.TarInfo("rootfs/tmp")
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(tmp)
    out.seek(0)
    return out


def ensure_image(client: DockerClient, service: Service, progress: Callable[[str], None]) -> str:
    """The id of ``service``'s image for its current binary, built now if there is none."""
    from docker.errors import APIError, BuildError

    files = service.image_files()
    binary = files[0][0]
    ident = identity(files)
    repo, version = f"{REPO}/{service.name}", service.image_version()
    tag = f"{repo}:{version}"
    found = client.images.list(filters={"label": f"{BINARY_LABEL}={ident}"})
    if found:
        image = found[0]
        if tag not in image.tags:
            image.tag(repo, version)  # another build took the tag since: it names this one again
    else:
        progress(f"building the image {tag} from {binary} (once; nothing is pulled)")
        context = build_context(files)
        labels = {BINARY_LABEL: ident, SERVICE_LABEL: service.name, "wasm-workshop.source": str(binary)}
        try:
            image, _ = client.images.build(fileobj=context, custom_context=True, tag=tag, labels=labels, rm=True,
                                           forcerm=True, pull=False, timeout=600)
        except (BuildError, APIError) as exc:
            raise ServiceError(f"building the image {tag} failed ({_reason(exc)}): check `docker info` and the disk space") from None
        finally:
            context.close()
    _drop_untagged(client, service.name, keep=str(image.id))
    return str(image.id)


def _drop_untagged(client: DockerClient, service: str, keep: str) -> None:
    """Remove ``service``'s images that lost their tag to a newer build, unless a container uses one."""
    from docker.errors import APIError

    try:
        old = client.images.list(filters={"label": f"{SERVICE_LABEL}={service}", "dangling": True})
        for image in old:
            if image.id != keep and not client.containers.list(all=True, filters={"ancestor": image.id}):
                client.images.remove(image.id, noprune=False)
    except APIError:
        pass  # tidying only: an image still in use stays until the next build


def _reason(exc: Any) -> str:
    return str(getattr(exc, "explanation", None) or getattr(exc, "msg", None) or exc).strip().splitlines()[-1]
