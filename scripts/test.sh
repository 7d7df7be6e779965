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
