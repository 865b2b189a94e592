"""``a2p check``: the pre-flight alone. Is --from an A2P number of this user, and what are
its registration tier and daily cap? Sends nothing."""

from __future__ import annotations

import argparse
import sys

from engine.cli.exits import EXIT_OK
from engine.cli.output import write_json


async def run(args: argparse.Namespace) -> int:
    """Check the sender, print the findings (--json: one document) and the warnings."""
    from engine.core.lint import lint_campaign
    from engine.run.api import check

    found = await check(args.sender, config=args.profile, recipients=args.recipients)
    # compliance (engine/core/lint.py): warnings about the campaign's text, never a refusal
    warnings = [*found.warnings, *lint_campaign(text=args.text, template=args.template,
                                                brand=args.brand)]
    if args.json:
        write_json({**found.as_json(), "warnings": warnings})
    else:
        tier = found.registration_tier or "not exposed"
        cap = f", about {found.daily_cap:,} messages a day" if found.daily_cap else ""
        print(f"a2p: {args.sender} can send High Volume SMS: an A2PSmsSender number of this "
              f"user (id {found.sender.id}, status {found.sender.status}); registration tier: "
              f"{tier}{cap}")
    for warning in warnings:
        print(f"a2p: WARNING: {warning}", file=sys.stderr)
    return EXIT_OK
