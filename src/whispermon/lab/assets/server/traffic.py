"""Send a short, bounded burst of requests to the local stand-in API.

Mostly successes, some 404s, a few 500s, and transcription tasks of which one
in four fails, so every dashboard panel and alert rule has data.
"""

import random
import urllib.error
import urllib.request

BASE = "http://127.0.0.1:8000"


def call(method: str, path: str) -> None:
    request = urllib.request.Request(BASE + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except urllib.error.HTTPError:
        pass
    except OSError as error:
        print(f"traffic: {method} {path} failed: {error}")


def main() -> None:
    for _ in range(8):
        call("GET", "/health")
    for _ in range(3):
        call("POST", "/transcribe?fail=" + ("true" if random.random() < 0.25 else "false"))
    call("GET", f"/jobs/{random.randint(1, 10_000)}")
    if random.random() < 0.3:
        call("GET", "/unstable")


if __name__ == "__main__":
    main()
