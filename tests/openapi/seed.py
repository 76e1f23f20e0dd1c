"""Seeds a running Confab for the schemathesis run: an account's session (registered here; its token
printed on stdout for `Authorization: Bearer`) that owns a room with a few messages, an edit and a
delete, so that the account routes, `/api/rooms` and `/api/rooms/{name}/history` answer real data and
not only errors.

Usage: seed.py HOST:PORT ROOM [--username NAME]
"""

import asyncio
import json
import sys
import urllib.request

import websockets


def register(addr: str, username: str) -> str:
    body = json.dumps({"username": username, "password": "correct horse battery staple 42"}).encode()
    req = urllib.request.Request(f"http://{addr}/api/auth/register", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["token"]


async def main(addr: str, room: str, username: str) -> None:
    token = register(addr, username)
    async with websockets.connect(f"ws://{addr}/ws") as ws:
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome
        next_id = 0

        async def request(kind: str, **fields):
            nonlocal next_id
            next_id += 1
            await ws.send(json.dumps({"type": kind, "id": next_id, **fields}))
            while True:
                frame = json.loads(await ws.recv())
                if frame.get("id") == next_id:
                    if frame["type"] != "ack":
                        raise SystemExit(f"seed: {kind} failed: {frame}")
                    return frame

        await request("hello", token=token)
        await request("join", room=room, create=True)
        sent = [await request("send", room=room, text=f"message {i}") for i in range(5)]
        await request("edit", room=room, message_id=sent[1]["message_id"], text="edited")
        await request("delete", room=room, message_id=sent[2]["message_id"])
        print(token)


if __name__ == "__main__":
    name = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--username" else "schemathesis"
    asyncio.run(main(sys.argv[1], sys.argv[2], name))
