"""SIP service: coordinated individual plans (samordnad individuell plan)."""
