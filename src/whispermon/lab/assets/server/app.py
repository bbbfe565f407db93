"""FastAPI stand-in for the transcription API, instrumented for Prometheus."""

import asyncio
import random

from fastapi import FastAPI, HTTPException
from prometheus_fastapi_instrumentator import Instrumentator

from tasks import transcribe

app = FastAPI(title="whisper pipeline stand-in")
Instrumentator().instrument(app).expose(app, endpoint="/metrics")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/transcribe", status_code=202)
async def submit(fail: bool = False) -> dict[str, str]:
    await asyncio.sleep(random.uniform(0.01, 0.3))
    result = transcribe.delay(random.uniform(0.2, 2.0), fail)
    return {"task_id": result.id}


@app.get("/jobs/{job_id}")
async def job(job_id: str) -> dict[str, str]:
    raise HTTPException(status_code=404, detail=f"job {job_id} not found")


@app.get("/unstable")
async def unstable() -> dict[str, str]:
    raise HTTPException(status_code=500, detail="stand-in server error")
