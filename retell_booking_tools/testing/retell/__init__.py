"""Retell's side: the call simulator (signed function calls and call events) and the
Retell LLM API emulator.

Internals; users import :mod:`retell_booking_tools.testing`.
"""
