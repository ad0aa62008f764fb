"""One APIRouter per resource; each route is a thin plain ``def`` over a service module."""
