"""The hot answers (predict, activations, compare) serialised in one pass by pydantic-core,
without FastAPI validating the service's dict against the response model a second time: that
walk over every input value cost more server CPU than the network itself (issue 18 profile)."""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi.responses import Response


class JsonAnswer(Response):
    """A service's answer, already shaped to its route's ``response_model`` (which still
    documents it in the OpenAPI schema; the schemathesis tests hold every served answer to that
    schema). Non-finite floats become null, as FastAPI's own serialiser makes them."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content, inf_nan_mode="null")
