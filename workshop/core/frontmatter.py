"""The schema of a lab.md's front matter, checked with pydantic (only when a lab.md is parsed)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RunSpec(BaseModel):
    """One entry of ``runs:`` (see content.Run)."""

    model_config = ConfigDict(extra="forbid")
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = {}
    ready: str | None = Field(default=None, pattern=r"^http://127\.0\.0\.1:\d+/")  # answers 200 once up
    timeout: float = 60


class Login(BaseModel):
    """One entry of ``logins:``: the user and password a service wants, which the lab gives the learner."""

    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1)
    password: str = Field(min_length=1)


class FrontMatter(BaseModel):
    """What a lab.md declares about itself."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^\d\d$")
    title: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    minutes: int = Field(gt=0, le=600)
    tools: list[str] = []
    services: list[str] = []
    files: dict[str, list[str]] = {}  # step id -> the files `workshop reset LAB/STEP` restores
    runs: list[RunSpec] = []
    # service name -> the login it wants (the private registry's): the workshop sets the service up with
    # it, so the login is written once, here, in the lab that gives it to the learner
    logins: dict[str, Login] = {}
    # the folder names this lab had before a renumbering: a learner's progress and folder under such a
    # name carry over to this one (see core/workspace.migrate)
    formerly: list[str] = []
    # the folder of the lab whose solution this lab starts from: its starter/ then holds only the files the
    # lab adds or changes, and the learner gets that solution with them on top (see core/chain.py)
    continues: str | None = Field(default=None, pattern=r"^\d\d-[a-z0-9-]+$")
