"""Channel adapters: platform payload -> :class:`bot.message.Message`, and text back out. No business logic."""
