#!/usr/bin/env bash
# One command from a fresh Debian machine to the whole test suite: installs what the tests
# need, checks formatting and lints, and runs every test (unit, database, card rig, tmux).
# Usage: sudo scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
export PATH="$HOME/.cargo/bin:$PATH"
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
# Again, all of it, eight hours east of UTC: a date is shown in local time on screen, on the
# receipt and in the tmux tests, and the throw-away clusters take their time zone from TZ, so
# "today" in SQL moves too. The whole suite (about 6 minutes, the build reused) rather than
# the unit and screen targets only, because the database, card and end-to-end tests print
# dates as well.
TZ=Asia/Shanghai cargo test --locked
