"""The HTTP edge's own limits: request heads, the time to send them and a body, connections.

uvicorn's httptools protocol (the fast one) bounds none of these: httptools keeps an unfinished
header in memory however long it grows, uvicorn's ``limit_concurrency`` is checked only once a
head is complete, and nothing times a client that sends one byte every few seconds. The protocol
here adds, per API process:

- a request head (request line and headers) larger than ``max_header_bytes`` gets 431, and
  is never read further than that; more than ``max_headers`` header lines get 431;
- a head not complete ``header_timeout`` seconds after the connection opened (or after the first
  byte of a later request on it) gets 408;
- a body must keep up a rate: ``body_timeout`` seconds of grace plus one second per
  ``body_min_rate`` bytes received. A fixed total would either cut off a 16 MiB attachment sent
  from a slow phone or let a trickle hold a connection for that long; a rate costs an attacker
  bandwidth for every second held. Time while the server itself stopped reading (the app not
  consuming the body yet) does not count;
- beyond ``max_connections`` open connections, a new one gets 503 at once and is closed.

Refusals are ``{"detail": ...}`` like the API's own, with ``connection: close``; the connection
is then half-closed and drained for a moment, so that the client, still sending, reads the
answer instead of a reset.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from ledger.config import Settings

# How long a refused connection is drained (its input read and dropped) before it is closed.
LINGER_SECONDS = 2.0


@dataclass(frozen=True)
class HttpLimits:
    max_header_bytes: int = 16 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    body_min_rate: float = 1024.0
    max_connections: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            body_min_rate=settings.body_min_rate,
            max_connections=settings.max_connections,
        )


class _Refusal(Exception):
    """Raised in a parser callback to stop parsing; httptools re-raises it as the context of
    its ``HttpParserCallbackError``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of ``HttpLimits`` (see the module doc)."""

    limits: ClassVar[HttpLimits] = HttpLimits()

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._reading_head = True  # in a request's head, or waiting for the next request
        self._head_started: float | None = None
        self._head_bytes = 0
        self._head_lines = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_started = 0.0
        self._body_bytes = 0
        self._body_timer: asyncio.TimerHandle | None = None
        self._refused = False  # answered by this class: input is dropped until the close
        self._linger: asyncio.TimerHandle | None = None

    # Connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            # Refused before anything else is set up, so that a flood costs no more than this.
            self.transport = transport
            self._refused = True
            transport.write(self._answer(503, "the server has too many open connections"))
            transport.close()
            return
        super().connection_made(transport)
        # The first request's head is timed from the connection: an idle connection expires too.
        self._head_started = self.loop.time()
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        super().connection_lost(exc)

    # Input

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._unset_keepalive_if_required()
        if self._reading_head:
            if self._head_started is None:  # a later request on a kept-alive connection
                self._head_started = self.loop.time()
            room = self.limits.max_header_bytes - self._head_bytes
            if len(data) > room:
                # Feed no more of a head than the limit allows: httptools would keep it all.
                if room > 0:
                    self._head_bytes += room
                    self._feed(data[:room])
                if self._refused or self.transport.is_closing():
                    return
                if self._reading_head:
                    self._refuse_head(
                        431, f"request headers larger than {self.limits.max_header_bytes} bytes"
                    )
                    return
                self.data_received(data[room:])  # the head ended inside the limit: the rest
                return
            self._head_bytes += len(data)
        self._feed(data)
        # Timers only for what this data left unfinished: a request that arrived whole costs none.
        if self._refused or self.transport.is_closing():
            return
        if self._reading_head:
            if self._head_started is not None and self._head_timer is None:
                self._arm_head_timer()
        elif self._body_timer is None:
            self._arm_body_timer()

    def _feed(self, data: bytes) -> None:
        """uvicorn's ``data_received``, but telling this class's refusals from bad requests."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            refusal = exc.__context__
            if isinstance(refusal, _Refusal):
                self._refuse_head(refusal.status, refusal.detail)
            else:
                self._invalid()
        except httptools.HttpParserError:
            self._invalid()
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                # The connection is another protocol's now: this one's limits end here.
                self._refused = True
                self._cancel_timers()
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def _invalid(self) -> None:
        msg = "Invalid HTTP request received."
        self.logger.warning(msg)
        self._cancel_timers()
        self.send_400_response(msg)

    # Parser callbacks

    def on_message_begin(self) -> None:
        if self._head_started is None:  # a pipelined request begun in the previous one's data
            self._head_started = self.loop.time()
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_lines += 1
        if self._head_lines > self.limits.max_headers:
            raise _Refusal(431, f"more than {self.limits.max_headers} request headers")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._reading_head = False
        self._head_started = None
        self._head_bytes = self._head_lines = 0
        self._body_started = self.loop.time()
        self._body_bytes = 0
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self._reading_head = True
        super().on_message_complete()

    # Deadlines

    def _arm_head_timer(self) -> None:
        assert self._head_started is not None
        when = self._head_started + self.limits.header_timeout
        self._head_timer = self.loop.call_at(when, self._head_expired)

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._refused or self.transport.is_closing():
            return
        if self._head_bytes == 0 and (self.cycle is None or self.cycle.response_complete):
            self.transport.close()  # nothing asked (an idle or spare connection): nothing to say
            return
        self._refuse_head(
            408, f"request headers not received within {self.limits.header_timeout:g} s"
        )

    def _arm_body_timer(self) -> None:
        allowed = self.limits.body_timeout + self._body_bytes / self.limits.body_min_rate
        when = self._body_started + allowed
        self._body_timer = self.loop.call_at(when, self._body_check)

    def _body_check(self) -> None:
        self._body_timer = None
        if self._refused or self.transport.is_closing() or self._reading_head:
            return
        now = self.loop.time()
        if self.flow.read_paused:
            # The server stopped reading (the app has not taken the body yet): not the client's
            # delay. Start the clock again from here.
            self._body_started, self._body_bytes = now, 0
        allowed = self.limits.body_timeout + self._body_bytes / self.limits.body_min_rate
        if now < self._body_started + allowed:
            self._arm_body_timer()
            return
        cycle = self.cycle
        answer = cycle is not None and not cycle.response_started
        self._refuse(
            408,
            f"request body slower than {self.limits.body_min_rate:g} bytes/s "
            f"after {self.limits.body_timeout:g} s",
            answer=answer,
        )

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    # Refusals

    def _refuse_head(self, status: int, detail: str) -> None:
        # Between requests, self.cycle is the previous one: answer only once it was answered.
        cycle = self.cycle
        self._refuse(status, detail, answer=cycle is None or cycle.response_complete)

    def _refuse(self, status: int, detail: str, *, answer: bool) -> None:
        self._refused = True
        self._cancel_timers()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The app, if it runs, reads a disconnect and its answer goes nowhere.
            cycle.disconnected = True
            cycle.message_event.set()
        if not answer:
            self.transport.close()
            return
        self.transport.write(self._answer(status, detail))
        if self.transport.can_write_eof():
            # Half-close and drop input for a moment: a client still sending reads the answer.
            self.transport.write_eof()
            self.flow.resume_reading()
            self._linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def _answer(self, status: int, detail: str) -> bytes:
        body = json.dumps({"detail": detail}).encode()
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(body),
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        return b"".join(content)


def http_protocol(settings: Settings) -> type[LimitedHttpToolsProtocol]:
    """The protocol class for uvicorn's ``http=``, with the limits of ``settings``."""
    limits = HttpLimits.from_settings(settings)
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"limits": limits})
