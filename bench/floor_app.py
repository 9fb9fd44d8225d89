"""The framework floor: the service's stack doing nothing (Flask, gunicorn sync workers, orjson body parse, fixed card).

Served by ``bench/run.py`` exactly like the service and loaded the same way, so service / floor says how much of each
call is ours on whatever machine runs the bench. Run by hand:
``.venv/bin/gunicorn --workers 2 --bind 127.0.0.1:8099 bench.floor_app:app``.
"""

from __future__ import annotations

import orjson
from flask import Flask, Response, request

FIXED_RESPONSE = orjson.dumps(
    {
        "cards": [
            {
                "uuid": "6c1f3d0e-5b7a-4b8e-9a43-2f1d0c9e8b7a",
                "summary": "Framework floor: a fixed card",
                "indicator": "info",
                "source": {"label": "bench floor"},
            }
        ]
    }
)

app = Flask(__name__)


@app.post("/cds-services/<service_id>")
def hook(service_id: str) -> Response:
    """Parse the body (as the service must) and answer the fixed card."""
    document = orjson.loads(request.get_data())
    if not isinstance(document, dict):
        return Response(b'{"error":"body is not an object"}', status=400, mimetype="application/json")
    return Response(FIXED_RESPONSE, mimetype="application/json")


@app.get("/cds-services")
def discovery() -> Response:
    """An empty discovery document (the bench polls it to know the server is up)."""
    return Response(b'{"services":[]}', mimetype="application/json")
