"""Validation of everything the sandbox emits against the upstream contract.

The sandbox is only useful if a bot that passes against it also passes against the real
signal-cli-rest-api, so every envelope and response body is checked twice: against the
swagger definitions that signalbot ships (the upstream contract) and against signalbot's
own pydantic models (what the bot will actually accept). A failure raises
:class:`ContractViolation` in the sandbox instead of letting signalbot silently drop the
message (Gotcha 2).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft4Validator
from pydantic import BaseModel, TypeAdapter, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from signalbot import _generated as gen

SCHEMA_URI = "urn:signal-cli-rest-api:swagger"

# signalbot's pydantic counterpart of each swagger definition the sandbox emits.
PYDANTIC_MODELS: dict[str, type[BaseModel]] = {
    "client.About": gen.About,
    "client.GroupEntry": gen.GroupEntry,
    "client.IdentityEntry": gen.IdentityEntry,
    "client.ListContactsResponse": gen.ListContactsResponse,
    "api.CreateGroupResponse": gen.CreateGroupResponse,
    "api.RemoteDeleteResponse": gen.RemoteDeleteResponse,
    "api.Error": gen.ApiErrorError,
    "api.SendMessageError": gen.ApiSendMessageErrorSendMessageError,
    "data.SendMessageResponse": gen.SendMessageResponse,
    "data.Message": gen.Message,
}


class ContractViolation(AssertionError):
    """Raised when the sandbox is about to emit something upstream never would."""


def _raw_document() -> dict[str, Any]:
    path = resources.files("signalbot") / "_generated/json_schema/signal-cli-rest-api.json"
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def _nullable_optionals(definition: dict[str, Any]) -> dict[str, Any]:
    """Let optional properties be null.

    Swagger 2.0 cannot say "nullable", yet signal-cli serialises absent optional fields of
    its envelope records as JSON null (e.g. ``sourceNumber`` of a person who hides their
    number, ``message`` of a reaction). Required fields stay strict.
    """
    out = copy.deepcopy(definition)
    required = set(out.get("required", []))
    for name, prop in out.get("properties", {}).items():
        if name not in required:
            out["properties"][name] = {"anyOf": [prop, {"type": "null"}]}
    return out


@cache
def document() -> dict[str, Any]:
    """The swagger document, with envelope definitions relaxed as described above."""
    doc = _raw_document()
    for name, definition in doc["definitions"].items():
        if name.startswith("receive."):
            doc["definitions"][name] = _nullable_optionals(definition)
    return doc


@cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = DRAFT4.create_resource(document())
    registry: Registry[Any] = Registry().with_resource(SCHEMA_URI, resource)
    return registry


@cache
def validator(definition: str) -> Draft4Validator:
    """A validator for one ``#/definitions/<name>`` of the swagger document."""
    if definition not in document()["definitions"]:
        raise KeyError(f"unknown swagger definition {definition!r}")
    schema = {"$ref": f"{SCHEMA_URI}#/definitions/{definition}"}
    return Draft4Validator(schema, registry=_registry())


def schema_errors(definition: str, instance: Any, *, ignore_required: bool = False) -> list[str]:
    """Human-readable schema errors.

    ``ignore_required`` mimics Go's JSON binding of request bodies: missing fields and
    top-level nulls become zero values instead of errors.
    """
    if ignore_required and isinstance(instance, dict):
        instance = {k: v for k, v in instance.items() if v is not None}
    errors = []
    for err in validator(definition).iter_errors(instance):
        if ignore_required and err.validator == "required":
            continue
        where = "/".join(str(p) for p in err.absolute_path) or "<root>"
        errors.append(f"{where}: {err.message}")
    return errors


def check(definition: str, instance: Any) -> None:
    """Validate against the swagger definition and signalbot's model; raise if either fails."""
    errors = schema_errors(definition, instance)
    if errors:
        raise ContractViolation(f"{definition} violates the upstream schema: {errors}")
    model = PYDANTIC_MODELS.get(definition)
    if model is not None:
        try:
            model.model_validate(instance)
        except ValidationError as exc:
            raise ContractViolation(f"{definition} rejected by signalbot: {exc}") from exc


def check_list(definition: str, items: Any) -> None:
    """Validate a JSON array whose items are each a ``definition``."""
    if not isinstance(items, list):
        raise ContractViolation(f"expected a JSON array of {definition}")
    for item in items:
        check(definition, item)
    model = PYDANTIC_MODELS.get(definition)
    if model is not None:
        try:
            TypeAdapter(list[model]).validate_python(items)  # type: ignore[valid-type]
        except ValidationError as exc:
            raise ContractViolation(f"list of {definition} rejected: {exc}") from exc


def check_envelope(message: dict[str, Any]) -> None:
    """Validate one websocket frame (``{"envelope": ..., "account": ...}``)."""
    check("data.Message", message)
