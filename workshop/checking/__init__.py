"""What checks use: ``fail()`` for a plain-words verdict, ``first_failure()`` to quote `go test`;
fixtures come from the pytest plugin, mutants from ``workshop.checking.mutants``."""

from workshop.checking.commands import first_failure
from workshop.checking.feedback import CheckFailed, fail, note

__all__ = ["CheckFailed", "fail", "first_failure", "note"]
