"""The Python peer of scripts/bench-cost: aiohttp + uvloop + redis-py with
hiredis, serving the hold route (POST /v1/events/{e}/bookings, body
{"seats": [...]}) by calling scripts/peer/minimal_hold.lua. It checks the
body like a careful minimal server (JSON object, 1-10 string seats) but
verifies no token: the buyer is the bearer token's text. One process per
core on one port (SO_REUSEPORT), as a Python deployment would run it.

Usage: hold_server.py PORT REDIS_PORT PROCESSES"""
import asyncio
import json
import multiprocessing
import os
import pathlib
import sys

import redis.asyncio as redis
import uvloop
from aiohttp import web

SCRIPT = (pathlib.Path(__file__).parent / "minimal_hold.lua").read_text()


async def hold(request: web.Request) -> web.Response:
    event = request.match_info["event"]
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or len(auth) > 2048:
        return web.json_response({"error": {"code": "unauthorized"}}, status=401)
    try:
        body = json.loads(await request.read())
        seats = body["seats"]
        assert isinstance(seats, list) and 1 <= len(seats) <= 10 and all(isinstance(s, str) and len(s) <= 64 for s in seats)
    except Exception:
        return web.json_response({"error": {"code": "bad_request"}}, status=400)
    user = auth[-24:]
    booking = os.urandom(10).hex()
    e = "sl:{" + event + "}:"
    keys = [e + "event", e + "booking:" + booking, e + "expiry:" + booking, e + "expiries", e + "log"]
    keys += [e + "hold:" + seat for seat in seats]
    held = await request.app["script"](keys=keys, args=[booking, user, ",".join(seats)])
    if held == 1:
        return web.json_response({"id": booking, "status": "held", "seats": seats}, status=201)
    return web.json_response({"error": {"code": "seats_unavailable"}}, status=409)


def serve(port: int, redis_port: int) -> None:
    uvloop.install()
    app = web.Application()
    client = redis.Redis(port=redis_port, max_connections=64)
    app["script"] = client.register_script(SCRIPT)
    app.router.add_post("/v1/events/{event}/bookings", hold)
    web.run_app(app, host="127.0.0.1", port=port, reuse_port=True, access_log=None, print=None)


if __name__ == "__main__":
    port, redis_port, processes = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    workers = [multiprocessing.Process(target=serve, args=(port, redis_port)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
