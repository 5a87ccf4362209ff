"""The two-business file of the README, as the tests read it."""

TWO_BUSINESSES = """\
[[businesses]]
id = "praxis-spitzer"
name = "Praxis Spitzer"
agent_ids = ["agent_6f0c1d2e"]
phone_numbers = ["+4930123456"]
calcom_api_key_env = "CALCOM_API_KEY_SPITZER"
calcom_api_url = "https://api.cal.com/v2"
timezone = "Europe/Berlin"
language = "de"

[[businesses.services]]
name = "Beratung"
aliases = ["Erstberatung", "consultation"]
event_type_id = 2563193

[[businesses.services]]
name = "Nachberatung"
event_type_id = 2563194

[[businesses]]
id = "salon-ana"
name = "Salon Ana"
agent_ids = ["agent_9a8b7c6d"]
phone_numbers = ["+12125550123"]
calcom_api_key_env = "CALCOM_API_KEY_ANA"
calcom_api_url = "https://api.cal.eu/v2"
timezone = "America/New_York"
language = "en"

[[businesses.services]]
name = "Haircut"
aliases = ["cut"]
event_type_id = 7001
"""
