"""The booking core: every write of appointments, call links and appointment statuses.

- :mod:`.decision`: booking a start (booked, existing, conflict, unavailable, error) and
  confirming a held appointment;
- :mod:`.lifecycle`: finding, rescheduling and cancelling a caller's appointments;
- :mod:`.webhooks`: Cal.com's booking events applied to the store;
- :mod:`.availability`: free starts, read once and shared;
- :mod:`.identity` and :mod:`.attendees`: who the caller is, and the attendee address a
  caller without an email is booked under;
- :mod:`.records`: the pieces all of them share (a Cal.com booking as an appointment, its
  status, a call link, a forward-only status change under the appointment's lock,
  alternatives, the error outcome).

Tools, ``doctor`` and the webhook endpoint call these; none of them writes to the store
itself.
"""
