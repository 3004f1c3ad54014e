"""Management commands that belong to the whole project rather than to one app.

`config` is an installed app only to hold these: it sits on top of the app layers, so
a command here may import every app (today `seed_demo`, which runs each app's
`demo.py` in layer order). Commands that act within one app live in that app's own
`management/commands/`; nothing here holds business rules, models or services.
"""
