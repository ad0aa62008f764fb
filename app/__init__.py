"""cnnvis web application: FastAPI service, command line."""
