"""The Retell edge: request models, signature checks and tool schema export."""
