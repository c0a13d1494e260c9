# Dropped by a submission that fakes a pass: if pytest loaded this, every check would pass.
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"


def pytest_runtest_call(item):
    item.runtest = lambda: None


pytest_plugins = ["pytest_fakepass"]
