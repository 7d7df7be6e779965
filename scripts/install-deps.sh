#!/usr/bin/env bash
# Installs what meterdesk needs on Debian: PostgreSQL (server binaries for the embedded
# database, pg_trgm from contrib), the PC/SC stack (library to build, pcscd to run), OpenSSL
# (library to build: TLS to a PostgreSQL server elsewhere), tmux (the end-to-end tests), and
# with --test the virtual reader driver the card tests use and the openssl command that makes
# the TLS test's certificates.
# Idempotent: installs only what is missing. Run as root or with sudo.
set -euo pipefail

packages=(postgresql postgresql-contrib libpcsclite-dev libssl-dev pkg-config pcscd tmux ca-certificates)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(vsmartcard-vpcd openssl)
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$package")
done

as_root() { if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

if ((${#missing[@]})); then
    echo "meterdesk: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The group of the machine's installation: the embedded database's socket is open to it, the
# card secrets readable by it, and the meterdesk binary runs with it (set-group-id), so the
# clerks' own accounts need not be in it. The server's account must be, to give its socket
# to the group.
if ! getent group meterdesk >/dev/null; then
    as_root groupadd --system meterdesk
fi
if id postgres >/dev/null 2>&1 && ! id -nG postgres | tr ' ' '\n' | grep -qx meterdesk; then
    as_root usermod -a -G meterdesk postgres
fi

if ! command -v cargo >/dev/null; then
    if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "meterdesk: installing Rust with rustup (Debian's cargo is too old for edition 2024)" >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl build-essential
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
    fi
fi
