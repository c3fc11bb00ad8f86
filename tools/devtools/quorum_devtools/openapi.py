"""The OpenAPI 3.1 document of the HTTP/JSON API, generated from the protos' descriptors.

Written by `make proto` beside the generated code (quorum/gateway/v1/openapi.json) and
compared by `make proto-check`, so it is never edited by hand and never stale. Each RPC
of the public services is `POST /<package>.<Service>/<Method>` with the request message
as its JSON body (proto3 JSON mapping: lowerCamelCase names, 64-bit integers as
strings, enums by name, Timestamps as RFC 3339); a refusal is a google.rpc.Status.
Descriptions are the protos' own comments.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import descriptor_pb2

FDP = descriptor_pb2.FieldDescriptorProto
PUBLIC_PACKAGE = "quorum.gateway.v1"
STATUS = "google.rpc.Status"
INT32 = {"type": "integer", "format": "int32", "minimum": -(2**31), "maximum": 2**31 - 1}
UINT32 = {"type": "integer", "format": "int32", "minimum": 0, "maximum": 2**32 - 1}
# proto3 JSON writes 64-bit integers as strings and reads strings or numbers.
INT64 = {"type": "string", "format": "int64", "pattern": "^-?[0-9]{1,19}$"}
UINT64 = {"type": "string", "format": "uint64", "pattern": "^[0-9]{1,20}$"}
FLOAT = {"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}
SCALARS: dict[int, dict[str, Any]] = {
    FDP.TYPE_STRING: {"type": "string"},
    FDP.TYPE_BOOL: {"type": "boolean"},
    FDP.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
    FDP.TYPE_INT32: INT32,
    FDP.TYPE_SINT32: INT32,
    FDP.TYPE_SFIXED32: INT32,
    FDP.TYPE_UINT32: UINT32,
    FDP.TYPE_FIXED32: UINT32,
    FDP.TYPE_INT64: INT64,
    FDP.TYPE_SINT64: INT64,
    FDP.TYPE_SFIXED64: INT64,
    FDP.TYPE_UINT64: UINT64,
    FDP.TYPE_FIXED64: UINT64,
    FDP.TYPE_DOUBLE: FLOAT,
    FDP.TYPE_FLOAT: FLOAT,
}
# Well-known types have JSON forms of their own.
WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"},
    "google.protobuf.Empty": {"type": "object", "additionalProperties": False},
    "google.protobuf.Any": {
        "type": "object",
        "description": "A message of the type its `@type` names, with that type's fields.",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
}


class _Protos:
    """Every message, enum and comment of a descriptor set, by full name."""

    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.comments: dict[str, str] = {}
        self.files = list(files.file)
        for file in self.files:
            located = {
                tuple(loc.path): loc.leading_comments.strip()
                for loc in file.source_code_info.location
                if loc.leading_comments.strip()
            }
            for i, message in enumerate(file.message_type):
                self._message(f"{file.package}.{message.name}", message, (4, i), located)
            for i, enum in enumerate(file.enum_type):
                self._enum(f"{file.package}.{enum.name}", enum, (5, i), located)
            for i, service in enumerate(file.service):
                name = f"{file.package}.{service.name}"
                self._comment(name, located.get((6, i)))
                for j, method in enumerate(service.method):
                    self._comment(f"{name}/{method.name}", located.get((6, i, 2, j)))

    def _comment(self, name: str, text: str | None) -> None:
        if text:
            self.comments[name] = " ".join(line.strip() for line in text.splitlines())

    def _message(
        self,
        name: str,
        message: descriptor_pb2.DescriptorProto,
        path: tuple[int, ...],
        located: dict[tuple[int, ...], str],
    ) -> None:
        self.messages[name] = message
        self._comment(name, located.get(path))
        for i, field in enumerate(message.field):
            self._comment(f"{name}.{field.name}", located.get((*path, 2, i)))
        for i, nested in enumerate(message.nested_type):
            self._message(f"{name}.{nested.name}", nested, (*path, 3, i), located)
        for i, enum in enumerate(message.enum_type):
            self._enum(f"{name}.{enum.name}", enum, (*path, 4, i), located)

    def _enum(
        self,
        name: str,
        enum: descriptor_pb2.EnumDescriptorProto,
        path: tuple[int, ...],
        located: dict[tuple[int, ...], str],
    ) -> None:
        self.enums[name] = enum
        self._comment(name, located.get(path))


class _Schemas:
    def __init__(self, protos: _Protos) -> None:
        self._protos = protos
        self.schemas: dict[str, dict[str, Any]] = {}

    def ref(self, name: str) -> dict[str, Any]:
        if name in WELL_KNOWN:
            return dict(WELL_KNOWN[name])
        if name not in self.schemas:
            self.schemas[name] = {}  # reserved first: messages may refer to themselves
            self.schemas[name] = (
                self._enum(name) if name in self._protos.enums else self._message(name)
            )
        return {"$ref": f"#/components/schemas/{name}"}

    def _enum(self, name: str) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "string",
            "enum": [value.name for value in self._protos.enums[name].value],
        }
        return self._described(schema, name)

    def _field(self, field: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
        if field.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
            type_name = field.type_name.lstrip(".")
            entry = self._protos.messages.get(type_name)
            if entry is not None and entry.options.map_entry:
                # map<K, V>: a JSON object whose keys are K's text form.
                return {"type": "object", "additionalProperties": self._field(entry.field[1])}
            value = self.ref(type_name)
        else:
            value = dict(SCALARS[field.type])
        if field.label == FDP.LABEL_REPEATED:
            return {"type": "array", "items": value}
        return value

    def _message(self, name: str) -> dict[str, Any]:
        message = self._protos.messages[name]
        properties = {}
        for field in message.field:
            schema = self._field(field)
            comment = self._protos.comments.get(f"{name}.{field.name}")
            if comment:
                schema = (
                    {**schema, "description": comment}
                    if "$ref" not in schema
                    else {
                        "allOf": [schema],
                        "description": comment,
                    }
                )
            properties[field.json_name] = schema
        schema = {"type": "object", "properties": properties, "additionalProperties": False}
        return self._described(schema, name)

    def _described(self, schema: dict[str, Any], name: str) -> dict[str, Any]:
        comment = self._protos.comments.get(name)
        return {**schema, "description": comment} if comment else schema


def document(files: descriptor_pb2.FileDescriptorSet) -> dict[str, Any]:
    protos = _Protos(files)
    schemas = _Schemas(protos)
    error = {
        "description": "A refusal: google.rpc.Status with its details (BadRequest, "
        "PreconditionFailure, quorum.domain.v1.GateReport). The HTTP status follows the "
        "standard mapping of the gRPC code (google/rpc/code.proto).",
        "content": {"application/json": {"schema": schemas.ref(STATUS)}},
    }
    paths: dict[str, Any] = {}
    tags = []
    for file in protos.files:
        if file.package != PUBLIC_PACKAGE:
            continue
        for service in file.service:
            service_name = f"{file.package}.{service.name}"
            tags.append(
                {"name": service.name, "description": protos.comments.get(service_name, "")}
            )
            for method in service.method:
                request = schemas.ref(method.input_type.lstrip("."))
                response = schemas.ref(method.output_type.lstrip("."))
                ok: dict[str, Any] = {"content": {"application/json": {"schema": response}}}
                ok["description"] = f"{method.output_type.lstrip('.')} in proto3 JSON"
                if method.server_streaming:
                    ok = {
                        "description": "Server-sent events: each `data:` is a "
                        f"{method.output_type.lstrip('.')} in proto3 JSON and its `id:` the "
                        "cursor to resume from (the request's `cursor`, or a Last-Event-ID "
                        "header); a failure ends the stream with `event: error` and a "
                        "google.rpc.Status.",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    }
                paths[f"/{service_name}/{method.name}"] = {
                    "post": {
                        "operationId": f"{service.name}_{method.name}",
                        "tags": [service.name],
                        "summary": method.name,
                        "description": protos.comments.get(f"{service_name}/{method.name}", ""),
                        "requestBody": {
                            "required": True,
                            "content": {"application/json": {"schema": request}},
                        },
                        "responses": {"200": ok, "default": error},
                    }
                }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Quorum public API (HTTP/JSON)",
            "version": "v1",
            "description": "The quorum.gateway.v1 gRPC services over HTTP/JSON, generated "
            "from proto/quorum/gateway/v1/gateway.proto. Every call is a POST to the gRPC "
            "method's path with the request message in proto3 JSON.",
        },
        "security": [{"bearer": []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from AccessService/CreateApiKey",
                }
            },
            "schemas": dict(sorted(schemas.schemas.items())),
        },
    }


def render(files: descriptor_pb2.FileDescriptorSet) -> str:
    return json.dumps(document(files), indent=2, sort_keys=False) + "\n"
