"""What checks use: ``fail()`` for a plain-words verdict; fixtures come from the pytest plugin."""

from workshop.checking.feedback import CheckFailed, fail

__all__ = ["CheckFailed", "fail"]
