"""The Cal.com API v2 emulator: accounts, event types, bookings, faults, over httpx or ASGI.

Internals; users import :mod:`retell_booking_tools.testing`.
"""
