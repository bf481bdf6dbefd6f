"""An implementation served in this process, for unit tests of the judging: no child, no pipe.

``InProcess`` stands where ``process.Child`` does for a ``proxy.Remote``: it answers each batch with the
child's own ``serve`` (the same calls, the same encoding of values, as the same JSON), here and at once.
Tests of the case runner and of the properties use it to judge a class on structured data; the process
boundary has tests of its own.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from golden.harness import _child as child
from golden.harness import _protocol as protocol
from golden.harness._conventions import Conventions
from golden.harness._proxy import Remote
from golden.harness._sandbox import Isolation
from golden.harness._subject import Subject
from golden.outcome import Judged


class InProcess:
    """The child's side of the wire, for class `impl`, in this process."""

    def __init__(self, impl: type) -> None:
        self.impl = impl
        self.info = child.describe_class(impl)
        self.isolation = Isolation(False, "in process")
        self.replies: deque[dict[str, Any]] = deque()

    def send(self, request: dict[str, Any], deadline: float) -> None:
        self.send_body(protocol.dumps(request), deadline)

    def send_body(self, data: bytes, deadline: float) -> None:
        self.replies.extend(child.serve(self.impl, calls) for calls in protocol.parse(data)["batches"])

    def receive(self, deadline: float) -> bytes:
        return json.dumps(self.replies.popleft(), separators=(",", ":")).encode()

    def read(self, body: bytes) -> dict[str, Any]:
        reply: dict[str, Any] = protocol.parse(body)
        return reply

    def stop(self) -> None:
        self.replies.clear()


def subject(impl: type, precision: str = "float64", conventions: Conventions | None = None) -> Subject:
    """`impl` as the case runner and the properties see it, judged in `precision` under `conventions`."""
    judged = Judged(precision, "given by the test", conventions or Conventions())
    return Subject(Remote(InProcess(impl), 5.0), judged)  # type: ignore[arg-type]
