"""``python -m retell_booking_tools`` is the ``retell-booking-tools`` command."""

from retell_booking_tools.cli import main

main()
