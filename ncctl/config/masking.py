"""Secrets masked for showing: the secret fields of a model (``SecretStr``), whatever the model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, SecretStr

MASK = "********"


def masked(config: BaseModel) -> dict[str, Any]:
    """``config`` as plain data, every secret replaced by a mask."""
    data = config.model_dump(mode="json")
    _mask_secrets(config, data)
    return data


def _mask_secrets(model: BaseModel, data: dict[str, Any]) -> None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            data[name] = MASK
        elif isinstance(value, BaseModel):
            _mask_secrets(value, data[name])
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    _mask_secrets(item, data[name][key])


def _secret_field_names(root: type[BaseModel]) -> frozenset[str]:
    """Names of every secret field of ``root`` and the models inside it (password, secret_key)."""
    names: set[str] = set()
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [root]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            text = repr(info.annotation)
            if "SecretStr" in text:
                names.add(name)
            todo.extend(_models_in(info.annotation))
    return frozenset(names)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_models_in(arg))
    for meta in getattr(annotation, "__metadata__", ()) or ():
        found.extend(_models_in(meta))
    return found


def mask_value(root: type[BaseModel], key: str, value: Any) -> Any:
    """``value`` as it may be shown for ``key`` (dotted, within a ``root`` document): secrets
    (and secrets inside tables) masked."""
    secret = _secret_field_names(root)
    if value is not None and key.rsplit(".", 1)[-1] in secret:
        return MASK
    if isinstance(value, dict):
        return {k: mask_value(root, f"{key}.{k}", v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(root, key, v) for v in value]
    return value
