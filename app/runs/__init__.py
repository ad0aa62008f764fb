"""Training runs started from the web (issue 15): a SQLite registry shared by every server worker
(``store``), one child process per run (``worker``), the queue around them (``manager``), finished
runs as models (``models``) and what the routes answer (``service``)."""
