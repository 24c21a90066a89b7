"""Load the activity's rules file (YAML) into the domain's `Rules`, validated once at load time."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import yaml

from pipeline.ruleset import Rules

__all__ = ["Rules", "cached_rules", "load_rules"]


def load_rules(path: Path | str) -> Rules:
    """Read and validate a rules file.

    Raises:
        ValueError: the file is not valid YAML or misses a rule.
    """
    raw = Path(path).read_bytes()
    data = yaml.safe_load(raw)
    if not isinstance(data, dict):
        raise ValueError(f"rules file {path} is not a mapping")
    data["digest"] = hashlib.sha256(raw).hexdigest()
    return Rules.model_validate(data)


@lru_cache(maxsize=8)
def cached_rules(path: str) -> Rules:
    return load_rules(path)
