"""The state table of ``--quiet-hours strict``: data, versioned, each row with its sources.

Edit a row, add its source, bump VERSION (the report names the version a run used). The
windows are the recipient's local time; a row is combined with TCPA's 8:00-21:00, so a row
only ever narrows it. "closed" is a day with no window at all. ``holidays`` is the set of
legal holidays on which the state bans texting: "legal" (the federal ones and the state's
own, engine/schedule/legaldays.py), "christmas", or "none".

Where the sources conflict or are silent, the row takes the strictest reading (issue 22): NJ
is 8:00-20:00 (Referrizer) rather than 8:00-21:00 (Postscript), a holiday's observed day is
banned as well as the day itself, and Alabama's Mardi Gras (Baldwin and Mobile counties only)
is banned state-wide. The legal summaries are from law-firm and vendor pages, not statutes:
not legal advice. An emergency declaration (Louisiana bans texts during one) is not here: it
cannot be known in advance.
"""

from __future__ import annotations

VERSION = "2026-12-05"

SOURCES: dict[str, str] = {
    "issue-22": "a2p-batch-engine issue 22 (the campaign's rules as filed)",
    "tcpa": "47 CFR 64.1200(c)(1), per nwdebtresolution.com/post/"
            "telephone-consumer-protection-act-call-time-restrictions",
    "postscript": "help.postscript.io/hc/en-us/articles/9321080861211",
    "referrizer": "support.referrizer.com, tcpa-quiet-hours-and-state-specific-rules-for-text-"
                  "campaigns",
    "fl": "legalclarity.org/florida-telemarketing-laws-and-regulations (FTSA)",
    "ok": "24kyc.com (Lerman Senter); dnc.dreamhosters.com/?p=1309 (OTSA, since 2022-11-01)",
    "md": "Postscript's Maryland article (SB 90, since 2024-01-01)",
    "tx": "appfueled.com/help/complying-with-quiet-hours; listrak.com blog (SB 140, since "
          "2025-09-01)",
    "la": "dnc.com/holiday-alerts?year=2023; agentblog.nationallife.com/?p=4218",
    "holidays": "dnc.com/news/2019-january-restricted-call-dates; dnc.com/holiday-alerts",
}

TCPA_HOURS = "08:00-21:00"

# state: (Monday-Friday, Saturday, Sunday, holidays banned, sources)
ROWS: dict[str, tuple[str, str, str, str, tuple[str, ...]]] = {
    "AL": ("08:00-21:00", "08:00-21:00", "08:00-21:00", "legal", ("holidays",)),
    "CT": ("09:00-20:00", "09:00-20:00", "09:00-20:00", "none", ("issue-22", "postscript")),
    "FL": ("08:00-20:00", "08:00-20:00", "08:00-20:00", "none", ("issue-22", "fl")),
    "LA": ("08:00-20:00", "08:00-20:00", "closed", "legal", ("issue-22", "la", "holidays")),
    "MD": ("08:00-20:00", "08:00-20:00", "08:00-20:00", "none", ("issue-22", "md")),
    "MS": ("08:00-20:00", "08:00-20:00", "08:00-20:00", "legal",
           ("issue-22", "postscript", "holidays")),
    "NJ": ("08:00-20:00", "08:00-20:00", "08:00-20:00", "none", ("referrizer", "postscript")),
    "OK": ("08:00-20:00", "08:00-20:00", "08:00-20:00", "none", ("issue-22", "ok")),
    "PA": ("08:00-21:00", "08:00-21:00", "08:00-21:00", "christmas", ("holidays",)),
    "RI": ("09:00-18:00", "10:00-17:00", "10:00-17:00", "legal",
           ("issue-22", "referrizer", "holidays")),
    "TX": ("09:00-21:00", "09:00-21:00", "12:00-21:00", "none", ("issue-22", "tx")),
    "UT": ("08:00-21:00", "08:00-21:00", "08:00-21:00", "legal", ("holidays",)),
    "WA": ("08:00-20:00", "08:00-20:00", "08:00-20:00", "none", ("issue-22", "postscript")),
}

# The holidays a "legal" ban covers beyond the federal ones, by state.
STATE_HOLIDAYS: dict[str, tuple[str, ...]] = {
    "AL": ("confederate-memorial-al", "jefferson-davis", "mardi-gras"),
    "LA": ("mardi-gras", "good-friday", "election-day"),
    "MS": ("confederate-memorial-ms",),
    "RI": ("victory-day",),
    "UT": ("pioneer-day",),
}
