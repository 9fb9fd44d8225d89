"""Typed, immutable wire objects whose fields are each declared once, as a marshmallow field on a frozen dataclass.

From that one declaration ``wire_model`` derives the constructor's checks (an object of the model is valid by
construction: its field validators and cross-field ``problems`` run in ``__post_init__``), the wire name and a
direct serialiser (``to_json``: no schema on the way out), and a strict marshmallow schema (``schema_of``) that
checks plain JSON and loads it into the model, and from which apispec writes the OpenAPI document.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from marshmallow import RAISE, Schema, ValidationError, fields, post_load

_WIRE = "cds_hooks.wire"
ModelT = TypeVar("ModelT", bound="WireModel")
Dump = Callable[[Any], Any]
Validator = Callable[[Any], Any]


class ResponseInvalid(ValidationError):
    """Our own response broke the spec: a defect in the service, never the client's fault."""

    def __init__(self, problems: Mapping[str, Any]) -> None:
        super().__init__(dict(problems))
        self.problems = problems

    def __str__(self) -> str:
        return f"response violates CDS Hooks 2.0: {dict(self.problems)}"


class StrictSchema(Schema):
    """Our own output is held to the strictest reading: unknown keys are refused."""

    class Meta:
        unknown = RAISE


def wire(declared: fields.Field[Any]) -> dict[str, Any]:
    """Dataclass field metadata declaring the field by its marshmallow field (wire name: its ``data_key``)."""
    return {_WIRE: declared}


class WireModel:
    """Base of the model classes; ``wire_model`` fills in the class data below."""

    wire_fields: ClassVar[tuple[tuple[str, str, Dump], ...]] = ()
    field_checks: ClassVar[tuple[tuple[str, str, tuple[Validator, ...]], ...]] = ()

    def __post_init__(self) -> None:
        self._check(None)

    def evolve(self: ModelT, **changes: Any) -> ModelT:
        """A copy with ``changes`` (like ``dataclasses.replace``), checking again only what the changes can break.

        The changed fields' own checks and the cross-field ``problems`` run; every other field passed its checks
        when this object was built and cannot have changed since (the model is frozen, its values immutable).
        """
        names = {attribute for attribute, _, _ in self.wire_fields}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(unknown)}")
        evolved = object.__new__(type(self))
        evolved.__dict__.update(self.__dict__, **changes)
        evolved._check(frozenset(changes))
        return evolved

    def _check(self, only: frozenset[str] | None) -> None:
        """Run the field checks (of the fields in ``only``, or all), then the cross-field rules."""
        for attribute, key, validators in self.field_checks:
            if only is not None and attribute not in only:
                continue
            value = getattr(self, attribute)
            if value is None:
                continue
            try:
                for validator in validators:
                    validator(value)
            except ValidationError as exc:
                raise ResponseInvalid({f"{type(self).__name__}.{key}": exc.messages}) from exc
        problems = self.problems()
        if problems:
            raise ResponseInvalid(problems)

    def problems(self) -> dict[str, list[str]]:
        """Rules across fields, by wire name (none by default)."""
        return {}

    def to_json(self) -> dict[str, Any]:
        """The wire form: fields in declaration order, ``None`` left out."""
        document: dict[str, Any] = {}
        for attribute, key, dump in self.wire_fields:
            value = getattr(self, attribute)
            if value is not None:
                document[key] = dump(value)
        return document


def _same(value: Any) -> Any:
    return value


def _one(value: WireModel) -> Any:
    return value.to_json()


def _many(values: tuple[WireModel, ...]) -> Any:
    return [value.to_json() for value in values]


def _mapping(value: Mapping[str, Any]) -> Any:
    return {key: item.to_json() if isinstance(item, WireModel) else item for key, item in value.items()}


def _dumper(declared: fields.Field[Any]) -> Dump:
    if isinstance(declared, fields.Nested):
        return _one
    if isinstance(declared, fields.List) and isinstance(declared.inner, fields.Nested):
        return _many
    if isinstance(declared, fields.Dict):
        return _mapping
    return _same


_SCHEMAS: dict[type[WireModel], Schema] = {}


def _schema_class(model: type[WireModel], declared: list[tuple[str, fields.Field[Any]]]) -> type[Schema]:
    def make(self: Schema, data: dict[str, Any], **_: Any) -> WireModel:
        return model(**{key: tuple(value) if isinstance(value, list) else value for key, value in data.items()})

    attributes: dict[str, Any] = dict(declared)
    attributes["_make"] = post_load(make)
    attributes["__doc__"] = model.__doc__
    return type(f"{model.__name__}Schema", (StrictSchema,), attributes)


def wire_model(model: type[ModelT]) -> type[ModelT]:
    """Derive the serialiser, the constructor checks and the schema of a frozen dataclass declared with ``wire``."""
    declared = [(f.name, f.metadata[_WIRE]) for f in dataclasses.fields(model)]  # type: ignore[arg-type]
    model.wire_fields = tuple((name, field.data_key or name, _dumper(field)) for name, field in declared)
    model.field_checks = tuple(
        (name, field.data_key or name, tuple(field.validators)) for name, field in declared if field.validators
    )
    _SCHEMAS[model] = _schema_class(model, declared)()
    return model


def schema_of(model: type[WireModel]) -> Schema:
    """The strict marshmallow schema of a model class (loads JSON into the model)."""
    return _SCHEMAS[model]


def _filled(value: Any) -> None:
    if not value:
        raise ValidationError("must not be empty")


def filled_dict(**options: Any) -> fields.Dict:
    """A JSON object field that may be absent but never ``{}``."""
    return fields.Dict(validate=_filled, metadata={"minProperties": 1}, **options)


def nested(model: type[WireModel], **options: Any) -> fields.Nested:
    """A field holding one object of ``model``."""
    return fields.Nested(lambda: schema_of(model), **options)


def nested_list(model: type[WireModel], **options: Any) -> fields.List[Any]:
    """A field holding a list (a tuple in the model) of ``model`` objects."""
    return fields.List(fields.Nested(lambda: schema_of(model)), **options)
