#!/bin/sh
# Runs each test binary; each prints "PASS: name" / "FAIL: name" lines. Ends with the totals line
# "N passed, M failed" and a non-zero status if anything failed (or a binary crashed).
pass=0; fail=0
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  p=$(printf '%s\n' "$out" | grep -c '^PASS: ')
  f=$(printf '%s\n' "$out" | grep -c '^FAIL: ')
  printf '%s\n' "$out" | grep -v '^PASS: '
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL: $t exited with status $rc"; f=1
  fi
  echo "$(basename "$t"): $p passed, $f failed"
  pass=$((pass + p)); fail=$((fail + f))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
