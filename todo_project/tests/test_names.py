"""One name for one thing: no two of the project's classes share a name, nor does one take its framework base's."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict

import authjwt
import common
import tasks
import todo_project

# Django finds a database backend's class, and a management command's, by these names.
NAMES_FRAMEWORKS_REQUIRE = {"DatabaseWrapper", "Command"}


def project_classes() -> list[type]:
    classes = []
    for package in (authjwt, common, tasks, todo_project):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if ".tests" in module.name or ".migrations" in module.name:
                continue
            members = inspect.getmembers(importlib.import_module(module.name), inspect.isclass)
            classes += [cls for _, cls in members if cls.__module__ == module.name]
    return classes


def test_no_two_project_classes_share_a_name() -> None:
    modules_by_name = defaultdict(set)
    for cls in project_classes():
        if cls.__name__ not in NAMES_FRAMEWORKS_REQUIRE:
            modules_by_name[cls.__name__].add(cls.__module__)

    assert {name: modules for name, modules in modules_by_name.items() if len(modules) > 1} == {}


def test_no_project_class_takes_the_name_of_the_class_it_extends() -> None:
    shadows = [
        f"{cls.__module__}.{cls.__name__}"
        for cls in project_classes()
        if cls.__name__ not in NAMES_FRAMEWORKS_REQUIRE
        and any(base.__name__ == cls.__name__ for base in cls.__mro__[1:])
    ]

    assert shadows == []
