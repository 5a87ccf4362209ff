"""Export the booking tools and put them into a Retell LLM's ``general_tools``.

    retell-booking-tools tools export --base-url https://your-host.example  # the same, as JSON
    RETELL_API_KEY=key_... python examples/export_and_sync.py \\
        --llm-id llm_... --base-url https://your-host.example [--dry-run]

Without a Retell account, ``--emulator`` runs against the bundled Retell API emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

from retell_booking_tools.retell import export_tools, sync_tools
from retell_booking_tools.testing import RetellApiEmulator, serve_asgi

EMULATED_LLM = "llm_example"


async def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="Where Retell reaches your backend.")
    parser.add_argument("--llm-id", default=EMULATED_LLM)
    parser.add_argument("--retell-api-url", help="Default: retell-sdk's (RETELL_BASE_URL).")
    parser.add_argument("--dry-run", action="store_true", help="Show the diff, write nothing.")
    parser.add_argument("--emulator", action="store_true", help="Use the Retell API emulator.")
    args = parser.parse_args(argv)

    print(json.dumps([tool["name"] for tool in export_tools(args.base_url)]))
    if args.emulator:
        emulator = RetellApiEmulator(api_key="key_example")
        emulator.add_llm(args.llm_id, general_tools=[{"type": "end_call", "name": "end_call"}])
        async with serve_asgi(emulator.asgi_app) as url:
            report = await sync_tools(
                args.llm_id, args.base_url, api_key="key_example", api_url=url, dry_run=args.dry_run
            )
    else:
        report = await sync_tools(
            args.llm_id,
            args.base_url,
            api_key=os.environ.get("RETELL_API_KEY"),
            api_url=args.retell_api_url,
            dry_run=args.dry_run,
        )
    print("\n".join(report.diff_lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(run()))
