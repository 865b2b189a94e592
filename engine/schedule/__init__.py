"""Pure: when each recipient may be texted (issue 22): the recipient's time zones and state,
the quiet-hours rules, the open windows they leave, waves and daily caps. Instants come in
as parameters; nothing here reads a clock.

May import: engine.errors, engine.core, engine.reading, engine.batching.
"""
