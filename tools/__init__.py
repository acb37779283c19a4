"""Programs that run, measure or photograph the site: `python -m tools.NAME`."""

from tools.devpackages import explain_missing_dev_packages

explain_missing_dev_packages()
