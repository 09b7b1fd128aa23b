"""A Telegram bot server's record of each update (`telegram-bot/1`, docs/vendors.md 4.3).

The `Update` exactly as the Bot API posted it (`{"update_id": <int>, <type>: <object>}`,
telegram-bot-api `WebhookActor.h` JsonUpdate; `Message.date` in epoch **seconds**, Client.cpp
L4122; a `callback_query` has no date of its own), the bot's own count of deliveries of that
`update_id` (Telegram re-sends the same update after a non-2xx answer, WebhookActor.cpp
L493-522, and sends no attempt counter), its outcome and clock, the `sendMessage` result, and the
error: a Bot API error body `{ok, error_code, description}` (Query.h JsonQueryError) or the
exception's `{name, message}`. At `runs/<update_id>/status.json`, overwritten per delivery.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shadow.corpora.shapes import write_record
from shadow.corpora.shapes.formats import epoch_s, iso_ms
from shadow.corpora.writer import Run

BOT = {
    "id": 7310042981,
    "is_bot": True,
    "first_name": "Billing Bot",
    "username": "billing_demo_bot",
}


def _user(rng: random.Random) -> dict[str, Any]:
    names = ("Ada", "Grace", "Linus", "Barbara", "Ken", "Radia")
    name = rng.choice(names)
    return {
        "id": 184467301 + rng.randrange(5000),
        "is_bot": False,
        "first_name": name,
        "username": f"{name.lower()}_{rng.randrange(100)}",
        "language_code": rng.choice(("en", "en", "de", "fr")),
    }


def update(rng: random.Random, update_id: int, kind: str, sent: datetime) -> dict[str, Any]:
    """An Update of one kind: `command` (a /command with its bot_command entity), `chat-message`
    (plain text), `callback-query` (a button press on an earlier bot message: no date of its own,
    the message's `date` is when that message was sent)."""
    user = _user(rng)
    chat = {"id": user["id"], "first_name": user["first_name"], "type": "private"}
    message_id = 5000 + update_id % 100000
    if kind == "callback-query":
        shown = sent - timedelta(seconds=rng.randint(20, 900))
        keyboard = {
            "inline_keyboard": [[{"text": "Pay", "callback_data": f"pay:inv_{message_id}"}]]
        }
        message = {"message_id": message_id - 1, "from": BOT, "chat": chat, "date": epoch_s(shown)}
        message |= {"text": f"Pay invoice inv_{message_id}?", "reply_markup": keyboard}
        query = {"id": str(792341658803921457 + update_id), "from": user, "message": message}
        query |= {"chat_instance": str(-5512093348812734411 + user["id"])}
        query["data"] = f"pay:inv_{message_id}"
        return {"update_id": update_id, "callback_query": query}
    message = {"message_id": message_id, "from": user, "chat": chat, "date": epoch_s(sent)}
    if kind == "command":
        text = rng.choice(("/usage", "/invoice", "/help", "/plan"))
        message |= {
            "text": text,
            "entities": [{"offset": 0, "length": len(text), "type": "bot_command"}],
        }
    else:
        message["text"] = rng.choice(
            (
                "how much did we use in february?",
                "can I change plan?",
                "thanks!",
                "send the invoice",
            )
        )
    return {"update_id": update_id, "message": message}


def bot_error(code: int, description: str) -> dict[str, Any]:
    """A Bot API error body (telegram-bot-api Query.h JsonQueryError)."""
    doc: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if code == 429:
        doc["parameters"] = {"retry_after": int(description.rsplit(" ", 1)[-1])}
    return doc


def _outcome(run: Run) -> str:
    if run.status == "completed":
        return "handled"
    if run.status == "failed":
        return "failed"
    return "retrying" if run.attempts > 1 else "received"


def record(run: Run, end: datetime | None) -> dict[str, Any]:
    assert run.start is not None
    received = run.start + timedelta(milliseconds=run.retry_ms)  # this delivery's
    doc: dict[str, Any] = {"record": "telegram-bot/1", "update": run.payload}
    doc |= {"delivery": run.attempts, "received_at": iso_ms(received), "outcome": _outcome(run)}
    doc["finished_at"] = iso_ms(end) if end is not None else None
    reply = None
    if run.status == "completed" and end is not None:
        reply = {"message_id": 5000 + int(run.ident) % 100000 + 1, "date": epoch_s(end)}
    doc["reply"] = reply
    error = None
    if run.status == "failed":
        error = run.error_doc or {"name": "Error", "message": run.error or "Error"}
    doc["error"] = error
    return doc


def write(root: Path, run: Run, dir_id: str, now: datetime) -> None:
    write_record(root, run, dir_id, record)
