"""Operating a deployment: ``doctor``, daily ``stats``, call and appointment history, and
the Prometheus metrics. Reads the store and Cal.com; every repair goes through
:mod:`retell_booking_tools.booking`."""
