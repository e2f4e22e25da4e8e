"""Build the Telegram Application and run it (long polling by default, webhook with a secret token)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy.orm import sessionmaker
from telegram import BotCommand
from telegram.error import TelegramError
from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.telegram.concurrency import PerChatUpdateProcessor
from bot.telegram.delivery import PerChatRateLimiter, RetryPolicy, Sender
from bot.telegram.gateway import Gateway, GatewayConfig, RasaPort
from bot.telegram.staff_desk import StaffDesk, StaffDeskConfig
from bot.telegram.texts import Texts, load_texts
from bot.telegram.webhook import WebhookReceiver, valid_update_id
from crm_store.clock import Clock
from crm_store.policy import SlaPolicy
from crm_store.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
POLL_RETRY_FIRST_S = 1.0
POLL_RETRY_MAX_S = 30.0
GUEST = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE  # edits of old messages are ignored


def api_root(settings: Settings) -> str:
    """Return the Bot API root URL (TELEGRAM_API_URL, default api.telegram.org), without a trailing slash."""
    return (settings.telegram_api_url or DEFAULT_API_URL).rstrip("/")


def register_handlers(app: Application, gateway: Gateway, desk: StaffDesk | None = None) -> None:
    """Attach the handlers: dedupe first (group -1), the staff desk's, then the guest's commands, text, buttons…"""
    app.add_handler(TypeHandler(Update, gateway.dedupe), group=-1)
    if desk is not None:
        desk.register(app)
    app.add_handler(CommandHandler("start", gateway.on_start, filters=GUEST))
    app.add_handler(CommandHandler("help", gateway.on_help, filters=GUEST))
    app.add_handler(CommandHandler("privacy", gateway.on_privacy, filters=GUEST))
    app.add_handler(CommandHandler("stop", gateway.on_stop, filters=GUEST))
    app.add_handler(MessageHandler(GUEST & filters.TEXT & ~filters.COMMAND, gateway.on_text))
    app.add_handler(MessageHandler(GUEST & filters.PHOTO, gateway.on_photo))
    app.add_handler(MessageHandler(GUEST & filters.COMMAND, gateway.on_help))  # unknown commands
    app.add_handler(CallbackQueryHandler(gateway.on_callback))
    app.add_handler(MessageHandler(GUEST & ~filters.StatusUpdate.ALL, gateway.on_other))
    app.add_error_handler(gateway.on_error)


def build_application(settings: Settings, gateway: Gateway, desk: StaffDesk | None = None) -> Application:
    """Build the python-telegram-bot Application for ``gateway`` and the staff desk (no network traffic yet)."""
    if not settings.telegram_bot_token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    # httpx logs every request URL at INFO, and Bot API URLs carry the bot token: keep it out of the logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    root = api_root(settings)
    config = gateway.config

    async def post_init(app: Application) -> None:
        gateway.sender = Sender(
            app.bot,
            record_failure=gateway.record_failure,
            policy=RetryPolicy(attempts=config.send_attempts, backoff_s=config.send_backoff_s),
        )
        commands = [BotCommand(name, description) for name, description in gateway.texts.commands()]
        try:
            await app.bot.set_my_commands(commands)
        except TelegramError as exc:
            log.warning("setMyCommands failed: %s", type(exc).__name__)
        if desk is not None:
            await desk.set_commands(app.bot)

    app = (
        Application.builder()
        .token(settings.telegram_bot_token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .rate_limiter(PerChatRateLimiter(max_retries=config.rate_limit_retries))
        .concurrent_updates(PerChatUpdateProcessor(gateway.locks, after=gateway.after_update))
        .post_init(post_init)
        .build()
    )
    register_handlers(app, gateway, desk)
    return app


@dataclass
class GatewayRuntime:
    """Hold a built gateway and its Application; start and stop them together."""

    settings: Settings
    gateway: Gateway
    app: Application
    desk: StaffDesk | None = None
    _retry_task: asyncio.Task[None] | None = field(default=None, init=False)
    _desk_task: asyncio.Task[None] | None = field(default=None, init=False)
    _poll_task: asyncio.Task[None] | None = field(default=None, init=False)
    _webhook: WebhookReceiver | None = field(default=None, init=False)

    async def start(self) -> None:
        """Initialise the bot (getMe), start receiving updates and the retry loop."""
        app = self.app
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        # Messages a previous gateway process was still answering when it stopped are answered late.
        await self.gateway.recover_journal()
        if self.settings.telegram_webhook_url:
            url = self.settings.telegram_webhook_url
            # Our own receiver, not PTB's start_webhook: PTB's answers 500 to a body that is not JSON and
            # logs unparseable updates in full (guest text included).
            receiver = WebhookReceiver(
                app, secret_token=self.settings.telegram_webhook_secret or None, path=urlsplit(url).path or "/",
                admit=self.gateway.admit, admitted=self.gateway.admitted,
            )
            await receiver.start(self.settings.telegram_webhook_listen, self.settings.telegram_webhook_port)
            self._webhook = receiver
            await app.bot.set_webhook(
                url=url, secret_token=self.settings.telegram_webhook_secret or None, max_connections=40
            )
            log.info("Telegram gateway receiving updates by webhook")
        else:
            # Our own long polling, not PTB's Updater: PTB confirms fetched updates to Telegram (the next
            # getUpdates offset) before they are handled, so a gateway killed meanwhile lost them.
            await app.bot.delete_webhook(drop_pending_updates=False)
            self._poll_task = asyncio.create_task(self._poll(), name="tg-poll")
            log.info("Telegram gateway receiving updates by long polling")
        await app.start()
        self._retry_task = asyncio.create_task(self.gateway.retry_loop(), name="tg-pending-retry")
        if self.desk is not None:
            self._desk_task = asyncio.create_task(self.desk.run(), name="tg-staff-desk")

    async def _poll(self) -> None:
        """Long-poll getUpdates; record each update (and journal a guest message) before confirming it.

        An update is confirmed to Telegram only by the next call's offset, and only once ``Gateway.admit``
        has recorded it, so every update is either still at Telegram or in the database, whatever kills the
        process. If the database stays unreachable, the update is simply fetched again later.
        """
        app, gateway = self.app, self.gateway
        offset: int | None = None
        pause = POLL_RETRY_FIRST_S
        while True:
            try:
                updates = await app.bot.get_updates(offset=offset, timeout=gateway.config.poll_timeout_s)
            except TelegramError as exc:  # Telegram unreachable, a 5xx, a time-out: try again
                log.warning("getUpdates failed (%s); retrying in %.0f s", type(exc).__name__, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, POLL_RETRY_MAX_S)
                continue
            pause = POLL_RETRY_FIRST_S
            for update in updates:
                if not valid_update_id(update.update_id):
                    log.warning("update with an unusable id dropped")
                    continue
                try:
                    fresh = await gateway.admit(update)
                except Exception as exc:  # noqa: BLE001 - not recorded: leave it at Telegram, fetch it again
                    log.error("could not record update %s (%s); fetching it again", update.update_id, type(exc).__name__)
                    await asyncio.sleep(POLL_RETRY_FIRST_S)
                    break
                offset = update.update_id + 1
                if fresh:
                    gateway.admitted(update)
                    await app.update_queue.put(update)
                else:
                    log.info("update %s already handled; skipped", update.update_id)

    async def stop(self) -> None:
        """Stop receiving, finish the updates in flight, and shut the bot down."""
        for task in (self._poll_task, self._retry_task, self._desk_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._poll_task = self._retry_task = self._desk_task = None
        app = self.app
        if self._webhook is not None:
            await self._webhook.stop()
            self._webhook = None
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()


def bootstrap(
    settings: Settings,
    *,
    session_factory: sessionmaker,
    clock: Clock,
    rasa: RasaPort,
    texts: Texts | None = None,
    config: GatewayConfig | None = None,
    action_server_up=None,  # type: ignore[no-untyped-def]
    policy: SlaPolicy | None = None,
    desk_config: StaffDeskConfig | None = None,
) -> GatewayRuntime:
    """Build the gateway, the staff desk (when STAFF_CHAT_ID is set) and their Application.

    ``policy`` is the complaint-recovery policy the staff desk acts with (default: POLICY_FILE).
    """
    gateway = Gateway(
        session_factory=session_factory,
        clock=clock,
        rasa=rasa,
        texts=texts or load_texts(),
        config=config,
        action_server_up=action_server_up,
    )
    desk = None
    desk_config = desk_config or StaffDeskConfig.from_settings(settings)
    if desk_config is not None:
        if policy is None:
            from crm_store.recovery_policy import load_policy_for

            policy = load_policy_for(settings)
        desk = StaffDesk(gateway, policy, desk_config)
        gateway.human_desk = desk
    else:
        log.info("STAFF_CHAT_ID not set; the staff desk is off")
    return GatewayRuntime(settings, gateway, build_application(settings, gateway, desk), desk)
