"""Seeds a running Confab for the schemathesis run: a guest session (its token printed on stdout for
`Authorization: Bearer`) that owns a room with a few messages, an edit and a delete, so that
`/api/rooms` and `/api/rooms/{name}/history` answer real data and not only errors.

Usage: seed.py HOST:PORT ROOM
"""

import asyncio
import json
import sys

import websockets


async def main(addr: str, room: str) -> None:
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

        hello = await request("hello", name="schemathesis")
        await request("join", room=room, create=True)
        sent = [await request("send", room=room, text=f"message {i}") for i in range(5)]
        await request("edit", room=room, message_id=sent[1]["message_id"], text="edited")
        await request("delete", room=room, message_id=sent[2]["message_id"])
        print(hello["token"])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
