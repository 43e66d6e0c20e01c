"""Issue 14, point 1: wrong follow-up secrets never lock out the holder of the right one, and
every 429 carries Retry-After."""

from __future__ import annotations

import os

import httpx

from ledger.followup.secrets import new_secret

from .conftest import Server
from .test_follow_up import follow_up, submit


def test_ten_wrong_secrets_then_the_right_one_answers_200(
    server: Server, client: httpx.Client
) -> None:
    accepted = submit(client, b"Lockout " + os.urandom(4).hex().encode(), follow_up=True)
    commitment, secret = accepted["commitment"], accepted["follow_up"]["secret"]
    limit = server.service.follow_ups.limiter.limit
    for _ in range(limit):
        assert follow_up(client, commitment, new_secret().text).status_code == 401
    refused = follow_up(client, commitment, new_secret().text)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) >= 1
    right = follow_up(client, commitment, secret)
    assert right.status_code == 200, right.text
    assert right.json()["commitment"] == commitment
    # posting a message works too, and the wrong ones stay refused
    sent = client.post(
        f"/v1/tips/{commitment}/follow-up/messages",
        json={"text": "still here"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert sent.status_code == 201, sent.text
    again = follow_up(client, commitment, new_secret().text)
    assert again.status_code == 429
    assert int(again.headers["retry-after"]) >= 1


def test_an_unknown_tip_over_the_limit_answers_429_with_retry_after(
    server: Server, client: httpx.Client
) -> None:
    unknown = "0x" + os.urandom(32).hex()
    for _ in range(server.service.follow_ups.limiter.limit):
        assert follow_up(client, unknown, new_secret().text).status_code == 401
    refused = follow_up(client, unknown, new_secret().text)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
