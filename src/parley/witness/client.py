"""What a log (the hub) calls to ask a witness to cosign a checkpoint: tlog-witness
``add-checkpoint`` over HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from parley.errors import ParleyError
from parley.log import note
from parley.witness.protocol import request_body

SIZE = "text/x.tlog.size"


class WitnessError(ParleyError):
    """A witness refused a checkpoint or could not be asked.

    ``witness_status`` is the witness's HTTP status (None when it could not be reached or its
    answer made no sense); ``size`` is the size it last cosigned when it answered 409.
    """

    status = 502
    title = "A witness did not cosign"
    slug = "witness-refused"

    def __init__(
        self, detail: str, witness_status: int | None = None, size: int | None = None
    ) -> None:
        super().__init__(detail)
        self.witness_status = witness_status
        self.size = size


def add_checkpoint(
    url: str,
    old_size: int,
    proof: Sequence[bytes],
    checkpoint_note: str,
    timeout: float = 10.0,
    *,
    witness: note.CosignatureVerifier | None = None,
    client: httpx.Client | None = None,
) -> str:
    """POST ``checkpoint_note`` with a consistency proof from ``old_size`` to the witness at
    ``url`` (its submission prefix) and return the cosignature lines it answers.

    With ``witness``, only that witness's lines are returned, and only if they verify over the
    checkpoint. Pass ``client`` to reuse keep-alive connections, as the spec recommends.
    """
    endpoint = url.rstrip("/") + "/add-checkpoint"
    body = request_body(old_size, proof, checkpoint_note)
    try:
        if client is None:
            with httpx.Client(timeout=timeout) as own:
                response = own.post(endpoint, content=body)
        else:
            response = client.post(endpoint, content=body, timeout=timeout)
    except httpx.HTTPError as exc:
        raise WitnessError(f"cannot reach the witness at {endpoint}: {exc}") from None
    if response.status_code == 409:
        raise _conflict(endpoint, response)
    if response.status_code != 200:
        raise WitnessError(
            f"the witness at {endpoint} answered {response.status_code}: {_detail(response)}",
            response.status_code,
        )
    lines = response.text
    if not lines.endswith("\n") or not all(
        line.startswith("— ") for line in lines[:-1].split("\n")
    ):
        raise WitnessError(f"the witness at {endpoint} answered 200 without signature lines", 200)
    if witness is not None:
        lines = _verified_lines(endpoint, checkpoint_note, lines, witness)
    return lines


def _conflict(endpoint: str, response: httpx.Response) -> WitnessError:
    text = response.text
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    size_text = text[:-1] if text.endswith("\n") else ""
    if content_type != SIZE or not size_text.isdigit() or str(int(size_text)) != size_text:
        return WitnessError(f"the witness at {endpoint} answered 409 without a {SIZE} size", 409)
    size = int(size_text)
    return WitnessError(f"the witness at {endpoint} last cosigned size {size}", 409, size)


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, str):
        return detail
    return response.text[:200]


def _verified_lines(
    endpoint: str, checkpoint_note: str, lines: str, witness: note.CosignatureVerifier
) -> str:
    try:
        text, _ = note.parse_note(checkpoint_note)
        _, signatures = note.parse_note(text + "\n" + lines)
        note.open_note(text + "\n" + lines, [witness])
    except note.NoteError as exc:
        raise WitnessError(
            f"the cosignature from the witness at {endpoint} does not verify: {exc.detail}", 200
        ) from None
    return "".join(
        s.line() for s in signatures if (s.name, s.key_id) == (witness.name, witness.key_id)
    )
