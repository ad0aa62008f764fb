"""Property-based conformance: schemathesis generates requests from the app's own OpenAPI
schema for every operation and checks answers against it (in-process ASGI, no network)."""

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from app.config import Settings
from app.main import create_app
from model.data import REPO_ROOT

# Schemathesis runs the app's lifespan itself, so the shipped models are loaded and self-tested.
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(Settings(weights_dir=REPO_ROOT / "weights", max_runs=0)))

# A schema cannot say "the pixels contain ink" or "the base64 decodes to a PNG", so a
# schema-valid drawing may still be refused, but only for one of these content reasons.
CONTENT_REASONS = (
    "draw something first", "not valid base64", "must be base64-encoded", "has no ','",
    "has media type", "the data is not an image", "the image is empty", "images are not accepted",
    "cannot read the", "corrupt or truncated", "far too large", "are accepted",
    # The multipart limits (CNNVIS_MAX_FORM_*) the schema cannot fully state: a field sent
    # several times (an array), or an extra field longer than the field-size limit.
    "Too many fields", "Part exceeded maximum size",
    # Which classes a model has (a counterfactual's target) is the model's, not the schema's.
    "is not a class of model",
)
DRAWING_OPERATIONS = {"/api/predict", "/api/predict/file", "/api/activations", "/api/compare",
                      "/api/explain", "/api/im2col", "/api/robustness", "/api/preprocess",
                      "/api/unit", "/api/runs/{run_id}/activations", "/api/units/rank",
                      "/api/neighbors", "/api/counterfactual"}


def rejected_only_for_content(ctx, response, case):
    """Stands in for positive_data_acceptance on drawing operations: schema-valid input is
    answered 2xx, an unknown model 404, or a 400/413/415/422 that names a content reason."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code < 400 or response.status_code == 404:
        return None
    detail = response.json().get("detail", "")
    assert response.status_code in (400, 413, 415, 422) and any(
        reason in detail for reason in CONTENT_REASONS), (
        f"schema-valid request refused with {response.status_code}: {detail}")
    return None


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case):
    if case.path in DRAWING_OPERATIONS:
        case.call_and_validate(excluded_checks=[positive_data_acceptance],
                               additional_checks=[rejected_only_for_content])
    else:
        case.call_and_validate()
