"""One send, from recipients to report: options, inputs and sources, pre-flight, the
senders and the tracker, the recorder and its journal, resume, events, the report,
and the library door (`api`: engine.send, engine.send_events).

May import: engine.errors, core, reading, batching, config, rc.
"""
