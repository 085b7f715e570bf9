#!/usr/bin/env bash
# Print the Debian mirror this machine's apt already uses (never a host name written into a file of ours):
# DEBIAN_MIRROR when set, else the first non-security URI of /etc/apt/sources.list.d/*.sources or sources.list.
set -euo pipefail
if [ -n "${DEBIAN_MIRROR:-}" ]; then
    echo "$DEBIAN_MIRROR"
    exit 0
fi
mirror=$( (cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true) \
    | awk '/^URIs:/ && !/security/ {print $2; exit} /^deb / && !/security/ {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}')
if [ -z "$mirror" ]; then
    echo "no Debian mirror found in the apt sources; set DEBIAN_MIRROR" >&2
    exit 1
fi
echo "$mirror"
