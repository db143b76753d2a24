"""Routes of the reference that honcho serve does not offer: a clear 501 rather than a bare 404.

Left out of the OpenAPI document (they have nothing to describe); docs/http-api.md lists them.
"""

from __future__ import annotations

from fastapi import APIRouter

from honcho_cli.server.errors import NotSupported

router = APIRouter(prefix="/v3/workspaces/{workspace_id}", include_in_schema=False)

_MISSING = [
    ("POST", "/sessions/{session_id}/messages/upload", "file uploads (add the text as messages)"),
]


def _refuse(what: str):
    def handler() -> None:
        raise NotSupported(f"{what} is not supported by honcho serve (see docs/http-api.md)", feature=what)

    return handler


for _method, _path, _what in _MISSING:
    router.add_api_route(_path, _refuse(_what), methods=[_method])
