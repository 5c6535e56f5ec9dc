"""An HTTP/1.1 proxy that holds every request for a fixed delay before forwarding it.

    python3 scripts/delay_proxy.py --port PORT --upstream 127.0.0.1:MOTO_PORT --delay-ms 100

Standing in for the round trip to AWS in front of a local emulator, it adds the same latency
to every request, so a command's extra wall time divided by the delay is the number of
request round trips it waits for one after another (its depth).

Every client connection gets its own upstream connection, so keep-alive, pipelining and
`Expect: 100-continue` behave as they would without it. The request side is parsed only to
find where each request ends (Content-Length, or chunked framing with trailers), and its bytes
are forwarded unchanged, Host header included, so SigV4 signatures stay valid. The response
side is copied byte for byte as it arrives. Standard library only.
"""

import argparse
import asyncio
import sys

HEAD_LIMIT = 1 << 20
COPY_BUFFER = 1 << 16


class BadRequest(Exception):
    pass


def framing(head: bytes) -> tuple[str, int]:
    """How the body of the request with this head ends: ("chunked", 0) or ("length", n)."""
    length = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        name = name.strip().lower()
        value = value.strip()
        if name == b"transfer-encoding":
            chunked = value.lower().split(b",")[-1].strip() == b"chunked"
        elif name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                raise BadRequest(f"Content-Length {value!r} is not a number") from None
    if chunked:
        return "chunked", 0
    return "length", length or 0


async def copy_exactly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int):
    while n > 0:
        data = await reader.read(min(n, COPY_BUFFER))
        if not data:
            raise BadRequest("the client closed the connection inside a request body")
        writer.write(data)
        await writer.drain()
        n -= len(data)


async def copy_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    while True:
        size_line = await reader.readuntil(b"\r\n")
        writer.write(size_line)
        try:
            size = int(size_line.split(b";")[0].strip(), 16)
        except ValueError:
            raise BadRequest(f"bad chunk size line {size_line!r}") from None
        if size == 0:
            # Trailer fields, then the empty line that ends the body.
            while True:
                line = await reader.readuntil(b"\r\n")
                writer.write(line)
                if line == b"\r\n":
                    await writer.drain()
                    return
        await copy_exactly(reader, writer, size + 2)


async def requests(client: asyncio.StreamReader, upstream: asyncio.StreamWriter, delay: float):
    """Forward the client's requests one after another, each after the delay."""
    while True:
        try:
            head = await client.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return
        await asyncio.sleep(delay)
        upstream.write(head)
        kind, length = framing(head)
        if kind == "chunked":
            await copy_chunked(client, upstream)
        else:
            await copy_exactly(client, upstream, length)


async def responses(upstream: asyncio.StreamReader, client: asyncio.StreamWriter):
    while data := await upstream.read(COPY_BUFFER):
        client.write(data)
        await client.drain()


async def connection(client_r, client_w, host: str, port: int, delay: float):
    try:
        up_r, up_w = await asyncio.open_connection(host, port, limit=HEAD_LIMIT)
    except OSError as e:
        print(f"delay_proxy: cannot reach {host}:{port}: {e}", file=sys.stderr)
        client_w.close()
        return
    forward = asyncio.create_task(requests(client_r, up_w, delay))
    back = asyncio.create_task(responses(up_r, client_w))
    try:
        await asyncio.wait({forward, back}, return_when=asyncio.FIRST_COMPLETED)
        if forward.done() and forward.exception() is None and not back.done():
            # The client has sent its last request: let the upstream finish its answer.
            up_w.write_eof()
            await back
    except ConnectionError:
        pass
    finally:
        forward.cancel()
        back.cancel()
        for outcome in await asyncio.gather(forward, back, return_exceptions=True):
            if isinstance(outcome, BadRequest):
                print(f"delay_proxy: {outcome}", file=sys.stderr)
        for w in (up_w, client_w):
            w.close()


# asyncio's server lets go of a connection's task once the client's socket closes; the task
# then needs a reference of its own to finish.
_connections: set[asyncio.Task] = set()


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True, help="HOST:PORT of the server behind")
    p.add_argument("--delay-ms", type=float, default=100.0)
    args = p.parse_args()
    up_host, _, up_port = args.upstream.rpartition(":")
    if not up_host or not up_port.isdigit():
        p.error(f"--upstream {args.upstream!r} is not HOST:PORT")
    delay = args.delay_ms / 1000

    def accept(reader, writer):
        task = asyncio.create_task(connection(reader, writer, up_host, int(up_port), delay))
        _connections.add(task)
        task.add_done_callback(_connections.discard)

    server = await asyncio.start_server(
        accept,
        args.host,
        args.port,
        limit=HEAD_LIMIT,
        backlog=1024,
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
