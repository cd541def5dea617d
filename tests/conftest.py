import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)


def pytest_terminal_summary(terminalreporter):
    """How many random models and edits the property test ran (hypothesis does not say)."""
    import sys

    module = sys.modules.get("test_properties")
    if module is not None and module.RUNS["models"]:
        runs = module.RUNS
        terminalreporter.write_line(
            f"property test: {runs['models']} random models, {runs['edits']} edits checked, "
            f"{runs['refused']} refused with EditError")
