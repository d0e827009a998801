#!/usr/bin/env bash
# Retakes the console's screenshots in docs/ (console-board.png, console-events.png): runs
# the console's Chromium test, which writes them where TASKHUB_SCREENSHOTS says.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-deps.sh
TASKHUB_SCREENSHOTS="$PWD/docs" cargo test -p taskhub --test api --locked \
  the_console_board_and_events_views_work_and_pass_the_accessibility_audit
