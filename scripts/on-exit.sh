# Clean-ups for scripts/test and the ensure-* steps it sources: `on_exit COMMAND` registers one; all run, newest
# first, when the shell exits (normally, on error, or on Ctrl-C / TERM), and the exit status is kept.
# Source it once, before any step that starts something it must stop.

ON_EXIT_COMMANDS=()

on_exit() {
  ON_EXIT_COMMANDS+=("$1")
}

run_on_exit_commands() {
  local status=$? index
  for ((index = ${#ON_EXIT_COMMANDS[@]} - 1; index >= 0; index--)); do
    eval "${ON_EXIT_COMMANDS[index]}" || true
  done
  ON_EXIT_COMMANDS=()
  return "$status"
}

trap run_on_exit_commands EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
