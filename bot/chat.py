"""Chat with the assistant as a guest from the terminal, through the same REST path as Telegram."""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import Any, TextIO

from bot.rasa_client import RasaClient, RasaUnavailable

MAX_MESSAGE_CHARS = 4096


def render_reply(message: dict[str, Any]) -> tuple[list[str], list[dict[str, str]]]:
    """Turn one Rasa reply into display lines and the buttons it offers."""
    lines: list[str] = []
    buttons = list(message.get("buttons") or [])
    if message.get("text"):
        lines.append(f"bot> {message['text']}")
    if message.get("image"):
        lines.append(f"bot> [image] {message['image']}")
    for index, button in enumerate(buttons, start=1):
        lines.append(f"     #{index} {button.get('title')}")
    if message.get("custom"):
        lines.append(f"bot> {message['custom']}")
    return lines, buttons


def press_button(text: str, buttons: list[dict[str, str]]) -> str:
    """Return the payload of the button the guest pressed (`#N` or its title), or the text itself."""
    if text.startswith("#") and text[1:].isdigit() and 1 <= int(text[1:]) <= len(buttons):
        return buttons[int(text[1:]) - 1]["payload"]
    for button in buttons:
        if str(button.get("title", "")).strip().lower() == text.lower():
            return button["payload"]
    return text


async def chat(client: RasaClient, sender_id: str, stdin: TextIO, stdout: TextIO) -> None:
    """Read guest lines, send them to Rasa and print the replies until EOF or /quit."""
    buttons: list[dict[str, str]] = []
    stdout.write(
        f"You are chatting as '{sender_id}'. Type /quit to leave. "
        "Type a button's title, or #N for button N, to press it.\n"
    )
    while True:
        stdout.write("you> ")
        stdout.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break
        text = line.strip()
        if text in {"/quit", "/exit"}:
            break
        if not text:
            continue
        text = press_button(text, buttons)
        text = text[:MAX_MESSAGE_CHARS]
        try:
            replies = await client.send_message(sender_id, text)
        except RasaUnavailable as exc:
            stdout.write(f"(the assistant is not reachable right now: {exc}; please try again)\n")
            continue
        buttons = []
        if not replies:
            stdout.write("bot> (no reply)\n")
        for reply in replies:
            lines, reply_buttons = render_reply(reply)
            stdout.write("\n".join(lines) + "\n")
            buttons = reply_buttons or buttons


def main(rasa_url: str, name: str | None) -> int:
    """Run the terminal chat."""
    sender_id = f"cli:{name or getpass.getuser()}"

    async def go() -> None:
        async with RasaClient(rasa_url) as client:
            await chat(client, sender_id, sys.stdin, sys.stdout)

    asyncio.run(go())
    return 0
