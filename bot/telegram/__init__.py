"""Telegram gateway: guests chat with the assistant through a python-telegram-bot Application."""
