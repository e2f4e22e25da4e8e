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
from crm_store.clock import Clock
from crm_store.policy import SlaPolicy
from crm_store.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
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
        .concurrent_updates(PerChatUpdateProcessor(gateway.locks))
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

    async def start(self) -> None:
        """Initialise the bot (getMe), start receiving updates and the retry loop."""
        app = self.app
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        if self.settings.telegram_webhook_url:
            url = self.settings.telegram_webhook_url
            await app.updater.start_webhook(  # type: ignore[union-attr]
                listen=self.settings.telegram_webhook_listen,
                port=self.settings.telegram_webhook_port,
                url_path=urlsplit(url).path.lstrip("/"),
                webhook_url=url,
                secret_token=self.settings.telegram_webhook_secret,
            )
            log.info("Telegram gateway receiving updates by webhook")
        else:
            await app.updater.start_polling(  # type: ignore[union-attr]
                timeout=self.gateway.config.poll_timeout_s, drop_pending_updates=False
            )
            log.info("Telegram gateway receiving updates by long polling")
        await app.start()
        self._retry_task = asyncio.create_task(self.gateway.retry_loop(), name="tg-pending-retry")
        if self.desk is not None:
            self._desk_task = asyncio.create_task(self.desk.run(), name="tg-staff-desk")

    async def stop(self) -> None:
        """Stop receiving, finish the updates in flight, and shut the bot down."""
        for task in (self._retry_task, self._desk_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._retry_task = self._desk_task = None
        app = self.app
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
