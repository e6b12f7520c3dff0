#!/usr/bin/env bash
# Reproducible loom mutants: switches on each known bug (an `if mutant::planted("<name>")` in the
# library code, see runtime/src/mutant.rs, chosen at run time by QUARTET_MUTANT=<name> in loom
# builds) and runs the loom model that guards against it. Fails unless every mutant is caught,
# i.e. its model fails.
#
#   ./scripts/mutants.sh                  # every mutant
#   ./scripts/mutants.sh event_skip_recheck   # just these
#
# Shares target/loom with the loom stage of scripts/test.sh, and the switch is read at run time,
# so the loom test binaries are built once (a no-op after that stage) and never rebuilt per mutant.
set -uo pipefail
cd "$(dirname "$0")/.."

# name | package | loom test file | model (test fn) that must catch it
MUTANTS=(
  "remote_drain_reset          quartet-runtime loom_remote_wake wake_while_parking"
  "remote_close_drops          quartet-runtime loom_remote_wake push_races_close"
  "awake_check_before_clear    quartet-runtime loom_remote_wake wake_while_parking"
  "waker_remote_no_push        quartet-runtime loom_waker       child_woken_from_another_thread_is_polled"
  "oneshot_split_check         quartet-runtime loom_to_thread   result_sent_while_receiver_waits"
  "limiter_release_no_hand_off quartet-runtime loom_limiter     release_on_worker_races_acquire"
  "event_skip_recheck          quartet-nursery loom_event       set_races_wait_parking"
  "acquire_drop_keeps_unit     quartet-nursery loom_lock        acquire_dropped_as_lock_is_handed_over"
  "recv_drop_loses_value       quartet-nursery loom_channel     recv_dropped_as_sender_hands_over"
  "cancel_skip_remote_walk     quartet-runtime loom_cancel_scope cancel_races_activation_attach"
  "cancel_walk_skips_leaves    quartet-runtime loom_cancel_scope walk_requested_by_another_thread_wakes_the_parked_task"
  "watchdog_reports_twice      quartet-runtime loom_watchdog    stuck_poll_is_reported_once_and_drop_joins"
  "mailbox_split_recv          quartet-nursery loom_cores       job_pushed_as_the_mailbox_task_parks_is_run"
  "mailbox_close_forgets       quartet-nursery loom_cores       push_races_mailbox_close"
  "tracker_split_finish        quartet-nursery loom_cores       last_remote_child_finishes_as_the_nursery_waits"
  "cancel_local_skips_remote   quartet-runtime loom_cores_cancel group_cancel_from_one_core_reaches_the_other_cores_parked_wait"
  "ring_close_ignores_senders  quartet-runtime loom_msg_ring    wake_queued_as_the_target_closes_never_names_a_closed_fd"
  "msg_ring_error_drops_wake   quartet-runtime loom_msg_ring    failed_msg_ring_falls_back_to_the_eventfd"
  "outbox_drop_forgets         quartet-runtime loom_msg_ring    coalesced_wake_survives_the_senders_ring_closing_before_submit"
)

export RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
want=("$@")
failed=()
# One build of every loom test binary the table names (nothing to do after test.sh's loom stage).
build_args=()
for line in "${MUTANTS[@]}"; do
  read -r _ pkg file _ <<<"$line"
  build_args+=(-p "$pkg" --test "$file")
done
if ! cargo test -q --profile loom "${build_args[@]}" --no-run 2>&1 | tail -5; then
  echo "loom build failed"; exit 1
fi
for line in "${MUTANTS[@]}"; do
  read -r name pkg file model <<<"$line"
  if ((${#want[@]})) && [[ ! " ${want[*]} " == *" $name "* ]]; then
    continue
  fi
  echo "== mutant $name: expect $pkg --test $file $model to fail"
  # A model can abort the binary; a model that never ends is not a catch either.
  out=$(QUARTET_MUTANT="$name" timeout 600 cargo test -q --profile loom -p "$pkg" --test "$file" -- --exact "$model" 2>&1)
  rc=$?
  if ((rc == 0)); then
    echo "   NOT CAUGHT: the model passed with the bug planted"; failed+=("$name (not caught)")
  elif ((rc == 124)); then
    echo "   TIMED OUT: the model neither failed nor passed"; failed+=("$name (timed out)")
  elif grep -q "names no known mutant\|unknown mutant" <<<"$out"; then
    echo "   MISSPELT: $(grep -m1 "mutant" <<<"$out" | cut -c1-160)"; failed+=("$name (unknown name)")
  else
    echo "   caught: $(grep -m1 -E "panicked|deadlock|error" <<<"$out" | cut -c1-160)"
  fi
done
if ((${#failed[@]})); then
  printf 'mutants not caught: %s\n' "${failed[@]}"
  exit 1
fi
echo "every mutant was caught"
