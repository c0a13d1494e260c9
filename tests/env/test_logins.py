"""The private registry wants the login the labs give the learner (front matter `logins:`), read from the
content in use: the real registry program, asked over HTTP with and without it."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from tests.env.conftest import free_ports
from workshop.core.content import load_workshop
from workshop.core.locations import bundled_content
from workshop.env import http, services
from workshop.env.services import ServiceError


def _status(url: str, login: tuple[str, str] | None) -> int:
    headers = {"Authorization": "Basic " + base64.b64encode(":".join(login).encode()).decode()} if login else {}
    return http.request(f"{url}/v2/", headers=headers).status


def _content_with(tmp_path: Path, login: str | None) -> Path:
    """A copy of the labs' front matter and text (no starters needed), with lab 08's logins: line changed."""
    root = tmp_path / "content"
    for lab in (bundled_content() / "labs").iterdir():
        if lab.is_dir():
            (root / "labs" / lab.name).mkdir(parents=True)
            shutil.copy(lab / "lab.md", root / "labs" / lab.name / "lab.md")
    for lab_md in (root / "labs").glob("*/lab.md"):
        text = lab_md.read_text()
        if "logins:" in text:
            given = "" if login is None else f"logins:\n  private-registry: {login}\n"
            start = text.index("logins:")
            end = text.index("\n", text.index("private-registry:", start)) + 1
            lab_md.write_text(text[:start] + given + text[end:])
    return root


def test_the_private_registry_wants_the_login_the_labs_give(isolated: Path, monkeypatch: pytest.MonkeyPatch,
                                                            needs_binaries: None) -> None:
    monkeypatch.setenv("WORKSHOP_PORT_PRIVATE_REGISTRY", str(free_ports(1)[0]))
    given = load_workshop(bundled_content()).login("private-registry")
    assert given is not None, "a lab gives the learner the private registry's login"
    url = services.ensure(["private-registry"])["private-registry"].url
    assert _status(url, None) == 401 and _status(url, (given[0], given[1] + "x")) == 401
    assert _status(url, given) == 200

    services.down(["private-registry"])  # another content, another login: the registry follows it
    monkeypatch.setenv("WORKSHOP_CONTENT", str(_content_with(isolated, "{user: author, password: s3cret-enough}")))
    url = services.ensure(["private-registry"])["private-registry"].url
    assert _status(url, ("author", "s3cret-enough")) == 200 and _status(url, given) == 401


def test_no_login_in_the_content_says_where_to_give_one(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKSHOP_PORT_PRIVATE_REGISTRY", str(free_ports(1)[0]))
    monkeypatch.setenv("WORKSHOP_CONTENT", str(_content_with(isolated, None)))
    with pytest.raises(ServiceError, match=r"no lab in .* gives a login for private-registry: add `logins:"):
        services.ensure(["private-registry"])
