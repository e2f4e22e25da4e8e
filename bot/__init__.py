"""The hotel assistant's own processes: run supervisor, ops HTTP, terminal chat (later Telegram)."""
