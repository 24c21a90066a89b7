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
    duplication = data.get("duplication")
    if isinstance(duplication, dict) and isinstance(duplication.get("base_texts"), list):
        # the templates sit beside the rules file, wherever it is installed
        duplication["base_texts"] = [str((Path(path).parent / name).resolve()) for name in duplication["base_texts"]]
    return Rules.model_validate(data)


@lru_cache(maxsize=8)
def cached_rules(path: str) -> Rules:
    return load_rules(path)
