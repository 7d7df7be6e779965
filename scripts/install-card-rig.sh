#!/usr/bin/env bash
# Installs what the card reader code needs to build and what its tests need to run:
# pcscd (the PC/SC daemon), libpcsclite-dev + pkg-config (to build the pcsc crate) and
# vsmartcard-vpcd (pcscd's virtual reader driver that our `vcard` binary plugs into).
# Idempotent: apt-get skips what is already installed. Run as root (there is no sudo here).
set -euo pipefail

packages=(pcscd libpcsclite-dev pkg-config vsmartcard-vpcd)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "card rig: all installed (${packages[*]})"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
