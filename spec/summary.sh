#!/bin/sh
# summary.sh BUILD_DIR      -- add up every suite of `make test` into the one
#                              closing line "N passed, N failed".
# summary.sh --c-only FILE  -- the same over the C runners' output in FILE.
# Each C runner ends with its own "N passed, N failed" line; busted runs with
# TAP output ("ok N ..." / "not ok N ..."; "ok N - # SKIP why" is a skip,
# not a pass). A suite that exited non-zero without a failing test (a
# crash) counts as one failure.
c_sum() {  # FILE -> "passed failed" summed over the C runners' lines
  awk '/^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3; n++ }
       END { printf "%d %d %d\n", p, f, n }' "$1"
}
if [ "$1" = "--c-only" ]; then
  set -- $(c_sum "$2")
  echo "$1 passed, $2 failed"
  [ "$2" -eq 0 ]
  exit
fi
dir=$1
set -- $(c_sum "$dir/test-c.out")
c_pass=$1 c_fail=$2 c_suites=$3
l_pass=$(grep -aE '^ok [0-9]+' "$dir/test-lua.out" | grep -acv '# SKIP')
l_skip=$(grep -aE '^ok [0-9]+' "$dir/test-lua.out" | grep -ac '# SKIP')
l_fail=$(grep -acE '^not ok [0-9]+' "$dir/test-lua.out")
extra=0
c_runs=0
while read -r suite rc; do
  [ "$suite" = c ] && c_runs=$((c_runs + 1))
  if [ "$rc" != 0 ]; then
    case $suite in
      c) [ "$c_fail" -gt 0 ] || extra=$((extra + 1)) ;;
      lua) [ "$l_fail" -gt 0 ] || extra=$((extra + 1)) ;;
    esac
  fi
done < "$dir/results"
# a C runner that printed no closing line crashed
[ "$c_suites" -ge "$c_runs" ] || extra=$((extra + c_runs - c_suites))
passed=$((c_pass + l_pass))
failed=$((c_fail + l_fail + extra))
# a case that skipped (machine too small for it) passed nothing: said apart
[ "$l_skip" -eq 0 ] || echo "$l_skip skipped (see '# SKIP' above)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
