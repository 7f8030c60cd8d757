#!/bin/sh
# The VideoRoom plugin's admin key (only who has it creates rooms) comes from the environment
# (SIP_JANUS_ADMIN_KEY, the same value the API processes have); the public address media is
# announced on from JANUS_PUBLIC_IP (nat_1_1_mapping), when the host is behind NAT.
set -eu
: "${SIP_JANUS_ADMIN_KEY:?set SIP_JANUS_ADMIN_KEY}"
printf 'general: {\n\tadmin_key = "%s"\n}\n' "$SIP_JANUS_ADMIN_KEY" > /etc/janus/janus.plugin.videoroom.jcfg
if [ -n "${JANUS_PUBLIC_IP:-}" ]; then
  exec janus -C /etc/janus/janus.jcfg -F /etc/janus --nat-1-1="$JANUS_PUBLIC_IP"
fi
exec janus -C /etc/janus/janus.jcfg -F /etc/janus
