"""Export the booking tools and keep a Retell LLM's copies of them in step.

    retell-booking-tools tools export --base-url https://your-host.example  # the same, as JSON
    RETELL_API_KEY=key_... python examples/export_and_sync.py \\
        --llm-id llm_... --base-url https://your-host.example \\
        [--state booking] [--publish-agent agent_...] [--dry-run]

Our tools are updated wherever the LLM holds them (``general_tools`` or a state's tools);
missing ones go to ``general_tools`` or ``--state``. The latest version is written unless
it is published; ``--publish-agent`` publishes the agent afterwards so callers reach it.
Without a Retell account, ``--emulator`` runs against the bundled Retell API emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

from retell_booking_tools.retell_admin import export_tools, sync_tools
from retell_booking_tools.testing import RetellApiEmulator, serve_asgi

EMULATED_LLM = "llm_example"
EMULATED_AGENT = "agent_example"


async def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="Where Retell reaches your backend.")
    parser.add_argument("--llm-id", default=EMULATED_LLM)
    parser.add_argument("--state", help="The LLM state missing tools go to.")
    parser.add_argument("--publish-agent", help="Publish this agent after the sync.")
    parser.add_argument("--retell-api-url", help="Default: retell-sdk's (RETELL_BASE_URL).")
    parser.add_argument("--dry-run", action="store_true", help="Show the diff, write nothing.")
    parser.add_argument("--emulator", action="store_true", help="Use the Retell API emulator.")
    args = parser.parse_args(argv)
    options = {"dry_run": args.dry_run, "state": args.state, "publish_agent": args.publish_agent}

    print(json.dumps([tool["name"] for tool in export_tools(args.base_url)]))
    if args.emulator:
        emulator = RetellApiEmulator(api_key="key_example")
        emulator.add_llm(args.llm_id, general_tools=[{"type": "end_call", "name": "end_call"}])
        emulator.add_agent(EMULATED_AGENT, llm_id=args.llm_id)
        async with serve_asgi(emulator.asgi_app) as url:
            report = await sync_tools(
                args.llm_id, args.base_url, api_key="key_example", api_url=url, **options
            )
    else:
        report = await sync_tools(
            args.llm_id,
            args.base_url,
            api_key=os.environ.get("RETELL_API_KEY"),
            api_url=args.retell_api_url,
            **options,
        )
    print("\n".join(report.diff_lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(run()))
