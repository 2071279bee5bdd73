#!/usr/bin/env bash
# The logic of the GitHub Action in action.yml, kept here so that it can run (and be tested)
# anywhere: `straw verify` always; on a pull request from a batch/* branch also `straw gate`,
# with the gate's verdict and the PR body written to the job summary.
#
# Environment (GitHub sets the last two):
#   STRAW_REPO            the case repository (default: the current folder)
#   STRAW_BIN             the straw command (default: straw)
#   GITHUB_HEAD_REF       the pull request's source branch (empty outside pull requests)
#   GITHUB_STEP_SUMMARY   the file the job summary is appended to
# Exit status: 0 all checks pass, 1 verify or the gate refused, 2 a wrong request (no such batch).
set -uo pipefail

repo=${STRAW_REPO:-.}
straw=${STRAW_BIN:-straw}
head_ref=${GITHUB_HEAD_REF:-}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
cd "$repo" || { echo "straw action: no folder $repo" >&2; exit 2; }

# A CI checkout has the branches only as origin/*; straw reads main and batch/<id> locally.
for branch in main ${head_ref:+"$head_ref"}; do
  if ! git rev-parse -q --verify "refs/heads/$branch" >/dev/null &&
     git rev-parse -q --verify "refs/remotes/origin/$branch" >/dev/null; then
    git update-ref "refs/heads/$branch" "refs/remotes/origin/$branch"
  fi
done

worst=0
note() { [ "$1" -gt "$worst" ] && worst=$1; return 0; }
fence() { printf '\n```\n%s\n```\n\n' "$1"; }

echo "## straw" >> "$summary"
verify_out=$("$straw" verify 2>&1)
verify_rc=$?
printf '%s\n' "$verify_out"
if [ "$verify_rc" -eq 0 ]; then
  printf '\n✅ **verify**: every baseline change on main came through the gate\n' >> "$summary"
else
  note "$verify_rc"
  { printf '\n❌ **verify** failed (exit %s):\n' "$verify_rc"; fence "$verify_out"; } >> "$summary"
fi

case "$head_ref" in
  batch/*)
    batch=${head_ref#batch/}
    gate_out=$("$straw" gate "$batch" 2>&1)
    gate_rc=$?
    printf '%s\n' "$gate_out"
    if [ "$gate_rc" -eq 0 ]; then
      printf '\n✅ **gate** %s: %s\n\n' "$batch" "$gate_out" >> "$summary"
    else
      note "$gate_rc"
      { printf '\n❌ **gate** refused %s (exit %s):\n' "$batch" "$gate_rc"; fence "$gate_out"; } >> "$summary"
    fi
    if body=$("$straw" batch pr-body "$batch" 2>&1); then
      printf '%s\n' "$body" >> "$summary"
    else
      { printf 'no PR body:\n'; fence "$body"; } >> "$summary"
    fi
    ;;
esac
exit "$worst"
