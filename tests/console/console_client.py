"""Helpers of the console tests: the password and signing in as a browser does."""

from __future__ import annotations

import httpx

PASSWORD = "correct horse battery staple"


async def sign_in(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    """Post the sign-in form as a browser does."""
    return await client.post("/console/login", data={"password": password})
