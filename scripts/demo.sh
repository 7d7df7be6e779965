#!/usr/bin/env bash
# One command from a fresh Debian machine to meterdesk on its embedded database with demo data.
# Usage: sudo scripts/demo.sh [customers]   (default 10000; the demo data loads only once)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked
bin=target/release/meterdesk
# Demo mode: the demo card PIN and MAC key write the cards (scripts/demo.toml).
export METERDESK_CONFIG="$PWD/scripts/demo.toml"
"$bin" demo-data --if-empty --customers "${1:-10000}"
if [[ -t 0 ]]; then
    read -r -p "Note the passwords above (shown only once). Press Enter to start meterdesk. " _
fi
exec "$bin"
