"""Build config dataclasses from defaults, a YAML file and "a.b.c=value" overrides, type-checked.

Order: the dataclass defaults, then the YAML file (any subset of the fields, nested like the
dataclasses), then each override in turn. Override values are parsed with yaml.safe_load, so
`train.lr=1e-3`, `loss.losses_on=[verts, joints3D]` and `camera.mean_translation=[0, 0.2, 40]` work.
Mapping-typed fields (e.g. loss.init_loss_weights) are merged key by key rather than replaced.
Every value is checked against its field's type annotation (dataclass, tuple, list, dict, float, int,
bool, str, Literal, Optional); a wrong type or an unknown key raises `ConfigError` naming the key, and so
does a number outside its valid range (configs/ranges.py).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from configs.ranges import range_problem
from utils.errors import UsageError

T = TypeVar("T")


class ConfigError(UsageError, ValueError):
    """A config file, key or value is invalid."""


def load_config(cls: type[T], yaml_path: str | os.PathLike | None = None, overrides: Iterable[str] = ()) -> T:
    """Build `cls` (a dataclass whose fields all have defaults) from defaults, YAML and overrides."""
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise TypeError(f"load_config needs a dataclass type, got {cls!r}.")
    raw = config_to_dict(cls())
    if yaml_path is not None:
        raw = _merge(cls, raw, _read_yaml(Path(yaml_path)), "")
    for override in overrides:
        raw = _merge(cls, raw, _parse_override(override), "")
    config = _build(cls, raw, "")
    problem = range_problem(config)
    if problem is not None:
        raise ConfigError(problem)
    return config


def config_to_dict(config: Any) -> Any:
    """A config dataclass -> nested plain dicts and lists (YAML- and torch.load(weights_only)-safe)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, Mapping):
        return {key: config_to_dict(value) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return [config_to_dict(value) for value in config]
    return config


def save_config(config: Any, path: str | os.PathLike) -> Path:
    """Write a config dataclass as YAML, readable again by `load_config`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
    return path


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"Config file '{path}' does not exist; pass the path of an existing YAML file.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"Config file '{path}' is not valid YAML: {error}".replace("\n", " ")) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file '{path}' must hold a mapping of sections, not a {type(data).__name__}."
        )
    return data


def _parse_override(override: str) -> dict:
    """ "a.b.c=value" -> {"a": {"b": {"c": parsed value}}}."""
    key, sep, text = override.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"Override '{override}' must look like section.key=value, e.g. train.lr=0.001.")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text  # not YAML (e.g. an unquoted string with a colon): keep it as a string
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def _merge(tp: Any, base: Any, patch: Any, path: str) -> Any:
    """Apply `patch` onto the plain value `base` of annotated type `tp`, checking keys of dataclasses."""
    tp = _strip_optional(tp) if base is not None else tp
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(patch, Mapping):
            raise ConfigError(
                f"Config section '{path.rstrip('.')}' must be given as a mapping of its fields, "
                f"got {patch!r}."
            )
        hints = _type_hints(tp)
        merged = dict(base)
        for key, value in patch.items():
            if key not in hints:
                where = f" under '{path.rstrip('.')}'" if path else ""
                raise ConfigError(
                    f"Unknown config key '{path}{key}'; valid keys{where} are: {', '.join(hints)}."
                )
            merged[key] = _merge(hints[key], base[key], value, f"{path}{key}.")
        return merged
    if typing.get_origin(tp) is dict and isinstance(patch, Mapping) and isinstance(base, Mapping):
        value_type = typing.get_args(tp)[1] if typing.get_args(tp) else Any
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(value_type, base.get(key), value, f"{path}{key}.")
        return merged
    return patch


def _build(tp: Any, value: Any, path: str) -> Any:
    """Check `value` against the annotation `tp` and convert it (dicts -> dataclasses, lists -> tuples)."""
    name = path.rstrip(".") or "<root>"
    origin, args = typing.get_origin(tp), typing.get_args(tp)

    def fail(expected: str) -> ConfigError:
        return ConfigError(f"Config value for '{name}' must be {expected}, got {value!r}.")

    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _build(option, value, path)
            except ConfigError:
                continue
        raise fail(" or ".join(_describe(a) for a in args))
    if origin is typing.Literal:
        # Compare types too: True == 1 and 18.0 == 18 must not pass for Literal[1] or Literal[18].
        if any(type(value) is type(option) and value == option for option in args):
            return value
        raise fail("one of " + ", ".join(map(repr, args)))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise fail(f"a mapping of the fields of {tp.__name__}")
        hints = _type_hints(tp)
        unknown = [key for key in value if key not in hints]
        if unknown:
            raise ConfigError(f"Unknown config key '{path}{unknown[0]}'; valid keys are: {', '.join(hints)}.")
        return tp(**{key: _build(hints[key], item, f"{path}{key}.") for key, item in value.items()})
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise fail(_describe(tp))
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if args and len(args) != len(value):
                raise fail(_describe(tp))
            items = [_build(a, v, f"{path}{i}.") for i, (a, v) in enumerate(zip(args, value, strict=False))]
        else:
            item_type = args[0] if args else Any
            items = [_build(item_type, v, f"{path}{i}.") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise fail(_describe(tp))
        key_type, value_type = args if args else (Any, Any)
        return {_build(key_type, k, path): _build(value_type, v, f"{path}{k}.") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise fail("true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise fail("an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        # YAML 1.1 reads "1e-4" (no dot) as a string; accept anything float() accepts.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise fail("a number")
    if tp is str:
        if isinstance(value, str):
            return value
        raise fail("a string")
    raise ConfigError(f"Config field '{name}' has an unsupported type annotation {tp!r}.")


def _strip_optional(tp: Any) -> Any:
    """Optional[X] -> X (used while merging into a value that is set)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return tp


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """Resolved field annotations of a dataclass, in field order (string annotations evaluated)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _describe(tp: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null"}
    if tp in names:
        return names[tp]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return f"a list of {_describe(args[0])} values"
    if origin is tuple:
        return f"a list of {len(args)} values ({', '.join(_describe(a) for a in args)})"
    if origin is list:
        return f"a list of {_describe(args[0]) if args else 'values'}"
    if origin is dict:
        return f"a mapping to {_describe(args[1]) if args else 'values'}"
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    return getattr(tp, "__name__", repr(tp))
