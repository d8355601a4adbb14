"""Serve a credit-risk model over HTTP: FastAPI with strict pydantic validation, run by uvicorn.

    python serve.py --model models/candidate.skops --schema data/train.parquet --port 8000

``GET /health`` answers once the model is loaded; ``POST /predict`` takes
``{"rows": [{feature: value, ...}, ...]}`` (optionally with ``"request_ids"``, one per row, and
``"sent_at"``, the client's unix time of the requests) and answers
``{"predictions": [...], "probabilities": [...], "request_ids": [...]}``. With ``--log PATH``
every prediction is recorded by pytest-mlgate's PredictionLogger (request id, time, model
version and sha256, features, output, latency), the log the monitoring stage reads.
Bad input gets a 4xx, never a 500: numbers must be finite and within bounds, categories must be
ones seen in the schema data, every feature must be present and nothing else, and the body and
batch are size-limited.
"""

import argparse
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, create_model
from threadpoolctl import threadpool_limits

MAX_ABS = 1e9


def load_model(path: Path, trusted: list[str]) -> Any:
    """A model from a .skops file (only default and ``trusted`` types) or a .joblib file."""
    if path.suffix == ".skops":
        import skops.io as sio

        untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in trusted]
        if untrusted:
            raise SystemExit(f"serve: {path} holds untrusted types {untrusted}; pass --trusted")
        return sio.load(path, trusted=trusted or None)
    import joblib

    return joblib.load(path)


def row_schema(features: list[str], schema: pd.DataFrame | None) -> type[BaseModel]:
    """A strict pydantic model of one row: finite bounded numbers, known categories, no extra keys."""
    fields: dict[str, Any] = {}
    for name in features:
        column = None if schema is None else schema[name]
        if column is not None and not pd.api.types.is_numeric_dtype(column):
            fields[name] = (Literal[tuple(sorted(column.dropna().unique().tolist()))], ...)
        else:
            fields[name] = (float, Field(..., ge=-MAX_ABS, le=MAX_ABS, allow_inf_nan=False))
    return create_model("Row", __config__=ConfigDict(extra="forbid", strict=False), **fields)


def create_app(model_path: Path, schema_path: Path | None = None, *, trusted: tuple[str, ...] = (),
               max_rows: int = 1000, max_bytes: int = 2**20, delay_ms: float = 0.0,
               log: Path | None = None, version: str | None = None) -> FastAPI:
    """The serving app for one model; ``delay_ms`` adds latency to every prediction (for demos);
    with ``log``, predictions go through a PredictionLogger writing to that SQLite file."""
    model = load_model(model_path, list(trusted))
    logger = None
    if log is not None:
        from pytest_mlgate.evaluate.hashing import sha256_file
        from pytest_mlgate.monitoring.predlog import PredictionLogger

        logger = PredictionLogger(model, log, version=version, sha256=sha256_file(model_path))
    features = [str(f) for f in getattr(model, "feature_names_in_", [])]
    if not features:
        raise SystemExit(f"serve: {model_path} does not record its feature names (feature_names_in_)")
    schema = pd.read_parquet(schema_path, columns=features) if schema_path else None
    Row = row_schema(features, schema)
    Batch = create_model("Batch", __config__=ConfigDict(extra="forbid"),
                         rows=(list[Row], Field(..., min_length=1, max_length=max_rows)),
                         request_ids=(list[str] | None, None),
                         sent_at=(float | None, Field(None, ge=0, allow_inf_nan=False)))
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if logger is not None:
            logger.close()  # write what is still queued

    app = FastAPI(title=f"credit-risk model {model_path.name}", lifespan=lifespan)
    app.state.features = features

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_bytes):
            return JSONResponse({"detail": f"body larger than {max_bytes} bytes"}, status_code=413)
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default handler echoes the input back and fails with a 500 when it is NaN.
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()[:20]]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": model_path.name}

    @app.post("/predict")
    def predict(batch: Batch) -> dict[str, list]:  # type: ignore[valid-type]
        if delay_ms:
            time.sleep(delay_ms / 1000)
        frame = pd.DataFrame([row.model_dump() for row in batch.rows], columns=features)
        ids = batch.request_ids or [str(uuid.uuid4()) for _ in batch.rows]
        if len(ids) != len(frame):
            return JSONResponse({"detail": f"{len(ids)} request_ids for {len(frame)} rows"}, status_code=422)
        if logger is None:
            labels = model.predict(frame)
        else:
            labels = logger.predict(frame, request_id=ids, timestamp=batch.sent_at)
        answer: dict[str, list] = {"predictions": labels.tolist(), "request_ids": ids}
        if hasattr(model, "predict_proba"):
            answer["probabilities"] = model.predict_proba(frame)[:, -1].round(6).tolist()
        return answer

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model file (.skops or .joblib)")
    parser.add_argument("--schema", type=Path, help="parquet file whose columns give feature types and categories")
    parser.add_argument("--trusted", action="append", default=[], help="extra skops type to trust (repeatable)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-rows", type=int, default=1000, help="largest batch accepted (default 1000)")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="extra latency per prediction (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP/BLAS threads per prediction (default 1)")
    parser.add_argument("--log", type=Path, help="record every prediction in this SQLite prediction log")
    parser.add_argument("--version", help="model version recorded in the log (e.g. v2)")
    args = parser.parse_args(argv)
    threadpool_limits(limits=args.threads)  # one worker process: parallel requests, not parallel trees
    app = create_app(args.model, args.schema, trusted=tuple(args.trusted), max_rows=args.max_rows,
                     delay_ms=args.delay_ms, log=args.log, version=args.version)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
