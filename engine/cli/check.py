"""``a2p check``: the pre-flight alone. Is --from an A2P number of this user, and what are
its registration tier and daily cap? Sends nothing."""

from __future__ import annotations

import argparse
import sys

from engine.cli.exits import EXIT_FAILED, EXIT_OK
from engine.cli.output import write_json


async def run(args: argparse.Namespace) -> int:
    """Check the sender, print the findings (--json: one document) and the warnings; then
    the opt-outs that keep it from texting (exit 1 when they cannot be read: a send would
    stop before its first POST)."""
    from engine.core.lint import lint_campaign
    from engine.run.doors import check, check_and_opt_outs

    consents, refused = None, None
    if args.no_consent:
        found = await check(args.sender, config=args.profile, recipients=args.recipients)
    else:  # one login for both (5 Auth requests a minute)
        found, read = await check_and_opt_outs(args.sender, scope=args.suppress_scope,
                                               config=args.profile,
                                               recipients=args.recipients)
        if isinstance(read, Exception):
            refused = str(read)
        else:
            consents = read
    # compliance (engine/core/lint.py): warnings about the campaign's text, never a refusal
    warnings = [*found.warnings, *lint_campaign(text=args.text, template=args.template,
                                                brand=args.brand)]
    if args.json:
        consent = consents.as_json() if consents is not None else \
            {"error": refused} if refused is not None else None
        write_json({**found.as_json(), "warnings": warnings,
                    **({"consent": consent} if consent else {})})
    else:
        tier = found.registration_tier or "not exposed"
        cap = f", about {found.daily_cap:,} messages a day" if found.daily_cap else ""
        print(f"a2p: {args.sender} can send High Volume SMS: an A2PSmsSender number of this "
              f"user (id {found.sender.id}, status {found.sender.status}); registration tier: "
              f"{tier}{cap}")
        if consents is not None:
            whom = (f"of texts from {args.sender}" if consents.scope == "pair" else
                    f"of texts from the account's numbers (so from {args.sender} too)")
            print(f"a2p: {len(consents.set):,} recipients opted out {whom} "
                  f"under --suppress-scope {consents.scope} "
                  f"({consents.opt_outs:,} opt-outs in the account, read with "
                  f"{consents.requests} Light request(s)); a send never texts them")
    for warning in warnings:
        print(f"a2p: WARNING: {warning}", file=sys.stderr)
    if refused is not None:
        print(f"a2p: {refused}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
