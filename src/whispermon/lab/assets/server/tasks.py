"""Celery tasks of the stand-in pipeline: fake transcriptions."""

import os
import random
import time

from celery import Celery

app = Celery("pipeline", broker=os.environ.get("PIPELINE_BROKER_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    worker_send_task_events=True,
    task_send_sent_event=True,
    broker_connection_retry_on_startup=True,
)


@app.task(name="pipeline.transcribe")
def transcribe(seconds: float, fail: bool = False) -> dict[str, float]:
    """Pretend to transcribe audio for a while; fail on request."""
    time.sleep(seconds)
    if fail:
        raise RuntimeError("stand-in transcription failed on request")
    return {"seconds": seconds, "words": round(seconds * random.uniform(100, 200))}
