"""The media side of video meetings: the relay (SFU) every browser in the room connects to, and
what the browsers need to reach it (ICE servers with time-limited TURN credentials)."""
