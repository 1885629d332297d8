#!/bin/sh
# summary.sh BUILD_DIR -- add up the suites' counts into the one closing line
# "N passed, N failed". The C runner ends with that line itself; busted runs
# with the TAP output ("ok N ..." / "not ok N ..."). A suite that crashed or
# exited non-zero without a failing test counts as one failure.
dir=$1
c_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$dir/test-c.out" | tail -1)
c_pass=$(echo "$c_line" | awk '{print $1+0}')
c_fail=$(echo "$c_line" | awk '{print $3+0}')
l_pass=$(grep -cE '^ok [0-9]+' "$dir/test-lua.out")
l_fail=$(grep -cE '^not ok [0-9]+' "$dir/test-lua.out")
extra=0
while read -r suite rc; do
  if [ "$rc" != 0 ]; then
    case $suite in
      c) [ "${c_fail:-0}" -gt 0 ] || extra=$((extra + 1)) ;;
      lua) [ "$l_fail" -gt 0 ] || extra=$((extra + 1)) ;;
    esac
  fi
done < "$dir/results"
[ -n "$c_line" ] || extra=$((extra + 1))
passed=$(( ${c_pass:-0} + l_pass ))
failed=$(( ${c_fail:-0} + l_fail + extra ))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
