"""Internals of the Cal.com v2 emulator; users import :mod:`retell_booking_tools.testing`."""
