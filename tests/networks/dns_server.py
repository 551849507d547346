"""A real DNS server for the tests (dnslib) on a free loopback port, answering from a dict of TXT records.

A name in `silent` gets no answer at all (the client times out); a name in `failing` gets SERVFAIL; a name in
`held` is answered only once the test sets its `answer` event (its `asked` event is set when the query arrives).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from dnslib import QTYPE, RCODE, RR, TXT, DNSError
from dnslib.server import BaseResolver, DNSLogger, DNSServer


@dataclass
class Held:
    asked: threading.Event = field(default_factory=threading.Event)
    answer: threading.Event = field(default_factory=threading.Event)


@dataclass
class Zone(BaseResolver):
    txt: dict[str, list[str]] = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)
    failing: set[str] = field(default_factory=set)
    held: dict[str, Held] = field(default_factory=dict)

    def resolve(self, request, handler):
        name = str(request.q.qname).rstrip(".").lower()
        reply = request.reply()
        if name in self.held:
            held = self.held[name]
            held.asked.set()
            held.answer.wait(60)
        if name in self.silent:
            raise DNSError("silent")  # the handler sends nothing back
        if name in self.failing:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if name not in self.txt:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if request.q.qtype == QTYPE.TXT:
            for value in self.txt[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=60))
        return reply


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DnsServer:
    def __init__(self) -> None:
        self.zone = Zone()
        self.port = free_port()
        self._server = DNSServer(
            self.zone, port=self.port, address="127.0.0.1", logger=DNSLogger("-recv,-send,-request,-reply,-truncated,-error,-data")
        )

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server.start_thread()

    def stop(self) -> None:
        self._server.stop()
