"""One APIRouter per resource: health, models, predict, samples and the page."""
