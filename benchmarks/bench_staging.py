"""How many requests per second the staging load generator sustains, against a plain httpx loop.

    python benchmarks/bench_staging.py [--requests 2000]

Starts a trivial ASGI endpoint on uvicorn on 127.0.0.1 (this file, run with ``--serve PORT``),
then sends the same number of requests with a sequential ``httpx.Client`` loop, with
``pytest_mlgate.serving.load.run_load`` (threads, one ``httpx.Client`` each) at several concurrencies,
and with ``httpx.AsyncClient`` on asyncio (the design run_load did not take). Server and client
share the machine, so the numbers bound the generator's overhead rather than isolate it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

from pytest_mlgate.serving import load as ld
from pytest_mlgate.serving import staging as st


async def trivial(scope, receive, send):  # noqa: ANN001 - the bare ASGI signature
    """Answer every HTTP request with 200 and two bytes."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def plain_loop(url: str, payload: bytes, requests: int) -> float:
    """Requests per second of one httpx.Client sending one request after the other."""
    with httpx.Client(base_url=url) as client:
        start = time.perf_counter()
        for _ in range(requests):
            client.post("/predict", content=payload, headers={"content-type": "application/json"}).raise_for_status()
        return requests / (time.perf_counter() - start)


def async_loop(url: str, payload: bytes, requests: int, concurrency: int) -> float:
    """Requests per second of ``concurrency`` asyncio tasks sharing one httpx.AsyncClient."""
    async def run() -> float:
        counter = iter(range(requests))
        async with httpx.AsyncClient(base_url=url) as client:
            async def task() -> None:
                for _ in counter:
                    (await client.post("/predict", content=payload)).raise_for_status()
            start = time.perf_counter()
            await asyncio.gather(*(task() for _ in range(concurrency)))
            return requests / (time.perf_counter() - start)
    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        import uvicorn

        uvicorn.run(trivial, host="127.0.0.1", port=args.serve, log_level="warning", access_log=False)
        return
    config = st.StagingConfig(command=["{python}", str(Path(__file__).resolve()), "--serve", "{port}"],
                              health="/", startup_timeout=30)
    payload = b'{"rows": [{"income": 52000.0, "debt_ratio": 0.31, "region": "north"}]}'
    with st.serve(config, Path("unused"), Path.cwd()) as server:
        plain_loop(server.url, payload, 200)  # warm-up
        base = plain_loop(server.url, payload, args.requests)
        print(f"trivial endpoint on 127.0.0.1 (uvicorn, 1 process), {args.requests} requests each")
        print(f"  plain httpx.Client loop       : {base:7.0f} req/s")
        for concurrency in (1, 4, 16):
            result = ld.run_load(server.url, "/predict", [payload], requests=args.requests,
                                 concurrency=concurrency, duration=120)
            assert result.ok == args.requests, result.summary()
            print(f"  run_load, concurrency {concurrency:<2}      : {result.throughput:7.0f} req/s "
                  f"({result.throughput / base:.2f}x the plain loop; p50 {result.percentile(50):.2f} ms, "
                  f"p99 {result.percentile(99):.2f} ms)")
        for concurrency in (1, 4):
            rate = async_loop(server.url, payload, args.requests, concurrency)
            print(f"  httpx.AsyncClient, {concurrency} task(s)  : {rate:7.0f} req/s ({rate / base:.2f}x)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
