"""``arag eval``: datasets, evaluators, the langsmith.evaluate runner, sweeps and reports."""
