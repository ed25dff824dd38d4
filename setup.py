"""Packaging beyond pyproject.toml: ship the top-level `configs/` folder inside the package.

`configs/` stays at the repository's top level (the project layout) and installs as the
package data `policysearch/configs/` (package `policysearch.configs` mapped onto the folder;
its sub-folders are config groups, listed as namespace packages so that every *.yaml in them
ships). `policysearch.cli.CONFIG_DIR` finds it there. Nothing to add for a new config group.
"""

from setuptools import find_namespace_packages, find_packages, setup

CODE = find_packages(include=["policysearch", "policysearch.*", "envs", "envs.*"])
CONFIGS = ["policysearch.configs"] + [f"policysearch.configs.{p}" for p in find_namespace_packages(where="configs")]

setup(
    packages=CODE + CONFIGS,
    package_dir={"policysearch.configs": "configs"},
    package_data={"": ["*.yaml"]},
)
